"""REST API: one view per operation, each a thin door onto a service or selector."""

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.authtoken.models import Token
from rest_framework.parsers import FileUploadParser, MultiPartParser
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.access import IsResearcher, IsStudyAdmin
from annotation.counted_judgments import PROMPT_SCOPES
from annotation.errors import InputError
from annotation.judgment_formats import (
    EXPORT_FORMATS,
    EXPORT_PARTS,
    IMPORT_FORMATS,
    judgment_file_export,
    judgment_file_import,
)
from annotation.leases import assignment_renew, assignment_skip
from annotation.models import Study
from annotation.pairing_jobs import study_preparation
from annotation.participants import participant_join
from annotation.selectors import study_counts, study_get
from annotation.study_files import study_import
from pluralweb.request_limits import BoundedJSONParser
from pluralweb.throttling import JoinThrottle


class StudyOutput(serializers.ModelSerializer):
    class Meta:
        model = Study
        fields = ["slug", "title", "description", "group_attributes", "overlap", "quota", "language",
                  "pair_strategy", "ties", "allocation", "k_min", "k_max", "precision", "task", "set_size", "max_turns",
                  "written_prompt_share", "is_open", "created_at"]


class StudyListApi(APIView):
    """Researchers list studies; admins create one by uploading a study file (docs/formats.md)."""

    parser_classes = [MultiPartParser, FileUploadParser]

    def get_permissions(self):
        return [IsStudyAdmin()] if self.request.method == "POST" else [IsResearcher()]

    @extend_schema(responses=StudyOutput(many=True))
    def get(self, request: Request) -> Response:
        return Response(StudyOutput(Study.objects.all(), many=True).data)

    @extend_schema(request={"multipart/form-data": {"type": "object", "properties": {
        "file": {"type": "string", "format": "binary"}, "append": {"type": "boolean"}}}},
        responses={201: StudyOutput})
    def post(self, request: Request) -> Response:
        upload = request.data.get("file")
        if upload is None:
            raise InputError("upload the study file as multipart field 'file'", field="file")
        append = str(request.data.get("append", "")).lower() in {"1", "true", "yes", "on"}
        summary = study_import(upload, source=getattr(upload, "name", "upload"), append=append, on_worker=True)
        imported = {"prompts": summary.prompts, "candidates": summary.candidates, "pairs": summary.pairs,
                    "gold": summary.gold}
        if summary.study.task == Study.Task.SET:
            imported |= {"sets": summary.sets, "short_prompts": summary.short_prompts}
        body = StudyOutput(summary.study).data | {
            "imported": imported,
            "preparation": study_preparation(study=summary.study).as_dict(),
        }
        return Response(body, status=status.HTTP_201_CREATED)


class StudyDetailApi(APIView):
    permission_classes = [IsResearcher]

    @extend_schema(responses=StudyOutput)
    def get(self, request: Request, slug: str) -> Response:
        study = study_get(slug=slug)
        return Response(StudyOutput(study).data | {"counts": study_counts(study=study),
                                                   "preparation": study_preparation(study=study).as_dict()})


class StudyJoinApi(APIView):
    """Consent and group profile: creates the annotator's account (or finds the returning one) and returns
    its API token."""

    permission_classes = [AllowAny]
    throttle_classes = [JoinThrottle]  # per address and per crowd id: joining creates an account

    @extend_schema_serializer(component_name="JoinInput")
    class Input(serializers.Serializer):
        consent = serializers.BooleanField()
        attributes = serializers.DictField(child=serializers.CharField())
        external_id = serializers.CharField(required=False, allow_blank=True, max_length=128)

    @extend_schema_serializer(component_name="JoinOutput")
    class Output(serializers.Serializer):
        participant_id = serializers.IntegerField()
        annotator_id = serializers.CharField()
        group = serializers.CharField()
        token = serializers.CharField()

    @extend_schema(request=Input, responses={201: Output, 409: OpenApiResponse(
        description="This annotator id belongs to an annotator who did not join as a crowd participant "
                    "(an imported annotator, a staff account).")})
    def post(self, request: Request, slug: str) -> Response:
        # An external_id that already joined as a crowd id answers as a new join would, with that
        # participant's token (README: returning participants): a 409 would tell anyone which ids joined.
        data = _valid(self.Input, request.data)
        participant = participant_join(
            study=study_get(slug=slug), consent=data["consent"], attributes=data["attributes"],
            external_id=data.get("external_id", ""), user=request.user, resume=True,
        )
        token, _ = Token.objects.get_or_create(user=participant.user)
        return Response(
            {"participant_id": participant.pk, "annotator_id": participant.external_id,
             "group": participant.group_key, "token": token.key},
            status=status.HTTP_201_CREATED,
        )


