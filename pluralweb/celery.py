import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pluralweb.settings")

app = Celery("pluralweb")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
