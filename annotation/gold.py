"""Gold items (attention checks) in study files: a pair with an expected answer, or in a set study a set of
candidates with the expected best.

A gold line names two candidates of a prompt given earlier in the file (or already stored), or brings
its own prompt (`turns` and `candidates`, as a prompt line) that is then used for gold only. Either way
the gold pair is a Pair of strategy "gold" with no slots: it never counts toward k or group balance.
Its ids are the prompt's and candidates' own, so the annotator's page and the API cannot tell it apart.

In a set study a gold line gives `members` (set_size candidate ids of the prompt) and `expected` (the one that is
the right best) instead of a / b: a CandidateSet of strategy "gold" with no slots, served through
annotation/gold_serving.py like a gold pair.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.utils import timezone

from annotation.errors import InputError
from annotation.gold_serving import gold_pairs_forget
from annotation.input_rules import clean_text
from annotation.jsonl import field, text_field
from annotation.models import SET_SIZE_MAX, Candidate, CandidateSet, GoldItem, Pair, Prompt, Study

GOLD_STRATEGY = "gold"
EXPECTED = ("A", "B")


@dataclass(frozen=True)
class GoldRecord:
    prompt_id: str
    a: str
    b: str
    expected: str  # "A" or "B": the right answer as `a` / `b` of this line
    prompt: object | None  # a PromptRecord when the line brings its own prompt


@dataclass(frozen=True)
class GoldSetRecord:
    """A gold set (set studies): `members` candidate ids of the prompt, `expected` the right best among them."""

    prompt_id: str
    members: list[str]
    expected: str
    prompt: object | None


def is_gold_line(obj: dict) -> bool:
    return "gold" in obj


def parse_gold(obj: dict, *, parse_prompt: Callable[[dict], object]) -> GoldRecord | GoldSetRecord:
    """A gold line; `parse_prompt` reads the prompt it may bring (study_files' prompt-line reader). A line with
    `members` is a gold set; whether the study takes it is checked on import (gold_item_create)."""
    gold = field(obj, "gold", dict)
    prompt = None
    if "turns" in gold or "candidates" in gold:
        try:
            prompt = parse_prompt(gold)
        except InputError as exc:
            raise InputError(exc.message, field=f"gold.{exc.field}" if exc.field else "gold") from None
    if "members" in gold:
        return _parse_gold_set(gold, prompt)
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


def _parse_gold_set(gold: dict, prompt: object | None) -> GoldSetRecord:
    members = field(gold, "members", list, prefix="gold.")
    if not 2 <= len(members) <= SET_SIZE_MAX:
        raise InputError(f"must be a list of the study's set_size (at most {SET_SIZE_MAX}) candidate ids",
                         field="gold.members")
    names: list[str] = []
    for i, member in enumerate(members):
        path = f"gold.members[{i}]"
        if not isinstance(member, str) or not member.strip():
            raise InputError("must be a candidate id (a non-empty string)", field=path)
        name = clean_text(member, path, max_length=128)
        if name in names:
            raise InputError(f"{name!r} is given twice", field=path)
        names.append(name)
    record = GoldSetRecord(
        prompt_id=text_field(gold, "prompt_id", prefix="gold.", max_length=128), members=names,
        expected=text_field(gold, "expected", prefix="gold.", max_length=128), prompt=prompt,
    )
    if record.expected not in names:
        raise InputError("must be one of members (the candidate id of the right best)", field="gold.expected")
    return record


def gold_item_create(*, study: Study, record: GoldRecord | GoldSetRecord, prompt: Prompt) -> GoldItem:
    """The gold pair (or, in a set study, the gold set) and its expected answer; `prompt` is the (stored) prompt
    the line names."""
    if study.task == Study.Task.SET:
        if not isinstance(record, GoldSetRecord):
            raise InputError("a set study's gold items are sets: give members and the expected best",
                             field="gold.members")
        return _gold_set_create(study, record, prompt)
    if isinstance(record, GoldSetRecord):
        raise InputError("gold sets (members) belong to set studies; give a, b and expected A or B",
                         field="gold.members")
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


def _gold_set_create(study: Study, record: GoldSetRecord, prompt: Prompt) -> GoldItem:
    if len(record.members) != study.set_size:
        raise InputError(f"must hold the study's set_size ({study.set_size}) candidate ids, not "
                         f"{len(record.members)}", field="gold.members")
    by_id = dict(Candidate.objects.filter(prompt=prompt, external_id__in=record.members)
                 .values_list("external_id", "pk"))
    for i, name in enumerate(record.members):
        if name not in by_id:
            raise InputError(f"unknown candidate {name!r} for prompt {record.prompt_id!r}",
                             field=f"gold.members[{i}]")
    members = [by_id[name] for name in record.members]
    gold_sets = CandidateSet.objects.filter(prompt=prompt, strategy=GOLD_STRATEGY).values_list("members", flat=True)
    if any(set(held) == set(members) for held in gold_sets):
        raise InputError("these candidates are already a gold set", field="gold.members")
    # No slots: served only through annotation/gold_serving.py, in an order drawn per lease.
    candidate_set = CandidateSet.objects.create(prompt=prompt, members=members, strategy=GOLD_STRATEGY,
                                                size=len(members), created_at=timezone.now())
    return GoldItem.objects.create(study=study, candidate_set=candidate_set, expected_id=by_id[record.expected])
