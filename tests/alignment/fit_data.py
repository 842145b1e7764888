"""A small study where two groups disagree in a learnable way, for refit tests."""

from annotation.judgment_files import judgments_import
from tests.factories import jsonl_bytes, make_study

TEXTS = [
    "Put family safety first and keep everyone close to home.",
    "Trust individual freedom: let each person decide for themselves.",
    "Follow the scientific evidence and expert guidance carefully.",
    "Lean on faith, tradition and the local community for support.",
]


def disagreeing_study(*, slug: str = "fit", prompts: int = 8, annotators: int = 16):
    """Group D prefers earlier candidates, group R later ones; every annotator judges every pair."""
    study = make_study(slug=slug, prompts=prompts, candidates=4, strategy="all")
    from annotation.models import Candidate

    for candidate in Candidate.objects.filter(prompt__study=study):
        index = int(candidate.external_id.split("c")[-1])
        candidate.text = f"{TEXTS[index]} (prompt {candidate.prompt.external_id})"
        candidate.save(update_fields=["text"])
    judgments_import(study=study, stream=jsonl_bytes(disagreeing_lines(range(annotators), range(prompts))))
    return study


def disagreeing_lines(annotators: range, prompts: range) -> list[dict]:
    """Judgment-file lines: annotator n (party D when n is even) judges every pair of the given prompts."""
    lines = []
    for n in annotators:
        party = "DR"[n % 2]
        for p in prompts:
            for i in range(4):
                for j in range(i + 1, 4):
                    lines.append({"annotator_id": f"a{n}", "attributes": {"party": party}, "prompt_id": f"p{p}",
                                  "a": f"p{p}c{i}", "b": f"p{p}c{j}", "choice": "A" if party == "D" else "B"})
    return lines
