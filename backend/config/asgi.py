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
application = get_asgi_application()
