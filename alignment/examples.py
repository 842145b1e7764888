"""Group-aligned in-context examples from the study's current SPICA refit (retrieval scoring in alignment/spica)."""

from functools import lru_cache

import numpy as np

from alignment.embedding_store import embeddings_for_texts
from alignment.embeddings import conversation_text
from alignment.models import FitRun
from alignment.spica import METRICS, SpicaIndex, pool_size, retrieval_scores, top_m
from alignment.spica_refit import group_of_key
from alignment.spica_verdicts import verdict_text
from annotation.errors import InputError, NotFound
from annotation.groups import group_key_of, validate_attributes
from annotation.input_rules import long_text
from annotation.models import Candidate, Prompt, Study

MAX_M = 50


@lru_cache(maxsize=8)
def spica_bank(path: str) -> dict:
    # Keyed by path: each run has its own artifact, so a new current run is never served stale.
    with np.load(path, allow_pickle=False) as arrays:
        bank = {name: arrays[name] for name in arrays.files}
    # Banks saved before evidence was tracked: every cell took a preferred and a dispreferred answer.
    bank.setdefault("evidence", bank["preferred"] != bank["dispreferred"])
    bank.setdefault("support", np.rint(np.expm1(bank["metrics"][:, :, METRICS.index("support")])).astype(np.int64))
    bank["attribute"] = str(bank.get("attribute", ""))
    bank["index"] = SpicaIndex(np.arange(len(bank["prompt_ids"])), bank["embeddings"], bank["z"], bank["contrast"],
                               bank["preferred"], bank["dispreferred"])
    bank["group_names"] = [str(name) for name in bank["group_names"]]
    return bank


def _group_row(study: Study, group: object, names: list[str], attribute: str = "") -> tuple[int, str]:
    if attribute and isinstance(group, dict):
        # A per-attribute model: only that attribute's value names the group.
        allowed = {attribute: study.group_attributes.get(attribute, [])}
        key = f"{attribute}={validate_attributes(group, allowed)[attribute]}"
    else:
        key = group_of_key(group_key_of(group, study.group_attributes), attribute) or str(group)
    if key not in names:
        raise InputError(f"the SPICA model has no group {key!r} (groups: {', '.join(names)})", field="group")
    return names.index(key), key


def scenario_examples(*, study: Study, query: str, group: object, m: int | None = None) -> dict:
    """The top-m scenarios for the query and group among its nearest pool (relevance first), each with
    the group's preferred and a contrastive dispreferred answer where the group's own judgments give them
    (`evidence`; else both None), the members behind it (`support`), metric values and scores; the mean
    similarity of the examples to the query beside that of similarity-only retrieval; the refit's
    verdict for the group; and a prompt block (examples with evidence only) for in-context alignment."""
    if not isinstance(query, str) or not query.strip():
        raise InputError("must be a non-empty text", field="query")
    long_text(query, "query")
    run = FitRun.objects.filter(study=study, kind=FitRun.Kind.SPICA, is_current=True).first()
    if run is None:
        raise NotFound(f"study {study.slug!r} has no SPICA refit yet; launch one", code="no_model")
    bank = spica_bank(run.artifact_path)
    m = int(bank["m"]) if m is None else m
    if not 1 <= m <= MAX_M:
        raise InputError(f"must be between 1 and {MAX_M}", field="m")
    g, key = _group_row(study, group, bank["group_names"], bank["attribute"])
    query_embedding = embeddings_for_texts([conversation_text([{"role": "user", "content": query}])], store_new=False)
    alphas = bank["alphas"][g]
    m = min(m, len(bank["prompt_ids"]))
    rows = top_m(bank["index"], query_embedding, g, alphas, m)[0]
    scores = retrieval_scores(bank["index"], query_embedding, g, alphas)[0]
    similarity = bank["embeddings"] @ query_embedding[0]
    nearest = np.sort(similarity)[::-1][:m]  # what similarity-only retrieval would return
    examples = _examples(bank, rows, g, scores, similarity[rows])
    metrics = run.metrics or {}
    code = (metrics.get("verdict") or {}).get(key)
    return {"run": run.pk, "group": key, "attribute": bank["attribute"] or None, "query": query,
            "alphas": dict(zip(METRICS, map(float, alphas), strict=True)),
            "pool": pool_size(m, len(bank["prompt_ids"])),
            "retrieved_similarity": float(similarity[rows].mean()),
            "similarity_only_similarity": float(nearest.mean()),
            "verdict": code, "verdict_text": verdict_text(code),
            "examples": examples, "prompt_block": _prompt_block(key, examples)}


def _examples(bank: dict, rows: np.ndarray, g: int, scores: np.ndarray, similarity: np.ndarray) -> list[dict]:
    picked = [(int(bank["candidate_ids"][r, bank["preferred"][r, g]]),
               int(bank["candidate_ids"][r, bank["dispreferred"][r, g]])) if bank["evidence"][r, g] else (None, None)
              for r in rows]
    texts = dict(Candidate.objects.filter(pk__in=[pk for pair in picked for pk in pair if pk is not None])
                 .values_list("pk", "text"))
    texts[None] = None
    prompts = {pk: (ext, turns) for pk, ext, turns in Prompt.objects.filter(
        pk__in=[int(bank["prompt_ids"][r]) for r in rows]).values_list("pk", "external_id", "turns")}
    out = []
    for r, (good, bad), sim in zip(rows, picked, similarity, strict=True):
        external_id, turns = prompts[int(bank["prompt_ids"][r])]
        out.append({
            "prompt_id": external_id, "turns": turns, "preferred": texts[good], "dispreferred": texts[bad],
            "evidence": bool(bank["evidence"][r, g]), "support": int(bank["support"][r, g]),
            "metrics": {name: float(v) for name, v in zip(METRICS, bank["metrics"][r, g], strict=True)},
            "similarity": float(sim), "score": float(scores[r]),
        })
    return out


def _prompt_block(group: str, examples: list[dict]) -> str:
    parts = [f"Examples of how people in the group {group} want such requests answered "
             "(a preferred answer, and one they like less):"]
    for n, example in enumerate((e for e in examples if e["evidence"]), start=1):
        conversation = "\n".join(f"{t['role'].capitalize()}: {t['content']}" for t in example["turns"])
        parts.append(f"### Example {n}\n{conversation}\nPreferred answer: {example['preferred']}\n"
                     f"Less preferred answer: {example['dispreferred']}")
    return "\n\n".join(parts)
