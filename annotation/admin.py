"""Django admin for every model, with search and filters, and upload pages for study and judgment files."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import models
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.html import format_html

from annotation.access import is_admin
from annotation.annotator_review import annotator_set_excluded
from annotation.counted_judgments import study_ties_set
from annotation.errors import InputError, Rejected
from annotation.input_rules import group_count, web_url
from annotation.judgment_formats import IMPORT_FORMATS, import_summary_text, judgment_file_import
from annotation.models import (
    MAX_TURNS_MAX,
    Assignment,
    Candidate,
    CandidateSet,
    Conversation,
    GoldItem,
    Judgment,
    Pair,
    PairingJob,
    Participant,
    Prompt,
    Rating,
    SetJudgment,
    Skip,
    Slot,
    Study,
    TurnGeneration,
)
from annotation.pairing_jobs import pairing_job_retry, study_preparation
from annotation.set_making import sets_short_note
from annotation.study_files import study_import


class UploadForm(forms.Form):
    file = forms.FileField(help_text="JSONL, format in docs/formats.md")


class JudgmentUploadForm(UploadForm):
    file = forms.FileField(help_text="format in docs/formats.md")
    format = forms.ChoiceField(choices=[(name, name) for name in IMPORT_FORMATS], initial="jsonl")
    annotators = forms.FileField(required=False, help_text="collective-alignment only: the annotators JSONL file")


class StudyAdminForm(forms.ModelForm):
    class Meta:
        model = Study
        fields = "__all__"  # noqa: DJ007 -- the admin edits every field of a study, as before this form

    def clean_completion_url(self) -> str:
        # The same rule as study files: only http(s) becomes a link on the completion page.
        url = self.cleaned_data.get("completion_url", "")
        if url:
            try:
                web_url(url, "completion_url")
            except InputError as exc:
                raise forms.ValidationError(exc.message) from None
        return url

    def clean(self) -> dict:
        # Adaptive allocation: k_max >= k, 0 < precision < 1 (k_min >= 1 is the field's own minimum). A study
        # with pairs keeps its allocation and k_max: its pairs' slots were made for them.
        data = super().clean()
        overlap, k_max, precision = data.get("overlap"), data.get("k_max"), data.get("precision")
        if k_max is not None and overlap is not None and k_max < overlap:
            self.add_error("k_max", f"must be at least the overlap k ({overlap})")
        if precision is not None and not 0 < precision < 1:
            self.add_error("precision", "must be above 0 and below 1")
        if data.get("k_min") is not None and data["k_min"] < 1:
            self.add_error("k_min", "must be at least 1")
        study = self.instance
        if study.pk and Pair.objects.filter(prompt__study=study).exists():
            for name in ("allocation", "k_max"):
                if name in data and data[name] != getattr(Study.objects.get(pk=study.pk), name):
                    self.add_error(name, "cannot change once the study has pairs (their slots were made for it)")
        share, max_turns = data.get("written_prompt_share"), data.get("max_turns")
        if share is not None and not 0 <= share <= 1:
            self.add_error("written_prompt_share", "must be from 0 to 1")
        if max_turns is not None and not 1 <= max_turns <= MAX_TURNS_MAX:
            self.add_error("max_turns", f"must be between 1 and {MAX_TURNS_MAX}")
        if (study.pk and "task" in data and data["task"] != Study.objects.get(pk=study.pk).task
                and TurnGeneration.objects.filter(conversation__study=study).exists()):
            self.add_error("task", "cannot change once the study has live conversations")
        if study.pk and CandidateSet.objects.filter(prompt__study=study).exists():
            saved = Study.objects.get(pk=study.pk)
            for name in ("task", "set_size"):
                if name in data and data[name] != getattr(saved, name):
                    self.add_error(name, "cannot change once the study has candidate sets (they were made for it)")
        return data

    def clean_group_attributes(self) -> dict:
        attributes = self.cleaned_data.get("group_attributes") or {}
        if isinstance(attributes, dict) and all(isinstance(v, list) for v in attributes.values()):
            try:
                group_count(attributes)
            except InputError as exc:
                raise forms.ValidationError(exc.message) from None
        return attributes


@admin.register(Study)
class StudyAdmin(admin.ModelAdmin):
    form = StudyAdminForm
    list_display = ["slug", "title", "language", "task", "overlap", "quota", "pair_strategy", "is_open", "preparation",
                    "links"]
    readonly_fields = ["preparation"]
    list_filter = ["language", "task", "pair_strategy", "is_open"]
    search_fields = ["slug", "title"]
    change_list_template = "admin/annotation/study/change_list.html"
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def save_model(self, request, obj: Study, form, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if change and "ties" in form.changed_data:
            study_ties_set(study=obj, ties=obj.ties)  # dashboard snapshots made under the old rule go stale

    @admin.display(description="Preparation")
    def preparation(self, study: Study) -> str:
        """Ready, or the import's texts still embedding on a worker (done / total), or failed with the reason."""
        if study.pk is None:
            return "-"
        state = study_preparation(study=study)
        if state.ready:
            return "ready"
        job_url = reverse("admin:annotation_pairingjob_change", args=[state.job_id])
        if state.state == "failed":
            return format_html('<a href="{}">failed</a>: {}', job_url, state.error.splitlines()[0][:200])
        return format_html('<a href="{}">embedding</a> {} / {} texts', job_url, state.texts_done, state.texts_total)

    @admin.display(description="Links")
    def links(self, study: Study) -> str:
        export = reverse("api:api-export", args=[study.slug])
        links = format_html(
            '<a href="{}">join link</a> · <a href="{}">import judgments</a> · <a href="{}?format=csv">export</a>',
            reverse("annotation:join", args=[study.slug]),
            reverse("admin:annotation_study_import_judgments", args=[study.pk]),
            export,
        )
        if study.task == Study.Task.PAIR:
            return links
        # Set judgments also leave in their own formats (docs/formats.md), with the collective-alignment annotators.
        return links + format_html(
            ' · sets: <a href="{0}?format=community-alignment">community-alignment</a>'
            ' · <a href="{0}?format=collective-alignment">collective-alignment</a>'
            ' (<a href="{0}?format=collective-alignment&amp;part=annotators">annotators</a>)', export)

    def get_urls(self):
        own = [
            path("import/", self.admin_site.admin_view(self.import_study_view), name="annotation_study_import"),
            path("<int:pk>/import-judgments/", self.admin_site.admin_view(self.import_judgments_view),
                 name="annotation_study_import_judgments"),
        ]
        return own + super().get_urls()

    def _upload(self, request, title: str, run, done_url: str, form_class: type[forms.Form] = UploadForm):
        if not is_admin(request.user):
            raise PermissionDenied
        form = form_class(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            try:
                message = run(form.cleaned_data)
            except InputError as exc:
                # An error about the form's own fields (an annotators file with the wrong format) goes beside them.
                form.add_error(exc.field if exc.field in form.fields and exc.line is None else "file", str(exc))
            else:
                self.message_user(request, message, messages.SUCCESS)
                return redirect(done_url)
        context = {**self.admin_site.each_context(request), "title": title, "form": form, "opts": self.model._meta}
        return render(request, "admin/annotation/upload.html", context)

    def import_study_view(self, request):
        def run(data: dict) -> str:
            upload = data["file"]
            summary = study_import(upload, source=upload.name, on_worker=True)
            sets = summary.study.task == Study.Task.SET
            made = f"{summary.sets} candidate sets" if sets else f"{summary.pairs} pairs"
            message = (f"Imported study {summary.study.slug}: {summary.prompts} prompts, "
                       f"{summary.candidates} candidates, {made}.")
            if summary.short_prompts:
                message += " " + sets_short_note(study=summary.study, short=summary.short_prompts) + "."
            if summary.job is not None:
                what = "sets" if sets else "pairs"
                message += (f" Embedding {summary.job.texts_total - summary.job.texts_done} texts on a worker: "
                            f"the {what} are made when it is done (column Preparation).")
            return message

        return self._upload(request, "Import a study file", run, reverse("admin:annotation_study_changelist"))

    def import_judgments_view(self, request, pk: int):
        study = get_object_or_404(Study, pk=pk)

        def run(data: dict) -> str:
            people = data.get("annotators")
            summary = judgment_file_import(study=study, fmt=data["format"], stream=data["file"],
                                           source=data["file"].name, annotators=people,
                                           annotators_source=people.name if people else "")
            return f"Imported into {study.slug}: {import_summary_text(summary)}."

        return self._upload(request, f"Import judgments into {study.slug}", run,
                            reverse("admin:annotation_study_changelist"), JudgmentUploadForm)


@admin.register(PairingJob)
class PairingJobAdmin(admin.ModelAdmin):
    """Imports' embedding on the `embeddings` queue: progress, the reason of a failure, and a retry."""

    list_display = ["id", "study", "status", "texts_done", "texts_total", "pairs_made", "sets_made", "attempts",
                    "worker", "created_at", "finished_at"]
    list_filter = ["status", "study"]
    search_fields = ["study__slug", "error"]
    readonly_fields = [f.name for f in PairingJob._meta.fields]
    actions = ["retry"]

    def has_add_permission(self, request) -> bool:
        return False  # jobs come from imports

    @admin.action(description="Retry the selected failed jobs", permissions=["change"])
    def retry(self, request, queryset) -> None:
        retried = 0
        for job in queryset:
            try:
                pairing_job_retry(job=job)
                retried += 1
            except Rejected as exc:
                self.message_user(request, exc.message, messages.WARNING)
        if retried:
            self.message_user(request, f"{retried} job(s) queued again.", messages.SUCCESS)


@admin.register(Prompt)
class PromptAdmin(admin.ModelAdmin):
    list_display = ["external_id", "study", "language", "source"]
    list_filter = ["study", "language"]
    search_fields = ["external_id", "source"]


@admin.register(Candidate)
class CandidateAdmin(admin.ModelAdmin):
    list_display = ["external_id", "prompt", "source", "strategy"]
    list_filter = ["prompt__study", "strategy", "source"]
    search_fields = ["external_id", "text", "prompt__external_id"]
    list_select_related = ["prompt"]


@admin.register(Participant)
class ParticipantAdmin(admin.ModelAdmin):
    list_display = ["external_id", "study", "group_key", "user", "consented_at", "created_at", "excluded_at",
                    "screened_out_at"]
    list_filter = ["study", "group_key", ("excluded_at", admin.EmptyFieldListFilter),
                   ("screened_out_at", admin.EmptyFieldListFilter)]
    search_fields = ["external_id", "user__username"]
    list_select_related = ["study", "user"]
    # Review state changes only through its service (annotation/annotator_review.py), which also
    # refreshes the dashboards' snapshots and the participant cache: the actions below, or the quality page.
    readonly_fields = ["created_at", "flagged_at", "flag_note", "excluded_at", "screened_out_at"]
    actions = ["exclude_annotators", "lift_exclusion"]

    @admin.action(description="Exclude the selected annotators (their judgments stop counting)")
    def exclude_annotators(self, request, queryset) -> None:
        self._set_excluded(request, queryset, excluded=True)

    @admin.action(description="Lift the exclusion of the selected annotators")
    def lift_exclusion(self, request, queryset) -> None:
        self._set_excluded(request, queryset, excluded=False)

    def _set_excluded(self, request, queryset, *, excluded: bool) -> None:
        try:
            for participant in queryset:
                annotator_set_excluded(participant=participant, excluded=excluded, by=request.user)
        except Rejected as exc:
            self.message_user(request, exc.message, messages.ERROR)
        else:
            self.message_user(request, f"{'Excluded' if excluded else 'Lifted the exclusion of'} "
                                       f"{queryset.count()} annotator(s).", messages.SUCCESS)


@admin.register(GoldItem)
class GoldItemAdmin(admin.ModelAdmin):
    list_display = ["id", "study", "pair", "expected"]
    list_filter = ["study"]
    list_select_related = ["study", "pair", "expected"]


@admin.register(Pair)
class PairAdmin(admin.ModelAdmin):
    list_display = ["id", "prompt", "candidate_a", "candidate_b", "strategy", "diversity"]
    list_filter = ["prompt__study", "strategy"]
    search_fields = ["prompt__external_id", "candidate_a__external_id", "candidate_b__external_id"]
    list_select_related = ["prompt", "candidate_a", "candidate_b"]


@admin.register(Slot)
class SlotAdmin(admin.ModelAdmin):
    list_display = ["id", "pair", "candidate_set", "group_key", "open_group", "status", "lease_expires_at"]
    list_filter = ["study", "status", "group_key"]


@admin.register(Assignment)
class AssignmentAdmin(admin.ModelAdmin):
    list_display = ["id", "participant", "pair", "candidate_set", "status", "created_at", "expires_at"]
    list_filter = ["status", "participant__study"]
    search_fields = ["participant__external_id"]
    list_select_related = ["participant", "pair", "candidate_set"]


@admin.register(Skip)
class SkipAdmin(admin.ModelAdmin):
    list_display = ["id", "participant", "pair", "candidate_set", "created_at"]
    list_filter = ["participant__study"]
    search_fields = ["participant__external_id"]
    list_select_related = ["participant", "pair", "candidate_set"]


@admin.register(Judgment)
class JudgmentAdmin(admin.ModelAdmin):
    list_display = ["id", "participant", "group_key", "pair", "choice", "strength", "origin", "created_at"]
    list_filter = ["participant__study", "choice", "strength", "origin", "group_key"]
    search_fields = ["participant__external_id", "client_id", "rationale"]
    list_select_related = ["participant", "pair"]
    date_hierarchy = "created_at"

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # a judgment is never overwritten


@admin.register(Rating)
class RatingAdmin(admin.ModelAdmin):
    list_display = ["id", "participant", "candidate", "rating", "created_at"]
    list_filter = ["participant__study"]
    search_fields = ["participant__external_id", "candidate__external_id"]


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ["id", "external_id", "participant", "language", "first_prompt_pregenerated", "created_at",
                    "ended_at"]
    list_filter = ["study", "language", "first_prompt_pregenerated"]
    search_fields = ["external_id", "participant__external_id"]
    list_select_related = ["participant"]
    raw_id_fields = ["participant", "seed_prompt"]


@admin.register(TurnGeneration)
class TurnGenerationAdmin(admin.ModelAdmin):
    """Live conversation turns' generations: read-only (the worker and the annotator's retry write them)."""

    list_display = ["id", "conversation", "turn", "status", "attempts", "model", "endpoint_seconds", "queued_at",
                    "finished_at"]
    list_filter = ["status", "conversation__study"]
    search_fields = ["conversation__external_id", "error"]
    list_select_related = ["conversation"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(CandidateSet)
class CandidateSetAdmin(admin.ModelAdmin):
    list_display = ["id", "prompt", "size", "strategy", "diversity", "created_at"]
    list_filter = ["prompt__study", "strategy"]
    search_fields = ["prompt__external_id"]
    list_select_related = ["prompt"]


@admin.register(SetJudgment)
class SetJudgmentAdmin(admin.ModelAdmin):
    list_display = ["id", "participant", "group_key", "candidate_set", "best", "turn", "origin", "created_at"]
    list_filter = ["participant__study", "origin", "group_key"]
    search_fields = ["participant__external_id", "client_id", "explanation"]
    list_select_related = ["participant", "candidate_set", "best"]
    date_hierarchy = "created_at"

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # stored once; its pairwise judgments were expanded from it
