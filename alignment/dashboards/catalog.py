"""The dashboards, listed once: the URL conf, the pages' tab bar and titles, and beat's refresh of the
judgment dashboards' default views all read this list."""

from collections.abc import Callable
from dataclasses import dataclass, field

from alignment.dashboards import reports
from alignment.dashboards.bridging_report import bridging_report
from alignment.dashboards.group_divergence import divergence_report
from alignment.dashboards.pal_report import pal_report
from alignment.dashboards.reports import Report
from alignment.dashboards.spica_report import spica_report
from annotation.models import Study


@dataclass(frozen=True)
class Dashboard:
    name: str  # URL segment, template and URL name
    label: str  # its tab
    title: str  # its page heading
    # report(study=..., attribute=..., **params) -> Report
    report: Callable[..., Report]
    # Judgment dashboards: pages read a snapshot that beat keeps warm for these parameters.
    # Fitted-model dashboards (PAL, SPICA) read a run instead: with an attribute, the latest run fitted
    # on that attribute's groups.
    snapshot_params: dict | None = field(default=None)

    @property
    def url_name(self) -> str:
        return f"dashboards:{self.name}"


DASHBOARDS = (
    Dashboard("divergence", "Divergence", "Per-group preference divergence", divergence_report, {}),
    Dashboard("leaderboard", "Leaderboard", "Per-group leaderboard", reports.leaderboard_report, {"by": "source"}),
    Dashboard("strategies", "NC vs random", "NC vs random pairs", reports.strategies_report, {}),
    Dashboard("progress", "Progress", "Annotation progress", reports.progress_report, {}),
    Dashboard("bridging", "Bridging", "What every group prefers", bridging_report, {}),
    Dashboard("pal", "PAL mixtures", "PAL mixtures", pal_report),
    Dashboard("spica", "SPICA norms", "SPICA group norms", spica_report),
)
BY_NAME = {dashboard.name: dashboard for dashboard in DASHBOARDS}


def snapshot_views(study: Study) -> list[tuple[Dashboard, dict, Callable[[], Report]]]:
    """The default view of every snapshotted dashboard of a study: (dashboard, its parameters, builder)."""
    return [(d, d.snapshot_params, lambda d=d: d.report(study=study, attribute=None, **d.snapshot_params))
            for d in DASHBOARDS if d.snapshot_params is not None]
