"""Per-group preference divergence: every pair judged by two or more groups, each group's rate of
preferring the pair's candidate_a (ties half, both-bad apart), the pair's divergence between groups,
and its means per prompt, tag and pair strategy; the group x group matrix; agreement within and
across groups; the most divisive prompts with their texts; and, for set studies, each group's first-choice
shares per set (alignment/dashboards/set_choices.py).
"""

import numpy as np

from alignment.dashboards import selectors, stats
from alignment.dashboards.reports import ALL_GROUPS, ANSWERS, PairTable, Report, num, pair_table, records
from alignment.dashboards.set_choices import SetInfo, first_choice_rows, sets_compared
from annotation.models import Study

UNTAGGED = "(untagged)"


def divergence_report(*, study: Study, attribute: str | None = None, prompts: str = "all", top_pairs: int = 20,
                      top_prompts: int = 10, top_sets: int = 10) -> Report:
    table = pair_table(study=study, attribute=attribute, prompts=prompts)
    div = table.divergence
    pairs = {pk: rest for pk, *rest in selectors.study_pairs(study=study)}
    labels = selectors.prompt_labels(study=study)
    # Most divisive first by a support-aware score: the lower 95% bound of the largest gap, so that a
    # gap of 1 between two groups of one judgment each does not outrank a gap of 0.8 on thirty each;
    # then the gap itself, then the most judgments.
    judged = np.flatnonzero(div.groups >= 2)
    totals = table.n.sum(axis=1)
    bound = stats.gap_lower_bound(table.rates, table.low, table.high)
    order = judged[np.lexsort((-totals[judged], -div.abs_diff[judged], -bound[judged]))]

    prompt_ids = sorted(labels)
    prompt_at = {pk: i for i, pk in enumerate(prompt_ids)}
    prompt_of = np.array([prompt_at[pairs[pk][0]] for pk in table.pair_ids[order].tolist()], dtype=np.int64)
    strategy_of = [pairs[pk][1] for pk in table.pair_ids[order].tolist()]
    values = {"abs_diff_low": bound[order], "abs_diff": div.abs_diff[order], "js": div.js[order],
              "splits": div.splits[order].astype(float)}

    prompt_names = [labels[pk][0] for pk in prompt_ids]
    tag_names, has_tag = _tag_membership(labels, prompt_ids)
    strategies = sorted(set(strategy_of))
    strategy_at = {name: i for i, name in enumerate(strategies)}
    strategy_index = np.array([strategy_at[name] for name in strategy_of], dtype=np.int64)

    tables = {
        "prompts": _mean_rows("prompt", prompt_names, prompt_of, values),
        "tags": _mean_rows("tag", tag_names, has_tag[prompt_of], values),
        "strategies": _mean_rows("strategy", strategies, strategy_index, values),
        "group_matrix": _matrix_rows(table, judged),
        "agreement": _agreement_rows(table, judged),
        "top_pairs": _group_rate_rows(table, order[:top_pairs], pairs, labels),
    }
    tables["divisive_prompts"] = _divisive_prompts(table, order, prompt_of, prompt_names,
                                                   tables["prompts"][:top_prompts])
    sets, picks = selectors.set_first_choices(study=study, attribute=attribute, prompts=prompts)
    set_rows = first_choice_rows({pk: SetInfo(*info) for pk, info in sets.items()}, picks)
    # The page shows the top_sets most divergent sets whole; the download has them all.
    shown_sets = set(list(dict.fromkeys(row["set_id"] for row in set_rows))[:top_sets])
    tables["set_first_choices"] = [row for row in set_rows if row["set_id"] in shown_sets]
    summary = {
        "pairs_judged": table.pairs_judged,
        "pairs_compared": len(judged),
        "preference_judgments": table.preference_judgments,
        "both_bad": table.both_bad,
        "mean_abs_diff": num(float(values["abs_diff"].mean()) if len(order) else None),
        "mean_js": num(float(values["js"].mean()) if len(order) else None),
        "split_share": num(float(values["splits"].mean()) if len(order) else None),
        "sets_compared": sets_compared(set_rows),
    }
    details = {
        "pairs": lambda: _pair_rows(table, order, bound, pairs, labels),
        "group_rates": lambda: _group_rate_rows(table, order, pairs, labels),
        "set_first_choices": lambda: set_rows,
    }
    return Report(tables=tables, groups=table.groups, summary=summary, details=details)


def _tag_membership(prompts: dict[int, tuple[str, list[str]]], prompt_ids: list[int]) -> tuple[list[str], np.ndarray]:
    """The study's tags and a prompts x tags matrix of which prompt carries which ("(untagged)" if none)."""
    tags_of = [prompts[pk][1] or [UNTAGGED] for pk in prompt_ids]
    names = sorted({tag for tags in tags_of for tag in tags})
    at = {tag: i for i, tag in enumerate(names)}
    has_tag = np.zeros((len(prompt_ids), len(names)), dtype=bool)
    for i, tags in enumerate(tags_of):
        has_tag[i, [at[tag] for tag in tags]] = True
    return names, has_tag


