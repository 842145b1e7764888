"""Researchers' dashboards: thin doors onto reports (numbers) and plots (figures).

Each page answers `?download=json` (every table behind its figures) or `?download=csv&table=<name>`
(one table), `?attribute=party` slices groups by one attribute instead of the full group key, and
`?prompts=pregenerated|first-turns` leaves out the prompts annotators wrote (annotation/counted_judgments.py
PROMPT_SCOPES; the judgment dashboards only: PAL and SPICA pages show runs, whose own scope they state).
"""

import csv
import json
from collections.abc import Callable
from functools import partial, wraps
from urllib.parse import urlencode

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from alignment.dashboards import plots, reports
from alignment.dashboards.bridging_plots import bridging_figures
from alignment.dashboards.catalog import BY_NAME, DASHBOARDS
from alignment.dashboards.pal_plots import pal_figures
from alignment.dashboards.selectors import analytical_reads
from alignment.dashboards.snapshots import report_snapshot, snapshot_key
from alignment.dashboards.spica_plots import spica_figures
from annotation.access import is_researcher
from annotation.counted_judgments import PROMPT_SCOPES, prompt_scope_check, study_has_conversations, tie_rule_text
from annotation.errors import InputError, Rejected
from annotation.models import Study
from annotation.selectors import study_get

TABS = [(d.name, d.url_name, d.label) for d in DASHBOARDS]
LEADERBOARD_BY = ("source", "strategy")


def _message(request: HttpRequest, message: str, status: int) -> HttpResponse:
    return render(request, "annotation/message.html", {"message": message}, status=status)


def dashboard_page(view: Callable) -> Callable:
    """Researchers only (anonymous visitors are sent to sign in), the study by slug, the group slicing."""

    @wraps(view)
    def wrapper(request: HttpRequest, slug: str) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not is_researcher(request.user):
            return _message(request, "Only researchers and admins may read the dashboards.", 403)
        try:
            study = study_get(slug=slug)
        except Rejected:
            return _message(request, "This study does not exist.", 404)
        attribute = request.GET.get("attribute") or None
        if attribute is not None and attribute not in study.group_attributes:
            return _message(request, f"{attribute!r} is not a group attribute of this study.", 400)
        try:
            prompts = prompt_scope_check(request.GET.get("prompts") or "all")
        except InputError as exc:
            return _message(request, exc.message, 400)
        with analytical_reads():
            return view(request, study, attribute, prompts)

    return wrapper


def _respond(request: HttpRequest, study: Study, attribute: str | None, name: str, report: reports.Report,
             figures_of: Callable[[dict, list[str]], list[dict]], prompts: str = "all", **context) -> HttpResponse:
    download = request.GET.get("download")
    if download == "json":
        response = JsonResponse({"study": study.slug, "dashboard": name, "attribute": attribute, "prompts": prompts,
                                 "ties": study.ties, "tie_rule": tie_rule_text(study=study),
                                 "groups": report.groups, "summary": report.summary, "tables": report.all_tables()})
        response["Content-Disposition"] = f'attachment; filename="{study.slug}-{name}.json"'
        return response
    if download == "csv":
        table = request.GET.get("table") or report.table_names[0]
        if table not in report.table_names:
            return _message(request, f"No table {table!r}; this dashboard has {', '.join(report.table_names)}.", 400)
        return _csv(report.table(table), f"{study.slug}-{name}-{table}.csv")
    if download:
        return _message(request, "download must be csv or json.", 400)
    figures = figures_of(report.tables, report.groups)
    for figure in figures:
        figure["data_id"] = f"figure-{figure['id']}-data"
        figure["empty"] = not plots.has_content(figure["figure"])
        figure["title"] = figure["figure"].get("layout", {}).get("title", {}).get("text", "")
    return render(request, f"alignment/dashboards/{name}.html", {
        "study": study, "dashboard": name, "page_title": BY_NAME[name].title, "dashboards": TABS,
        "attribute": attribute or "", "attributes": sorted(study.group_attributes), "tables": report.tables,
        "summary": report.summary, "tie_rule": tie_rule_text(study=study),
        "figures": figures, "nothing_to_show": bool(figures) and all(
            figure["empty"] for figure in figures), "table_names": report.table_names,
        "params": urlencode({k: v for k, v in {"attribute": attribute, "prompts": None if prompts == "all" else prompts,
                                               **context}.items() if isinstance(v, str)}),
        "prompts": prompts, "prompt_rule": PROMPT_SCOPES[prompts],
        # Runs (PAL, SPICA) state their own scope; the select is for the judgment dashboards of studies with
        # conversations (elsewhere every scope is the same data).
        "prompt_scopes": PROMPT_SCOPES.items() if BY_NAME[name].snapshot_params is not None and (
            prompts != "all" or study_has_conversations(study=study)) else (),
        **context,
    })


