"""The Celery application.

Configuration lives in Django settings under the ``CELERY_`` namespace, and the
periodic schedule is declared once, in ``settings.CELERY_BEAT_SCHEDULE``.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gwangju_hub.settings")

app = Celery("gwangju_hub")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