def _mean_rows(name: str, keys: list[str], membership: np.ndarray, values: dict[str, np.ndarray]) -> list[dict]:
    """Mean divergence over the pairs of each prompt / tag / strategy, most divisive first.

    `membership` says which key each pair (in `values`' order) belongs to: an index per pair, or a
    pairs x keys boolean matrix when a pair can belong to several keys (a prompt's tags)."""
    if not len(values["abs_diff"]):
        return []
    if membership.ndim == 1:
        count = np.bincount(membership, minlength=len(keys)).astype(float)
        sums = {f: np.bincount(membership, weights=column, minlength=len(keys)) for f, column in values.items()}
    else:
        count = membership.sum(axis=0).astype(float)
        sums = {f: membership.T.astype(float) @ column for f, column in values.items()}
    seen = np.flatnonzero(count > 0)
    means = {f: total[seen] / count[seen] for f, total in sums.items()}
    rank = np.lexsort((-count[seen], -means["abs_diff"], -means["abs_diff_low"]))
    return records(**{name: [keys[i] for i in seen[rank]]}, pairs=count[seen][rank].astype(int),
                    mean_abs_diff_low=means["abs_diff_low"][rank], mean_abs_diff=means["abs_diff"][rank],
                    mean_js=means["js"][rank], split_share=means["splits"][rank])


def _pair_rows(table: PairTable, order: np.ndarray, bound: np.ndarray, pairs: dict, prompts: dict) -> list[dict]:
    div = table.divergence
    ids = table.pair_ids[order].tolist()
    return records(
        pair_id=ids, prompt=[prompts[pairs[pk][0]][0] for pk in ids], tags=[prompts[pairs[pk][0]][1] for pk in ids],
        strategy=[pairs[pk][1] for pk in ids],
        diversity=np.array([np.nan if pairs[pk][2] is None else pairs[pk][2] for pk in ids], dtype=float),
        groups=div.groups[order], judgments=table.n[order].sum(axis=1).astype(int),
        both_bad=table.counts[order, :, 3].sum(axis=1).astype(int),
        abs_diff_low=bound[order], abs_diff=div.abs_diff[order], js=div.js[order], splits=div.splits[order],
        group_n=[{name: int(table.n[p, g]) for g, name in enumerate(table.groups) if table.n[p, g] > 0}
                 for p in order.tolist()],
    )


def _group_rate_rows(table: PairTable, order: np.ndarray, pairs: dict, prompts: dict) -> list[dict]:
    """One row per pair (most divisive first) and group that judged it."""
    counts = table.counts[order]
    rows, cols = np.nonzero(counts.sum(axis=2) > 0)
    pair_ids = table.pair_ids[order][rows].tolist()
    return records(
        pair_id=pair_ids, prompt=[prompts[pairs[pk][0]][0] for pk in pair_ids],
        group=[table.groups[g] for g in cols.tolist()],
        **{name: counts[rows, cols, i].astype(int) for i, name in enumerate(ANSWERS)},
        n=table.n[order][rows, cols].astype(int), rate_a=table.rates[order][rows, cols],
        low=table.low[order][rows, cols], high=table.high[order][rows, cols],
    )


def _matrix_rows(table: PairTable, judged: np.ndarray) -> list[dict]:
    matrix, shared = stats.divergence_matrix(table.rates[judged])
    return [
        {"group_a": a, "group_b": b, "mean_abs_diff": num(matrix[i, j]), "pairs": int(shared[i, j])}
        for i, a in enumerate(table.groups) for j, b in enumerate(table.groups)
    ]


def _agreement_rows(table: PairTable, judged: np.ndarray) -> list[dict]:
    """Pairwise agreement within each group and across each two groups, plus Krippendorff's alpha
    within each group and over all groups pooled (on the pairs judged by two or more groups)."""
    counts = table.counts[judged]
    agreement = stats.agreement_rates(counts)
    rows = []
    for i, a in enumerate(table.groups):
        for j, b in enumerate(table.groups[i:], start=i):
            rows.append({
                "kind": "within" if i == j else "across", "group_a": a, "group_b": b,
                "agreement": num(agreement.rates[i, j]), "annotator_pairs": int(agreement.annotator_pairs[i, j]),
                "alpha": num(stats.krippendorff_alpha(counts[:, i])) if i == j else None,
            })
    pooled = counts.sum(axis=1)
    pooled_pairs = float((pooled.sum(axis=1) * (pooled.sum(axis=1) - 1)).sum())
    pooled_same = float((pooled * (pooled - 1)).sum())
    rows.append({
        "kind": "all", "group_a": ALL_GROUPS, "group_b": ALL_GROUPS,
        "agreement": num(pooled_same / pooled_pairs if pooled_pairs else None),
        "annotator_pairs": int(pooled_pairs), "alpha": num(stats.krippendorff_alpha(pooled)),
    })
    return rows


def _divisive_prompts(table: PairTable, order: np.ndarray, prompt_of: np.ndarray, prompt_names: list[str],
                      prompt_rows: list[dict]) -> list[dict]:
    """The most divisive prompts with their texts and the two responses of their most divisive pair."""
    # `order` is most divisive first, so a prompt's first pair in it is its most divisive one.
    firsts, first_at = np.unique(prompt_of, return_index=True)
    best = {prompt_names[i]: position for i, position in zip(firsts.tolist(), order[first_at].tolist(), strict=True)}
    positions = [best[row["prompt"]] for row in prompt_rows]
    texts = selectors.pairs_with_texts(pair_ids=[int(table.pair_ids[i]) for i in positions])
    result = []
    for row, position in zip(prompt_rows, positions, strict=True):
        pair = texts[int(table.pair_ids[position])]
        turns = pair["prompt__turns"] if isinstance(pair["prompt__turns"], list) else []
        result.append({
            **row, "pair_id": pair["id"],
            "prompt_text": "\n\n".join(str(turn.get("content", "")) for turn in turns if isinstance(turn, dict)),
            "response_a": pair["candidate_a__text"], "source_a": pair["candidate_a__source"],
            "response_b": pair["candidate_b__text"], "source_b": pair["candidate_b__source"],
            "group_rates": [
                {"group": group, "rate_a": num(table.rates[position, g]), "n": int(table.n[position, g])}
                for g, group in enumerate(table.groups) if table.n[position, g] > 0
            ],
        })
    return result
