"""Keeping the dashboards' default views warm: beat recomputes them, so a researcher's page reads a snapshot."""

from alignment.dashboards import reports
from alignment.dashboards.group_divergence import divergence_report
from alignment.dashboards.selectors import analytical_reads
from alignment.dashboards.snapshots import snapshot_key, snapshot_store
from annotation.models import Study


def dashboards_refresh() -> int:
    """Recompute the default view of every judgment dashboard of every open study; returns how many."""
    count = 0
    for study in Study.objects.filter(is_open=True):
        views = [
            (snapshot_key("divergence"), lambda s=study: divergence_report(study=s, attribute=None)),
            (snapshot_key("leaderboard", by="source"),
             lambda s=study: reports.leaderboard_report(study=s, by="source", attribute=None)),
            (snapshot_key("strategies"), lambda s=study: reports.strategies_report(study=s, attribute=None)),
            (snapshot_key("progress"), lambda s=study: reports.progress_report(study=s, attribute=None)),
        ]
        with analytical_reads():
            for key, build in views:
                snapshot_store(study=study, key=key, build=build)
                count += 1
    return count
