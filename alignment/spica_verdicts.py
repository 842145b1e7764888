"""Plain-language SPICA verdicts per group (the codes come from alignment.spica.evaluate.verdict)."""

from django.utils.translation import gettext_lazy as _

from alignment.spica import VERDICTS

VERDICT_TEXT = {
    "beats_both": _("SPICA beats both baselines (similarity-only retrieval and the constant predictor)."),
    "not_better_than_similarity": _("SPICA does not beat similarity-only retrieval for this group: no gain."),
    "not_better_than_constant": _("SPICA does not beat the constant predictor for this group: no gain."),
    "not_better_than_either": _("SPICA beats neither similarity-only retrieval nor the constant predictor "
                                "for this group: no gain."),
    "no_test_data": _("No held-out judgments or ratings of this group: nothing to judge SPICA by."),
}
assert set(VERDICT_TEXT) == set(VERDICTS)


def verdict_text(code: str | None) -> str:
    """The sentence for a verdict code; an empty string for a refit that predates verdicts."""
    return str(VERDICT_TEXT[code]) if code in VERDICT_TEXT else ""
