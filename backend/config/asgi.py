"""ASGI entry point (uvicorn, or gunicorn with ``-k uvicorn_worker.UvicornWorker``): serves every page and
API like the WSGI one, plus the live-update streams (backend/live), which need an async server to hold
many open connections per process. ``wsgi.py`` stays usable; there the streams answer 503 and pages poll."""
import os
import warnings

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.config.settings")
# WhiteNoise (static files) answers with a synchronous file iterator, which Django's ASGI handler reads
# in a worker thread, warning on every static request; the files are small and gzipped (plotly: 1.4 MB).
# Busy sites put static files behind the proxy or a CDN (docs/operations.md).
warnings.filterwarnings("ignore", message="StreamingHttpResponse must consume synchronous iterators")
django_application = get_asgi_application()
LIVE_PREFIX = "/api/live/"


async def application(scope, receive, send):
    """Django, except that the live streams (open for minutes) skip Django's per-request thread context:
    under it every open stream would keep an idle thread of its own (for the synchronous middleware).
    Their synchronous parts (session, user, permission check) take milliseconds and run on Django's
    shared thread instead, so 500 open streams cost 500 small coroutines, not 500 threads."""
    if scope["type"] == "http" and LIVE_PREFIX in scope["path"]:
        await django_application.handle(scope, receive, send)
    else:
        await django_application(scope, receive, send)
