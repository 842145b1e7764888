import time

from django.core.management.base import BaseCommand, CommandError

from alignment.fit_params import FIT_PARAMS, attribute_check
from alignment.fits import fit_run_launch
from alignment.models import FitRun
from alignment.spica_refit import spica_headline
from annotation.errors import InputError, Rejected
from annotation.selectors import study_get

PARAMS = {kind: tuple(p.name for p in declared) for kind, declared in FIT_PARAMS.items()}
# One option per parameter name; a name two kinds share (seed) is one option.
OPTIONS = {p.name: (p, [kind for kind, names in PARAMS.items() if p.name in names])
           for declared in FIT_PARAMS.values() for p in declared}


class Command(BaseCommand):
    help = "Launch a refit of a study's model on the fits queue (a worker runs it); --wait follows it to the end."

    def add_arguments(self, parser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--kind", choices=[kind for kind, _ in FitRun.Kind.choices], default=FitRun.Kind.PAL)
        for name, (param, kinds) in OPTIONS.items():
            parser.add_argument(f"--{name.replace('_', '-')}", dest=name, type=param.type,
                                choices=[value for value, _ in param.choices] or None,
                                help=f"{', '.join(kinds)}: {param.label} (default {param.default})")
        parser.add_argument("--wait", action="store_true", help="poll the run until it ends; fail if it fails")

    def handle(self, *args, slug: str, kind: str, wait: bool, **options) -> None:
        names = PARAMS[kind]
        given = {name for name in OPTIONS if options.get(name) is not None}
        if given - set(names):
            raise CommandError(f"--kind {kind} takes no {', '.join(sorted(given - set(names)))}")
        params = {name: options[name] for name in names if options.get(name) is not None}
        try:
            study = study_get(slug=slug)
            attribute_check(study, params.get("attribute"))
            run = fit_run_launch(study=study, kind=kind, params=params, user=None)
        except (InputError, Rejected) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"run {run.pk} queued: {kind} {run.params} on {run.judgment_count} judgments")
        if not wait:
            return
        last = None
        while not run.finished:
            time.sleep(1)
            run.refresh_from_db()
            state = (run.status, (run.progress or {}).get("epoch"))
            if state != last:
                self.stdout.write(f"  {run.status} epoch {state[1] or 0}/{(run.progress or {}).get('total', '?')}")
                last = state
        if run.status != FitRun.Status.SUCCEEDED:
            raise CommandError(f"run {run.pk} {run.status}: {run.error.splitlines()[0] if run.error else ''}")
        if run.kind == FitRun.Kind.SPICA:
            self.stdout.write(f"run {run.pk} succeeded")
            self.stdout.write("\n".join(spica_headline(run.metrics)))
            return
        self.stdout.write(f"run {run.pk} succeeded: seen accuracy {run.metrics.get('seen_accuracy')}")
