from django.conf import settings
from django.db import models


class TextEmbedding(models.Model):
    """A text's embedding under one model, keyed by the text's sha256: no text is embedded twice."""

    model_name = models.CharField(max_length=200)
    text_sha256 = models.CharField(max_length=64)
    dim = models.PositiveIntegerField()
    vector = models.BinaryField(help_text="float32, little-endian")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["model_name", "text_sha256"], name="embedding_unique_text")
        ]

    def __str__(self) -> str:
        return f"{self.model_name}:{self.text_sha256[:12]}"


class FitRun(models.Model):
    """One refit job; this row, not Celery's result, is the truth about it (DESIGN.md section 3)."""

    class Kind(models.TextChoices):
        PAL = "pal", "PAL mixture reward model"
        SPICA = "spica", "SPICA group-norm metrics"

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        CANCELLED = "cancelled"

    FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)

    study = models.ForeignKey("annotation.Study", on_delete=models.CASCADE, related_name="fit_runs")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    params = models.JSONField(default=dict)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    is_current = models.BooleanField(default=False, help_text="The model of this kind that answers requests.")
    cancel_requested = models.BooleanField(default=False)
    # Dataset snapshot: what the run was fitted on.
    judgment_count = models.PositiveIntegerField(default=0)
    last_judgment_id = models.BigIntegerField(null=True, blank=True)
    last_rating_id = models.BigIntegerField(null=True, blank=True)
    progress = models.JSONField(default=dict, blank=True, help_text="epoch, total, loss, history")
    metrics = models.JSONField(default=dict, blank=True)
    artifact_path = models.CharField(max_length=500, blank=True)
    error = models.TextField(blank=True)
    launched_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    worker = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["study", "kind", "status"], name="fitrun_study_kind_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["study", "kind"], condition=models.Q(is_current=True), name="fitrun_one_current_per_kind"
            ),
            models.CheckConstraint(
                condition=~models.Q(is_current=True) | models.Q(status="succeeded"), name="fitrun_current_succeeded"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} run {self.pk} ({self.status})"

    @property
    def finished(self) -> bool:
        return self.status in self.FINISHED


class DashboardSnapshot(models.Model):
    """A dashboard's numbers as last computed (beat refreshes them), so a page does not rescan every
    judgment on each view. Downloads of the large per-pair tables are always computed live."""

    study = models.ForeignKey("annotation.Study", on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=200, help_text="dashboard name and its parameters")
    payload = models.JSONField(help_text="tables, groups, summary, names of the live-only tables")
    seconds = models.FloatField(help_text="how long computing it took")
    computed_at = models.DateTimeField()
    # What it was computed from (alignment/dashboards/sources.py): while the study's marker is the same,
    # the numbers are current whatever their age, and beat does not recompute them.
    source = models.JSONField(null=True, blank=True, help_text="the study's change marker when computed")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["study", "key"], name="dashboard_snapshot_unique")]

    def __str__(self) -> str:
        return f"{self.study_id}:{self.key} at {self.computed_at:%H:%M:%S}"


class DashboardRefresh(models.Model):
    """Beat's refresh of one study's dashboards: a lease, so that overlapping beat runs (or workers) never
    recompute the same study at once, and the last refresh's duration, so that a slow study is not
    recomputed back to back (DASHBOARD_REFRESH_SPACING)."""

    study = models.OneToOneField("annotation.Study", on_delete=models.CASCADE, primary_key=True, related_name="+")
    lease_until = models.DateTimeField(null=True, blank=True, help_text="a refresh holds the study until then")
    lease_holder = models.CharField(max_length=64, blank=True)
    last_started_at = models.DateTimeField(null=True, blank=True)
    last_seconds = models.FloatField(default=0.0, help_text="how long the last recomputation took")
    checked_at = models.DateTimeField(null=True, blank=True, help_text="last time beat compared the marker")

    def __str__(self) -> str:
        return f"dashboards of study {self.study_id}"
