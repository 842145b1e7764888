"""Study files (docs/formats.md): a header line with the study's settings, then one prompt a line.

One reader serves the demo loader, `import_study`, the admin upload and the API.
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import IO

from django.conf import settings
from django.db import transaction

from annotation.errors import InputError
from annotation.gold import GOLD_STRATEGY, GoldRecord, GoldSetRecord, gold_item_create, is_gold_line, parse_gold
from annotation.input_rules import group_count, long_text, web_url
from annotation.jsonl import field, iter_jsonl, text_field
from annotation.models import (
    MAX_TURNS_MAX,
    SET_SIZE_MAX,
    SET_SIZE_MIN,
    Candidate,
    CandidateSet,
    Judgment,
    Pair,
    PairingJob,
    Prompt,
    Study,
)
from annotation.pairing_jobs import pairs_prepare, slot_statistics_refresh
from annotation.set_making import sets_short_prompts, sets_wanted

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
ROLES = {"user", "assistant", "system"}
ATTRIBUTE_NAME_RE = re.compile(r"^[^\W\d]\w{0,63}$")  # any script's letters (région, 地域), digits, _


@dataclass
class PromptRecord:
    prompt_id: str
    turns: list[dict]
    tags: list[str]
    language: str
    source: str
    candidates: list[dict] = dc_field(default_factory=list)


@dataclass
class ImportSummary:
    study: Study
    prompts: int = 0
    candidates: int = 0
    pairs: int = 0
    gold: int = 0
    job: PairingJob | None = None  # the pairs (or sets) still to make, on the `embeddings` queue
    sets: int = 0  # a set study's candidate sets made now
    short_prompts: list[str] = dc_field(default_factory=list)  # a set study's prompts with < set_size candidates


def parse_header(obj: dict) -> dict:
    study = field(obj, "study", dict)
    prefix = "study."
    slug = text_field(study, "slug", prefix=prefix)
    if not SLUG_RE.match(slug):
        raise InputError("must be lowercase letters, digits, - or _ (at most 64)", field="study.slug")
    header = {
        "slug": slug,
        "title": text_field(study, "title", prefix=prefix, max_length=200),
        "group_attributes": _group_attributes(field(study, "group_attributes", dict, prefix=prefix)),
        "overlap": _positive(study, "overlap", maximum=1000),
        "quota": _positive(study, "quota", maximum=1_000_000),
        "consent": text_field(study, "consent", prefix=prefix),
        "completion_code": text_field(study, "completion_code", required=False, prefix=prefix, max_length=64),
        "completion_url": text_field(study, "completion_url", required=False, prefix=prefix, max_length=200),
        "language": text_field(study, "language", required=False, prefix=prefix) or "en",
        "pair_strategy": text_field(study, "pair_strategy", required=False, prefix=prefix) or Study.PairStrategy.NC,
        "description": text_field(study, "description", required=False, prefix=prefix),
    }
    if header["completion_url"]:
        web_url(header["completion_url"], "study.completion_url")
    if header["language"] not in dict(settings.LANGUAGES):
        raise InputError(f"must be one of {', '.join(dict(settings.LANGUAGES))}", field="study.language")
    if header["pair_strategy"] not in Study.PairStrategy.values:
        raise InputError(f"must be one of {', '.join(Study.PairStrategy.values)}", field="study.pair_strategy")
    if "pairs_per_prompt" in study and study["pairs_per_prompt"] is not None:
        header["pairs_per_prompt"] = _positive(study, "pairs_per_prompt", maximum=10_000)
    if "lease_minutes" in study and study["lease_minutes"] is not None:
        header["lease_minutes"] = _positive(study, "lease_minutes", maximum=24 * 60)
    if "open_slots_after" in study and study["open_slots_after"] is not None:
        header["open_slots_after"] = field(study, "open_slots_after", int, prefix="study.")
        if header["open_slots_after"] < 0:
            raise InputError("must be 0 or more minutes", field="study.open_slots_after")
    if study.get("ties") is not None:
        header["ties"] = _choice(study, "ties", Study.Ties.values)
    if "refit_every" in study and study["refit_every"] is not None:
        header["refit_every"] = _positive(study, "refit_every", maximum=10_000_000)
    header.update(_quality_settings(study))
    header |= _crowd_fields(study)
    header |= _allocation_settings(study, header["overlap"])
    header |= _task_settings(study)
    if header.get("task") == Study.Task.SET and header.get("allocation") == Study.Allocation.ADAPTIVE:
        # Adaptive allocation prices pairs by their groups' divergence; a set has no such number (yet).
        raise InputError("set studies take uniform allocation only", field="study.allocation")
    return header


def _allocation_settings(study: dict, overlap: int) -> dict:
    """Adaptive allocation (issue 14): allocation, k_min >= 1, k_max >= overlap, 0 < precision < 1."""
    out: dict = {}
    if study.get("allocation") is not None:
        out["allocation"] = _choice(study, "allocation", Study.Allocation.values)
    if study.get("k_min") is not None:
        out["k_min"] = _positive(study, "k_min", maximum=1000)
    if study.get("k_max") is not None:
        out["k_max"] = field(study, "k_max", int, prefix="study.")
        if not overlap <= out["k_max"] <= 1000:
            raise InputError(f"must be between the overlap k ({overlap}) and 1000", field="study.k_max")
    if study.get("precision") is not None:
        out["precision"] = float(field(study, "precision", (int, float), prefix="study."))
        if not 0 < out["precision"] < 1:
            raise InputError("must be a number above 0 and below 1", field="study.precision")
    return out


def _task_settings(study: dict) -> dict:
    """issue 13: task "pair" (the default), "set" or "conversation", set_size (SET_SIZE_MIN to SET_SIZE_MAX, default
    4); a conversation study's max_turns (1 to MAX_TURNS_MAX) and written_prompt_share (0 to 1)."""
    out: dict = {}
    if study.get("task") is not None:
        out["task"] = _choice(study, "task", Study.Task.values)
    if study.get("set_size") is not None:
        out["set_size"] = field(study, "set_size", int, prefix="study.")
        if not SET_SIZE_MIN <= out["set_size"] <= SET_SIZE_MAX:
            raise InputError(f"must be between {SET_SIZE_MIN} and {SET_SIZE_MAX}", field="study.set_size")
    if study.get("sets_per_prompt") is not None:
        out["sets_per_prompt"] = _positive(study, "sets_per_prompt", maximum=10_000)
    if study.get("max_turns") is not None:
        out["max_turns"] = _positive(study, "max_turns", maximum=MAX_TURNS_MAX)
    if study.get("written_prompt_share") is not None:
        out["written_prompt_share"] = float(field(study, "written_prompt_share", (int, float), prefix="study."))
        if not 0 <= out["written_prompt_share"] <= 1:
            raise InputError("must be a number from 0 to 1", field="study.written_prompt_share")
    return out


