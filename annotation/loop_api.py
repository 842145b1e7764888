"""The annotation loop's two calls, `next` and submit: every annotator makes them for every judgment.

They are DRF views for the schema and the documented behaviour (token or session authentication,
CSRF on session calls, `{"detail", "code"}` errors), but they dispatch themselves: DRF's request
wrapping, negotiation, serializer fields and rendering were about a third of their CPU
(bench/annotation_loop.py), and these two calls need none of it.
"""

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import IsAuthenticated
from rest_framework.utils.encoders import JSONEncoder
from rest_framework.views import APIView

from annotation.assignment import pair_next_for_annotator
from annotation.completion import awaiting_pairs
from annotation.errors import InputError, Rejected, service_error_answer
from annotation.judgments import judgment_input, judgment_submit
from annotation.models import Candidate, Judgment, Study
from annotation.pairing_jobs import study_preparation
from annotation.selectors import participant_in_study
from annotation.set_assignment import set_next_for_annotator
from annotation.set_submit import set_judgment_input, set_judgment_submit
from pluralweb.auth import CachedTokenAuthentication, CheckedTokenAuthentication
from pluralweb.request_limits import BoundedJSONParser, RequestTooLarge, json_body

_TOKEN = CachedTokenAuthentication()
_SESSION = SessionAuthentication()


def _caller(request: HttpRequest):
    """The token's user, or the session's (with its CSRF token checked), as DRF's authentication would."""
    found = _TOKEN.authenticate(request)  # None without a token header; raises for a bad token
    if found is not None:
        return found[0]
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and user.is_active:
        _SESSION.enforce_csrf(request)
        return user
    raise exceptions.NotAuthenticated()


def _json_body(request: HttpRequest) -> object:
    try:
        body = request.body  # at most DATA_UPLOAD_MAX_MEMORY_SIZE bytes
    except RequestDataTooBig:
        raise RequestTooLarge() from None
    if not body:
        return {}
    content_type = request.content_type or ""
    if content_type != "application/json":
        raise exceptions.UnsupportedMediaType(content_type)
    return json_body(body)  # depth-bounded; NUL, non-finite numbers and huge integers name their field


def _answer(body: dict, status_code: int = 200, **headers: str) -> JsonResponse:
    return JsonResponse(body, status=status_code, encoder=JSONEncoder, headers=headers or None)


def _refusal(exc: Exception) -> JsonResponse:
    service = service_error_answer(exc)
    if service is not None:
        return _answer(*service)
    headers = {"WWW-Authenticate": _TOKEN.authenticate_header(None)} if exc.status_code == 401 else {}
    return _answer({"detail": str(exc.detail)}, exc.status_code, **headers)


class AnnotationLoopApi(APIView):
    # What the schema shows; dispatch() enforces them, with the cached token lookup (_caller): the only
    # views that use it. _json_body() takes JSON only, bounded as BoundedJSONParser is.
    authentication_classes = [CheckedTokenAuthentication, SessionAuthentication]
    permission_classes = [IsAuthenticated]
    parser_classes = [BoundedJSONParser]

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        self.args, self.kwargs, self.request, self.headers = args, kwargs, request, {}
        if request.method != "POST":
            return _answer({"detail": f'Method "{request.method}" not allowed.'}, 405, Allow="POST")
        try:
            return self.answer(_caller(request), request, **kwargs)
        except (InputError, Rejected, exceptions.APIException) as exc:
            return _refusal(exc)

    def answer(self, user, request: HttpRequest, **kwargs) -> HttpResponse:
        raise NotImplementedError


class StudyNextApi(AnnotationLoopApi):
    """Lease the next pair (200), 204 when the quota is met or nothing is left, or 503 with Retry-After while
    the study's pairs are still being made (its texts are embedding): nothing now, but not the end. In a set
    study (task "set") the answer is a set: `{"task": "set", "assignment_id", "set_id", "prompt", "candidates"
    (in the order shown), "lease_expires_at", "progress"}`, judged through POST /api/set-judgments/."""

    @extend_schema(request=None, responses={200: dict, 204: None, 503: OpenApiResponse(
        description="The study is still being prepared (code `study_preparing`, with "
                                    "`texts_done` / `texts_total`): ask again after Retry-After seconds.")})
    def post(self, request, slug: str) -> HttpResponse:
        raise NotImplementedError  # documents the operation; dispatch() calls answer()

    def answer(self, user, request: HttpRequest, slug: str) -> HttpResponse:
        participant = participant_in_study(slug=slug, user=user)
        if participant.study.task == Study.Task.SET:
            return _set_next(participant)
        task = pair_next_for_annotator(participant=participant)
        if task is None:
            return _nothing_now(participant)
        return _answer({
            "assignment_id": task.assignment_id,
            "prompt": {"prompt_id": task.prompt.external_id, "turns": task.prompt.turns},
            "a": {"candidate_id": task.left.external_id, "text": task.left.text},
            "b": {"candidate_id": task.right.external_id, "text": task.right.text},
            "lease_expires_at": task.expires_at,
            "progress": {"done": task.progress.done, "quota": task.progress.quota},
        })


