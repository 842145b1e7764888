"""DRF's exception handler: our service errors answered as annotation/errors.py maps them."""

from rest_framework.response import Response
from rest_framework.views import exception_handler

from annotation.errors import service_error_answer


def api_exception_handler(exc, context):
    answer = service_error_answer(exc)
    if answer is not None:
        return Response(answer[0], status=answer[1])
    return exception_handler(exc, context)
