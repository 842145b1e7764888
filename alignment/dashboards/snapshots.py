"""Dashboard snapshots: a page serves numbers at most DASHBOARD_MAX_AGE_SECONDS old, recomputing them
(in the database, as always) when they are older; beat keeps the default views warm."""

import time
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from alignment.dashboards.reports import Report
from alignment.models import DashboardSnapshot
from annotation.models import Study


def snapshot_key(name: str, **params: str | None) -> str:
    return "|".join([name, *(f"{k}={v}" for k, v in sorted(params.items()) if v)])


def report_snapshot(*, study: Study, key: str, build: Callable[[], Report], max_age: float | None = None) -> Report:
    """The cached report when fresh enough, else a freshly built one (stored for the next view)."""
    max_age = settings.DASHBOARD_MAX_AGE_SECONDS if max_age is None else max_age
    snapshot = DashboardSnapshot.objects.filter(study=study, key=key).first()
    fresh_after = timezone.now() - timedelta(seconds=max_age)
    if study.exclusions_changed_at is not None:  # an exclusion (or its lifting) changed which judgments count
        fresh_after = max(fresh_after, study.exclusions_changed_at)
    if snapshot is not None and snapshot.computed_at >= fresh_after:
        return _from_payload(snapshot, build)
    return snapshot_store(study=study, key=key, build=build)


def snapshot_store(*, study: Study, key: str, build: Callable[[], Report]) -> Report:
    started = time.perf_counter()
    report = build()
    payload = {"tables": report.tables, "groups": report.groups, "summary": report.summary,
               "details": list(report.details)}
    DashboardSnapshot.objects.update_or_create(
        study=study, key=key,
        defaults={"payload": payload, "seconds": time.perf_counter() - started, "computed_at": timezone.now()},
    )
    report.summary = {**report.summary, "computed_at": timezone.now().isoformat()}
    return report


def _from_payload(snapshot: DashboardSnapshot, build: Callable[[], Report]) -> Report:
    payload = snapshot.payload
    # The large per-pair tables are not cached: asking for one computes the report live.
    details = {name: (lambda name=name: build().table(name)) for name in payload["details"]}
    summary = {**payload["summary"], "computed_at": snapshot.computed_at.isoformat()}
    return Report(tables=payload["tables"], groups=payload["groups"], summary=summary, details=details)