def _nothing_now(participant) -> HttpResponse:
    """204 (quota met or nothing left), or 503 while the study's pairs or sets are still being made."""
    if awaiting_pairs(participant=participant):
        preparation = study_preparation(study=participant.study)
        return _answer({"detail": "The study is still being prepared: its pairs are not ready yet.",
                        "code": "study_preparing", "texts_done": preparation.texts_done,
                        "texts_total": preparation.texts_total},
                       status.HTTP_503_SERVICE_UNAVAILABLE, **{"Retry-After": "60"})
    return HttpResponse(status=status.HTTP_204_NO_CONTENT)


def _set_next(participant) -> HttpResponse:
    # A set study's answer says so ("task": "set"); a pair study's stays as it always was.
    task = set_next_for_annotator(participant=participant)
    if task is None:
        return _nothing_now(participant)
    return _answer({
        "task": "set", "assignment_id": task.assignment_id, "set_id": task.set_id,
        "prompt": {"prompt_id": task.prompt.external_id, "turns": task.prompt.turns},
        "candidates": [{"candidate_id": c.external_id, "text": c.text} for c in task.shown],
        "lease_expires_at": task.expires_at,
        "progress": {"done": task.progress.done, "quota": task.progress.quota},
    })


class JudgmentCreateApi(AnnotationLoopApi):
    """Submit a judgment; replaying a client_id returns the stored judgment (200) instead of a new one."""

    @extend_schema_serializer(component_name="JudgmentSubmitInput")
    class Input(serializers.Serializer):
        """For the schema; judgment_input() reads the body."""

        assignment = serializers.IntegerField()
        choice = serializers.ChoiceField(choices=Judgment.Choice.values)
        strength = serializers.ChoiceField(choices=Judgment.Strength.values, required=False, allow_null=True,
                                           allow_blank=True)
        rationale = serializers.CharField(required=False, allow_blank=True, allow_null=True)
        client_id = serializers.CharField(max_length=64)
        time_taken_ms = serializers.IntegerField(required=False, allow_null=True, min_value=0)

    @extend_schema(request=Input, responses={
        200: dict, 201: dict,
        404: OpenApiResponse(description="No such assignment."),
        409: OpenApiResponse(description="The assignment is already judged, or the client_id is another's."),
        410: OpenApiResponse(description="The lease expired: ask for the next pair."),
    })
    def post(self, request) -> HttpResponse:
        raise NotImplementedError  # documents the operation; dispatch() calls answer()

    def answer(self, user, request: HttpRequest) -> HttpResponse:
        submission = judgment_submit(user=user, data=judgment_input(_json_body(request)))
        judgment, progress = submission.judgment, submission.progress
        return _answer({
            "id": judgment.pk, "assignment": judgment.assignment_id, "choice": judgment.choice,
            "strength": judgment.strength or None, "rationale": judgment.rationale, "client_id": judgment.client_id,
            "created_at": judgment.created_at, "replay": not submission.created,
            "progress": {"done": progress.done, "quota": progress.quota},
        }, status.HTTP_201_CREATED if submission.created else status.HTTP_200_OK)


class SetJudgmentCreateApi(AnnotationLoopApi):
    """Submit a set judgment (set studies): the best of the candidates shown, optionally a ranking of the rest.
    Replaying a client_id returns the stored set judgment (200) instead of a new one."""

    @extend_schema_serializer(component_name="SetJudgmentSubmitInput")
    class Input(serializers.Serializer):
        """For the schema; set_judgment_input() reads the body."""

        assignment = serializers.IntegerField()
        best = serializers.CharField(help_text="candidate_id of the best response shown")
        ranking = serializers.ListField(
            child=serializers.ListField(child=serializers.CharField()), required=False, allow_null=True,
            help_text="The other candidates, better first, in blocks of ties: [[id], [id, id]]; partial allowed")
        explanation = serializers.CharField(required=False, allow_blank=True, allow_null=True)
        client_id = serializers.CharField(max_length=64)
        time_taken_ms = serializers.IntegerField(required=False, allow_null=True, min_value=0)

    @extend_schema(request=Input, responses={
        200: dict, 201: dict,
        400: OpenApiResponse(description="A bad body, a candidate not in the set, or a pair assignment."),
        404: OpenApiResponse(description="No such assignment."),
        409: OpenApiResponse(description="The assignment is already judged or skipped, or the client_id is "
                                         "another's."),
        410: OpenApiResponse(description="The lease expired: ask for the next set."),
    })
    def post(self, request) -> HttpResponse:
        raise NotImplementedError  # documents the operation; dispatch() calls answer()

    def answer(self, user, request: HttpRequest) -> HttpResponse:
        data = set_judgment_input(_json_body(request))
        submission = set_judgment_submit(user=user, data=data)
        judgment, progress = submission.set_judgment, submission.progress
        if submission.created:  # stored as sent: the candidate ids were checked against the set
            best, ranking = data.best, data.ranking
        else:
            external = dict(Candidate.objects.filter(pk__in=judgment.shown).values_list("pk", "external_id"))
            best, ranking = external[judgment.best_id], [[external[pk] for pk in block] for block in judgment.ranking]
        return _answer({
            "id": judgment.pk, "assignment": judgment.assignment_id, "best": best, "ranking": ranking,
            "explanation": judgment.explanation, "client_id": judgment.client_id,
            "created_at": judgment.created_at, "replay": not submission.created,
            "progress": {"done": progress.done, "quota": progress.quota},
        }, status.HTTP_201_CREATED if submission.created else status.HTTP_200_OK)
