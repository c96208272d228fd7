"""The Celery application: the worker runs tasks, beat runs the periodic ones (CELERY_BEAT_SCHEDULE)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chronoverse.settings")

app = Celery("chronoverse")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