def _quality_settings(study: dict) -> dict:
    """Attention checks and screening: gold_rate, min_judgment_ms, screened_out_code / _url, screen_*."""
    out: dict = {}
    for name in ("gold_rate", "screen_min_accuracy"):
        if study.get(name) is not None:
            value = field(study, name, (int, float), prefix="study.")
            if not 0 <= value <= 1:
                raise InputError("must be a number between 0 and 1", field=f"study.{name}")
            out[name] = float(value)
    if study.get("min_judgment_ms") is not None:
        out["min_judgment_ms"] = field(study, "min_judgment_ms", int, prefix="study.")
        if not 0 <= out["min_judgment_ms"] <= 3_600_000:
            raise InputError("must be between 0 and 3600000 milliseconds", field="study.min_judgment_ms")
    if study.get("screen_min_gold") is not None:
        out["screen_min_gold"] = _positive(study, "screen_min_gold", maximum=1000)
    for name, limit in (("screened_out_code", 64), ("screened_out_url", 200)):
        if study.get(name) is not None:
            out[name] = text_field(study, name, required=False, prefix="study.", max_length=limit)
    if out.get("screened_out_url"):
        web_url(out["screened_out_url"], "study.screened_out_url")
    return out


# --- crowd (issue 10): what annotators see and how fast they may answer ------------------------------


def _crowd_fields(study: dict) -> dict:
    out: dict = {}
    if study.get("min_view_ms") is not None:
        out["min_view_ms"] = field(study, "min_view_ms", int, prefix="study.")
        if not 0 <= out["min_view_ms"] <= 600_000:
            raise InputError("must be between 0 and 600000 milliseconds", field="study.min_view_ms")
    if study.get("instructions") is not None:
        out["instructions"] = field(study, "instructions", str, prefix="study.")
        if len(out["instructions"]) > 50_000:
            raise InputError("must be at most 50000 characters of Markdown", field="study.instructions")
    if study.get("practice") is not None:
        out["practice"] = _practice(field(study, "practice", list, prefix="study."))
    labels = _attribute_labels(study.get("group_attributes") or {})
    if labels:
        out["attribute_labels"] = labels
    return out


