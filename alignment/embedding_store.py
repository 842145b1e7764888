"""The database-backed embedding cache in front of the pure encoder (alignment/embeddings)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from django.conf import settings

from alignment.embeddings import conversation_text, embed_with_cache, load_encoder, text_sha256
from alignment.models import TextEmbedding
from annotation.models import Candidate, Prompt

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

_CHUNK = 500  # keeps IN (...) lists well under SQLite's variable limit


def _lookup(model_name: str, hashes: list[str]) -> dict[str, np.ndarray]:
    found: dict[str, np.ndarray] = {}
    for start in range(0, len(hashes), _CHUNK):
        rows = TextEmbedding.objects.filter(
            model_name=model_name, text_sha256__in=hashes[start : start + _CHUNK]
        ).values_list("text_sha256", "vector")
        for sha, blob in rows:
            found[sha] = np.frombuffer(bytes(blob), dtype="<f4")
    return found


def _store(model_name: str, vectors: dict[str, np.ndarray]) -> None:
    TextEmbedding.objects.bulk_create(
        (
            TextEmbedding(
                model_name=model_name, text_sha256=sha, dim=len(vec), vector=np.asarray(vec, dtype="<f4").tobytes()
            )
            for sha, vec in vectors.items()
        ),
        batch_size=_CHUNK,
        ignore_conflicts=True,  # another process may have embedded the same text meanwhile
    )


def _keep_nothing(model_name: str, vectors: dict[str, np.ndarray]) -> None:
    pass


def embeddings_for_texts(texts: list[str], *, model_name: str | None = None, store_new: bool = True) -> np.ndarray:
    """(n, D) float32 embeddings in input order, from the cache or the encoder. With store_new=False texts
    the cache lacks are embedded but not kept: callers' one-off texts (reward queries) must not grow it for ever."""
    name = model_name or settings.EMBEDDING_MODEL
    return embed_with_cache(texts, model_name=name, lookup=_lookup, store=_store if store_new else _keep_nothing,
                            encoder_factory=configured_encoder)


def configured_encoder(model_name: str) -> SentenceTransformer:
    """The encoder at the configured EMBEDDING_PRECISION."""
    return load_encoder(model_name, precision=settings.EMBEDDING_PRECISION)


def texts_uncached(texts: list[str], *, model_name: str | None = None) -> list[str]:
    """The distinct texts among these that the cache lacks, in first-seen order (hashes only: no vector read)."""
    name = model_name or settings.EMBEDDING_MODEL
    by_hash = {text_sha256(text): text for text in texts}
    hashes = list(by_hash)
    found: set[str] = set()
    for start in range(0, len(hashes), _CHUNK):
        found.update(TextEmbedding.objects.filter(
            model_name=name, text_sha256__in=hashes[start : start + _CHUNK]).values_list("text_sha256", flat=True))
    return [text for digest, text in by_hash.items() if digest not in found]


def texts_embed(texts: list[str]) -> None:
    """Embed the texts the cache lacks into it (an import's pairing job)."""
    embeddings_for_texts(texts)


def prompt_embeddings(prompt_ids: np.ndarray) -> np.ndarray:
    """(n, D) embeddings of prompts, by database id, each as its whole conversation."""
    turns = dict(Prompt.objects.filter(pk__in=prompt_ids.tolist()).values_list("pk", "turns"))
    return embeddings_for_texts([conversation_text(turns[int(pk)]) for pk in prompt_ids])


def candidate_embeddings(candidate_ids: np.ndarray) -> np.ndarray:
    """(n, D) embeddings of candidates' texts, by database id."""
    texts = dict(Candidate.objects.filter(pk__in=candidate_ids.tolist()).values_list("pk", "text"))
    return embeddings_for_texts([texts[int(pk)] for pk in candidate_ids])
