"""Making a set study's candidate sets (issue 13) where a pair study's pairs are made: by the study's strategy
(nc: NC k-set selection, random: the baseline, all: every k-subset), `sets_per_prompt` of them per prompt.

A set's members are candidate ids in ascending id order and sets are created in selection order, so a prompt's
sets keep their ids and order across runs. Each set is made with its k = overlap slots, split across groups as a
pair's are (annotation/groups.py slot_groups), in the same statement batch: a set never exists without its slots,
so a retried job (which skips the sets a prompt holds) never doubles them. Imported sets hold none, like
imported pairs.
"""

from collections.abc import Callable, Sequence
from math import ceil, comb
from typing import Protocol

from django.utils import timezone

from annotation.gold import GOLD_STRATEGY
from annotation.groups import slot_groups
from annotation.models import Candidate, CandidateSet, Prompt, Slot, Study
from annotation.pairing import prompt_seed

IMPORTED = "imported"  # sets read from a Community Alignment file, not chosen here


class SelectedSet(Protocol):
    members: tuple[int, ...]
    diversity: float


# texts, set size, number of sets, strategy, seed -> the chosen sets of text indices.
SetSelector = Callable[[list[str], int, int, str, int], Sequence[SelectedSet]]

# Embedding and selection are alignment's; it registers its selector when the app loads (alignment/apps.py).
_selector: list[SetSelector] = []


def set_selector_register(selector: SetSelector) -> None:
    _selector[:] = [selector]


def sets_wanted(*, study: Study, n_candidates: int) -> int:
    """Sets a prompt of n candidates gets: none below set_size; `all` every k-subset, C(n, k); otherwise
    sets_per_prompt, or by default ceil(n / set_size), the fewest sets that can show every candidate once (as
    n - 1 pairs can for a pair study), never more than C(n, k)."""
    k = study.set_size
    if n_candidates < k:
        return 0
    every = comb(n_candidates, k)
    if study.pair_strategy == Study.PairStrategy.ALL:
        return every
    return min(every, study.sets_per_prompt or ceil(n_candidates / k))


def sets_create(*, study: Study, prompt: Prompt, candidates: list[Candidate]) -> int:
    """Select the prompt's sets by the study's strategy and create those it lacks; returns the sets made.

    Idempotent: a set whose members the prompt already holds is skipped, and a prompt never gets more chosen sets
    than it wants, so a retried job (or one run twice) adds nothing. A prompt with fewer candidates than
    set_size gets none (callers report it: sets_short_prompts)."""
    if not _selector:
        raise RuntimeError("no set selector registered: the 'alignment' app must be in INSTALLED_APPS")
    wanted = sets_wanted(study=study, n_candidates=len(candidates))
    if wanted == 0:
        return 0
    held = list(CandidateSet.objects.filter(prompt=prompt).values_list("members", "strategy"))
    # Imported and gold sets (annotation/gold.py) are not the strategy's choice: they leave its room alone.
    room = wanted - sum(1 for _, strategy in held if strategy not in (IMPORTED, GOLD_STRATEGY))
    if room <= 0:
        return 0
    # A gold set with the same members does not stand in for the ordinary set: gold counts toward nothing.
    seen = {frozenset(members) for members, strategy in held if strategy != GOLD_STRATEGY}
    strategy = study.pair_strategy
    selected = _selector[0]([c.text for c in candidates], study.set_size, wanted, strategy, prompt_seed(prompt))
    now = timezone.now()
    new: list[CandidateSet] = []
    for chosen in selected:
        members = sorted(candidates[i].pk for i in chosen.members)
        if frozenset(members) in seen:
            continue
        seen.add(frozenset(members))
        new.append(CandidateSet(prompt=prompt, members=members, strategy=strategy, diversity=float(chosen.diversity),
                                size=len(members), created_at=now))
        if len(new) == room:
            break
    CandidateSet.objects.bulk_create(new)
    groups = slot_groups(study.overlap, study.group_attributes)
    Slot.objects.bulk_create(Slot(candidate_set=s, study=study, group_key=g) for s in new for g in groups)
    return len(new)


def sets_short_prompts(*, study: Study, prompts: list[tuple[Prompt, list[Candidate]]]) -> list[str]:
    """The prompts (external ids) with fewer candidates than the study's set_size: they get no set."""
    return [p.external_id for p, candidates in prompts if len(candidates) < study.set_size]


def sets_short_note(*, study: Study, short: list[str]) -> str:
    if not short:
        return ""
    shown = ", ".join(short[:20]) + (f" and {len(short) - 20} more" if len(short) > 20 else "")
    return (f"{len(short)} prompt(s) have fewer candidates than set_size {study.set_size} and got no set: "
            f"{shown}")
