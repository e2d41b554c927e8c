"""Celery application. Workers import Django settings; tasks live in each app's tasks.py."""
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.config.settings")

app = Celery("dataperf")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