def _practice(raw: list) -> list[dict[str, str]]:
    """Practice pairs: {"prompt", "a", "b"} (Markdown), an optional expected choice and feedback."""
    if len(raw) > 20:
        raise InputError("at most 20 practice pairs", field="study.practice")
    items = []
    for i, item in enumerate(raw):
        prefix = f"study.practice[{i}]."
        if not isinstance(item, dict):
            raise InputError("must be an object with prompt, a, b", field=f"study.practice[{i}]")
        clean = {name: text_field(item, name, prefix=prefix) for name in ("prompt", "a", "b")}
        clean["expected"] = text_field(item, "expected", required=False, prefix=prefix)
        if clean["expected"] and clean["expected"] not in Judgment.Choice.values:
            raise InputError(f"must be one of {', '.join(Judgment.Choice.values)}", field=f"{prefix}expected")
        clean["feedback"] = text_field(item, "feedback", required=False, prefix=prefix)
        items.append(clean)
    return items


def _attribute_labels(raw: dict) -> dict[str, dict[str, str]]:
    """{"party": {"D": "Democrat"}}: what the profile page shows for each value of the object form."""
    labels: dict[str, dict[str, str]] = {}
    for name, values in raw.items():
        if not isinstance(values, dict):
            continue
        for value, label in values.items():
            if not isinstance(label, str) or not label.strip() or len(label) > 200:
                raise InputError("a value's label must be a non-empty string of at most 200 characters",
                                 field=f"study.group_attributes.{name}.{value}")
        labels[name] = {value: label.strip() for value, label in values.items()}
    return labels


def _choice(study: dict, name: str, values: list[str]) -> str:
    """study[name], a text that must be one of `values` (a model field's choices)."""
    value = text_field(study, name, prefix="study.")
    if value not in values:
        raise InputError(f"must be one of {', '.join(values)}", field=f"study.{name}")
    return value


def _positive(obj: dict, name: str, *, maximum: int) -> int:
    value = field(obj, name, int, prefix="study.")
    if not 1 <= value <= maximum:
        raise InputError(f"must be between 1 and {maximum}", field=f"study.{name}")
    return value


def _group_attributes(raw: dict) -> dict[str, list[str]]:
    clean: dict[str, list[str]] = {}
    for name, values in raw.items():
        path = f"study.group_attributes.{name}"
        if not ATTRIBUTE_NAME_RE.match(name):
            raise InputError("attribute names are letters (any script), digits and _, not starting with a digit",
                             field=path)
        if isinstance(values, dict):  # crowd: {value: label}; the labels are read by _crowd_fields
            values = list(values)
        if not isinstance(values, list) or not values or not all(isinstance(v, str) and v for v in values):
            raise InputError("must be a non-empty list of non-empty strings, or an object of value: label",
                             field=path)
        if len(set(values)) != len(values) or any(c in v for v in values for c in "|="):
            raise InputError("values must be distinct and contain no '|' or '='", field=path)
        clean[name] = values
    group_count(clean, "study.group_attributes")
    return clean


def parse_prompt(obj: dict, *, candidates_required: bool = True) -> PromptRecord:
    prompt_id = text_field(obj, "prompt_id", max_length=128)
    turns = field(obj, "turns", list)
    if not turns:
        raise InputError("must hold at least one turn", field="turns")
    for i, turn in enumerate(turns):
        if not isinstance(turn, dict):
            raise InputError("must be an object with role and content", field=f"turns[{i}]")
        role = text_field(turn, "role", prefix=f"turns[{i}].")
        if role not in ROLES:
            raise InputError(f"must be one of {', '.join(sorted(ROLES))}", field=f"turns[{i}].role")
        long_text(text_field(turn, "content", prefix=f"turns[{i}]."), f"turns[{i}].content")
    tags = field(obj, "tags", list, required=False, default=[])
    if not all(isinstance(tag, str) for tag in tags):
        raise InputError("must be a list of strings", field="tags")
    record = PromptRecord(
        prompt_id=prompt_id,
        turns=[{"role": t["role"], "content": str(t["content"])} for t in turns],
        tags=tags,
        language=text_field(obj, "language", required=False, max_length=16),
        source=text_field(obj, "source", required=False, max_length=200),
    )
    if candidates_required or obj.get("candidates") is not None:
        record.candidates = _candidates(field(obj, "candidates", list))
    return record


