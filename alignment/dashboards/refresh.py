"""Keeping the dashboards' default views current: beat recomputes them, so a researcher's page reads a snapshot.

Bounded: a study whose change marker (sources.py) is the one its snapshots were computed from is not
recomputed; a study is held by one refresh at a time (a lease in DashboardRefresh, so overlapping beat
runs or several workers never stack on it); and a slow study is recomputed at most every
DASHBOARD_REFRESH_SPACING times its last refresh's duration.
"""

import time
import uuid
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from alignment.dashboards.catalog import snapshot_views
from alignment.dashboards.selectors import analytical_reads
from alignment.dashboards.snapshots import recompute_due, snapshot_key, snapshot_store
from alignment.dashboards.sources import study_marker
from alignment.models import DashboardRefresh, DashboardSnapshot
from annotation.models import Study


def dashboards_refresh() -> int:
    """Recompute the stale default views of every open study; returns how many were recomputed."""
    return sum(study_dashboards_refresh(study) for study in Study.objects.filter(is_open=True))


def study_dashboards_refresh(study: Study) -> int:
    """Recompute the default views of one study whose data changed since they were computed; returns how many.
    Nothing when another refresh holds the study or its last refresh is too recent for its duration."""
    holder = _lease_take(study)
    if holder is None:
        return 0
    try:
        now = timezone.now()
        state = DashboardRefresh.objects.get(study=study)
        with analytical_reads():
            marker = study_marker(study)
            sources = dict(DashboardSnapshot.objects.filter(study=study).values_list("key", "source"))
            stale = [(key, build) for dashboard, params, build in snapshot_views(study)
                     if sources.get(key := snapshot_key(dashboard.name, **params)) != marker]
            due = recompute_due(last_started=state.last_started_at, last_seconds=state.last_seconds, now=now)
            if stale and due:
                started = time.perf_counter()
                for key, build in stale:
                    snapshot_store(study=study, key=key, build=build, source=marker)
                state.last_started_at, state.last_seconds = now, time.perf_counter() - started
        state.checked_at = timezone.now()
        state.save(update_fields=["last_started_at", "last_seconds", "checked_at"])
        return len(stale) if due else 0
    finally:
        DashboardRefresh.objects.filter(study=study, lease_holder=holder).update(lease_until=None, lease_holder="")


def _lease_take(study: Study) -> str | None:
    """Hold the study for one refresh (an atomic conditional UPDATE, on PostgreSQL and SQLite alike), or
    None when another refresh holds it. A lease lapses after DASHBOARD_REFRESH_LEASE_SECONDS, so a worker
    killed mid-refresh does not hold the study for ever."""
    DashboardRefresh.objects.get_or_create(study=study)
    now, holder = timezone.now(), uuid.uuid4().hex
    taken = DashboardRefresh.objects.filter(Q(lease_until__isnull=True) | Q(lease_until__lte=now), study=study).update(
        lease_until=now + timedelta(seconds=settings.DASHBOARD_REFRESH_LEASE_SECONDS), lease_holder=holder)
    return holder if taken else None
