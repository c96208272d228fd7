"""The platform's settings, plus django-celery-beat: the scheduler_tick anchor (bench/requirements.txt)."""

from chronoverse.settings import *  # noqa: F403
from chronoverse.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "django_celery_beat"]
