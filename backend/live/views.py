"""Server-Sent Event streams for live pages: a leaderboard's phase and a submission.

Each stream is an async view (served by the ASGI server, backend/config/asgi.py) checked with the same
selectors as the page's API — 404 for what the viewer may not see — and then tells the page *that*
something changed: ids, versions and statuses only. The page fetches the change through its usual,
permission-checked API, so a hidden board stays hidden (a hidden-board viewer is told only when their
own submissions change, never when others score).

Where the events come from (``settings.LIVE_BACKEND``, backend/core/live.py): Redis pub/sub, or in the
embedded mode a database read every ``LIVE_POLL_SECONDS`` on the server side. Every stream sends a
``retry:`` hint, the current state on connect (unless ``Last-Event-ID`` says the page has it), a comment
every ``LIVE_HEARTBEAT_SECONDS``, and ends after ``LIVE_STREAM_MAX_SECONDS`` (the browser reconnects and
is checked again).
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import random
from dataclasses import dataclass

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.db import close_old_connections
from django.db.models import Q
from django.http import Http404, JsonResponse, StreamingHttpResponse

from backend.challenges import selectors as challenge_selectors
from backend.challenges.models import Phase
from backend.closed_division.models import CodeRun
from backend.core import live
from backend.leaderboards import selectors as leaderboard_selectors
from backend.submissions import selectors as submission_selectors
from backend.submissions.models import Submission


@dataclass(frozen=True)
class State:
    id: str  # the SSE event id (Last-Event-ID); equal ids mean the page has nothing new to fetch
    data: dict  # what the page is told: ids, versions, statuses


def _digest(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]


class PhaseStream:
    """A phase's leaderboards (the benchmark pages and the challenge board of that phase)."""

    event = "leaderboard"

    def __init__(self, phase_id: int, user, hidden: bool):
        self.phase_id, self.user, self.hidden = phase_id, user, hidden
        self.channel = f"phase:{phase_id}"

    def read(self) -> State:
        if self.hidden:
            return self._own_rows_state()
        version = Phase.objects.filter(pk=self.phase_id).values_list("leaderboard_version", flat=True).first() or 0
        return State(str(version), {"phase": self.phase_id, "version": version})

    def _own_rows_state(self) -> State:
        # A hidden board: the phase's version moves with everyone's scores, which this viewer must not
        # learn of; the state is the viewer's own (and their teams') submissions in the phase.
        teams = list(self.user.teams.values_list("pk", flat=True))
        own = (Submission.objects.filter(phase_id=self.phase_id)
               .filter(Q(user=self.user, team__isnull=True) | Q(team__in=teams))
               .order_by("pk").values_list("pk", "status"))
        return State(_digest(list(own)), {"phase": self.phase_id})

    def from_message(self, message: dict) -> State | None:
        version = message.get("version")
        if self.hidden or not isinstance(version, int):
            return None  # read it from the database
        return State(str(version), {"phase": self.phase_id, "version": version})


class SubmissionStream:
    """One submission's status, progress, extras and closed-division run (the submission page)."""

    event = "submission"

    def __init__(self, submission_id: int):
        self.submission_id = submission_id
        self.channel = f"submission:{submission_id}"

    def read(self) -> State:
        row = (Submission.objects.filter(pk=self.submission_id)
               .values_list("status", "progress", "progress_message", "details").first())
        if row is None:
            return State("gone", {"submission": self.submission_id, "status": "deleted"})
        status, progress, message, details = row
        code_run = list(CodeRun.objects.filter(submission_id=self.submission_id)
                        .values_list("status", "concealed_status", "attempts"))
        # The id changes with anything the page shows; the data is the status and progress only.
        return State(_digest([status, progress, message, sorted(details or {}), code_run]),
                     {"submission": self.submission_id, "status": status, "progress": progress})

    def from_message(self, message: dict) -> State | None:
        return None  # one primary-key read per open page of this submission (usually one)


def _closing(function):
    """Run a read in the shared thread pool and give its connection back when the connection is old
    (with DATABASE_CONN_MAX_AGE 0: always), so open streams never hold database connections."""
    def run():
        try:
            return function()
        finally:
            close_old_connections()
    return sync_to_async(run, thread_sensitive=False)


