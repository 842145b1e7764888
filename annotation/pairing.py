"""Making a prompt's pairs from its candidates, by the study's pair strategy, with their slots."""

import zlib
from collections.abc import Callable, Sequence
from typing import Protocol

from annotation.allocation import pairs_allocation_start, slot_priority_at_start
from annotation.gold import GOLD_STRATEGY
from annotation.groups import slot_groups
from annotation.models import Candidate, Pair, Prompt, Slot, Study


class SelectedPair(Protocol):
    i: int
    j: int
    diversity: float


# texts, number of pairs, strategy, seed -> the chosen pairs of text indices.
PairSelector = Callable[[list[str], int, str, int], Sequence[SelectedPair]]

# Choosing pairs (embedding the texts, NC or random selection) is alignment's work. It registers its
# selector when the app loads (alignment/apps.py), so that annotation, the floor below, never imports it.
_selector: list[PairSelector] = []


def pair_selector_register(selector: PairSelector) -> None:
    _selector[:] = [selector]


def prompt_seed(prompt: Prompt) -> int:
    # Stable across runs and machines, unlike hash(): re-importing a study makes the same pairs.
    return zlib.crc32(f"{prompt.study_id}:{prompt.external_id}".encode())


def pairs_create(*, study: Study, prompt: Prompt, candidates: list[Candidate], strategy: str | None = None) -> int:
    """Select pairs among the candidates by the study's strategy (or `strategy`) and create those the
    prompt lacks, each with its k slots; returns the number of new pairs."""
    if not _selector:
        raise RuntimeError("no pair selector registered: the 'alignment' app must be in INSTALLED_APPS")
    strategy = strategy or study.pair_strategy
    # n - 1 pairs can still show every candidate, at a fraction of all n(n-1)/2.
    n_pairs = study.pairs_per_prompt or max(1, len(candidates) - 1)
    selected = _selector[0]([c.text for c in candidates], n_pairs, strategy, prompt_seed(prompt))
    made = Pair.objects.filter(prompt=prompt)
    existing = {frozenset(ab) for ab in made.exclude(strategy=GOLD_STRATEGY).values_list("candidate_a", "candidate_b")}
    # A gold item may already hold the two candidates (the import makes pairs after reading every line, a
    # worker later still): the ordinary pair is made anyway, in the other order, as candidates are unique in order.
    gold = set(made.filter(strategy=GOLD_STRATEGY).values_list("candidate_a", "candidate_b"))
    selected = [s for s in selected if frozenset((candidates[s.i].pk, candidates[s.j].pk)) not in existing]
    sides = [(candidates[s.j], candidates[s.i]) if (candidates[s.i].pk, candidates[s.j].pk) in gold
             else (candidates[s.i], candidates[s.j]) for s in selected]
    pairs = Pair.objects.bulk_create(
        Pair(prompt=prompt, candidate_a=a, candidate_b=b, strategy=strategy, diversity=float(s.diversity))
        for s, (a, b) in zip(selected, sides, strict=True)
    )
    groups = slot_groups(study.slots_per_pair, study.group_attributes)
    priority = slot_priority_at_start(study)
    Slot.objects.bulk_create(
        Slot(pair=pair, study=study, group_key=g, priority=priority) for pair in pairs for g in groups
    )
    pairs_allocation_start(study=study, pair_ids=[pair.pk for pair in pairs])
    return len(pairs)
