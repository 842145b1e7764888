"""The bridging dashboard's numbers: per prompt, the candidate every group prefers (bridging score,
bridging.py) beside the one that wins most often overall, and where the two differ.

A prompt's two tops differ when the majority's favourite is rejected by a smaller group: it wins most
judgments overall while that group's win probability for it is below one half. The bridging top is
then the candidate whose worst group likes it best. Counted judgments only (selectors read through
annotation/counted_judgments.py); "both bad" answers say nothing about which is better and are left out.
"""

import numpy as np

from alignment.dashboards import selectors
from alignment.dashboards.bridging import Bridging, Outcomes, bridging_scores
from alignment.dashboards.reports import Report, num
from annotation.models import Study

# A candidate's marks: every group's win probability is at least one half / it wins overall while a
# group's is below one half.
BRIDGE, DIVISIVE = "accepted by every group", "majority's favourite, rejected by a group"


def bridging_report(*, study: Study, attribute: str | None = None, prompts: str = "all", top: int = 10) -> Report:
    counts = selectors.pair_group_counts(study=study, prompts=prompts)
    pairs = selectors.pair_candidates(study=study)
    candidates = selectors.study_candidates(study=study)
    label_of = {key: selectors.group_label(key, attribute) for key in {row[1] for row in counts}}
    groups = sorted(set(label_of.values()))
    at = {pk: i for i, (pk, *_rest) in enumerate(candidates)}
    group_of = {key: groups.index(label) for key, label in label_of.items()}
    outcome_rows = [(group_of[key], at[pairs[pair][1]], at[pairs[pair][2]], a, b, tie)
                    for pair, key, a, b, tie, _bad in counts if pair in pairs]
    columns = np.array(outcome_rows, dtype=np.int64).reshape(-1, 6)
    prompt_of = np.array([prompt for _pk, prompt, *_rest in candidates], dtype=np.int64)
    result = bridging_scores(Outcomes(*columns.T), prompt_of, len(groups))

    rows = _candidate_rows(study, result, candidates, groups)
    prompt_rows = _prompt_rows(rows)
    judged = [row for row in rows if row["games"]]
    by_bridging = sorted((row for row in judged if row["bridging"] is not None),
                         key=lambda row: (-row["bridging"], -(row["bridging_low"] or 0), -row["games"]))
    by_overall = sorted(judged, key=lambda row: (-row["win_rate"], -row["games"]))
    differing = [row for row in prompt_rows if row["differ"]][:top]
    tables = {
        "top_bridging": by_bridging[:top], "top_overall": by_overall[:top],
        "differing_prompts": differing,
    }
    _add_texts(tables)
    summary = {
        "prompts": len(prompt_rows), "candidates": len(judged), "groups": len(groups),
        "preference_judgments": int(columns[:, 3:].sum()),
        "prompts_with_bridging": sum(row["top_bridging"] is not None for row in prompt_rows),
        "prompts_differing": sum(row["differ"] for row in prompt_rows),
        "supported_bridges": sum((row["bridging_low"] or 0) > 0.5 for row in prompt_rows),
    }
    details = {
        "prompts": lambda: [_public(row) for row in prompt_rows],
        "candidates": lambda: [_public(row) for row in judged],
        "group_win": lambda: [{"prompt": row["prompt"], "candidate": row["candidate"], **cell}
                              for row in judged for cell in row["groups"]],
    }
    return Report(tables=tables, groups=groups, summary=summary, details=details)


def _candidate_rows(study: Study, result: Bridging, candidates: list[tuple], groups: list[str]) -> list[dict]:
    prompts = selectors.prompt_labels(study=study)
    # Columns rounded and NaN-to-None once, as lists: far cheaper than a num() call per cell.
    column = {name: _column(getattr(result, name)) for name in
              ("score", "low", "high", "win_rate", "win_low", "win_high", "games", "lowest_group")}
    cells_of = {name: _column(getattr(result, name)) for name in ("group_win", "group_low", "group_high")}
    n_of = result.group_games.astype(np.int64).tolist()
    rows = []
    for i, (pk, prompt, external_id, source) in enumerate(candidates):
        cells = [{"group": group, "win": cells_of["group_win"][i][g], "low": cells_of["group_low"][i][g],
                  "high": cells_of["group_high"][i][g], "n": n_of[i][g]} for g, group in enumerate(groups)]
        score, win_rate, lowest = column["score"][i], column["win_rate"][i], column["lowest_group"][i]
        rejected_by = [cell["group"] for cell in cells if cell["win"] is not None and cell["win"] < 0.5]
        mark = BRIDGE if score is not None and score >= 0.5 else (
            DIVISIVE if win_rate is not None and win_rate >= 0.5 and rejected_by else "")
        rows.append({
            "_prompt_id": prompt, "_candidate_id": pk, "prompt": prompts[prompt][0], "candidate": external_id,
            "source": source, "bridging": score, "bridging_low": column["low"][i],
            "bridging_high": column["high"][i], "lowest_group": groups[lowest] if lowest >= 0 else None,
            "win_rate": win_rate, "win_low": column["win_low"][i], "win_high": column["win_high"][i],
            "games": int(column["games"][i]), "mark": mark,
            # The mark reads the point estimates; on thin data only an interval above one half says more.
            "supported": bool(mark == BRIDGE and column["low"][i] > 0.5),
            "rejected_by": rejected_by, "groups": cells,
        })
    return rows


