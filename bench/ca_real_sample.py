"""A check of the Community Alignment importer on real texts (issue 13): the derived CA sample in /work/shared/data
(337 real first-turn prompts with their 4 NC-generated responses and, per response, how many annotators picked it
first; see /work/shared/data/README.md) is turned into the official CA schema, one conversation per pick, then
imported, exported and compared.

The sample has no annotator ids or demographics: each pick gets its own synthetic annotator, in one of 5 countries
at random. What the check shows is that real texts (quotes, newlines, Markdown, long cells) survive the import and
the export byte for byte, and that each set's stored first choices equal the sample's counts. It is not a test
(the data is not the project's to ship), and it prints what it found.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pw_x .venv/bin/python bench/ca_real_sample.py [--keep]
"""

import argparse
import csv
import io
import random
import time
from collections import Counter
from pathlib import Path

from pg_setup import database_drop, django_on_scratch_database

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = Path("/work/shared/data/community_alignment/coalign_pairs_en_balanced10.csv")
COUNTRIES = ["united states", "india", "brazil", "france", "italy"]


def sample_sets() -> dict[str, dict]:
    """set id -> {"prompt", "texts": {letter: text}, "picks": {letter: annotators who picked it first}}."""
    sets: dict[str, dict] = {}
    with SAMPLE.open(newline="", encoding="utf-8") as stream:
        for row in csv.DictReader(stream):
            entry = sets.setdefault(row["set_id"], {"prompt": row["situation"], "texts": {}, "picks": {}})
            for side in ("0", "1"):
                letter = row[f"action_{side}_letter"]
                entry["texts"][letter] = row[f"action_{side}_description"]
                entry["picks"][letter] = int(row[f"n_annotators_pref_{side}"])
    return {key: value for key, value in sets.items() if sorted(value["texts"]) == list("ABCD")}


def ca_file(sets: dict[str, dict], seed: int = 0) -> tuple[bytes, int]:
    from annotation.community_alignment import COLUMNS

    rng = random.Random(seed)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    n = 0
    for set_id, entry in sets.items():
        for letter, picks in sorted(entry["picks"].items()):
            for _ in range(picks):
                row = {name: "" for name in COLUMNS}
                row.update(conversation_id=f"{set_id[:12]}-{n}", annotator_id=f"real-{n}", assigned_lang="en",
                           is_pregenerated_first_prompt="True", annotator_country=rng.choice(COUNTRIES),
                           first_turn_prompt=entry["prompt"],
                           first_turn_preferred_response=f"response_{letter.lower()}")
                for x in "ABCD":
                    row[f"first_turn_response_{x.lower()}"] = entry["texts"][x]
                writer.writerow(row)
                n += 1
    return out.getvalue().encode(), n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    database = django_on_scratch_database("_real", ROOT)
    from annotation.community_alignment import community_alignment_import, community_alignment_lines
    from annotation.judgment_export import csv_cell_unescape
    from annotation.models import SetJudgment, Study

    sets = sample_sets()
    data, rows = ca_file(sets)
    study = Study.objects.create(slug="ca-real", title="CA real sample", consent="ok", task="set",
                                 group_attributes={"country": COUNTRIES})
    started = time.perf_counter()
    summary = community_alignment_import(study=study, stream=io.BytesIO(data), source="real.csv")
    print(f"sample: {len(sets)} sets of 4 real responses, {rows} picks -> {len(data) / 1e6:.1f} MB CA file; "
          f"import {time.perf_counter() - started:.1f} s: " + ", ".join(f"{k} {v:,}" for k, v in vars(summary).items()))
    exported = "".join(community_alignment_lines(study=study))
    source_rows = list(csv.DictReader(io.StringIO(data.decode())))
    back = {r["conversation_id"]: r for r in csv.DictReader(io.StringIO(exported))}
    text_columns = ["first_turn_prompt", *(f"first_turn_response_{x}" for x in "abcd"),
                    "first_turn_preferred_response"]
    # Cells are read back as the importer reads them: without the spreadsheet guard's leading quote.
    differ = sum(1 for r in source_rows for c in text_columns
                 if csv_cell_unescape(back[r["conversation_id"]][c]) != r[c])
    guarded = sum(1 for r in back.values() for c in text_columns if r[c] != csv_cell_unescape(r[c]))
    print(f"round trip: {len(back)} rows exported, {differ} of {len(source_rows) * len(text_columns)} text cells "
          f"differ from the file ({guarded} written with the spreadsheet guard's leading quote)")
    stored = Counter()
    for prompt_text, best in SetJudgment.objects.filter(participant__study=study).values_list(
            "candidate_set__prompt__turns", "best__text"):
        stored[(prompt_text[0]["content"], best)] += 1
    mismatched = sum(1 for entry in sets.values() for letter, picks in entry["picks"].items()
                     if stored[(entry["prompt"], entry["texts"][letter])] != picks
                     and sum(1 for e in sets.values() if e["prompt"] == entry["prompt"]) == 1)
    lengths = [len(t) for e in sets.values() for t in e["texts"].values()]
    print(f"first choices: {mismatched} (set, response) counts differ from the sample's; responses "
          f"{min(lengths)}-{max(lengths)} characters (mean {sum(lengths) / len(lengths):.0f})")
    if not args.keep:
        from django.db import connections

        connections.close_all()
        database_drop(database)


if __name__ == "__main__":
    main()
