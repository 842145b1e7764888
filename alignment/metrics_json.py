"""Whether a fit's metrics can be stored as JSON: JSON (and PostgreSQL's jsonb) has no NaN or infinity."""

import math
import numbers


def non_finite_number(value: object, path: str) -> str | None:
    """The path of the first NaN or infinite number inside `value` (dicts, lists, numbers), or None."""
    if isinstance(value, dict):
        found = (non_finite_number(item, f"{path}.{key}") for key, item in value.items())
    elif isinstance(value, list | tuple):
        found = (non_finite_number(item, f"{path}[{i}]") for i, item in enumerate(value))
    elif isinstance(value, numbers.Real) and not isinstance(value, int) and not math.isfinite(float(value)):
        return f"{path} = {value}"
    else:
        return None
    return next((hit for hit in found if hit is not None), None)
