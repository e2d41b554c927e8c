"""A real ASGI server (uvicorn subprocess) against the test database, and a small Server-Sent Events client,
for the live-update tests and benchmarks/bench_push.py."""
from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AsgiServer:
    """``uvicorn backend.config.asgi:application`` on a free port, talking to the test database (the same
    environment the tests' Celery workers get). ``extra_env`` e.g. {"LIVE_BACKEND": "poll"}."""

    def __init__(self, extra_env: dict | None = None, settings_module: str = "backend.config.test_settings"):
        env = dict(os.environ)
        env.update({"DJANGO_SETTINGS_MODULE": settings_module, "DATAPERF_TEST_WORKER": "1"})
        env.update(extra_env or {})
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        log_dir = Path(os.environ.get("DATAPERF_VAR_DIR", "/tmp"))
        self.log_path = log_dir / f"uvicorn-{time.time_ns()}.log"
        self.log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "backend.config.asgi:application", "--host", "127.0.0.1",
             "--port", str(self.port), "--log-level", "warning", "--no-access-log"],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"uvicorn exited:\n{self.log_path.read_text()[-3000:]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"uvicorn did not start:\n{self.log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


class SSE:
    """An open event stream: ``status``, ``headers``; ``next_event(timeout)`` returns the next event as
    ``{"event", "id", "data", "at"}`` (comments and the retry hint are collected in ``comments``/``retry``)."""

    def __init__(self, base_url: str, path: str, *, cookies: dict | None = None, headers: dict | None = None,
                 timeout: float = 10):
        host, port = base_url.removeprefix("http://").split(":")
        self.conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
        sent = {"Accept": "text/event-stream", **(headers or {})}
        if cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
        self.conn.request("GET", path, headers=sent)
        self.response = self.conn.getresponse()
        self.status = self.response.status
        self.headers = dict(self.response.getheaders())
        self.comments: list[str] = []
        self.retry: int | None = None

    def body(self) -> bytes:
        return self.response.read()

    def next_event(self, timeout: float = 5.0) -> dict | None:
        """The next event, or None when none came within ``timeout`` seconds."""
        self.conn.sock.settimeout(timeout)
        event: dict = {}
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                line = self.response.readline().decode()
                if line == "":
                    return None  # the server closed the stream
                line = line.rstrip("\n")
                if line == "":
                    if "data" in event:
                        event["at"] = time.monotonic()
                        event["data"] = json.loads(event["data"])
                        return event
                    event = {}
                    continue
                if line.startswith(":"):
                    self.comments.append(line)
                    continue
                field, _, value = line.partition(": ")
                if field == "retry":
                    self.retry = int(value)
                else:
                    event[field] = value
        except (TimeoutError, socket.timeout):
            return None
        return None

    def close(self) -> None:
        self.conn.close()
