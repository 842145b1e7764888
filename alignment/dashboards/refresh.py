"""Keeping the dashboards' default views warm: beat recomputes them, so a researcher's page reads a snapshot."""

from alignment.dashboards.catalog import snapshot_views
from alignment.dashboards.selectors import analytical_reads
from alignment.dashboards.snapshots import snapshot_key, snapshot_store
from annotation.models import Study


def dashboards_refresh() -> int:
    """Recompute the default view of every judgment dashboard of every open study; returns how many."""
    count = 0
    for study in Study.objects.filter(is_open=True):
        with analytical_reads():
            for dashboard, params, build in snapshot_views(study):
                snapshot_store(study=study, key=snapshot_key(dashboard.name, **params), build=build)
                count += 1
    return count
