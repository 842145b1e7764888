"""What a fit runner (alignment/pal_refit.py, alignment/spica_refit.py) is given and returns: the service
in alignment/fits.py calls `runner(run, progress)` and stores the FitOutcome. Runners import this module,
never the service, so that the service may load them without a circle."""

from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from alignment.models import FitRun
from annotation.models import Study


class FitCancelled(Exception):
    """Raised inside a runner when an admin cancelled the run."""


@dataclass
class FitOutcome:
    metrics: dict
    artifact_path: str
    # Judgments trained on. It differs from the launch count only when a judgment with an id below the
    # snapshot's committed after the launch (PostgreSQL hands out ids before commit); the run then says so.
    judgment_count: int | None = None


class FitProgress:
    """What a runner calls once per epoch: records progress, keeps the heartbeat, notices cancellation."""

    def __init__(self, run_id: int):
        self.run_id = run_id
        self.history: list[dict] = []
        self.latest: dict = {}

    def __call__(self, *, epoch: int, total: int, loss: float, **extra) -> None:
        self.history.append({"epoch": epoch, "loss": round(float(loss), 6), **extra})
        now = timezone.now()
        # updated_at is when this epoch ended: the ETA extrapolates from it, not from the heartbeat,
        # which keeps beating after the last epoch while the run evaluates.
        self.latest = {**extra, "epoch": epoch, "total": total, "loss": float(loss), "updated_at": now.isoformat()}
        FitRun.objects.filter(pk=self.run_id).update(
            progress={**self.latest, "history": self.history[-500:]}, heartbeat_at=now,
        )
        if FitRun.objects.filter(pk=self.run_id, cancel_requested=True).exists():
            raise FitCancelled()

    def phase(self, name: str, **extra) -> None:
        """A step after the epochs (e.g. "evaluating" once training stopped), shown on the run's page."""
        FitRun.objects.filter(pk=self.run_id).update(
            progress={**self.latest, "phase": name, **extra, "history": self.history[-500:]},
            heartbeat_at=timezone.now(),
        )


def artifact_dir(study: Study) -> Path:
    path = Path(settings.PLURALWEB_ARTIFACT_DIR) / study.slug
    path.mkdir(parents=True, exist_ok=True)
    return path
