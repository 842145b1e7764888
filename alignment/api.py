"""Fit runs over REST: admins launch and cancel, researchers read; model serving and the bridging view."""

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from alignment.dashboards.bridging_report import bridging_report
from alignment.dashboards.selectors import analytical_reads
from alignment.examples import MAX_M, scenario_examples
from alignment.fits import fit_run_cancel, fit_run_launch
from alignment.models import FitRun
from alignment.rewards import MAX_ITEMS, annotator_mixture, current_pal, rewards_for
from alignment.selectors import fit_eta_seconds, fit_run_get, fit_runs_for
from alignment.spica_refit import attribute_check
from annotation.access import IsResearcher, IsStudyAdmin
from annotation.counted_judgments import PROMPT_SCOPES, prompt_scope_check
from annotation.errors import InputError
from annotation.input_rules import form_integer
from annotation.selectors import study_get


class FitRunOutput(serializers.ModelSerializer):
    study = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    launched_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    eta_seconds = serializers.SerializerMethodField()

    class Meta:
        model = FitRun
        fields = ["id", "study", "kind", "params", "status", "is_current", "cancel_requested", "judgment_count",
                  "last_judgment_id", "progress", "metrics", "error", "launched_by", "worker", "created_at",
                  "started_at", "finished_at", "heartbeat_at", "eta_seconds"]

    def get_eta_seconds(self, run: FitRun) -> float | None:
        return fit_eta_seconds(run)


class StudyFitsApi(APIView):
    """Researchers list a study's fit runs; admins launch one (202: queued for a worker)."""

    @extend_schema_serializer(component_name="FitLaunchInput")
    class Input(serializers.Serializer):
        kind = serializers.ChoiceField(choices=FitRun.Kind.choices)
        params = serializers.DictField(required=False, default=dict)

    def get_permissions(self):
        return [IsStudyAdmin()] if self.request.method == "POST" else [IsResearcher()]

    @extend_schema(responses=FitRunOutput(many=True))
    def get(self, request: Request, slug: str) -> Response:
        return Response(FitRunOutput(fit_runs_for(study=study_get(slug=slug)), many=True).data)

    @extend_schema(request=Input, responses={202: FitRunOutput, 503: OpenApiResponse(
        description="The broker is unreachable: nothing was queued.")})
    def post(self, request: Request, slug: str) -> Response:
        serializer = self.Input(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        study, kind, params = study_get(slug=slug), data["kind"], data["params"]
        if kind == FitRun.Kind.SPICA:
            attribute_check(study, params.get("attribute"))
        run = fit_run_launch(study=study, kind=kind, params=params, user=request.user)
        return Response(FitRunOutput(run).data, status=status.HTTP_202_ACCEPTED)


class FitRunDetailApi(APIView):
    permission_classes = [IsResearcher]

    @extend_schema(responses=FitRunOutput)
    def get(self, request: Request, run_id: int) -> Response:
        return Response(FitRunOutput(fit_run_get(run_id=run_id)).data)


class FitRunCancelApi(APIView):
    permission_classes = [IsStudyAdmin]

    @extend_schema(request=None, responses={200: FitRunOutput, 409: OpenApiResponse(
        description="The run has already ended.")})
    def post(self, request: Request, run_id: int) -> Response:
        return Response(FitRunOutput(fit_run_cancel(run=fit_run_get(run_id=run_id))).data)


class StudyRewardApi(APIView):
    """Rewards from the study's current PAL model, for an annotator, a group or explicit mixture weights."""

    permission_classes = [IsResearcher]

    @extend_schema_serializer(component_name="RewardInput")
    class Input(serializers.Serializer):
        items = serializers.ListField(child=serializers.DictField(), min_length=1, max_length=MAX_ITEMS)
        annotator_id = serializers.CharField(required=False, allow_blank=True)
        group = serializers.JSONField(required=False, help_text='attribute values {"party": "D"} or a group key')
        weights = serializers.ListField(child=serializers.FloatField(), required=False)

    @extend_schema(request=Input, responses={200: dict})
    def post(self, request: Request, slug: str) -> Response:
        serializer = self.Input(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        return Response(rewards_for(study=study_get(slug=slug), items=data["items"],
                                    annotator_id=data.get("annotator_id"), group=data.get("group"),
                                    weights=data.get("weights")))


class StudyMixtureApi(APIView):
    """An annotator's mixture weights: fitted, or few-shot from their first `shots` judgments."""

    permission_classes = [IsResearcher]

    @extend_schema_serializer(component_name="MixtureInput")
    class Input(serializers.Serializer):
        annotator_id = serializers.CharField()
        shots = serializers.IntegerField(required=False, min_value=0, max_value=10_000)

    @extend_schema(request=Input, responses={200: dict})
    def post(self, request: Request, slug: str) -> Response:
        serializer = self.Input(data=request.data)
        serializer.is_valid(raise_exception=True)
        study = study_get(slug=slug)
        mixture = annotator_mixture(study=study, annotator_id=serializer.validated_data["annotator_id"],
                                    shots=serializer.validated_data.get("shots"))
        run, _ = current_pal(study=study)
        return Response({"run": run.pk, "weights": [float(w) for w in mixture.weights], "source": mixture.source,
                         **mixture.detail})


class StudyExamplesApi(APIView):
    """Group-aligned in-context examples (SPICA retrieval) for a query."""

    permission_classes = [IsResearcher]

    @extend_schema_serializer(component_name="ExamplesInput")
    class Input(serializers.Serializer):
        query = serializers.CharField()
        group = serializers.JSONField(help_text='attribute values {"party": "D"} or a group key')
        m = serializers.IntegerField(required=False, min_value=1, max_value=MAX_M)

    @extend_schema(request=Input, responses={200: dict})
    def post(self, request: Request, slug: str) -> Response:
        serializer = self.Input(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        return Response(scenario_examples(study=study_get(slug=slug), query=data["query"], group=data["group"],
                                          m=data.get("m")))


class StudyBridgingApi(APIView):
    """Per prompt, the candidate every group prefers (bridging score) beside the top by overall win rate;
    every table of the bridging dashboard, computed live."""

    permission_classes = [IsResearcher]

    @extend_schema(parameters=[OpenApiParameter("attribute", str, description="slice groups by one attribute"),
                               OpenApiParameter("top", int, description="rows of the top tables (1-100, default 10)"),
                               OpenApiParameter("prompts", str, enum=list(PROMPT_SCOPES),
                                                description="leave out prompts annotators wrote")],
                   responses={200: dict})
    def get(self, request: Request, slug: str) -> Response:
        study = study_get(slug=slug)
        attribute = request.query_params.get("attribute") or None
        if attribute is not None and attribute not in study.group_attributes:
            raise InputError(f"{attribute!r} is not a group attribute of this study", field="attribute")
        top = form_integer(request.query_params.get("top", "10"), "top", minimum=1, maximum=100)
        prompts = prompt_scope_check(request.query_params.get("prompts", "all"))
        with analytical_reads():
            report = bridging_report(study=study, attribute=attribute, prompts=prompts, top=top)
            return Response({"study": study.slug, "attribute": attribute, "prompts": prompts, "groups": report.groups,
                             "summary": report.summary, "tables": report.all_tables()})
