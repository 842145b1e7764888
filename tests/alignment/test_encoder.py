"""The offline default encoder (the real shipped model) and the cache front in front of it."""

import hashlib
import os

import numpy as np
import pytest

from alignment.embeddings import (
    DEFAULT_MODEL,
    conversation_text,
    embed_with_cache,
    encode_texts,
    load_encoder,
    text_sha256,
)


@pytest.fixture(scope="module")
def encoder():
    return load_encoder(DEFAULT_MODEL, device="cpu")


class CountingEncoder:
    """The real encoder, counting how often it is asked to embed and which texts."""

    def __init__(self, inner):
        self.inner = inner
        self.texts: list[str] = []

    def encode(self, texts, **kwargs):
        self.texts.extend(texts)
        return self.inner.encode(texts, **kwargs)

    def get_embedding_dimension(self):
        return self.inner.get_embedding_dimension()


class DictCache:
    def __init__(self):
        self.vectors: dict[tuple[str, str], np.ndarray] = {}

    def lookup(self, model_name, hashes):
        return {h: self.vectors[model_name, h] for h in hashes if (model_name, h) in self.vectors}

    def store(self, model_name, fresh):
        self.vectors.update({(model_name, h): v for h, v in fresh.items()})


def test_the_default_encoder_embeds_in_384_unit_length_dimensions(encoder):
    vectors = encode_texts(encoder, ["A cat sat on the mat.", "Taxes should be lower."])
    assert vectors.shape == (2, 384)
    assert vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_similar_sentences_are_closer_than_unrelated_ones(encoder):
    a, b, c = encode_texts(
        encoder,
        [
            "The government should raise taxes on the rich.",
            "Wealthy people ought to pay higher taxes.",
            "My cat likes to sleep in the sun.",
        ],
    )
    assert a @ b > a @ c + 0.3


def test_no_texts_give_an_empty_matrix_of_the_right_width(encoder):
    assert encode_texts(encoder, []).shape == (0, 384)


def test_embed_with_cache_embeds_each_distinct_text_once(encoder):
    counting = CountingEncoder(encoder)
    cache = DictCache()
    texts = ["one", "two", "one", "three", "two"]
    vectors = embed_with_cache(
        texts,
        model_name=DEFAULT_MODEL,
        lookup=cache.lookup,
        store=cache.store,
        encoder_factory=lambda name: counting,
    )
    assert sorted(counting.texts) == ["one", "three", "two"]
    assert np.array_equal(vectors[0], vectors[2]) and np.array_equal(vectors[1], vectors[4])
    assert np.allclose(vectors, encode_texts(encoder, texts), atol=1e-6)

    again = embed_with_cache(
        texts + ["four"],
        model_name=DEFAULT_MODEL,
        lookup=cache.lookup,
        store=cache.store,
        encoder_factory=lambda name: counting,
    )
    assert sorted(counting.texts) == ["four", "one", "three", "two"]
    assert np.array_equal(again[:5], vectors)


def test_a_fully_cached_batch_never_loads_the_encoder():
    cache = DictCache()
    cache.store(DEFAULT_MODEL, {text_sha256("hello"): np.ones(3, dtype=np.float32)})

    def no_encoder(name):
        raise AssertionError("the encoder was loaded")

    vectors = embed_with_cache(
        ["hello", "hello"],
        model_name=DEFAULT_MODEL,
        lookup=cache.lookup,
        store=cache.store,
        encoder_factory=no_encoder,
    )
    assert vectors.shape == (2, 3) and vectors.dtype == np.float32


def test_the_cache_keeps_models_apart(encoder):
    cache = DictCache()
    cache.store("other-model", {text_sha256("hello"): np.zeros(384, dtype=np.float32)})
    vectors = embed_with_cache(
        ["hello"],
        model_name=DEFAULT_MODEL,
        lookup=cache.lookup,
        store=cache.store,
        encoder_factory=lambda name: encoder,
    )
    assert np.linalg.norm(vectors[0]) == pytest.approx(1.0, abs=1e-5)


def test_an_unknown_model_name_fails_clearly_and_offline():
    with pytest.raises(ValueError, match="not available offline"):
        load_encoder("sentence-transformers/some-other-model")
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    assert os.environ["TRANSFORMERS_OFFLINE"] == "1"


def test_text_hash_is_the_sha256_of_the_utf8_text():
    assert text_sha256("café") == hashlib.sha256("café".encode()).hexdigest()


def test_conversation_text_labels_every_turn():
    turns = [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "Is tax theft?"},
    ]
    assert conversation_text(turns) == "user: Hi\nassistant: Hello!\nuser: Is tax theft?"
    with pytest.raises(ValueError, match="role"):
        conversation_text([{"text": "Hi"}])
