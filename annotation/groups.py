"""Groups: the combinations of a study's group attributes, and how a pair's k slots split across them."""

import itertools
import math

from annotation.errors import InputError
from annotation.input_rules import clean_text


def group_key(attributes: dict[str, str], group_attributes: dict[str, list[str]]) -> str:
    """Canonical group name, e.g. "country=FR|party=D"; attributes outside the study's are ignored."""
    return "|".join(f"{name}={attributes[name]}" for name in sorted(group_attributes))


def all_group_keys(group_attributes: dict[str, list[str]]) -> list[str]:
    names = sorted(group_attributes)
    combos = itertools.product(*(group_attributes[name] for name in names))
    return ["|".join(f"{n}={v}" for n, v in zip(names, combo, strict=True)) for combo in combos]


def validate_attributes(attributes: object, group_attributes: dict[str, list[str]]) -> dict[str, str]:
    """The participant's values for every group attribute, each one of the allowed values."""
    if not isinstance(attributes, dict):
        raise InputError("attributes must be an object", field="attributes")
    clean: dict[str, str] = {}
    for name, allowed in group_attributes.items():
        if name not in attributes or attributes[name] in (None, ""):
            raise InputError(f"missing value for group attribute {name!r}", field=f"attributes.{name}")
        value = str(attributes[name])
        if value not in allowed:
            raise InputError(
                f"{value!r} is not an allowed value of {name!r} (allowed: {', '.join(allowed)})",
                field=f"attributes.{name}",
            )
        clean[name] = value
    # Extra attributes (age band, language...) are kept for slicing later but do not define groups.
    for name, value in attributes.items():
        if name not in clean:
            where = f"attributes.{clean_text(str(name), 'attributes', max_length=64)}"
            clean[name] = clean_text(str(value), where, max_length=200)
    return clean


def slot_groups(overlap: int, group_attributes: dict[str, list[str]]) -> list[str]:
    """The group tag of each of a pair's k slots: floor(k / G) per group, the rest open ("").

    Open slots are capped at one per group per pair (a database constraint), so no group ever
    holds more than ceil(k / G) of a pair's judgments.
    """
    keys = all_group_keys(group_attributes) if group_attributes else []
    if not keys:
        return [""] * overlap
    per_group = overlap // len(keys)
    tagged = [key for key in keys for _ in range(per_group)]
    open_slots = overlap - len(tagged)
    return tagged + [""] * open_slots


def group_cap(overlap: int, n_groups: int) -> int:
    return math.ceil(overlap / max(n_groups, 1))


def group_key_of(group: object, group_attributes: dict[str, list[str]]) -> str:
    """A group given by API callers: attribute values ({"party": "D"}) or its key ("party=D")."""
    if isinstance(group, str):
        return group
    if isinstance(group, dict):
        return group_key(validate_attributes(group, group_attributes), group_attributes)
    raise InputError("give the group as attribute values or a group key", field="group")
