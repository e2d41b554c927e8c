"""Helpers for the job machinery's fault tests: a private Redis started and stopped by pid, and pointing
this process's Celery publisher at another broker."""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time

# A port nobody listens on: publishing there is refused at once.
REFUSING_BROKER = "redis://127.0.0.1:1/0"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PrivateRedis:
    """A redis-server of the test's own, without persistence (a restart loses every message)."""

    def __init__(self, port: int):
        self.port = port
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "PrivateRedis":
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while time.time() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return self
            time.sleep(0.05)
        raise RuntimeError(f"redis-server on port {self.port} did not start")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.process = None


def use_broker(url: str | None) -> None:
    """Point this process's publisher (the web side) at ``url``. Celery reads CELERY_BROKER_URL from the
    environment before its configuration, so both change."""
    from backend.config.celery import app

    if url is None:
        os.environ.pop("CELERY_BROKER_URL", None)
    else:
        os.environ["CELERY_BROKER_URL"] = url
    app.conf.broker_url = url
    app._pool = None
    app.amqp._producer_pool = None


@contextlib.contextmanager
def broker(url: str):
    from backend.config.celery import app

    previous_env = os.environ.get("CELERY_BROKER_URL")
    previous = app.conf.broker_url
    use_broker(url)
    try:
        yield
    finally:
        use_broker(previous)
        if previous_env is None:
            os.environ.pop("CELERY_BROKER_URL", None)
        else:
            os.environ["CELERY_BROKER_URL"] = previous_env
