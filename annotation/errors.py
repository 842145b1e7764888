"""Errors the services raise, and the HTTP answer each maps to: the bottom floor, importing nothing of ours.
Doors (API, pages, commands) turn them into 4xx answers or messages."""


class InputError(ValueError):
    """Bad input that names where it is: file, line and field, as far as they are known."""

    def __init__(self, message: str, *, field: str | None = None, line: int | None = None, source: str = ""):
        super().__init__(message)
        self.message = message
        self.field = field
        self.line = line
        self.source = source

    def at(self, *, line: int | None = None, source: str | None = None) -> "InputError":
        return InputError(
            self.message,
            field=self.field,
            line=self.line if line is None else line,
            source=self.source if source is None else source,
        )

    def __str__(self) -> str:
        where = ":".join(str(part) for part in (self.source, self.line) if part not in ("", None))
        field = f"field {self.field!r}: " if self.field else ""
        return f"{where}: {field}{self.message}" if where else f"{field}{self.message}"

    def as_dict(self) -> dict:
        return {"detail": str(self), "line": self.line, "field": self.field, "source": self.source or None}


class Rejected(Exception):
    """A request the rules refuse; `status` is the HTTP status the API answers with."""

    status = 400

    def __init__(self, message: str, *, code: str):
        super().__init__(message)
        self.message = message
        self.code = code


class NotFound(Rejected):
    status = 404


class Forbidden(Rejected):
    status = 403


class Conflict(Rejected):
    status = 409


class Gone(Rejected):
    status = 410


class Unavailable(Rejected):
    status = 503


def service_error_answer(exc: Exception) -> tuple[dict, int] | None:
    """(body, status) for a service error; None for anything else. Shared by DRF's exception handler
    (pluralweb/api_errors.py) and the annotation loop's self-dispatching views (annotation/loop_api.py)."""
    if isinstance(exc, InputError):
        return exc.as_dict(), 400
    if isinstance(exc, Rejected):
        return {"detail": exc.message, "code": exc.code}, exc.status
    return None
