"""Sentence embeddings (no Django): the offline default encoder and a storage-agnostic cache front."""

from alignment.embeddings.encoder import (
    DEFAULT_MODEL,
    PRECISIONS,
    conversation_text,
    embed_with_cache,
    encode_texts,
    load_encoder,
    text_sha256,
)

__all__ = [
    "DEFAULT_MODEL",
    "PRECISIONS",
    "conversation_text",
    "embed_with_cache",
    "encode_texts",
    "load_encoder",
    "text_sha256",
]
