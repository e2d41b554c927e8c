"""Live updates: the one mechanism that tells open pages something changed.

State-changing services call ``publish_on_commit(channel, event)``; the event goes out only after the
transaction commits (so a page never fetches a state that is not there yet) and carries ids, versions
and statuses only — pages fetch what changed through the permission-checked APIs, so nothing hidden
travels on this bus. Channels: ``phase:<id>`` (a leaderboard changed; ``{"version": n}``) and
``submission:<id>`` (status, progress, details or code-run state of a submission changed).

Transports (``LIVE_BACKEND``, see docs/operations.md):

- ``redis`` (production; the default when ``LIVE_REDIS_URL`` or ``REDIS_CACHE_URL`` is set): ``publish``
  sends on Redis pub/sub channel ``dataperf:live:<channel>``; every web process holds ONE pattern
  subscription (the :class:`Hub`) and fans messages out to its open streams' in-memory queues.
- ``poll`` (embedded mode, ``make run``: no Redis, the worker is another process): ``publish`` does
  nothing and the streams read their state from the database every ``LIVE_POLL_SECONDS`` (0.5 s) on the
  server side (``backend/live/streams.py``) — the database is the bus the processes share.

Publishing never fails a state change: a Redis that is down costs a logged warning; open pages then
notice within the stream's resync (reconnect) or fall back to polling.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections import defaultdict

from django.conf import settings
from django.db import transaction

log = logging.getLogger(__name__)

PREFIX = "dataperf:live:"
# Put in a subscriber's queue when messages may have been lost (Redis reconnected, queue overflowed):
# the stream re-reads its state from the database.
RESYNC = {"resync": True}


class LiveUnavailable(Exception):
    """The push channel cannot be reached right now (the page falls back to polling)."""


def backend() -> str:
    return settings.LIVE_BACKEND


# --- publishing (sync: services, workers) ---------------------------------------------------------

_client = None
_client_pid = None


def _redis():
    global _client, _client_pid
    if _client is None or _client_pid != os.getpid():
        import redis

        _client = redis.Redis.from_url(settings.LIVE_REDIS_URL, socket_connect_timeout=0.5, socket_timeout=1.0)
        _client_pid = os.getpid()
    return _client


def publish(channel: str, event: dict) -> None:
    """Send ``event`` to the streams following ``channel`` now (call after commit; see publish_on_commit)."""
    if backend() != "redis":
        return  # poll transport: the streams read the committed state themselves
    try:
        _redis().publish(PREFIX + channel, json.dumps(event))
    except Exception as error:  # a push that cannot go out must never undo or fail the state change
        log.warning("live update on %s not published (%s); open pages catch up on their next resync", channel, error)


def publish_on_commit(channel: str, event=None) -> None:
    """Publish after the current transaction commits (at once outside one). ``event`` may be a callable
    returning the event, evaluated after commit (e.g. to read the committed version)."""
    if backend() != "redis":
        return

    def send():
        publish(channel, event() if callable(event) else (event or {}))

    transaction.on_commit(send, robust=True)


# --- subscribing (async: the SSE streams of a web process) ----------------------------------------

class Hub:
    """One Redis pattern subscription per event loop (i.e. per web process), fanned out to the open
    streams' queues, so 500 open pages cost 500 small queues and one Redis connection."""

    def __init__(self, url: str):
        self.url = url
        self.queues: dict[str, set[asyncio.Queue]] = defaultdict(set)
        self.connected = asyncio.Event()
        self.task: asyncio.Task | None = None

    def start(self) -> None:
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        import redis.asyncio as aioredis

        delay = 0.5
        while True:
            client = aioredis.Redis.from_url(self.url, socket_connect_timeout=1.0, health_check_interval=15)
            try:
                pubsub = client.pubsub()
                await pubsub.psubscribe(PREFIX + "*")
                self.connected.set()
                self._broadcast(RESYNC)  # anything published while we were away is re-read
                delay = 0.5
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=30.0)
                    if message is None or message.get("type") != "pmessage":
                        continue
                    channel = message["channel"].decode()[len(PREFIX):]
                    try:
                        event = json.loads(message["data"])
                    except ValueError:
                        continue
                    for queue in tuple(self.queues.get(channel, ())):
                        self._put(queue, event)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                if self.connected.is_set():
                    log.warning("live updates: lost the Redis subscription (%s); reconnecting", error)
                self.connected.clear()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
            finally:
                with contextlib.suppress(Exception):
                    await client.aclose()

    @staticmethod
    def _put(queue: asyncio.Queue, event: dict) -> None:
        try:
            queue.put_nowait(event)
        except asyncio.QueueFull:  # a stalled reader: drop what it has not read, make it re-read the state
            while not queue.empty():
                queue.get_nowait()
            queue.put_nowait(RESYNC)

    def _broadcast(self, event: dict) -> None:
        for queues in tuple(self.queues.values()):
            for queue in tuple(queues):
                self._put(queue, event)


_hubs: dict[asyncio.AbstractEventLoop, Hub] = {}


def _hub() -> Hub:
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None:
        for old in [old for old in _hubs if old.is_closed()]:
            del _hubs[old]
        hub = _hubs[loop] = Hub(settings.LIVE_REDIS_URL)
    hub.start()
    return hub


async def ensure_available() -> None:
    """Raise LiveUnavailable unless this process's subscription is up (waits up to a second)."""
    hub = _hub()
    if not hub.connected.is_set():
        try:
            await asyncio.wait_for(hub.connected.wait(), timeout=1.0)
        except asyncio.TimeoutError:
            raise LiveUnavailable("the live-update channel (Redis) is unreachable") from None


@contextlib.asynccontextmanager
async def subscribe(channel: str):
    """``async with subscribe(channel) as inbox``: ``await inbox.get()`` yields the channel's events
    (or :data:`RESYNC`). Subscribe before reading the state, so nothing falls between the two.
    Raises LiveUnavailable when Redis cannot be reached within a second. Only for the redis backend."""
    await ensure_available()
    hub = _hub()
    queue: asyncio.Queue = asyncio.Queue(maxsize=64)
    hub.queues[channel].add(queue)
    try:
        yield queue
    finally:
        hub.queues[channel].discard(queue)
        if not hub.queues[channel]:
            del hub.queues[channel]


def open_streams() -> int:
    """How many streams this process holds (for the benchmark and the logs)."""
    with contextlib.suppress(RuntimeError):
        hub = _hubs.get(asyncio.get_running_loop())
        return sum(len(q) for q in hub.queues.values()) if hub else 0
    return 0


# --- Server-Sent Events framing -------------------------------------------------------------------

def sse_event(name: str, data: dict, event_id: str | None = None) -> str:
    lines = [f"event: {name}"]
    if event_id is not None:
        lines.append(f"id: {event_id}")
    lines.append("data: " + json.dumps(data, separators=(",", ":")))
    return "\n".join(lines) + "\n\n"


def sse_comment(text: str = "keep-alive") -> str:
    return f": {text} {int(time.time())}\n\n"
