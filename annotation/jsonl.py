"""Streaming JSONL reading with line numbers, and typed field access that names what is wrong."""

import io
from collections.abc import Iterable, Iterator
from typing import IO, Any

from annotation.errors import InputError
from annotation.input_rules import clean_text, json_parse


def text_lines(stream: IO, *, source: str = "") -> Iterable[str]:
    """Lines of a text or binary stream, decoded as UTF-8, one at a time (files may be large).

    Binary lines are decoded one by one: a decoder over the whole stream reads ahead, and would blame
    a bad byte on the first line of its buffer rather than on the line that holds it.
    """
    if isinstance(stream, io.TextIOBase):
        yield from stream
        return
    for line_no, raw in enumerate(stream, start=1):
        try:
            yield raw.decode("utf-8") if isinstance(raw, bytes) else raw
        except UnicodeDecodeError as exc:
            raise InputError(f"not UTF-8 text: {exc.reason} at byte {exc.start + 1}", line=line_no,
                             source=source) from None


def iter_jsonl(stream: IO, *, source: str = "") -> Iterator[tuple[int, dict]]:
    """(line number, object) for each non-blank line; a bad line raises InputError naming it."""
    for line_no, line in enumerate(text_lines(stream, source=source), start=1):
        if not line.strip():
            continue
        try:
            obj = json_parse(line)
        except InputError as exc:
            raise exc.at(line=line_no, source=source) from None
        if not isinstance(obj, dict):
            raise InputError("each line must be a JSON object", line=line_no, source=source)
        yield line_no, obj


def field(obj: dict, name: str, kind: type | tuple[type, ...], *, required: bool = True, default: Any = None,
          prefix: str = "") -> Any:
    """obj[name] checked against `kind`; InputError names the dotted field path."""
    path = f"{prefix}{name}"
    if name not in obj or obj[name] is None:
        if required:
            raise InputError("is required", field=path)
        return default
    value = obj[name]
    # bool is an int in Python; a count given as true/false is a mistake worth reporting.
    if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
        raise InputError(f"must be {_kind_name(kind)}, not a boolean", field=path)
    if not isinstance(value, kind):
        raise InputError(f"must be {_kind_name(kind)}, got {type(value).__name__}", field=path)
    return value


def text_field(obj: dict, name: str, *, required: bool = True, prefix: str = "", max_length: int | None = None) -> str:
    value = field(obj, name, (str, int), required=required, default="", prefix=prefix)
    value = clean_text(str(value), f"{prefix}{name}")
    if required and not value.strip():
        raise InputError("must not be empty", field=f"{prefix}{name}")
    if max_length is not None and len(value) > max_length:
        raise InputError(f"must be at most {max_length} characters", field=f"{prefix}{name}")
    return value


def _kind_name(kind: type | tuple[type, ...]) -> str:
    names = {
        str: "a string", int: "an integer", float: "a number", list: "a list", dict: "an object", bool: "a boolean",
    }
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(names.get(k, k.__name__) for k in kinds)
