"""Environment-variable readers that fail loudly: a typo in deployment config must stop start-up."""

import os

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str | None = None) -> str | None:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use one of 1/0, true/false, yes/no, on/off)")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name}={value} must be at least {minimum}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_choice(name: str, default: str, choices: set[str]) -> str:
    value = os.environ.get(name, default)
    if value not in choices:
        raise ImproperlyConfigured(f"{name}={value!r} must be one of {sorted(choices)}")
    return value


_PERIODS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600,
            "d": 86400, "day": 86400}


def env_rate(name: str, default: str) -> tuple[int, int] | None:
    """A rate such as `10/minute` (or `10/m`, `100/hour`) as (count, seconds); `off` or empty: no limit."""
    raw = os.environ.get(name, default).strip().lower()
    if raw in {"", "off", "none"}:
        return None
    count, _, period = raw.partition("/")
    try:
        value = int(count)
    except ValueError:
        value = -1
    if value < 1 or period not in _PERIODS:
        raise ImproperlyConfigured(
            f"{name}={raw!r} is not a rate: write COUNT/PERIOD, e.g. 10/minute (periods: s, m, h, d), or off"
        )
    return value, _PERIODS[period]