def _column(values: np.ndarray) -> list:
    """Rounded to 4 digits, NaN as None (JSON has no NaN), as nested Python lists."""
    if values.dtype.kind != "f":
        return values.tolist()
    rounded = np.round(values, 4)
    return np.where(np.isnan(rounded), None, rounded).tolist()


def _prompt_rows(rows: list[dict]) -> list[dict]:
    """Per judged prompt its bridging top and its overall top; prompts where they differ first, the
    largest gain for the worst-off group (bridging score of the bridge minus that of the favourite) first."""
    by_prompt: dict[int, list[dict]] = {}
    for row in rows:
        if row["games"]:
            by_prompt.setdefault(row["_prompt_id"], []).append(row)
    out = []
    for mine in by_prompt.values():
        scored = [row for row in mine if row["bridging"] is not None]
        bridge = max(scored, key=lambda row: (row["bridging"], row["win_rate"]), default=None)
        favourite = max(mine, key=lambda row: (row["win_rate"], row["games"]))
        differ = bridge is not None and bridge is not favourite
        gain = bridge["bridging"] - (favourite["bridging"] or 0) if differ else 0.0
        out.append({
            "prompt": mine[0]["prompt"], "candidates": len(mine),
            "top_bridging": bridge["candidate"] if bridge else None,
            "bridging": bridge["bridging"] if bridge else None,
            "bridging_low": bridge["bridging_low"] if bridge else None,
            "bridging_high": bridge["bridging_high"] if bridge else None,
            "top_overall": favourite["candidate"], "win_rate": favourite["win_rate"],
            "win_low": favourite["win_low"], "win_high": favourite["win_high"],
            "overall_top_bridging": favourite["bridging"], "overall_top_rejected_by": favourite["rejected_by"],
            "differ": differ, "gain": num(gain),
            "_bridge": bridge, "_favourite": favourite,
        })
    out.sort(key=lambda row: (not row["differ"], -(row["gain"] or 0), row["prompt"]))
    return out


def _add_texts(tables: dict[str, list[dict]]) -> None:
    """Texts for the rows shown on the page (a few dozen), fetched once; private keys dropped."""
    wanted = {row["_candidate_id"] for name in ("top_bridging", "top_overall") for row in tables[name]}
    for row in tables["differing_prompts"]:
        wanted |= {row["_bridge"]["_candidate_id"], row["_favourite"]["_candidate_id"]}
    texts = selectors.candidate_texts(candidate_ids=sorted(wanted))
    prompt_ids = {row["_prompt_id"] for name in ("top_bridging", "top_overall") for row in tables[name]}
    prompt_ids |= {row["_favourite"]["_prompt_id"] for row in tables["differing_prompts"]}
    prompts = selectors.prompt_texts(prompt_ids=sorted(prompt_ids))
    for name in ("top_bridging", "top_overall"):
        tables[name] = [{**_public(row), "text": texts[row["_candidate_id"]],
                         "prompt_text": prompts[row["_prompt_id"]][1]} for row in tables[name]]
    tables["differing_prompts"] = [{
        **_public(row), "prompt_text": prompts[row["_favourite"]["_prompt_id"]][1],
        "bridge": {**_public(row["_bridge"]), "text": texts[row["_bridge"]["_candidate_id"]]},
        "favourite": {**_public(row["_favourite"]), "text": texts[row["_favourite"]["_candidate_id"]]},
    } for row in tables["differing_prompts"]]


def _public(row: dict) -> dict:
    return {key: value for key, value in row.items() if not key.startswith("_")}
