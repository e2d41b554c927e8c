"""ASGI entry point (uvicorn, or gunicorn with ``-k uvicorn_worker.UvicornWorker``): serves every page and
API like the WSGI one, plus the live-update streams (backend/live), which need an async server to hold
many open connections per process. ``wsgi.py`` stays usable; there the streams answer 503 and pages poll."""
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.config.settings")
application = get_asgi_application()
