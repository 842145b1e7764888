"""What a participant takes back to the crowd platform: the completion code, or the screened-out one."""

from dataclasses import dataclass

from annotation.models import Participant


@dataclass(frozen=True)
class Outcome:
    screened_out: bool
    code: str
    url: str  # the platform link with {code} filled in, or ""


def _with_code(url: str, code: str) -> str:
    # Only http(s) becomes a link, whatever an older import or the admin stored.
    if not url.lower().startswith(("http://", "https://")):
        return ""
    return url.replace("{code}", code)


def participant_outcome(*, participant: Participant) -> Outcome:
    """Screened out (failed the attention checks, see annotation/gold_serving.py): the study's
    screened_out_code and screened_out_url; otherwise its completion code and completion_url."""
    study = participant.study
    if participant.screened_out_at is not None:
        return Outcome(True, study.screened_out_code, _with_code(study.screened_out_url, study.screened_out_code))
    return Outcome(False, study.completion_code, _with_code(study.completion_url, study.completion_code))