def _candidates(raw: list) -> list[dict]:
    if len(raw) < 2:
        raise InputError("a prompt needs at least two candidates to make a pair", field="candidates")
    if len(raw) > settings.PLURALWEB_MAX_CANDIDATES_PER_PROMPT:
        raise InputError(f"at most {settings.PLURALWEB_MAX_CANDIDATES_PER_PROMPT} candidates per prompt",
                         field="candidates")
    seen: set[str] = set()
    out = []
    for i, cand in enumerate(raw):
        prefix = f"candidates[{i}]."
        if not isinstance(cand, dict):
            raise InputError("must be an object", field=f"candidates[{i}]")
        candidate_id = text_field(cand, "candidate_id", prefix=prefix, max_length=128)
        if candidate_id in seen:
            raise InputError(f"duplicate candidate_id {candidate_id!r} in this prompt", field=f"{prefix}candidate_id")
        seen.add(candidate_id)
        out.append({
            "external_id": candidate_id,
            "text": long_text(text_field(cand, "text", prefix=prefix), f"{prefix}text"),
            "source": text_field(cand, "source", required=False, prefix=prefix, max_length=200),
            "strategy": text_field(cand, "strategy", required=False, prefix=prefix, max_length=64),
        })
    return out


def read_study_file(
    stream: IO, *, source: str = ""
) -> tuple[dict, Iterator[tuple[int, PromptRecord | GoldRecord | GoldSetRecord]]]:
    """The header, and an iterator of (line, prompt or gold item) that validates each line as it is read."""
    lines = iter_jsonl(stream, source=source)
    first = next(lines, None)
    if first is None:
        raise InputError("the file is empty; the first line must be the study header", line=1, source=source)
    line_no, obj = first
    try:
        header = parse_header(obj)
    except InputError as exc:
        raise exc.at(line=line_no, source=source) from None

    # A conversation study's prompts are first turns: the endpoint writes their responses (annotation/conversations.py).
    candidates_required = header.get("task") != Study.Task.CONVERSATION

    def prompts() -> Iterator[tuple[int, PromptRecord]]:
        for number, item in lines:
            try:
                yield number, (parse_gold(item, parse_prompt=parse_prompt) if is_gold_line(item)
                               else parse_prompt(item, candidates_required=candidates_required))
            except InputError as exc:
                raise exc.at(line=number, source=source) from None

    return header, prompts()


@transaction.atomic
def study_import(stream: IO, *, source: str = "", append: bool = False, on_worker: bool = False) -> ImportSummary:
    """Create a study (or, with append, add prompts to it) from a study file; all or nothing.

    Pairs need the candidates' embeddings. By default they are embedded here and the pairs made before this
    returns (tests, the demo, `import_study --wait`). With on_worker (the admin upload, the API, `import_study`)
    prompts and candidates are stored and a PairingJob embeds the texts and makes the pairs on the `embeddings`
    queue once this commits (at once instead when every text is already in the embedding cache)."""
    header, prompts = read_study_file(stream, source=source)
    study = _study_for_header(header, append=append, source=source)
    summary = ImportSummary(study=study)
    to_pair: list[tuple[Prompt, list[Candidate]]] = []
    known = set(Prompt.objects.filter(study=study).values_list("external_id", flat=True))
    pairs = _tasks_made(study)
    for line_no, record in prompts:
        if isinstance(record, GoldRecord | GoldSetRecord):
            _gold_create(study, record, known, summary, line=line_no, source=source)
            continue
        if record.prompt_id in known:
            raise InputError(
                f"duplicate prompt_id {record.prompt_id!r}", field="prompt_id", line=line_no, source=source
            )
        known.add(record.prompt_id)
        pairs += _tasks_planned(study, len(record.candidates))
        if pairs > settings.PLURALWEB_MAX_PAIRS_PER_STUDY:
            raise _too_many(study, line=line_no, source=source)
        to_pair.append(_prompt_row(study, record, summary))
    made, summary.job = (0, None) if study.task == Study.Task.CONVERSATION else pairs_prepare(
        study=study, prompts=to_pair, on_worker=on_worker)
    if study.task == Study.Task.SET:
        summary.sets, summary.short_prompts = made, sets_short_prompts(study=study, prompts=to_pair)
    else:
        summary.pairs = made
    slot_statistics_refresh()
    return summary


