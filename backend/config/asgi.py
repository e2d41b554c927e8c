"""ASGI entry point (uvicorn, or gunicorn with ``-k uvicorn_worker.UvicornWorker``): serves every page and
API like the WSGI one, plus the live-update streams (backend/live), which need an async server to hold
many open connections per process. ``wsgi.py`` stays usable; there the streams answer 503 and pages poll."""
import asyncio
import os
import warnings
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import ThreadSensitiveContext
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.config.settings")
# WhiteNoise (static files) answers with a synchronous file iterator, which Django's ASGI handler reads
# in a worker thread, warning on every static request; the files are small and gzipped (plotly: 1.4 MB).
# Busy sites put static files behind the proxy or a CDN (docs/operations.md).
warnings.filterwarnings("ignore", message="StreamingHttpResponse must consume synchronous iterators")
django_application = get_asgi_application()

from backend.leaderboards import fast  # noqa: E402 - after Django's setup

LIVE_PREFIX = "/api/live/"


# The hot leaderboard GETs (backend/leaderboards/fast.py) run their few synchronous steps on these
# threads, which keep their database connections: Django's handler would open one per request (each
# request gets a thread of its own) and pass the whole middleware chain.
_lean_threads = ThreadPoolExecutor(max_workers=2, thread_name_prefix="lean-board")


async def application(scope, receive, send):
    """Django, except that the live streams (open for minutes) skip Django's per-request thread context:
    under it every open stream would keep an idle thread of its own (for the synchronous middleware).
    Their synchronous parts (session, user, permission check) take milliseconds and run on Django's
    shared thread instead, so 500 open streams cost 500 small coroutines, not 500 threads.
    The hot leaderboard GETs are answered by ``fast.answer`` when it can (else Django answers them)."""
    if scope["type"] == "http" and LIVE_PREFIX in scope["path"]:
        await django_application.handle(scope, receive, send)
        return
    if scope["type"] == "http" and scope.get("method") == "GET" and scope["path"].endswith("/leaderboard/"):
        request = fast.from_asgi_scope(scope)
        lean = await asyncio.get_running_loop().run_in_executor(_lean_threads, fast.answer_on_own_thread, request)
        if lean is not None:
            headers = [(k.lower().encode("latin-1"), v.encode("latin-1"))
                       for k, v in lean.headers + fast.static_headers(request.secure)]
            headers.append((b"content-length", str(len(lean.body)).encode()))
            await send({"type": "http.response.start", "status": lean.status, "headers": headers})
            await send({"type": "http.response.body", "body": lean.body})
            return
    await _django(scope, receive, send)


# Django's handler runs each request's synchronous part (middleware, view) on a thread of its own, which
# opens a database connection of its own: a new PostgreSQL connection per request (10 ms of CPU per DRF
# request here, against 4 ms under WSGI). Instead each request runs on one of a few long-lived threads
# (the least busy), which keep their connections (CONN_MAX_AGE) as WSGI workers do; a request still
# has one thread for all its synchronous steps. Request bodies are read before (asynchronously), so a
# slow upload does not hold a thread.
_request_threads = [ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"django-request-{i}")
                    for i in range(max(1, int(os.environ.get("ASGI_REQUEST_THREADS", "8"))))]
_busy = [0] * len(_request_threads)


async def _django(scope, receive, send):
    if scope["type"] != "http":
        await django_application(scope, receive, send)  # Django's own answer to anything else
        return
    index = min(range(len(_busy)), key=_busy.__getitem__)
    _busy[index] += 1
    try:
        async with ThreadSensitiveContext(executor=_request_threads[index]):
            await django_application.handle(scope, receive, send)
    finally:
        _busy[index] -= 1
