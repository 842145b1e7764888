"""Encoders that could stand in for float32 PyTorch behind the embedding pipeline, for bench/embed.py.

Each takes texts and returns (n, 384) L2-normalised float32 rows like SentenceTransformer.encode. Only
measured here, never used by the product: plain dynamic int8 of every linear layer falls outside the
cosine-0.99 tolerance, and ONNX Runtime float32 was no faster. The product's int8 encoder is
alignment/embeddings/int8.py (smoothed, feed-forward output kept float32), timed by bench/embed.py itself.
"""

from __future__ import annotations

import importlib.util
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

Encode = Callable[[list[str]], np.ndarray]


def available_backends(encoder, batch_size: int) -> dict[str, Encode]:
    backends = {"PyTorch dynamic int8": _int8(encoder, batch_size)}
    if all(importlib.util.find_spec(name) for name in ("onnxruntime", "onnx", "onnxscript")):
        backends["ONNX Runtime float32"] = _onnx(encoder, batch_size)
    else:
        print("  (ONNX Runtime not importable: its row is left out)")
    return backends


def _int8(encoder, batch_size: int) -> Encode:
    import copy

    quantised = torch.ao.quantization.quantize_dynamic(copy.deepcopy(encoder), {torch.nn.Linear}, dtype=torch.qint8)
    return lambda texts: quantised.encode(
        texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
    )


class _MeanPooled(torch.nn.Module):
    """The transformer plus the model's mean pooling and normalisation, as one graph to export."""

    def __init__(self, transformer: torch.nn.Module):
        super().__init__()
        self.transformer = transformer

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.transformer(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, dim=1)


def _onnx(encoder, batch_size: int) -> Encode:
    import onnxruntime

    tokenizer, max_length = encoder.tokenizer, encoder.max_seq_length
    example = tokenizer(["an example", "another example text"], padding=True, return_tensors="pt")
    path = Path(tempfile.mkdtemp()) / "encoder.onnx"
    torch.onnx.export(
        _MeanPooled(encoder[0].auto_model).eval(), (example["input_ids"], example["attention_mask"]), str(path),
        input_names=["input_ids", "attention_mask"], output_names=["embedding"], opset_version=18, dynamo=False,
        dynamic_axes={"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"}},
    )
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def encode(texts: list[str]) -> np.ndarray:
        # Longest first, as sentence-transformers batches: little padding within a batch.
        order = np.argsort([-len(text) for text in texts], kind="stable")
        out = np.zeros((len(texts), 384), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            rows = order[start:start + batch_size]
            features = tokenizer([texts[i] for i in rows], padding=True, truncation=True, max_length=max_length,
                                 return_tensors="np")
            out[rows] = session.run(None, {"input_ids": features["input_ids"].astype(np.int64),
                                           "attention_mask": features["attention_mask"].astype(np.int64)})[0]
        return out

    return encode
