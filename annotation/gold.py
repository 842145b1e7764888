"""Gold items (attention checks) in study files: a pair with an expected answer.

A gold line names two candidates of a prompt given earlier in the file (or already stored), or brings
its own prompt (`turns` and `candidates`, as a prompt line) that is then used for gold only. Either way
the gold pair is a Pair of strategy "gold" with no slots: it never counts toward k or group balance.
Its ids are the prompt's and candidates' own, so the annotator's page and the API cannot tell it apart.
"""

from collections.abc import Callable
from dataclasses import dataclass

from annotation.errors import InputError
from annotation.gold_serving import gold_pairs_forget
from annotation.jsonl import field, text_field
from annotation.models import Candidate, GoldItem, Pair, Prompt, Study

GOLD_STRATEGY = "gold"
EXPECTED = ("A", "B")


@dataclass(frozen=True)
class GoldRecord:
    prompt_id: str
    a: str
    b: str
    expected: str  # "A" or "B": the right answer as `a` / `b` of this line
    prompt: object | None  # a PromptRecord when the line brings its own prompt


def is_gold_line(obj: dict) -> bool:
    return "gold" in obj


def parse_gold(obj: dict, *, parse_prompt: Callable[[dict], object]) -> GoldRecord:
    """A gold line; `parse_prompt` reads the prompt it may bring (study_files' prompt-line reader)."""
    gold = field(obj, "gold", dict)
    prompt = None
    if "turns" in gold or "candidates" in gold:
        try:
            prompt = parse_prompt(gold)
        except InputError as exc:
            raise InputError(exc.message, field=f"gold.{exc.field}" if exc.field else "gold") from None
    record = GoldRecord(
        prompt_id=text_field(gold, "prompt_id", prefix="gold.", max_length=128),
        a=text_field(gold, "a", prefix="gold.", max_length=128),
        b=text_field(gold, "b", prefix="gold.", max_length=128),
        expected=text_field(gold, "expected", prefix="gold."),
        prompt=prompt,
    )
    if record.expected not in EXPECTED:
        raise InputError("must be A or B (the right answer, as a / b of this line)", field="gold.expected")
    if record.a == record.b:
        raise InputError("a and b must be two different candidates", field="gold.b")
    return record


def gold_item_create(*, study: Study, record: GoldRecord, prompt: Prompt) -> GoldItem:
    """The gold pair and its expected answer; `prompt` is the (stored) prompt the line names."""
    by_id = {c.external_id: c for c in Candidate.objects.filter(prompt=prompt, external_id__in=[record.a, record.b])}
    for name in ("a", "b"):
        if getattr(record, name) not in by_id:
            raise InputError(
                f"unknown candidate {getattr(record, name)!r} for prompt {record.prompt_id!r}", field=f"gold.{name}"
            )
    a, b = by_id[record.a], by_id[record.b]
    expected = a if record.expected == "A" else b
    taken = set(Pair.objects.filter(candidate_a__in=[a, b], candidate_b__in=[a, b]).values_list("candidate_a_id",
                                                                                                 "strategy"))
    if any(strategy == GOLD_STRATEGY for _, strategy in taken):
        raise InputError("these two candidates are already a gold item", field="gold.b")
    if taken:
        # The two already make an ordinary pair (one order); the gold pair takes the other order, since a
        # pair's candidates are unique in order. Which side is shown is randomised per lease anyway.
        a, b = b, a
    pair = Pair.objects.create(prompt=prompt, candidate_a=a, candidate_b=b, strategy=GOLD_STRATEGY)
    gold_pairs_forget()  # this process sees the new gold pair at once
    return GoldItem.objects.create(study=study, pair=pair, expected=expected)
