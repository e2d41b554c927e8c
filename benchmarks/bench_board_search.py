"""Leaderboard search and row links: how long `?search=` takes on a big board, and what adding a
signed-in viewer's own-row links costs a cached page.

Builds its own PostgreSQL database (default ``dataperf_boardlinks``, dropped and re-created): one board of
ENTRANTS entrants (3 scored submissions each), ranked with ``rebuild_leaderboards``; then times, in process
through Django's test client (no network, one core):

- page 1 for a signed-out visitor (cached bytes) and for a signed-in entrant (the same bytes, decoded, own
  row linked, encoded again);
- ``?search=`` for a rare name (one match), a common substring (thousands of matches, page 1 of them), and
  a search with no match.

    /work/venv/bin/python benchmarks/bench_board_search.py [--entrants 20000] [--database-url postgres://...]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_leaderboard import configure, recreate_database  # noqa: E402


def _insert(connection, phase_id: int, benchmark_id: int, user_ids: list[int], per_entrant: int) -> None:
    """Scored submissions with a primary score, in SQL (every NOT NULL column given)."""
    with connection.cursor() as cursor:
        cursor.execute("""
            INSERT INTO submissions_submission (phase_id, benchmark_id, user_id, team_id, division, description, file,
                original_name, size_bytes, sha256, is_baseline, baseline_name, status, progress, progress_message,
                failure_reason, log, details, environment, attempts, run_token, selected, created_at, finished_at)
            SELECT %s, %s, u.id, NULL, 'open', '', 'submissions/bench.json', 'bench.json', 100, repeat('0', 64),
                   false, '', 'scored', 1.0, 'scored', '', '', '{}', '{"environment": "current"}', 1, '', false,
                   now() - interval '30 days' + (random() * interval '29 days'), now()
            FROM unnest(%s::bigint[]) AS u(id), generate_series(1, %s) AS n""",
                       [phase_id, benchmark_id, user_ids, per_entrant])
        cursor.execute("""
            INSERT INTO submissions_score (submission_id, metric, value)
            SELECT s.id, 'macro_f1', round((random() * 0.9)::numeric, 4)::float FROM submissions_submission s
            WHERE s.benchmark_id = %s AND s.phase_id = %s""", [benchmark_id, phase_id])


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get(
        "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/dataperf_boardlinks"))
    parser.add_argument("--cache-url", default=os.environ.get("BENCH_CACHE_URL", "redis://127.0.0.1:6379/14"))
    parser.add_argument("--broker-url", default=os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/13"))
    parser.add_argument("--entrants", type=int, default=20000)
    parser.add_argument("--repeats", type=int, default=60)
    return parser.parse_args()


def timed(client, path: str, repeats: int) -> tuple[float, float, dict]:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        response = client.get(path, HTTP_ACCEPT="application/json")
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.99) - 1 if len(times) >= 100 else -1], response.json()


def main() -> int:
    args = parse_args()
    recreate_database(args.database_url)
    configure(args)
    from django.core.cache import cache
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from backend.accounts.models import User
    from backend.challenges.models import Benchmark, Challenge, Phase

    call_command("migrate", verbosity=0)
    cache.clear()
    User.objects.bulk_create([User(username=f"entrant{i:05d}", password="!") for i in range(args.entrants)],
                             batch_size=2000)
    users = list(User.objects.filter(username__startswith="entrant").order_by("pk").values_list("pk", flat=True))
    challenge = Challenge.objects.create(slug="big", title="big", status=Challenge.Status.PUBLISHED)
    phase = Phase.objects.create(challenge=challenge, name="Main", starts_at=timezone.now() - timezone.timedelta(days=30))
    benchmark = Benchmark.objects.create(challenge=challenge, slug="main", title="Main", type_slug="speech-selection",
                                         config={"train_size": 25})
    _insert(connection, phase.pk, benchmark.pk, users, 3)
    call_command("rebuild_leaderboards", stdout=open(os.devnull, "w"))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    board = "/api/challenges/big/benchmarks/main/leaderboard/"
    anonymous, signed_in = Client(HTTP_HOST="localhost"), Client(HTTP_HOST="localhost")
    signed_in.force_login(User.objects.get(username=f"entrant{args.entrants // 2:05d}"))
    print(f"board: {args.entrants:,} entrants, {3 * args.entrants:,} scored submissions; "
          f"{args.repeats} requests each, in process (median / worst ms)")
    cases = [
        ("page 1, signed out (cached)", anonymous, board),
        ("page 1, signed in (+own links)", signed_in, board),
        ("search: one match", anonymous, board + f"?search=entrant{args.entrants - 7:05d}"),
        ("search: common ('12'), page 1", anonymous, board + "?search=12"),
        ("search: no match", anonymous, board + "?search=nobody-here"),
        ("search: common, signed in", signed_in, board + "?search=12"),
    ]
    for name, client, path in cases:
        median, worst, data = timed(client, path, args.repeats)
        print(f"  {name:<32} {median:7.1f} ms  {worst:7.1f} ms   ({data['count']:,} rows match)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
