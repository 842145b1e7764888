"""Our service errors as DRF answers: the status the rule implies, and a body saying why."""

from rest_framework.response import Response
from rest_framework.views import exception_handler

from annotation.errors import InputError, Rejected


def service_error_answer(exc: Exception) -> tuple[dict, int] | None:
    """(body, status) for a service error; None for anything else. Shared by DRF's exception handler and
    the annotation loop's self-dispatching views (annotation/loop_api.py)."""
    if isinstance(exc, InputError):
        return exc.as_dict(), 400
    if isinstance(exc, Rejected):
        return {"detail": exc.message, "code": exc.code}, exc.status
    return None


def api_exception_handler(exc, context):
    answer = service_error_answer(exc)
    if answer is not None:
        return Response(answer[0], status=answer[1])
    return exception_handler(exc, context)
