"""Pushed live updates: seconds from a score being recorded (committed, visible in the API) to the event
arriving at an open Server-Sent Events client, and what idle streams cost one ASGI worker process.

    .venv/bin/python benchmarks/bench_push.py                        # transport from the environment
    .venv/bin/python benchmarks/bench_push.py --scores 50 --connections 500

Builds its own throwaway database (Django's test database: ``test_<name>`` on PostgreSQL when DATABASE_URL
is set, else an SQLite file), one challenge and phase, and starts one uvicorn worker process
(backend.config.asgi) against it. Scores are recorded through ``submissions.services.complete_evaluation``
(the worker's call). With REDIS_CACHE_URL (or LIVE_REDIS_URL) set it measures the Redis pub/sub transport;
``--backend poll`` the embedded mode's server-side database polling (LIVE_POLL_SECONDS, 0.5 s).
"""
from __future__ import annotations

import argparse
import os
import selectors
import socket
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.config.test_settings")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))]


def proc_status(pid: int) -> dict[str, str]:
    rows = Path(f"/proc/{pid}/status").read_text().splitlines()
    return {k: v.strip() for k, _, v in (row.partition(":") for row in rows)}


def rss_mb(pid: int) -> float:
    return int(proc_status(pid)["VmRSS"].split()[0]) / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scores", type=int, default=50, help="scores recorded one after another (latency)")
    parser.add_argument("--connections", type=int, default=500, help="idle streams held open on one worker")
    parser.add_argument("--backend", choices=["redis", "poll"], default=None,
                        help="the transport (default: redis when a Redis is configured, else poll)")
    args = parser.parse_args()
    redis_url = os.environ.get("LIVE_REDIS_URL") or os.environ.get("REDIS_CACHE_URL") or ""
    backend = args.backend or ("redis" if redis_url else "poll")
    os.environ["LIVE_BACKEND"] = backend

    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test.utils import setup_test_environment

    import evaluation
    from backend.accounts.models import User
    from backend.challenges.models import Benchmark, Challenge, Phase
    from backend.submissions import services
    from backend.submissions.models import Submission
    from django.utils import timezone
    from datetime import timedelta
    from tests.live_helpers import SSE, AsgiServer

    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    server = None
    try:
        user = User.objects.create_user(username="bench", password="bench-password-123")
        challenge = Challenge.objects.create(slug="push", title="Push", status="published", rules="")
        phase = Phase.objects.create(challenge=challenge, name="Development", starts_at=timezone.now() - timedelta(days=1),
                                     ends_at=timezone.now() + timedelta(days=1))
        benchmark = Benchmark.objects.create(challenge=challenge, slug="b", title="B", type_slug="speech-selection")
        server = AsgiServer({"LIVE_BACKEND": backend}, settings_module=os.environ["DJANGO_SETTINGS_MODULE"])
        pid = server.process.pid
        path = f"/api/live/challenges/push/phases/{phase.pk}/"
        print(f"transport: {backend}" + (f" (poll every {settings.LIVE_POLL_SECONDS} s)" if backend == "poll" else "")
              + f"; database: {connection.vendor}; one uvicorn worker process")

        # --- latency: score committed -> event at an open client ---------------------------------
        stream = SSE(server.url, path)
        assert stream.status == 200, stream.status
        stream.next_event()  # the state on connect
        latencies, total = [], []
        for i in range(args.scores):
            submission = Submission.objects.create(
                phase=phase, benchmark=benchmark, user=user, status=Submission.Status.RUNNING, run_token="t",
                original_name="s.json", sha256="0" * 64, file="submissions/x.json")
            started = time.monotonic()
            services.complete_evaluation(submission.pk, "t", evaluation.Result(scores={"macro_f1": i / args.scores}),
                                         "macro_f1")
            visible = time.monotonic()  # committed: the API shows the score from now on
            expected = Phase.objects.get(pk=phase.pk).leaderboard_version
            while True:
                event = stream.next_event(timeout=5)
                if event is None:
                    raise SystemExit(f"score {i}: no event within 5 s")
                if event["data"].get("version") == expected:
                    break
            latencies.append(event["at"] - visible)
            total.append(event["at"] - started)
            time.sleep(0.05)
        stream.close()
        print(f"score visible -> event received, {args.scores} scores: p50 {statistics.median(latencies) * 1000:.1f} ms, "
              f"p99 {percentile(latencies, 99) * 1000:.1f} ms, max {max(latencies) * 1000:.1f} ms "
              f"(from the service call: p50 {statistics.median(total) * 1000:.1f} ms)")

        # --- idle connections held by one worker --------------------------------------------------
        time.sleep(0.5)
        base_rss, base_threads = rss_mb(pid), int(proc_status(pid)["Threads"])
        request = (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n").encode()
        selector = selectors.DefaultSelector()
        received: dict[socket.socket, bytes] = {}
        opened = time.monotonic()
        for _ in range(args.connections):
            sock = socket.create_connection(("127.0.0.1", server.port))
            sock.sendall(request)
            sock.setblocking(False)
            selector.register(sock, selectors.EVENT_READ)
            received[sock] = b""

        def pump(until: float, done) -> None:
            while time.monotonic() < until and not done():
                for key, _ in selector.select(timeout=0.05):
                    try:
                        chunk = key.fileobj.recv(65536)
                    except BlockingIOError:
                        continue
                    received[key.fileobj] += chunk

        pump(time.monotonic() + 60, lambda: all(b"event: leaderboard" in data for data in received.values()))
        connected = sum(b" 200 " in data.split(b"\r\n", 1)[0] and b"event: leaderboard" in data for data in received.values())
        setup_seconds = time.monotonic() - opened
        time.sleep(2)
        pump(time.monotonic() + 0.5, lambda: False)
        rss, threads = rss_mb(pid), int(proc_status(pid)["Threads"])
        print(f"{connected}/{args.connections} idle streams open on one worker in {setup_seconds:.1f} s: "
              f"RSS {base_rss:.0f} -> {rss:.0f} MB (+{(rss - base_rss) * 1024 / max(connected, 1):.0f} KB per stream), "
              f"threads {base_threads} -> {threads}")

        # --- one score fanned out to every open stream --------------------------------------------
        for sock in received:
            received[sock] = b""
        submission = Submission.objects.create(
            phase=phase, benchmark=benchmark, user=user, status=Submission.Status.RUNNING, run_token="t",
            original_name="s.json", sha256="0" * 64, file="submissions/x.json")
        services.complete_evaluation(submission.pk, "t", evaluation.Result(scores={"macro_f1": 1.0}), "macro_f1")
        visible = time.monotonic()
        arrived: dict[socket.socket, float] = {}
        deadline = visible + 30
        while time.monotonic() < deadline and len(arrived) < connected:
            for key, _ in selector.select(timeout=0.05):
                try:
                    received[key.fileobj] += key.fileobj.recv(65536)
                except BlockingIOError:
                    continue
                if key.fileobj not in arrived and b"event: leaderboard" in received[key.fileobj]:
                    arrived[key.fileobj] = time.monotonic() - visible
        fan = list(arrived.values())
        if fan:
            print(f"one score -> {len(fan)}/{connected} open streams: p50 {statistics.median(fan) * 1000:.0f} ms, "
                  f"p99 {percentile(fan, 99) * 1000:.0f} ms, last {max(fan) * 1000:.0f} ms")
        else:
            print("one score -> no stream received the event within 30 s")
        for sock in list(received):
            selector.unregister(sock)
            sock.close()
        return 0
    finally:
        if server is not None:
            server.stop()
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    sys.exit(main())
