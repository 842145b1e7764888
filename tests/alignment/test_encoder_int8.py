"""The int8 encoder (alignment/embeddings/int8.py) against the float32 model it is made from: the real
shipped all-MiniLM-L6-v2, on texts of every shape a study holds."""

import copy

import numpy as np
import pytest
import torch

from alignment.embedding_store import configured_encoder, embeddings_for_texts
from alignment.embeddings import DEFAULT_MODEL, encode_texts, load_encoder
from alignment.embeddings.int8 import calibration_texts, quantise_encoder

TOLERANCE = 0.99  # cosine to the float32 vector, for every text (README, "Embeddings")

CLAIMS = ["fuel taxes should rise", "the border should stay open", "rents ought to be capped",
          "religion belongs in public life", "meat should cost more", "voting should be compulsory"]


def texts_of_every_shape() -> list[str]:
    short = [f"My aunt thinks {claim}, and I am not sure." for claim in CLAIMS]
    # Past the model's 256 word pieces: the window is cut, as in a long response.
    long = [" ".join(f"Point {i}: some people say {CLAIMS[(i + j) % 6]} because of what they have seen."
                     for i in range(30)) for j in range(4)]
    odd = [
        "",
        "x",
        "a\x00b\x00c NUL bytes inside",
        "ÆØÅ æøå — «guillemets» and “quotes”",
        "आप किस राजनीतिक दल का समर्थन करते हैं और क्यों?",
        "Les impôts devraient-ils augmenter pour financer les écoles ?",
        "SELECT * FROM users WHERE name = 'x' OR 1=1; -- <script>alert(1)</script>",
        "🙂" * 200,
        "9" * 5000,
        "user: Is it ever right to lie?\nassistant: Sometimes, to protect someone.\nuser: Give an example.",
    ]
    return short + long + odd


@pytest.fixture(scope="module")
def float32():
    return load_encoder(DEFAULT_MODEL, device="cpu")


@pytest.fixture(scope="module")
def int8(float32):
    quantised = quantise_encoder(float32)
    assert quantised is not None
    return quantised


def test_int8_vectors_are_within_the_tolerance_of_float32_for_every_shape_of_text(float32, int8):
    texts = texts_of_every_shape()
    reference, quick = encode_texts(float32, texts), encode_texts(int8, texts)
    cosines = (reference * quick).sum(axis=1)
    assert cosines.min() > TOLERANCE, [(t[:30], round(float(c), 4)) for t, c in zip(texts, cosines, strict=True)
                                      if c <= TOLERANCE]
    assert cosines.mean() > 0.995
    assert np.allclose(np.linalg.norm(quick, axis=1), 1.0, atol=1e-5)
    # Not the float32 model again: the vectors did move.
    assert not np.allclose(reference, quick, atol=1e-5)


def test_int8_keeps_which_texts_are_close(float32, int8):
    texts = ["The government should raise taxes on the rich.", "Wealthy people ought to pay higher taxes.",
             "My cat likes to sleep in the sun.", "Cats enjoy warm sunny spots for naps."] + \
        [f"My aunt thinks {claim}." for claim in CLAIMS]
    for encoder in (float32, int8):
        vectors = encode_texts(encoder, texts)
        similarity = vectors @ vectors.T
        np.fill_diagonal(similarity, -1)
        assert list(similarity.argmax(axis=1)[:4]) == [1, 0, 3, 2]
    reference, quick = encode_texts(float32, texts), encode_texts(int8, texts)
    # Pairwise similarities, which the NC sampler and the rewards read, move by little.
    assert np.abs(reference @ reference.T - quick @ quick.T).max() < 0.02


def test_only_the_smoothed_projections_are_quantised_and_the_float32_model_is_left_as_it_was(float32, int8):
    quantised = [name for name, module in int8.named_modules()
                 if isinstance(module, torch.ao.nn.quantized.dynamic.Linear)]
    layers = float32[0].auto_model.encoder.layer
    assert len(quantised) == 5 * len(layers)  # query, key, value, attention output, feed-forward input
    for layer in int8[0].auto_model.encoder.layer:
        assert type(layer.output.dense) is torch.nn.Linear  # the feed-forward output stays float32
    assert all(type(layer.attention.self.query) is torch.nn.Linear for layer in layers)
    again = encode_texts(load_encoder(DEFAULT_MODEL, device="cpu"), ["unchanged?"])
    assert np.array_equal(encode_texts(float32, ["unchanged?"]), again)


def test_the_same_model_quantises_the_same_way_every_time(float32, int8):
    again = quantise_encoder(float32)
    texts = texts_of_every_shape()[:8]
    assert np.array_equal(encode_texts(int8, texts), encode_texts(again, texts))


def test_calibration_covers_the_full_window_and_other_scripts():
    texts = calibration_texts()
    assert max(len(text.split()) for text in texts) > 300 and any("भारत" in text for text in texts)


def test_a_model_that_is_not_bert_shaped_stays_float32(float32):
    changed = copy.deepcopy(float32)
    changed[0].auto_model.encoder.layer[0].intermediate.dense = torch.nn.Identity()
    assert quantise_encoder(changed) is None


def test_load_encoder_refuses_an_unknown_precision():
    with pytest.raises(ValueError, match="'int4' is not one of int8, float32"):
        load_encoder(DEFAULT_MODEL, precision="int4")


@pytest.mark.django_db
def test_the_pipeline_embeds_at_the_configured_precision(settings, float32):
    settings.EMBEDDING_PRECISION = "float32"
    assert type(configured_encoder(DEFAULT_MODEL)[0].auto_model.encoder.layer[0].attention.self.query) \
        is torch.nn.Linear
    texts = ["Wealthy people ought to pay higher taxes.", "A second text, for a batch of two."]
    assert np.array_equal(embeddings_for_texts(texts, store_new=False), encode_texts(float32, texts))
    settings.EMBEDDING_PRECISION = "int8"
    quick = embeddings_for_texts(texts, store_new=False)
    assert not np.array_equal(quick, encode_texts(float32, texts))
    assert (quick * encode_texts(float32, texts)).sum(axis=1).min() > TOLERANCE
