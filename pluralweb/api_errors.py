"""Our service errors as DRF answers: the status the rule implies, and a body saying why."""

from rest_framework.response import Response
from rest_framework.views import exception_handler

from annotation.errors import InputError, Rejected


def api_exception_handler(exc, context):
    if isinstance(exc, InputError):
        return Response(exc.as_dict(), status=400)
    if isinstance(exc, Rejected):
        return Response({"detail": exc.message, "code": exc.code}, status=exc.status)
    return exception_handler(exc, context)
