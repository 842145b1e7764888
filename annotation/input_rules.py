"""The checks every door applies to outside input: API bodies, page forms, files, commands, admin uploads.

One module, so that a NUL byte, an integer wider than its column, a timestamp PostgreSQL cannot give
back or a document nested a thousand deep is refused the same way everywhere: an InputError naming
the field, which every door turns into a 400 (or a message), never a 5xx.
"""

import json
import math
from datetime import UTC, datetime

from django.conf import settings

from annotation.errors import InputError

INT32_MAX = 2**31 - 1  # IntegerField / PositiveIntegerField columns
INT64_MAX = 2**63 - 1  # BigAutoField ids
# Stored times must survive a round trip through PostgreSQL and Python's datetime in UTC; a year-1 time
# with a positive offset is year 0 in UTC, which the database keeps and Python cannot read back.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(3000, 1, 1, tzinfo=UTC)
RATING_LIMIT = 1e9
_MAX_INT_DIGITS = 4000  # below Python's int/str conversion limit (4300 digits)


class _HugeInteger:
    """Stands in for an integer literal too long to convert, so that the walk can name its field."""

    def __init__(self, digits: int):
        self.digits = digits


def _int_literal(text: str) -> int | _HugeInteger:
    return int(text) if len(text) <= _MAX_INT_DIGITS else _HugeInteger(len(text))


# One decoder, built once: json.loads(..., parse_int=...) builds a new one on every call.
_DECODER = json.JSONDecoder(parse_int=_int_literal)


def max_depth() -> int:
    return settings.PLURALWEB_MAX_JSON_DEPTH


def json_parse(text: str | bytes, *, line: int | None = None, source: str = "") -> object:
    """A JSON document, checked by json_check(); malformed, over-deep or over-long input is an InputError."""
    try:
        value = _DECODER.decode(text.decode("utf-8") if isinstance(text, bytes) else text)
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON: {exc.msg} (column {exc.colno})", line=line, source=source) from None
    except RecursionError:
        raise InputError(f"JSON nested deeper than {max_depth()} levels", line=line, source=source) from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"invalid JSON: {exc}", line=line, source=source) from None
    json_check(value)
    return value


def _render(path: tuple) -> str | None:
    # Paths are kept as (parent, key) chains and spelled out only for an error: the walk runs on every
    # annotation-loop submit, where building a string per value cost more than the parse.
    keys = []
    while path:
        path, key = path
        keys.append(key)
    out = ""
    for key in reversed(keys):
        out = f"{out}[{key}]" if isinstance(key, int) else (f"{out}.{key}" if out else str(key))
    return out or None


def _scalar_problem(item: object) -> str | None:
    kind = type(item)
    if kind is str:
        return "must not contain NUL characters" if "\x00" in item else None
    if kind is float:
        return None if math.isfinite(item) else "must be a finite number"
    if kind is _HugeInteger:
        return f"an integer of {item.digits} digits is out of range"
    return None


def json_check(value: object, *, path: str = "") -> None:
    """Walk a parsed JSON value without recursion: no NUL in strings or keys, finite numbers, integers
    of convertible size, nesting at most PLURALWEB_MAX_JSON_DEPTH; the error names the offending field."""
    limit = max_depth()
    stack: list[tuple[object, int, tuple]] = [(value, 0, ((), path) if path else ())]
    while stack:
        item, depth, where = stack.pop()
        kind = type(item)
        if kind is dict:
            pairs = item.items()
        elif kind is list:
            pairs = enumerate(item)
        else:
            problem = _scalar_problem(item)
            if problem:
                raise InputError(problem, field=_render(where))
            continue
        if depth >= limit:
            raise InputError(f"nested deeper than {limit} levels", field=_render(where))
        for key, child in pairs:
            if kind is dict and "\x00" in key:
                raise InputError("keys must not contain NUL characters", field=_render(where))
            child_kind = type(child)
            if child_kind is dict or child_kind is list:
                stack.append((child, depth + 1, (where, key)))
            elif child_kind is not int and child_kind is not bool and child is not None:
                problem = _scalar_problem(child)
                if problem:
                    raise InputError(problem, field=_render((where, key)))


