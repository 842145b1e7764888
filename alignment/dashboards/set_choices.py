"""Per-group first-choice shares per set (issue 13): for each set that annotators of two or more groups judged,
each group's share of picks of each member as the best. Beside the pairwise divergence, which the set judgments
feed through their expanded comparisons, this keeps the set's own reading: which response each group puts first.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from alignment.dashboards.reports import num


@dataclass(frozen=True)
class SetInfo:
    prompt: str
    members: list[str]  # member labels (candidate external ids), in the set's order


def first_choice_rows(sets: dict[int, SetInfo], picks: Iterable[tuple[int, str, str]]) -> list[dict]:
    """One row per (set, group, member) of the sets judged by two or more groups: picks, n (the group's
    judgments of the set) and share; sets with the largest gap between two groups' shares of one member first.
    `picks` holds (set id, group, best member's label) per set judgment."""
    counts: dict[int, dict[str, dict[str, int]]] = {}
    for set_id, group, best in picks:
        by_member = counts.setdefault(set_id, {}).setdefault(group, {})
        by_member[best] = by_member.get(best, 0) + 1
    ranked = []
    for set_id, groups in counts.items():
        if len(groups) < 2:
            continue
        shares = {g: {m: c.get(m, 0) / sum(c.values()) for m in sets[set_id].members} for g, c in groups.items()}
        gap = max(max(s[m] for s in shares.values()) - min(s[m] for s in shares.values())
                  for m in sets[set_id].members)
        ranked.append((-gap, -sum(sum(c.values()) for c in groups.values()), set_id, gap))
    rows = []
    for _, _, set_id, gap in sorted(ranked):
        info = sets[set_id]
        for group in sorted(counts[set_id]):
            picked = counts[set_id][group]
            n = sum(picked.values())
            rows.extend({"set_id": set_id, "prompt": info.prompt, "group": group, "candidate": member,
                         "picks": picked.get(member, 0), "n": n, "share": num(picked.get(member, 0) / n),
                         "set_gap": num(gap)} for member in info.members)
    return rows


def sets_compared(rows: list[dict]) -> int:
    return len({row["set_id"] for row in rows})
