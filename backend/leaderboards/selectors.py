"""Ranked leaderboard rows, read from the derived ranking state (``models.EntrantRow``).

One row per entrant (team, else user; each baseline is its own entrant), chosen by the phase's
rule (best or latest scored submission) when a score is recorded (``services.refresh_entrant``); rows
with no primary score sort last; ties go to the earlier submission. A request reads a page of the
entrant table in its index order (ranks are positions: ranked rows come first); whole boards (CSV, the
combined board) are cached under the phase's ``leaderboard_version``, which every score change bumps.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from django.core.cache import cache
from django.db import connection
from django.db.models import BooleanField, ExpressionWrapper, Q, Value

from backend.challenges import selectors as challenge_selectors
from backend.challenges.models import Benchmark, Phase
from backend.submissions.models import Submission

from .models import EntrantRow


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    higher_is_better: bool
    spread_key: str | None = None
    integer: bool = False  # a count: pages show it as a whole number
    decimals: int = 4  # otherwise this many decimals (the metric's declaration)


def columns_for(benchmark: Benchmark, phase: Phase | None = None) -> list[Column]:
    benchmark_type = benchmark.benchmark_type
    primary = benchmark_type.primary_metric
    ordered = sorted(benchmark_type.metrics_for(benchmark.effective_config), key=lambda m: m.key != primary)
    spread_keys = {m.spread_key for m in ordered if m.spread_key}
    return [Column(m.key, m.label, m.higher_is_better, m.spread_key, m.integer, m.decimals) for m in ordered if m.key not in spread_keys] \
        + _extension_columns(benchmark, phase)


class BoardExtension:
    """What an app built on submissions adds to a benchmark's board: columns, which submissions may be
    ranked, and a last pass over the rows. ``backend.orchestration`` registers them, so this app never
    imports the apps that extend it."""

    def columns(self, benchmark: Benchmark, phase: Phase | None) -> list[Column]:
        return []

    def rankable(self) -> Q | None:
        """A condition on Submission: an entrant's row is picked among these first, and only these rank.
        Stored with the row when it is refreshed: whatever changes the condition's outcome calls
        ``leaderboards.services.refresh_for_submission`` in its transaction."""
        return None

    def apply(self, rows: list[dict]) -> list[dict]:
        """Annotate rows in place (a page, a delta or a whole board): never reorder nor renumber them."""
        return rows


_extensions: list[BoardExtension] = []


def register_extension(extension: BoardExtension) -> None:
    if not any(type(e) is type(extension) for e in _extensions):
        _extensions.append(extension)




def _extension_columns(benchmark: Benchmark, phase: Phase | None) -> list[Column]:
    return [column for extension in _extensions for column in extension.columns(benchmark, phase)]


def rankable_expression():
    """The extensions' condition on Submission (``services`` stores it as the row's ``rankable``)."""
    conditions = [c for c in (e.rankable() for e in _extensions) if c is not None]
    if not conditions:
        return Value(True, output_field=BooleanField())
    combined = conditions[0]
    for condition in conditions[1:]:
        combined &= condition
    return ExpressionWrapper(combined, output_field=BooleanField())


def can_view_leaderboard(user, phase: Phase) -> bool:
    if challenge_selectors.organizes(user, phase.challenge):
        return True
    if not phase.challenge.is_published:
        return False
    if phase.leaderboard_visibility == Phase.Visibility.PUBLIC:
        return True
    if phase.leaderboard_visibility == Phase.Visibility.PARTICIPANTS:
        return user.is_authenticated
    return user.is_authenticated  # hidden: signed-in users see their own rows only


BOARD_ORDER = ("tier", "order_key", "tie_key_1", "tie_key_2", "created_at", "submission_id")


def _board(phase: Phase, benchmark: Benchmark):
    """The entrant rows shown on the board (under the phase's current rule), in no particular order."""
    return EntrantRow.objects.filter(phase_id=phase.pk, benchmark_id=benchmark.pk, rule=phase.ranking_rule,
                                     tier__lt=EntrantRow.Tier.ABSENT)


def _row_dict(row: EntrantRow, columns: list[Column], rank: int | None) -> dict:
    values = row.scores or {}
    return {
        "rank": rank if row.tier == EntrantRow.Tier.RANKED else None,
        "entrant": row.entrant_name,
        "entrant_key": row.entrant_key,
        "user_id": row.user_id_value,
        "team_id": row.team_id_value,
        "is_baseline": row.is_baseline,
        "division": row.division,
        "submission_id": row.submission_id,
        "submitted_at": row.created_at.isoformat() if row.created_at else None,
        "score": row.primary_value,
        "metrics": {c.key: values.get(c.key) for c in columns},
        "spreads": {c.key: values.get(c.spread_key) for c in columns if c.spread_key},
        # Which environment (library versions) produced the scores; boards may mix them until re-scored.
        "environment": row.environment_label,
        "environment_versions": row.environment,
    }


def _finish(rows: list[dict]) -> list[dict]:
    for extension in _extensions:
        rows = extension.apply(rows)
    return rows


def board_count(phase: Phase, benchmark: Benchmark) -> int:
    return _board(phase, benchmark).count()


def board_page(phase: Phase, benchmark: Benchmark, page: int, page_size: int) -> list[dict]:
    """One page of the ranked rows (pages count from 1). Ranked rows come first in the board's order, so
    a row's rank is its position: an index range scan, whatever the board's size."""
    offset = (page - 1) * page_size
    columns = columns_for(benchmark, phase)
    rows = _board(phase, benchmark).order_by(*BOARD_ORDER)[offset:offset + page_size]
    return _finish([_row_dict(row, columns, offset + i) for i, row in enumerate(rows, start=1)])


def search_page(phase: Phase, benchmark: Benchmark, search: str, page: int, page_size: int) -> tuple[int, list[dict]]:
    """The rows whose entrant name contains ``search`` (case-insensitive): how many, and one page of
    them, each with its rank on the whole board (not its position among the matches)."""
    matching = _board(phase, benchmark).filter(entrant_name__icontains=search)
    offset = (page - 1) * page_size
    rows = list(matching.order_by(*BOARD_ORDER)[offset:offset + page_size])
    where = positions(phase, benchmark, [row.pk for row in rows])
    columns = columns_for(benchmark, phase)
    return matching.count(), _finish([_row_dict(row, columns, where.get(row.pk)) for row in rows])


def leaderboard_rows(phase: Phase, benchmark: Benchmark) -> list[dict]:
    """All ranked rows (cached per version; CSV export, the combined board). Callers filter them for the
    viewer with ``rows_for_viewer``."""
    key = f"leaderboard:{phase.pk}:{benchmark.pk}:{phase.leaderboard_version}:{phase.ranking_rule}"
    rows = cache.get(key)
    if rows is not None:
        return rows
    columns = columns_for(benchmark, phase)
    rows = _finish([_row_dict(row, columns, i)
                    for i, row in enumerate(_board(phase, benchmark).order_by(*BOARD_ORDER), start=1)])
    cache.set(key, rows, timeout=3600)
    return rows


def _own(user) -> Q:
    """The viewer's rows: their own submissions without a team (baselines they posted included), and
    their teams'."""
    if not user.is_authenticated:
        return Q(pk__in=[])
    team_ids = list(user.teams.values_list("pk", flat=True))
    return Q(team_id_value__isnull=True, user_id_value=user.pk) | Q(team_id_value__in=team_ids)


def own_rows(phase: Phase, benchmark: Benchmark, user) -> list[dict]:
    """The viewer's rows without ranks (a hidden board's view): a few rows, read by the viewer's keys."""
    columns = columns_for(benchmark, phase)
    rows = _board(phase, benchmark).filter(_own(user)).order_by(*BOARD_ORDER)
    return [{**row, "rank": None} for row in _finish([_row_dict(row, columns, None) for row in rows])]


def positions(phase: Phase, benchmark: Benchmark, ids: list[int]) -> dict[int, int]:
    """Each listed entrant row's position on the board (1 = first), one window query over the board's
    rows (at most one per entrant)."""
    if not ids:
        return {}
    table = EntrantRow._meta.db_table
    placeholders = ", ".join(["%s"] * len(ids))
    sql = (f"SELECT id, position FROM (SELECT id, ROW_NUMBER() OVER (ORDER BY {', '.join(BOARD_ORDER)}) AS position "
           f"FROM {table} WHERE phase_id = %s AND benchmark_id = %s AND rule = %s AND tier < %s) AS board "
           f"WHERE id IN ({placeholders})")
    with connection.cursor() as cursor:
        cursor.execute(sql, [phase.pk, benchmark.pk, phase.ranking_rule, int(EntrantRow.Tier.ABSENT), *ids])
        return dict(cursor.fetchall())


def position_of_viewer(phase: Phase, benchmark: Benchmark, user) -> int | None:
    """Where the viewer's (first) row stands on the board, or None when they have none."""
    ids = list(_board(phase, benchmark).filter(_own(user)).values_list("pk", flat=True))
    found = positions(phase, benchmark, ids)
    return min(found.values()) if found else None


def changed_rows(phase: Phase, benchmark: Benchmark, since: int) -> tuple[list[dict], list[str]]:
    """Rows changed after version ``since`` (with their current ranks), and the entrants whose row left
    the board since then. Other rows keep their content, but their ranks may have shifted."""
    changed = list(EntrantRow.objects.filter(phase_id=phase.pk, benchmark_id=benchmark.pk, rule=phase.ranking_rule,
                                             changed_version__gt=since).order_by(*BOARD_ORDER))
    present = [row for row in changed if row.tier != EntrantRow.Tier.ABSENT]
    removed = [row.entrant_name for row in changed if row.tier == EntrantRow.Tier.ABSENT]
    where = positions(phase, benchmark, [row.pk for row in present])
    columns = columns_for(benchmark, phase)
    return _finish([_row_dict(row, columns, where.get(row.pk)) for row in present]), removed

def is_hidden_for(user, phase: Phase) -> bool:
    """True when the viewer may see only their own rows, and neither ranks nor how many entrants there are."""
    return (phase.leaderboard_visibility == Phase.Visibility.HIDDEN
            and not challenge_selectors.organizes(user, phase.challenge))


def rows_for_viewer(rows: list[dict], phase: Phase, user) -> list[dict]:
    """The rows the viewer may see. On a hidden board: their own (and their teams') rows, without a
    rank: a rank would tell how many entrants are ahead."""
    if not is_hidden_for(user, phase):
        return rows
    team_ids = set(user.teams.values_list("pk", flat=True)) if user.is_authenticated else set()
    return [{**r, "rank": None} for r in rows
            if (r["team_id"] is None and r["user_id"] == user.pk) or r["team_id"] in team_ids]


def version_for_viewer(rows: list[dict], phase: Phase, user, version: int) -> int | str:
    """The version live pages poll with. The phase's counter grows with every score in the phase, so
    on a hidden board the viewer gets a digest of their own rows instead: it changes with them only."""
    if not is_hidden_for(user, phase):
        return version
    return hashlib.sha256(json.dumps(rows, sort_keys=True, default=str).encode()).hexdigest()[:16]


def standings(submissions, user) -> dict[int, dict]:
    """Where each scored submission stands, as its owner may see it, by submission id:
    ``{"hidden": True, "rank": None}`` when the board is hidden from the viewer (or not visible),
    else ``{"hidden": False, "rank": n or None}`` (None: not the row that ranks its entrant)."""
    result: dict[int, dict] = {}
    ranks_shown: dict[int, bool] = {}  # per phase: one permission check, not one per submission
    wanted: dict[tuple[int, int], list] = {}
    for submission in submissions:
        if submission.status != Submission.Status.SCORED:
            continue
        phase = submission.phase
        if phase.pk not in ranks_shown:
            ranks_shown[phase.pk] = can_view_leaderboard(user, phase) and not is_hidden_for(user, phase)
        if not ranks_shown[phase.pk]:
            result[submission.pk] = {"hidden": True, "rank": None}
            continue
        wanted.setdefault((phase.pk, submission.benchmark_id), []).append(submission)
    for group in wanted.values():
        phase, benchmark = group[0].phase, group[0].benchmark
        rows = {row.submission_id: row for row in _board(phase, benchmark).filter(
            submission_id__in=[s.pk for s in group], tier=EntrantRow.Tier.RANKED)}
        where = positions(phase, benchmark, [row.pk for row in rows.values()])
        for submission in group:
            row = rows.get(submission.pk)
            result[submission.pk] = {"hidden": False, "rank": where.get(row.pk) if row else None}
    return result


def leaderboard_version(phase: Phase) -> int:
    return Phase.objects.filter(pk=phase.pk).values_list("leaderboard_version", flat=True).first() or 0


# --- the challenge leaderboard: benchmarks combined ------------------------------------------------

def normalized_scores(values: dict[str, float | None], higher_is_better: bool) -> dict[str, float]:
    """Min-max normalise one benchmark's scores to [0, 1], 1 = best; entrants without a score get 0.
    Metrics differ in scale and direction, so only normalised scores can be weighted together."""
    present = {k: (v if higher_is_better else -v) for k, v in values.items() if v is not None}
    if not present:
        return {k: 0.0 for k in values}
    low, high = min(present.values()), max(present.values())
    return {k: (1.0 if high == low else (present[k] - low) / (high - low)) if k in present else 0.0 for k in values}


def weighted_aggregate(normalized: dict[str, dict[str, float]], weights: dict[str, float]) -> dict[str, float]:
    """Weighted mean over benchmarks of each entrant's normalised score (the page recomputes this
    in JavaScript when the sliders move; keep the two in step)."""
    total = sum(max(w, 0.0) for w in weights.values())
    entrants = {e for per_benchmark in normalized.values() for e in per_benchmark}
    if total == 0:
        return {e: 0.0 for e in entrants}
    return {e: sum(max(weights[b], 0.0) * normalized[b].get(e, 0.0) for b in normalized) / total for e in entrants}


def challenge_leaderboard(phase: Phase, user, weights: dict[str, float] | None = None) -> dict:
    """Per-entrant primary scores on every benchmark of the phase's challenge, normalised, and the
    aggregate ranking with the organizer's default weights — or with ``weights`` (benchmark slug ->
    weight, e.g. the page's sliders for an export; benchmarks not named keep the organizer's weight).
    Each column's ``weight`` is the one used, ``default_weight`` the organizer's. The default-weight board
    (every viewer who may see a non-hidden board sees the same one) is what the API encodes once per
    version and caches as bytes (``api.combined_body``: caching this dict too would only add a pickle of
    it); a hidden board's viewer gets their own rows, computed for them and never stored under a shared
    key; re-weighted exports are computed on request."""
    return _challenge_leaderboard(phase, user, hidden=is_hidden_for(user, phase), weights=weights or {})


def _challenge_leaderboard(phase: Phase, user, *, hidden: bool, weights: dict[str, float]) -> dict:
    benchmarks = list(phase.challenge.benchmarks.all())
    entrants: dict[str, dict] = {}
    raw: dict[str, dict[str, float | None]] = {}
    columns = []
    slugs = {}
    for benchmark in benchmarks:
        benchmark_type = benchmark.benchmark_type
        metric = benchmark_type.metric(benchmark_type.primary_metric)
        columns.append({"slug": benchmark.slug, "title": benchmark.title, "metric": metric.label,
                        "higher_is_better": metric.higher_is_better,
                        # how pages show the raw score: a count as a whole number, else the metric's decimals
                        "integer": metric.integer, "decimals": 0 if metric.integer else metric.decimals,
                        "weight": weights.get(benchmark.slug, benchmark.weight), "default_weight": benchmark.weight})
        raw[benchmark.slug] = {}
        slugs[benchmark.pk] = benchmark.slug
    # Every board's primary values in one light query (no row dicts): the viewer's rows on a hidden board.
    rows = EntrantRow.objects.filter(phase_id=phase.pk, benchmark_id__in=list(slugs), rule=phase.ranking_rule,
                                     tier__lt=EntrantRow.Tier.ABSENT)
    if hidden:
        rows = rows.filter(_own(user))
    for benchmark_id, key, name, is_baseline, score in rows.order_by("benchmark_id", *BOARD_ORDER).values_list(
            "benchmark_id", "entrant_key", "entrant_name", "is_baseline", "primary_value"):
        entrants.setdefault(key, {"entrant": name, "is_baseline": is_baseline})
        raw[slugs[benchmark_id]][key] = score
    for slug in raw:
        for key in entrants:
            raw[slug].setdefault(key, None)
    if hidden:
        # Normalised scores and ranks are relative to the other entrants: a hidden board shows the
        # viewer's own raw scores only.
        return {"benchmarks": columns, "hidden": True, "rows": [{
            "rank": None, "entrant": entrants[key]["entrant"], "is_baseline": entrants[key]["is_baseline"],
            "scores": {slug: raw[slug][key] for slug in raw}, "normalized": None, "aggregate": None,
        } for key in sorted(entrants, key=lambda key: entrants[key]["entrant"])]}
    normalized = {c["slug"]: normalized_scores(raw[c["slug"]], c["higher_is_better"]) for c in columns}
    aggregate = weighted_aggregate(normalized, {c["slug"]: c["weight"] for c in columns})
    ordered = sorted(entrants, key=lambda key: (-aggregate.get(key, 0.0), entrants[key]["entrant"]))
    return {
        "benchmarks": columns,
        "hidden": False,
        "rows": [{
            "rank": position,
            "entrant": entrants[key]["entrant"],
            "is_baseline": entrants[key]["is_baseline"],
            "scores": {slug: raw[slug][key] for slug in raw},
            "normalized": {slug: normalized[slug][key] for slug in normalized},
            "aggregate": aggregate.get(key, 0.0),
        } for position, key in enumerate(ordered, start=1)],
    }


# --- public submission details (rows that link to a submission) -------------------------------------

def publicly_detailed(phase: Phase, is_baseline: bool) -> bool:
    """Whether a scored submission on this phase's board shows its public details to everyone who sees
    the board: baselines always, participants' where the organizer allows it — never on a hidden board
    (its rows are nobody else's business, not even the baselines' standing)."""
    if phase.leaderboard_visibility == Phase.Visibility.HIDDEN:
        return False
    return is_baseline or phase.challenge.public_submission_details


def get_public_submission(user, pk: int) -> Submission:
    """A submission shown through its public view (``may_see_public_details``); a 404 for anything else,
    as if it did not exist. Here, not in submissions: whether it shows depends on its board."""
    from django.http import Http404

    submission = (Submission.objects.select_related("benchmark__challenge", "phase", "user", "team")
                  .prefetch_related("scores").filter(pk=pk).first())
    if submission is None or not may_see_public_details(user, submission):
        raise Http404("No such submission.")
    return submission


def may_see_public_details(user, submission: Submission) -> bool:
    """The public view of a submission (scores, environment, curves; never its file, log or code): a
    scored submission whose board the viewer may see, under ``publicly_detailed``."""
    phase = submission.phase
    phase.challenge = submission.benchmark.challenge
    return (submission.status == Submission.Status.SCORED
            and publicly_detailed(phase, submission.is_baseline)
            and can_view_leaderboard(user, phase))
