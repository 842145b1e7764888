"""The shared cast: annotators in two groups, a researcher, an admin and a stranger."""

import pytest
from django.contrib.auth.models import Group
from django.core.cache import cache
from rest_framework.test import APIClient

from annotation.access import ADMINS, RESEARCHERS
from annotation.roles import ensure_roles
from annotation.selectors import participant_cache_clear
from tests.chat_server import ChatServer
from tests.factories import make_participant, make_study


@pytest.fixture(autouse=True)
def _fresh_participant_cache():
    # Rolled-back test transactions reuse user ids on SQLite; a deployment never does.
    participant_cache_clear()
    yield
    participant_cache_clear()


@pytest.fixture(autouse=True)
def _fresh_cache():
    # Throttle counts and cached tokens: each test starts with none (test settings use local memory).
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def study(db):
    """Three prompts x three candidates (9 pairs), k = 3, groups party D / R, quota 20."""
    return make_study()


@pytest.fixture
def annotator_d(django_user_model, study):
    """An annotator in group party=D."""
    user = django_user_model.objects.create_user("ann-d")
    return make_participant(study, user, party="D")


@pytest.fixture
def annotator_r(django_user_model, study):
    """An annotator in group party=R."""
    user = django_user_model.objects.create_user("ann-r")
    return make_participant(study, user, party="R")


@pytest.fixture
def roles(db):
    # Transactional tests flush the tables, taking the migration-made role groups with them.
    ensure_roles()


@pytest.fixture
def researcher(django_user_model, roles):
    """Reads every study's data and exports it; cannot create or import."""
    user = django_user_model.objects.create_user("researcher", password="pw-researcher-1")
    user.groups.add(Group.objects.get(name=RESEARCHERS))
    return user


@pytest.fixture
def admin_user(django_user_model, roles):
    """Creates studies, imports data, manages annotators (the admins role, not a superuser)."""
    user = django_user_model.objects.create_user("study-admin", password="pw-admin-1")
    user.groups.add(Group.objects.get(name=ADMINS))
    return user


@pytest.fixture
def stranger(django_user_model, db):
    """Signed in, but in no role and in no study."""
    return django_user_model.objects.create_user("stranger", password="pw-stranger-1")


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def chat_server():
    """A local OpenAI-compatible chat-completions endpoint (tests/chat_server.py)."""
    server = ChatServer().start()
    yield server
    server.stop()


@pytest.fixture
def generation_worker(transactional_db, tmp_path, chat_server):
    """A real Celery worker (tests/worker_process.py) whose NC endpoint is the local chat server."""
    from django.conf import settings

    from tests.worker_process import worker_start, worker_stop

    log = tmp_path / "worker.log"
    process = worker_start(log, broker_url=settings.CELERY_BROKER_URL, env={
        "NC_GENERATION_URL": chat_server.url, "NC_GENERATION_MODEL": "worker-model", "NC_GENERATION_TIMEOUT": "10"})
    process.log = log
    yield process
    worker_stop(process, log)