def _scoped(prompts: str) -> str | None:
    """The snapshot key's part for the prompt scope: none for every prompt, so existing snapshots still serve."""
    return None if prompts == "all" else prompts


def _report(request: HttpRequest, study: Study, key: str, build: Callable[[], reports.Report]) -> reports.Report:
    # Pages read a recent snapshot; downloads are always computed live.
    if request.GET.get("download"):
        return build()
    return report_snapshot(study=study, key=key, build=build)


def _csv(rows: list[dict], filename: str) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    columns = list(dict.fromkeys(key for row in rows[:1] for key in row))
    writer = csv.writer(response)
    writer.writerow(columns)
    for row in rows:
        # Nested values (tags, group rates) go in as JSON so that a spreadsheet cell holds all of them.
        writer.writerow(json.dumps(v) if isinstance(v, list | dict) else ("" if v is None else v)
                        for v in (row.get(c) for c in columns))
    return response


@dashboard_page
def divergence(request: HttpRequest, study: Study, attribute: str | None, prompts: str) -> HttpResponse:
    report = _report(request, study, snapshot_key("divergence", attribute=attribute, prompts=_scoped(prompts)),
                     lambda: BY_NAME["divergence"].report(study=study, attribute=attribute, prompts=prompts))
    return _respond(request, study, attribute, "divergence", report, plots.divergence_figures, prompts=prompts)


@dashboard_page
def leaderboard(request: HttpRequest, study: Study, attribute: str | None, prompts: str) -> HttpResponse:
    by = request.GET.get("by") or "source"
    if by not in LEADERBOARD_BY:
        return _message(request, f"by must be one of {', '.join(LEADERBOARD_BY)}.", 400)
    report = _report(request, study, snapshot_key("leaderboard", attribute=attribute, by=by, prompts=_scoped(prompts)),
                     lambda: BY_NAME["leaderboard"].report(study=study, by=by, attribute=attribute, prompts=prompts))
    return _respond(request, study, attribute, "leaderboard", report,
                    partial(plots.leaderboard_figures, competitors=report.summary.get("competitors")),
                    prompts=prompts, by=by, by_options=LEADERBOARD_BY)


@dashboard_page
def strategies(request: HttpRequest, study: Study, attribute: str | None, prompts: str) -> HttpResponse:
    report = _report(request, study, snapshot_key("strategies", attribute=attribute, prompts=_scoped(prompts)),
                     lambda: BY_NAME["strategies"].report(study=study, attribute=attribute, prompts=prompts))
    return _respond(request, study, attribute, "strategies", report, plots.strategies_figures, prompts=prompts)


@dashboard_page
def progress(request: HttpRequest, study: Study, attribute: str | None, prompts: str) -> HttpResponse:
    report = _report(request, study, snapshot_key("progress", attribute=attribute, prompts=_scoped(prompts)),
                     lambda: BY_NAME["progress"].report(study=study, attribute=attribute, prompts=prompts))
    return _respond(request, study, attribute, "progress", report, plots.progress_figures, prompts=prompts)


@dashboard_page
def bridging(request: HttpRequest, study: Study, attribute: str | None, prompts: str) -> HttpResponse:
    report = _report(request, study, snapshot_key("bridging", attribute=attribute, prompts=_scoped(prompts)),
                     lambda: BY_NAME["bridging"].report(study=study, attribute=attribute, prompts=prompts))
    tops = [("Top by bridging score", report.tables["top_bridging"]),
            ("Top by overall win rate", report.tables["top_overall"])]
    return _respond(request, study, attribute, "bridging", report, bridging_figures, prompts=prompts, tops=tops)


@dashboard_page
def pal(request: HttpRequest, study: Study, attribute: str | None, prompts: str) -> HttpResponse:
    # With ?attribute=, the latest run fitted on that attribute, else the current model's annotators regrouped.
    return _respond(request, study, attribute, "pal", BY_NAME["pal"].report(study=study, attribute=attribute),
                    pal_figures)


@dashboard_page
def spica(request: HttpRequest, study: Study, attribute: str | None, prompts: str) -> HttpResponse:
    # With ?attribute=, the latest refit fitted on that attribute's groups (spica_report).
    return _respond(request, study, attribute, "spica", BY_NAME["spica"].report(study=study, attribute=attribute),
                    spica_figures)
