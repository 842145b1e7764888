"""Each fit kind's parameters, declared once: the fit service checks them, the models page draws its form
from them and the refit command its options. Light (no torch), so the web process can import it."""

from dataclasses import dataclass
from typing import TYPE_CHECKING

from annotation.counted_judgments import PROMPT_SCOPES
from annotation.errors import InputError

if TYPE_CHECKING:
    from annotation.models import Study


@dataclass(frozen=True)
class FitParam:
    name: str
    label: str
    default: int | float | str
    low: float | None = None
    high: float | None = None
    choices: tuple[tuple[str, str], ...] = ()  # (value, label) for a choice among names
    on_page: bool = True  # a field of the models page's form
    optional: bool = False  # absent from the cleaned set unless given (the run reads its absence as the default)

    @property
    def type(self) -> type:
        return type(self.default)

    def clean(self, raw: object) -> int | float | str:
        """The value checked against its type and range; errors name `params.<name>`."""
        field = f"params.{self.name}"
        if self.choices:
            if not isinstance(raw, str) or raw not in {value for value, _ in self.choices}:
                raise InputError(f"must be one of {', '.join(v for v, _ in self.choices)}", field=field)
            return raw
        if self.type is str:  # a name (e.g. one group attribute); whether the study has it, the run checks
            if not isinstance(raw, str) or len(raw) > 100:
                raise InputError("must be a name of at most 100 characters", field=field)
            return raw
        what = "an integer" if self.type is int else "a number"
        if isinstance(raw, bool | list | dict):
            raise InputError(f"must be {what}, got {raw!r}", field=field)
        try:
            value = self.type(raw)
        except (TypeError, ValueError, OverflowError):
            raise InputError(f"must be {what}, got {raw!r}", field=field) from None
        if not self.low <= value <= self.high or (self.type is int and isinstance(raw, float) and raw != value):
            raise InputError(f"must be {what} between {self.low} and {self.high}", field=field)
        return value


def attribute_check(study: "Study", attribute: str | None) -> None:
    """Refuse an attribute the study does not group by, naming the ones it does."""
    if attribute and attribute not in study.group_attributes:
        raise InputError(f"{attribute!r} is not a group attribute of study {study.slug!r} "
                         f"(its attributes: {', '.join(sorted(study.group_attributes)) or 'none'})",
                         field="params.attribute")


SEED = FitParam("seed", "Seed", 0, 0, 2**31 - 1)
# Groups by one attribute's values ("party=D") instead of full group keys; "" = full keys. The models page
# draws it as a select of the study's attributes, not as a generic field.
ATTRIBUTE = FitParam("attribute", "Group by one attribute", "", on_page=False, optional=True)

# Which prompts the fit reads (annotation/counted_judgments.py PROMPT_SCOPES): a researcher can leave out the
# prompts annotators wrote in live or imported conversations. Optional: runs launched before it read every prompt.
PROMPTS = FitParam("prompts", "Prompts", "all", choices=tuple(PROMPT_SCOPES.items()), on_page=False, optional=True)

FIT_PARAMS: dict[str, tuple[FitParam, ...]] = {
    "pal": (
        FitParam("model", "Model", "pal-b", choices=(("pal-b", "PAL-B (prototypical functions)"),
                                                     ("pal-a", "PAL-A (ideal points)"))),
        FitParam("k", "K (prototypes)", 3, 1, 16),
        FitParam("max_epochs", "Epochs at most", 60, 1, 1000),
        SEED,
        FitParam("unseen_fraction", "Share of annotators held out as unseen", 0.1, 0.0, 0.5, on_page=False),
        ATTRIBUTE,
        PROMPTS,
    ),
    "spica": (
        FitParam("m", "Scenarios retrieved (m)", 5, 1, 50),
        FitParam("tau", "Shrinkage (tau)", 2.0, 0.0, 1000.0),
        SEED,
        ATTRIBUTE,
        PROMPTS,
    ),
}


def fit_params_clean(kind: str, params: dict) -> dict:
    """A kind's full parameter set: the given values checked, the defaults for the rest."""
    declared = FIT_PARAMS.get(kind)
    if declared is None:
        raise InputError(f"unknown fit kind {kind!r} (one of {', '.join(FIT_PARAMS)})", field="kind")
    if not isinstance(params, dict):
        raise InputError("must be an object of parameter names to values", field="params")
    unknown = set(params) - {p.name for p in declared}
    if unknown:
        raise InputError(f"unknown parameters: {', '.join(sorted(map(str, unknown)))}", field="params")
    return {p.name: p.clean(params[p.name]) if p.name in params else p.default for p in declared
            if p.name in params or not p.optional}