class StudyExportApi(APIView):
    """Stream the study's judgments and ratings (JSONL or CSV), or its set judgments (community-alignment CSV,
    collective-alignment JSONL; its annotators file with part=annotators)."""

    permission_classes = [IsResearcher]

    @extend_schema(parameters=[OpenApiParameter("format", str, enum=list(EXPORT_FORMATS)),
                               OpenApiParameter("part", str, enum=list(EXPORT_PARTS), description=(
                                   "collective-alignment only: annotators gives the annotators file")),
                               OpenApiParameter("include_excluded", bool),
                               OpenApiParameter("prompts", str, enum=list(PROMPT_SCOPES), description=(
                                   "leave out prompts annotators wrote (docs/formats.md)"))], responses={
        (200, "application/x-ndjson"): OpenApiResponse(
            OpenApiTypes.STR, description="format=jsonl (default) or collective-alignment"),
        (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="format=csv or community-alignment"),
    })
    def get(self, request: Request, slug: str) -> StreamingHttpResponse:
        study = study_get(slug=slug)
        include_excluded = request.query_params.get("include_excluded", "0")
        if include_excluded not in {"0", "1", "true", "false"}:
            raise InputError("must be 0, 1, true or false", field="include_excluded")
        described, lines = judgment_file_export(
            study=study, fmt=request.query_params.get("format", "jsonl"),
            part=request.query_params.get("part", "judgments"), include_excluded=include_excluded in {"1", "true"},
            prompts=request.query_params.get("prompts", "all"))
        response = StreamingHttpResponse(lines, content_type=f"{described.content_type}; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{described.filename}"'
        return response


class StudyJudgmentsImportApi(APIView):
    """Admins import a judgment file (multipart field 'file', in the format named by field 'format'; jsonl when
    absent) and, for collective-alignment, its annotators file (field 'annotators'); all or nothing."""

    permission_classes = [IsStudyAdmin]
    parser_classes = [MultiPartParser, FileUploadParser, BoundedJSONParser]

    @extend_schema(request={"multipart/form-data": {"type": "object", "required": ["file"], "properties": {
        "file": {"type": "string", "format": "binary"},
        "format": {"type": "string", "enum": list(IMPORT_FORMATS), "default": "jsonl"},
        "annotators": {"type": "string", "format": "binary",
                       "description": "collective-alignment only: the annotators JSONL file"}}}},
        responses={201: dict})
    def post(self, request: Request, slug: str) -> Response:
        upload = request.data.get("file")
        if upload is None:
            raise InputError("upload the judgment file as multipart field 'file'", field="file")
        fmt = request.data.get("format", "jsonl")
        if not isinstance(fmt, str):
            raise InputError("must be a text field, not a file", field="format")
        annotators = request.data.get("annotators")
        if annotators is not None and not hasattr(annotators, "read"):
            raise InputError("upload the annotators file as a file, not a text field", field="annotators")
        summary = judgment_file_import(
            study=study_get(slug=slug), fmt=fmt, stream=upload, source=getattr(upload, "name", "upload"),
            annotators=annotators, annotators_source=getattr(annotators, "name", "annotators"))
        return Response(vars(summary), status=status.HTTP_201_CREATED)


def _valid(serializer_class: type[serializers.Serializer], data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data



class AssignmentRenewApi(APIView):
    """The annotator keeps their pair: the lease runs lease_minutes from now (own live assignments only)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={200: dict})
    def post(self, request: Request, pk: int) -> Response:
        expires_at = assignment_renew(user=request.user, assignment_id=pk)
        return Response({"assignment_id": pk, "lease_expires_at": expires_at})


class AssignmentSkipApi(APIView):
    """The annotator cannot judge this pair: its slot goes back to the pool and the pair never comes back
    to them; a skip is not a judgment (own live assignments only)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={200: dict})
    def post(self, request: Request, pk: int) -> Response:
        skip = assignment_skip(user=request.user, assignment_id=pk)
        return Response({"assignment_id": pk, "skipped_at": skip.created_at})
