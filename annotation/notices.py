"""What the annotate page tells an annotator when a choice is refused, in the study's language.

The services' messages are written for API clients (they name ids and times); the page says the same
thing in words an annotator can act on, and keeps the answer they gave.
"""

from dataclasses import dataclass

from django.http import QueryDict
from django.utils.translation import gettext as _

from annotation.errors import InputError, Rejected
from annotation.models import Judgment


def notice_for(exc: InputError | Rejected, *, of_set: bool = False) -> str:
    """The refusal in the annotator's words; of_set: the task refused was a set, not a pair."""
    code = getattr(exc, "code", "")
    message = (_set_notice if of_set else _pair_notice)(code)
    if message:
        return message
    if isinstance(exc, InputError) and (exc.field or "").startswith(("best", "ranking", "explanation")):
        return _("Please check your answer and submit again.")
    if isinstance(exc, InputError) and exc.field in ("choice", "strength", "rationale"):
        return _("Please check your answer and choose again.")
    return getattr(exc, "message", str(exc))


def _pair_notice(code: str) -> str:
    if code == "too_soon":
        return _("Please read both responses a little longer, then choose again: your answer is kept.")
    if code == "lease_expired":
        return _("Your time on that pair ran out and it was given to someone else, so your answer could not be "
                 "recorded. Here is another pair.")
    if code == "already_judged":
        return _("You have already judged that pair. Here is the next one.")
    if code in ("unknown_assignment", "foreign_assignment"):
        return _("That pair is no longer yours. Here is the next one.")
    return ""


def _set_notice(code: str) -> str:
    if code == "too_soon":
        return _("Please read the responses a little longer, then submit again: your answer is kept.")
    if code == "lease_expired":
        return _("Your time on that set ran out and it was given to someone else, so your answer could not be "
                 "recorded. Here is another set.")
    if code in ("already_judged", "set_already_judged"):
        return _("You have already judged that set. Here is the next one.")
    if code == "pair_already_judged":
        return _("You have already compared two of these responses, so this set cannot be recorded. Here is the "
                 "next one.")
    if code in ("unknown_assignment", "foreign_assignment"):
        return _("That set is no longer yours. Here is the next one.")
    return ""


@dataclass(frozen=True)
class KeptAnswer:
    """The answer a refused submit carried, shown again so nothing typed is lost."""

    choice: str
    strength: str
    rationale: str
    same_pair: bool  # the pair now on screen is the one answered: the form is filled in again

    @property
    def choice_label(self) -> str:
        return {
            Judgment.Choice.A: _("A is better"), Judgment.Choice.B: _("B is better"),
            Judgment.Choice.TIE: _("Tie"), Judgment.Choice.BOTH_BAD: _("Both bad"),
        }.get(self.choice, self.choice)

    @property
    def strength_label(self) -> str:
        return {Judgment.Strength.SLIGHTLY: _("slightly"), Judgment.Strength.CLEARLY: _("clearly")}.get(
            self.strength, ""
        )


def kept_answer(post: QueryDict, *, pair_on_screen: int) -> KeptAnswer:
    return KeptAnswer(
        choice=post.get("choice", ""), strength=post.get("strength", ""), rationale=post.get("rationale", ""),
        same_pair=post.get("pair", "") == str(pair_on_screen),
    )

