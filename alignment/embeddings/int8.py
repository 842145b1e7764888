"""An int8 copy of a BERT-style sentence encoder for the CPU, within cosine 0.99 of its float32 vectors.

Plain dynamic int8 quantisation of every linear layer (torch.ao quantize_dynamic) is 1.2-1.8 times faster
on the CPU but moves all-MiniLM-L6-v2's vectors by up to cosine 0.91: a few input channels of each layer
carry activations 10-20 times larger than the rest, and one scale per tensor then leaves the others a
handful of int8 steps. So, per transformer layer:

- the query, key, value, attention-output and feed-forward-input projections are quantised (int8
  weights per output channel, activations per tensor at run time), after SmoothQuant's migration
  (Xiao et al. 2023, arXiv 2211.10438): each input channel j is divided by s_j = a_j^alpha / w_j^(1-alpha)
  (a_j the channel's largest activation on calibration_texts(), w_j its largest weight) and the weights'
  column j multiplied by s_j, which leaves the float product unchanged and the activation range flat;
- the feed-forward output projection stays float32: its input (after GELU) holds the largest outliers,
  and quantising it cost the most accuracy on real texts (worst cosine 0.885 against 0.996 without).

The attention-output division folds into the value projection's rows (attention is linear in V); the
others are an explicit multiplication before the quantised layer, since their input also feeds the
residual path. Figures: README, "Benchmarks" (bench/embed.py).
"""

from __future__ import annotations

import copy
import warnings
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

SMOOTHING_ALPHA = 0.8
# The projections smoothed and quantised in each layer, by the key their calibration peaks are kept under.
_SMOOTHED = {
    "query": "attention.self.query",
    "key": "attention.self.key",
    "value": "attention.self.value",
    "attention_output": "attention.output.dense",
    "intermediate": "intermediate.dense",
}
# Fixed texts, so that the same model always quantises the same way (and a text the same vector): short
# and long, plain and odd (numbers, markup, other scripts), the shapes a study's prompts and responses take.
_SUBJECTS = ("The city council", "A nurse", "My neighbour", "The union leader", "A retired soldier", "Our senator")
_CLAIMS = (
    "taxes on fuel should rise", "the border should stay open", "religion belongs in public life",
    "rents ought to be capped", "voting should be compulsory", "children need less screen time",
    "nuclear power is the safest option", "meat should cost more",
)
_ODD = (
    "Q: What's 2+2? A: 4 (obviously) -- but 0.1 + 0.2 = 0.30000000000000004 in IEEE-754.",
    "<b>Warning:</b> see https://example.org/path?x=1&y=2 #section-3 for the details!!!",
    "def f(x):\n    return [i ** 2 for i in range(x) if i % 3 == 0]",
    "Liberté, égalité, fraternité : la devise de la République française.",
    "भारत एक लोकतांत्रिक देश है और यहाँ हर नागरिक को वोट देने का अधिकार है।",
    "¿Deberían los impuestos subir? Muchos dicen que sí, otros que no. 🤔🙂",
    "user: Should I tell my friend the truth?\nassistant: Honesty matters, but so does kindness.",
    "OK", "No.", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
)


def calibration_texts() -> list[str]:
    """The texts whose activations set the smoothing factors."""
    short = [f"{s} argues that {c}." for s in _SUBJECTS for c in _CLAIMS]
    long = [" ".join(short[i:] + short[:i]) for i in range(0, len(short), 6)]  # ~400 words: the full window
    return short + long + list(_ODD)