def _tasks_made(study: Study) -> int:
    if study.task == Study.Task.SET:
        return CandidateSet.objects.filter(prompt__study=study).exclude(strategy=GOLD_STRATEGY).count()
    return Pair.objects.filter(prompt__study=study).count()


def _tasks_planned(study: Study, n_candidates: int) -> int:
    if study.task == Study.Task.CONVERSATION:
        return 0
    if study.task == Study.Task.SET:
        return sets_wanted(study=study, n_candidates=n_candidates)
    return _pairs_planned(study, n_candidates)


def _too_many(study: Study, *, line: int, source: str) -> InputError:
    limit = settings.PLURALWEB_MAX_PAIRS_PER_STUDY
    if study.task == Study.Task.SET:
        # `all` in a set study is every k-subset of each prompt's candidates: C(n, k) grows fast, so this
        # limit is what refuses it beyond small prompts.
        return InputError(
            f"the study would have more than {limit} candidate sets (strategy {study.pair_strategy!r}, set_size "
            f"{study.set_size}); use fewer candidates, strategy nc or random, or set sets_per_prompt",
            field="candidates", line=line, source=source,
        )
    return InputError(
        f"the study would have more than {limit} pairs "
        f"(strategy {study.pair_strategy!r}); use fewer candidates or set pairs_per_prompt",
        field="candidates", line=line, source=source,
    )


def _pairs_planned(study: Study, n_candidates: int) -> int:
    # At most: `all` makes every pair, the others pairs_per_prompt (or n - 1), never more than all.
    every = n_candidates * (n_candidates - 1) // 2
    if study.pair_strategy == Study.PairStrategy.ALL:
        return every
    return min(every, study.pairs_per_prompt or max(1, n_candidates - 1))


def _study_for_header(header: dict, *, append: bool, source: str) -> Study:
    existing = Study.objects.select_for_update().filter(slug=header["slug"]).first()
    if existing is None:
        return Study.objects.create(**header)
    if not append:
        raise InputError(
            f"a study with slug {header['slug']!r} already exists (use append to add prompts)",
            field="study.slug", line=1, source=source,
        )
    if existing.group_attributes != header["group_attributes"] or existing.overlap != header["overlap"]:
        raise InputError(
            "appending must keep the study's group_attributes and overlap", field="study.group_attributes",
            line=1, source=source,
        )
    if header.get("allocation", existing.allocation) != existing.allocation or (
            header.get("k_max", existing.k_max) != existing.k_max):
        # Pairs already made carry the slots of the old setting: change it in the admin, which rebuilds.
        raise InputError("appending must keep the study's allocation and k_max", field="study.allocation",
                         line=1, source=source)
    return existing


def _prompt_row(study: Study, record: PromptRecord, summary: ImportSummary) -> tuple[Prompt, list[Candidate]]:
    prompt = Prompt.objects.create(
        study=study, external_id=record.prompt_id, turns=record.turns, tags=record.tags,
        language=record.language or study.language, source=record.source,
    )
    candidates = Candidate.objects.bulk_create(Candidate(prompt=prompt, **c) for c in record.candidates)
    summary.prompts += 1
    summary.candidates += len(candidates)
    return prompt, candidates


def _gold_create(study: Study, record: GoldRecord | GoldSetRecord, known: set[str], summary: ImportSummary, *,
                 line: int, source: str) -> None:
    try:
        if record.prompt is not None:
            if record.prompt_id in known:
                raise InputError(f"duplicate prompt_id {record.prompt_id!r}", field="gold.prompt_id")
            known.add(record.prompt_id)
            prompt, _ = _prompt_row(study, record.prompt, summary)  # gold only: no ordinary pairs
        else:
            prompt = Prompt.objects.filter(study=study, external_id=record.prompt_id).first()
            if prompt is None:
                raise InputError(
                    f"unknown prompt {record.prompt_id!r} (give it on an earlier line, or give turns and candidates)",
                    field="gold.prompt_id",
                )
        gold_item_create(study=study, record=record, prompt=prompt)
    except InputError as exc:
        raise exc.at(line=line, source=source) from None
    summary.gold += 1
