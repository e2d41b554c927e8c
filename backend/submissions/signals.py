"""Extension points of the submissions app. Apps built on it (closed division, verification) are
connected by ``backend.orchestration``, so this app never imports them. Receivers run synchronously
and their exceptions propagate (a ``checking_upload`` receiver rejects by raising SubmissionRejected)."""
from django.dispatch import Signal

# Before anything is stored. kwargs: phase, benchmark, division, code_file, user, team (as chosen), uploaded_file.
checking_upload = Signal()
# Inside the creating transaction (enqueue further jobs here: they go out after commit). kwargs: submission, code_file.
submission_created = Signal()
# On the worker, before the type's scorer runs. kwargs: benchmark, problem, progress.
preparing_scoring = Signal()
# Inside the transaction that stores the scores. kwargs: submission.
submission_scored = Signal()
# Inside the transaction that changed what a submission contributes to its board (its scores were stored,
# or removed by a re-run), right after bump_leaderboard. kwargs: submission. Derived ranking state
# (backend.leaderboards) is refreshed here, in the same transaction.
standing_changed = Signal()
