"""The database cache in front of the real embedding model."""

import numpy as np
import pytest

from alignment.embedding_store import embeddings_for_texts
from alignment.models import TextEmbedding
from annotation.models import Pair
from tests.factories import jsonl_bytes, study_lines

pytestmark = pytest.mark.django_db


def test_each_text_is_embedded_once_and_served_from_the_database_after():
    texts = ["Protect the family.", "Respect personal freedom.", "Protect the family."]
    first = embeddings_for_texts(texts)
    assert first.shape == (3, 384) and first.dtype == np.float32
    assert np.allclose(first[0], first[2]) and TextEmbedding.objects.count() == 2
    assert np.allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)
    again = embeddings_for_texts(list(reversed(texts)))
    assert TextEmbedding.objects.count() == 2
    assert np.array_equal(again, first[::-1])


def test_the_cache_is_keyed_by_model_name():
    embeddings_for_texts(["same text"])
    TextEmbedding.objects.update(model_name="other-model")
    embeddings_for_texts(["same text"])
    assert sorted(TextEmbedding.objects.values_list("model_name", flat=True)) == ["all-MiniLM-L6-v2", "other-model"]


def test_an_nc_study_pairs_candidates_across_value_clusters():
    from annotation.study_files import study_import

    lines = study_lines(slug="nc", prompts=1, candidates=4, strategy="nc", pairs_per_prompt=2)
    lines[1]["candidates"] = [
        {"candidate_id": "care1", "text": "Put your family's safety first and keep them close."},
        {"candidate_id": "care2", "text": "Keep your family safe and close; their safety comes first."},
        {"candidate_id": "free1", "text": "Markets and personal liberty let people choose what suits them."},
        {"candidate_id": "free2", "text": "Personal liberty and free markets let everyone choose for themselves."},
    ]
    study_import(jsonl_bytes(lines))
    pairs = [(p.candidate_a.external_id[:4], p.candidate_b.external_id[:4]) for p in Pair.objects.all()]
    assert len(pairs) == 2 and all(a != b for a, b in pairs)
