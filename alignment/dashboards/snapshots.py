"""Dashboard snapshots: a page serves a snapshot while it is current (its study's change marker is the one
it was computed from) or recent (at most DASHBOARD_MAX_AGE_SECONDS old, settings unchanged); beat keeps
the default views current (refresh.py). A page recomputes a stale snapshot itself only when no refresh
of the study is under way and the last computation is far enough back (DASHBOARD_REFRESH_SPACING times
its duration); otherwise it serves the stale one and says so."""

import time
from collections.abc import Callable
from datetime import datetime

from django.conf import settings
from django.utils import timezone

from alignment.dashboards.reports import Report
from alignment.dashboards.sources import COUNTING_RULES_VERSION, study_fingerprint, study_marker
from alignment.models import DashboardRefresh, DashboardSnapshot
from annotation.models import Study


def snapshot_key(name: str, **params: str | None) -> str:
    return "|".join([name, *(f"{k}={v}" for k, v in sorted(params.items()) if v)])


def recompute_due(*, last_started: datetime | None, last_seconds: float, now: datetime) -> bool:
    """Whether enough time has passed since a computation that took `last_seconds`: a study whose
    dashboards take 30 s is recomputed at most every DASHBOARD_REFRESH_SPACING x 30 s."""
    if last_started is None:
        return True
    return (now - last_started).total_seconds() >= settings.DASHBOARD_REFRESH_SPACING * last_seconds


def refresh_under_way(study: Study, now: datetime | None = None) -> bool:
    return DashboardRefresh.objects.filter(study=study, lease_until__gt=now or timezone.now()).exists()


def report_snapshot(*, study: Study, key: str, build: Callable[[], Report], max_age: float | None = None) -> Report:
    """The snapshot's report when current or recent enough, else a freshly built one (stored for the next view)."""
    max_age = settings.DASHBOARD_MAX_AGE_SECONDS if max_age is None else max_age
    snapshot = DashboardSnapshot.objects.filter(study=study, key=key).first()
    if snapshot is None:
        return snapshot_store(study=study, key=key, build=build, source=study_marker(study))
    now = timezone.now()
    source = snapshot.source or {}
    # Cheap first: a recent snapshot of the same settings (no query). A settings change or an
    # exclusion changes the study row, hence the fingerprint, so it never hides behind the age.
    if ((now - snapshot.computed_at).total_seconds() <= max_age and source.get("study") == study_fingerprint(study)
            and source.get("rules") == COUNTING_RULES_VERSION):
        return _from_payload(snapshot, build)
    marker = study_marker(study)
    if marker == snapshot.source:
        return _from_payload(snapshot, build)
    if refresh_under_way(study, now) or not recompute_due(last_started=snapshot.computed_at,
                                                          last_seconds=snapshot.seconds, now=now):
        return _from_payload(snapshot, build, stale=True)
    return snapshot_store(study=study, key=key, build=build, source=marker)


def snapshot_store(*, study: Study, key: str, build: Callable[[], Report], source: dict | None = None) -> Report:
    """Build the report and store it as the snapshot, with the change marker taken before building (so a
    judgment arriving meanwhile makes the snapshot stale, never falsely current)."""
    started_at, started = timezone.now(), time.perf_counter()
    report = build()
    payload = {"tables": report.tables, "groups": report.groups, "summary": report.summary,
               "details": list(report.details)}
    DashboardSnapshot.objects.update_or_create(
        study=study, key=key,
        defaults={"payload": payload, "seconds": time.perf_counter() - started, "computed_at": started_at,
                  "source": source},
    )
    report.summary = {**report.summary, "computed_at": started_at.isoformat()}
    return report


def _from_payload(snapshot: DashboardSnapshot, build: Callable[[], Report], *, stale: bool = False) -> Report:
    payload = snapshot.payload
    # The large tables are not stored: asking for one computes the report live.
    details = {name: (lambda name=name: build().table(name)) for name in payload["details"]}
    summary = {**payload["summary"], "computed_at": snapshot.computed_at.isoformat()}
    if stale:
        summary["stale"] = True
    return Report(tables=payload["tables"], groups=payload["groups"], summary=summary, details=details)