def clean_text(value: str, field: str, *, max_length: int | None = None) -> str:
    """A text a column can hold: no NUL character (PostgreSQL refuses them), at most max_length characters."""
    if "\x00" in value:
        raise InputError("must not contain NUL characters", field=field)
    if max_length is not None and len(value) > max_length:
        raise InputError(f"must be at most {max_length} characters", field=field)
    return value


def long_text(value: str, field: str) -> str:
    """Prompt turns, candidate texts, texts to embed: at most PLURALWEB_MAX_TEXT_CHARS characters."""
    return clean_text(value, field, max_length=settings.PLURALWEB_MAX_TEXT_CHARS)


def integer(value: object, field: str, *, minimum: int = 0, maximum: int = INT32_MAX) -> int:
    """An integer (not a boolean) in [minimum, maximum]: the range of the column it is stored in."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError("must be an integer", field=field)
    if not minimum <= value <= maximum:
        raise InputError(f"must be between {minimum} and {maximum}", field=field)
    return value


def form_integer(raw: str, field: str, *, minimum: int = 0, maximum: int = INT32_MAX) -> int:
    """An integer typed into a form ("12", "12.0"); "1e400", "nan" or 40-digit numbers are refused, not crashed on."""
    text = raw.strip()
    if len(text) > 32:
        raise InputError(f"must be between {minimum} and {maximum}", field=field)
    try:
        number = float(text) if any(c in text for c in ".eE") else int(text)
    except ValueError:
        raise InputError("must be a whole number", field=field) from None
    if isinstance(number, float):
        if not math.isfinite(number) or not number.is_integer():
            raise InputError("must be a whole number", field=field)
        number = int(number)
    return integer(number, field, minimum=minimum, maximum=maximum)


def rating(value: object, field: str) -> float:
    """A finite rating within +/- RATING_LIMIT: NaN or 1e999 would poison every later fit."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError("must be a number", field=field)
    if isinstance(value, float) and not math.isfinite(value) or not -RATING_LIMIT <= value <= RATING_LIMIT:
        raise InputError(f"must be a finite number between {-RATING_LIMIT:g} and {RATING_LIMIT:g}", field=field)
    return float(value)


def timestamp(raw: str, field: str) -> datetime:
    """An ISO 8601 time (naive means UTC) between EARLIEST and LATEST once in UTC."""
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise InputError(f"{raw[:64]!r} is not an ISO 8601 date-time", field=field) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        in_utc = value.astimezone(UTC)
    except OverflowError:
        in_utc = None
    if in_utc is None or not EARLIEST <= in_utc < LATEST:
        raise InputError(
            f"{raw[:64]!r} is out of range: give a time from {EARLIEST:%Y-%m-%d} to before {LATEST:%Y-%m-%d} (UTC)",
            field=field,
        )
    return in_utc


def web_url(value: str, field: str) -> str:
    """An absolute http(s) URL: anything else (javascript:, data:, relative) would be a link we render."""
    clean_text(value, field, max_length=200)
    scheme, sep, rest = value.partition("://")
    if not sep or scheme.lower() not in {"http", "https"} or not rest or any(c.isspace() for c in value):
        raise InputError("must be an http:// or https:// URL", field=field)
    return value


def group_count(group_attributes: dict[str, list], field: str = "group_attributes") -> int:
    """The number of groups (the product of the attributes' value counts), at most PLURALWEB_MAX_GROUPS."""
    count = 1
    for values in group_attributes.values():
        count *= max(len(values), 1)
        if count > settings.PLURALWEB_MAX_GROUPS:
            raise InputError(
                f"makes more than {settings.PLURALWEB_MAX_GROUPS} groups (the product of each attribute's "
                "number of values); use fewer attributes or values", field=field)
    return count