def quantise_encoder(encoder: SentenceTransformer) -> SentenceTransformer | None:
    """An int8 copy of `encoder` (left untouched), or None where this does not apply: a model that is not
    BERT-shaped (a transformer whose layers hold the _SMOOTHED projections and output.dense), a model on a
    GPU, or a torch build without a quantised engine or without torch.ao's dynamic quantisation
    (deprecated in favour of torchao, still in the pinned 2.13)."""
    quantize_dynamic = getattr(getattr(torch.ao, "quantization", None), "quantize_dynamic", None)
    if encoder.device.type != "cpu" or torch.backends.quantized.engine == "none" or quantize_dynamic is None:
        return None
    if _bert_layers(encoder) is None:
        return None
    quantised = copy.deepcopy(encoder)
    layers = _bert_layers(quantised)
    peaks = _input_peaks(quantised, layers, calibration_texts())
    targets: set[torch.nn.Module] = set()  # the float layers quantize_dynamic is to replace
    with torch.no_grad():
        for i, layer in enumerate(layers):
            attention = layer.attention.self
            for part in ("query", "key", "value"):
                setattr(attention, part, _smoothed(getattr(attention, part), peaks[i, part]))
            output = layer.attention.output.dense
            factor = _factor(peaks[i, "attention_output"], output.weight)
            value = attention.value.linear
            value.weight.div_(factor[:, None])
            value.bias.div_(factor)
            output.weight.mul_(factor)
            layer.intermediate.dense = _smoothed(layer.intermediate.dense, peaks[i, "intermediate"])
            targets |= {attention.query.linear, attention.key.linear, value, output, layer.intermediate.dense.linear}
    names = [name for name, module in quantised.named_modules() if module in targets]
    spec = dict.fromkeys(names, torch.ao.quantization.per_channel_dynamic_qconfig)
    with warnings.catch_warnings():
        # torch.ao's notices that it is deprecated, once per layer: the fallback above covers a torch without it.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        return quantize_dynamic(quantised, spec, dtype=torch.qint8, inplace=True)


class _Smoothed(torch.nn.Module):
    """A linear layer whose input channels are divided by the smoothing factors first."""

    def __init__(self, linear: torch.nn.Linear, inverse: torch.Tensor):
        super().__init__()
        self.linear = linear
        self.register_buffer("inverse", inverse)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x * self.inverse)


def _smoothed(linear: torch.nn.Linear, peak: torch.Tensor) -> _Smoothed:
    factor = _factor(peak, linear.weight)
    linear.weight.mul_(factor)
    return _Smoothed(linear, 1.0 / factor)


def _factor(peak: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    w = weight.abs().amax(0).clamp(min=1e-5)
    return (peak.clamp(min=1e-5) ** SMOOTHING_ALPHA / w ** (1 - SMOOTHING_ALPHA)).clamp(min=1e-5)


def _bert_layers(encoder: SentenceTransformer) -> list[torch.nn.Module] | None:
    transformer = getattr(encoder[0], "auto_model", None)
    layers = getattr(getattr(transformer, "encoder", None), "layer", None)
    if not layers:
        return None
    needed = (*_SMOOTHED.values(), "output.dense")
    if not all(isinstance(_submodule(layer, path), torch.nn.Linear) for layer in layers for path in needed):
        return None
    return list(layers)


def _submodule(module: torch.nn.Module, path: str) -> torch.nn.Module | None:
    try:
        return module.get_submodule(path)
    except AttributeError:
        return None


def _input_peaks(encoder: SentenceTransformer, layers: list[torch.nn.Module],
                 texts: list[str]) -> dict[tuple[int, str], torch.Tensor]:
    """Each input channel's largest |activation| at the layers to be smoothed, over `texts`."""
    peaks: dict[tuple[int, str], torch.Tensor] = {}
    hooks = []
    for i, layer in enumerate(layers):
        for key, path in _SMOOTHED.items():
            def record(module, inputs, output, key=(i, key)):
                x = inputs[0].detach()
                peak = x.abs().reshape(-1, x.shape[-1]).amax(0)
                peaks[key] = torch.maximum(peaks[key], peak) if key in peaks else peak

            hooks.append(layer.get_submodule(path).register_forward_hook(record))
    try:
        with torch.inference_mode():
            encoder.encode(texts, batch_size=32, show_progress_bar=False)
    finally:
        for hook in hooks:
            hook.remove()
    # Cloned outside inference mode: they become buffers of a model that may run with autograd on.
    return {key: peak.clone() for key, peak in peaks.items()}
