"""Bounds on what a request may bring: the whole body's size, and JSON bodies parsed with a depth limit."""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import JSONParser

from annotation.errors import InputError
from annotation.input_rules import json_parse


class RequestTooLarge(APIException):
    status_code = 413
    default_detail = "the request body is too large"
    default_code = "too_large"


def body_too_large(length: int, limit: int) -> str:
    return f"the request body is {length} bytes; the limit is {limit} bytes"


def json_body(raw: bytes) -> object:
    """A request's JSON body: a value that names its field stays an InputError (400 with the field), a
    malformed or over-deep document is DRF's ParseError, as every JSON view answered before."""
    try:
        return json_parse(raw)
    except InputError as exc:
        if exc.field is None:
            raise ParseError(f"JSON parse error - {exc.message}") from None
        raise


class BoundedJSONParser(JSONParser):
    """DRF's JSON parser, reading at most DATA_UPLOAD_MAX_MEMORY_SIZE bytes and refusing over-deep, NUL-bearing
    or non-finite documents with a 400 that names the field (annotation.input_rules.json_check)."""

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise RequestTooLarge(f"the JSON body is over the limit of {limit} bytes")
        return json_body(raw)


class RequestSizeLimitMiddleware:
    """Refuse a request whose declared body exceeds its limit before anything reads it: a 413 with a JSON
    reason, not a worker busy for minutes on a file it will refuse anyway. Uploads (multipart) may reach
    PLURALWEB_MAX_REQUEST_BYTES, other bodies DATA_UPLOAD_MAX_MEMORY_SIZE."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return JsonResponse({"detail": "Content-Length is not a number"}, status=400)
        # Uploads are streamed to disk and bounded as a whole; any other body is read into memory.
        upload = request.META.get("CONTENT_TYPE", "").startswith("multipart/form-data")
        limit = settings.PLURALWEB_MAX_REQUEST_BYTES if upload else settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if length > limit:
            return JsonResponse({"detail": body_too_large(length, limit), "code": "too_large"}, status=413)
        return self.get_response(request)
