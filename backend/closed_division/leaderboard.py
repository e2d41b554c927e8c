"""The closed division's part of a benchmark's board (a ``leaderboards.selectors.BoardExtension``,
registered by backend.orchestration): closed-division rows count only once their code reproduced the
submitted file, and the "concealed tasks" column once the phase shows those scores."""
from __future__ import annotations

from django.db.models import Q

from backend.challenges import selectors as challenge_selectors
from backend.challenges.models import Benchmark, Phase
from backend.leaderboards.selectors import BoardExtension, Column
from backend.submissions.models import Submission

from . import selectors as closed


class ClosedDivisionBoard(BoardExtension):
    def columns(self, benchmark: Benchmark, phase: Phase | None) -> list[Column]:
        phase = phase or challenge_selectors.current_phase(benchmark.challenge)
        if not closed.concealed_scores_visible(phase) or not closed.has_concealed_tasks(benchmark):
            return []
        primary = benchmark.benchmark_type.metric(benchmark.benchmark_type.primary_metric)
        return [Column(closed.CONCEALED_COLUMN, f"Concealed tasks ({primary.label})", primary.higher_is_better)]

    def rankable(self) -> Q:
        """Open division, or closed division whose code reproduced the file. An entrant's row is picked
        among these first, so an unverified upload never hides the entrant's verified one."""
        return Q(division=Submission.Division.OPEN) | Q(code_run__status="reproduced")

    def apply(self, rows: list[dict]) -> list[dict]:
        """Adds ``reproduced`` and ``verification`` (and the concealed-tasks value) to the rows. The
        ranking itself needs nothing here: unreproduced closed-division rows are stored unrankable
        (``rankable`` above), so they are already unranked and after the ranked rows."""
        runs = closed.verification_by_submission([r["submission_id"] for r in rows if r["division"] == "closed"])
        for row in rows:
            status, concealed = runs.get(row["submission_id"], (None, None))
            row["verification"] = status if row["division"] == "closed" else None
            row["reproduced"] = status == "reproduced" if row["division"] == "closed" else None
            if row["reproduced"] is False:
                row["rank"] = None
            if closed.CONCEALED_COLUMN in row["metrics"]:
                row["metrics"][closed.CONCEALED_COLUMN] = concealed if row["reproduced"] else None
        return rows
