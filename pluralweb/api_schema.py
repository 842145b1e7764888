"""The OpenAPI schema's error answers: one `Error` component and the 4xx each operation can give.

Rule-based, in one place, so that a new endpoint documents its refusals without repeating them: every
operation may answer 401/403 (no or wrong credentials or role), one with a path id 404, one that takes a
body or query 400 and 413. Operation-specific refusals (409, 410, 503) are declared on the view by
description (OpenApiResponse), and get the Error body here.
"""

ERROR_SCHEMA = {
    "type": "object",
    "description": "Why the request was refused. Service errors carry `detail` and `code` (rules) or `detail`, "
                   "`field`, `line`, `source` (bad input); DRF's field validation answers {field: [messages]}.",
    "properties": {
        "detail": {"type": "string"},
        "code": {"type": "string"},
        "field": {"type": "string", "nullable": True},
        "line": {"type": "integer", "nullable": True},
        "source": {"type": "string", "nullable": True},
    },
    "additionalProperties": True,
}
_REF = {"$ref": "#/components/schemas/Error"}
_WHY = {
    400: "Bad input: the body names the field (and the line, for files).",
    401: "No or invalid credentials.",
    403: "The caller's role or study does not allow this.",
    404: "No such study, run or object.",
    413: "The body is larger than its limit (DATA_UPLOAD_MAX_MEMORY_SIZE; uploads PLURALWEB_MAX_REQUEST_BYTES).",
    415: "The body's Content-Type is missing or not one this operation reads (see its request body).",
    429: "Too many attempts from this address, user or crowd id (pluralweb/throttling.py); see Retry-After.",
}
# The doors that count attempts (password login and join): only these answer 429.
THROTTLED_PATHS = {"/api/auth/token/", "/api/studies/{slug}/join/"}


def _codes(path: str, operation: dict) -> list[int]:
    codes = [401, 403]
    if "{" in path:
        codes.append(404)
    if "requestBody" in operation or any(p.get("in") == "query" for p in operation.get("parameters", [])):
        codes.append(400)
    if "requestBody" in operation:
        codes += [413, 415]
    if path in THROTTLED_PATHS:
        codes.append(429)
    return codes


def error_responses_hook(result: dict, generator, request, public) -> dict:
    """drf-spectacular postprocessing hook: the Error component and each operation's 4xx answers."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    for path, methods in result.get("paths", {}).items():
        for operation in methods.values():
            responses = operation.setdefault("responses", {})
            for code in _codes(path, operation):
                responses.setdefault(str(code), {"description": _WHY[code]})
            for code, response in responses.items():
                # Refusals a view declares by description only (409, 410, 503) get the Error body too.
                if code[0] in "45" and "content" not in response:
                    response["content"] = {"application/json": {"schema": _REF}}
    return result