async def _events(stream, last_event_id: str | None):
    loop = asyncio.get_running_loop()
    heartbeat = settings.LIVE_HEARTBEAT_SECONDS
    # Streams opened together (a deploy, a popular page) end spread over 20 %, not all at one moment.
    end = loop.time() + settings.LIVE_STREAM_MAX_SECONDS * random.uniform(0.8, 1.0)
    yield f"retry: {settings.LIVE_RETRY_MS}\n\n"
    read = _closing(stream.read)
    polling = live.backend() != "redis"
    try:
        async with (_no_inbox() if polling else live.subscribe(stream.channel)) as inbox:
            state = await read()  # after subscribing: a change between the two is not missed
            if state.id != last_event_id:
                yield live.sse_event(stream.event, state.data, state.id)
            last_write = loop.time()
            while (remaining := end - loop.time()) > 0:
                wait = max(0.0, min(heartbeat - (loop.time() - last_write), remaining))
                new = None
                if polling:
                    await asyncio.sleep(min(settings.LIVE_POLL_SECONDS, wait))
                    new = await read()
                else:
                    try:
                        message = await asyncio.wait_for(inbox.get(), timeout=wait)
                    except asyncio.TimeoutError:
                        message = None
                    if message is not None:
                        new = (None if message is live.RESYNC else stream.from_message(message)) or await read()
                if new is not None and new.id != state.id:
                    state = new
                    yield live.sse_event(stream.event, state.data, state.id)
                    last_write = loop.time()
                elif loop.time() - last_write >= heartbeat:
                    yield live.sse_comment()
                    last_write = loop.time()
    except live.LiveUnavailable:
        return  # the browser reconnects after the retry hint (and polls meanwhile)


class _no_inbox:
    async def __aenter__(self):
        return None

    async def __aexit__(self, *exc):
        return False


async def _respond(request, stream) -> StreamingHttpResponse | JsonResponse:
    # The checks above used a database connection: give it back now (unless connections persist,
    # DATABASE_CONN_MAX_AGE), not when the stream ends minutes later.
    await sync_to_async(close_old_connections)()
    if live.backend() == "redis":
        try:
            await live.ensure_available()
        except live.LiveUnavailable as error:
            return _unavailable(str(error))
    response = StreamingHttpResponse(_events(stream, request.headers.get("Last-Event-ID")),
                                     content_type="text/event-stream")
    response["Cache-Control"] = "no-cache, no-store"
    response["X-Accel-Buffering"] = "no"  # nginx: pass events through at once
    return response


def _unavailable(reason: str) -> JsonResponse:
    # EventSource gives up on a non-200 answer; the page's script then polls the API (with backoff).
    return JsonResponse({"detail": f"live updates are unavailable: {reason}; the page polls instead", "errors": {}},
                        status=503, headers={"Retry-After": "30"})


def _asgi_only(request) -> JsonResponse | None:
    """Under WSGI a stream would hold a whole worker process; answer at once and let the page poll."""
    if not isinstance(request, ASGIRequest):
        return _unavailable("this server runs WSGI; serve backend.config.asgi for pushed updates")
    return None


def _phase_stream(user, slug: str, phase_id: int) -> PhaseStream | JsonResponse:
    challenge = challenge_selectors.get_visible_challenge(user, slug)  # 404 when the viewer may not see it
    phase = challenge.phases.filter(pk=phase_id).first()
    if phase is None:
        raise Http404("No such phase.")
    if not leaderboard_selectors.can_view_leaderboard(user, phase):
        return JsonResponse({"detail": "Sign in to see this leaderboard.", "errors": {}}, status=403)
    return PhaseStream(phase.pk, user, leaderboard_selectors.is_hidden_for(user, phase))


async def leaderboard_stream(request, slug: str, phase_id: int):
    """Events ``leaderboard`` {phase, version} when a leaderboard of the phase changes (hidden boards:
    {phase} when the viewer's own rows change)."""
    if (refused := _asgi_only(request)) is not None:
        return refused
    user = await request.auser()
    stream = await sync_to_async(_phase_stream)(user, slug, phase_id)
    if isinstance(stream, JsonResponse):
        return stream
    return await _respond(request, stream)


def _submission_stream(user, pk: int) -> SubmissionStream | JsonResponse:
    if not user.is_authenticated:
        return JsonResponse({"detail": "Authentication credentials were not provided.", "errors": {}}, status=403)
    submission = submission_selectors.get_visible_submission(user, pk)  # 404 when not the viewer's
    return SubmissionStream(submission.pk)


async def submission_stream(request, pk: int):
    """Events ``submission`` {submission, status, progress} when the submission (its status, progress,
    extras or closed-division run) changes."""
    if (refused := _asgi_only(request)) is not None:
        return refused
    user = await request.auser()
    stream = await sync_to_async(_submission_stream)(user, pk)
    if isinstance(stream, JsonResponse):
        return stream
    return await _respond(request, stream)
