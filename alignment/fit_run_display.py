"""What a fit run's page shows of its row: a readable failure reason and the metrics as table rows.

The stored error holds the exception and its traceback for admins (Django admin, worker log); the page
shows only the reason. No Django here: strings and dicts in, strings and rows out.
"""

import re

# "ValueError: a PAL fit needs ..." -> the message; an exception without a message gets a sentence.
_HEAD = re.compile(r"^(?P<name>[A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt))(?::\s*(?P<message>.*))?$", re.S)
_EXPECTED = {"ValueError", "InputError", "FitCancelled"}
_BARE = {
    "MemoryError": "the worker ran out of memory",
    "KeyboardInterrupt": "the worker was stopped",
    "SystemExit": "the worker was stopped",
}
LIST_SHOWN = 12


def failure_reason(error: str) -> str:
    """The first paragraph of a run's stored error, without the traceback and, for the errors a runner
    raises on purpose (too little data, bad parameters), without the exception's class name."""
    head = re.split(r"\n\s*\n|\nTraceback \(most recent call last\)", error.strip(), maxsplit=1)[0].strip()
    if head.startswith("Traceback (most recent call last)"):
        head = error.strip().splitlines()[-1].strip()  # a bare traceback: its last line names the error
    match = _HEAD.match(head)
    if match is None:
        return head
    name, message = match["name"].rsplit(".", 1)[-1], (match["message"] or "").strip()
    if not message:
        return _BARE.get(name, f"an unexpected error in the worker ({name}); the details are in the admin and its log")
    if name in _EXPECTED:
        return message
    return f"{message} ({name}; the details are in the admin and the worker's log)"


def metrics_rows(metrics: dict, *, skip: tuple[str, ...] = ("participant_ids",)) -> list[dict]:
    """One row per metric, nested dicts flattened to "name · key"; long lists shortened with their length."""
    rows: list[dict] = []
    for name, value in metrics.items():
        if name not in skip:
            _rows_of(name, value, rows)
    return rows


def _rows_of(label: str, value: object, rows: list[dict]) -> None:
    if isinstance(value, dict) and value:
        if all(not isinstance(v, dict | list) for v in value.values()) and len(value) <= LIST_SHOWN:
            rows.append({"metric": label, "value": ", ".join(f"{k}: {_plain(v)}" for k, v in value.items())})
            return
        for key, inner in value.items():
            _rows_of(f"{label} · {key}", inner, rows)
        return
    rows.append({"metric": label, "value": _plain(value)})


def _plain(value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        shown = ", ".join(_plain(v) for v in value[:LIST_SHOWN])
        return f"[{shown}, … ({len(value)} values)]" if len(value) > LIST_SHOWN else f"[{shown}]"
    if isinstance(value, dict):
        return "{}"
    return str(value)
