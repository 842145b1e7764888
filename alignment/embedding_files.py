"""Embedding cache files (docs/formats.md): an operator pre-seeds a new database's cache from another's, since
embedding is the slowest step of a first import. One model per file; texts are never in it, only their sha256.

Line 1: {"format": "pluralweb-embeddings", "version": 1, "model": NAME, "dim": D, "count": N}
Then N lines: {"sha256": 64 lowercase hex digits, "vector": base64 of D little-endian float32}
"""

import base64
import binascii
import gzip
import io
import json
import os
import re
import tempfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np
from django.conf import settings
from django.db import transaction

from alignment.models import TextEmbedding
from annotation.errors import InputError
from annotation.jsonl import field, iter_jsonl, text_field

FORMAT = "pluralweb-embeddings"
VERSION = 1
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
MAX_DIM = 65_536
UNIT_TOLERANCE = 1e-3  # the encoder L2-normalises every vector it caches (alignment/embeddings)
_BATCH = 500


@dataclass
class CacheImportSummary:
    model: str
    dim: int
    vectors: int = 0  # lines read
    added: int = 0  # new to this database (the others were already cached)


def embeddings_export(path: Path, *, model_name: str | None = None) -> int:
    """Write the cache of one model to `path` (gzip when it ends in .gz), all or nothing: a temporary file
    renamed into place, so an interrupted export never leaves a file that looks whole. Returns the count."""
    name = model_name or settings.EMBEDDING_MODEL
    rows = TextEmbedding.objects.filter(model_name=name)
    dims = set(rows.values_list("dim", flat=True).distinct())
    if len(dims) > 1:
        raise InputError(f"the cache holds vectors of several dimensions ({sorted(dims)}) for model {name!r}",
                         field="model")
    count = rows.count()
    header = {"format": FORMAT, "version": VERSION, "model": name, "dim": dims.pop() if dims else 0, "count": count}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.close(fd)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(tmp, "wt", encoding="utf-8") as out:
            out.write(_json(header))
            for sha, blob in rows.order_by("id").values_list("text_sha256", "vector").iterator(chunk_size=2000):
                out.write(_json({"sha256": sha, "vector": base64.b64encode(bytes(blob)).decode("ascii")}))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return count


def _json(obj: dict) -> str:
    return json.dumps(obj, separators=(",", ":")) + "\n"


def embeddings_import(stream: IO[bytes], *, source: str = "", model_name: str | None = None) -> CacheImportSummary:
    """Add a cache file's vectors to this database's cache, all or nothing; vectors already cached are kept.
    The file's model must be `model_name` (default: the configured EMBEDDING_MODEL): vectors of another model
    would never be looked up, or worse, be taken for this one's."""
    try:
        return _import(iter_jsonl(_maybe_gunzip(stream), source=source), source=source,
                       expected_model=model_name or settings.EMBEDDING_MODEL)
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise InputError(f"not a readable gzip file ({exc})", source=source) from None


def _import(lines: Iterator[tuple[int, dict]], *, source: str, expected_model: str) -> CacheImportSummary:
    first = next(lines, None)
    if first is None:
        raise InputError("the file is empty; the first line must be the header", line=1, source=source)
    try:
        summary, count = _header(first[1], expected_model=expected_model)
    except InputError as exc:
        raise exc.at(line=first[0], source=source) from None
    with transaction.atomic():
        before = TextEmbedding.objects.filter(model_name=summary.model).count()
        batch: list[TextEmbedding] = []
        for row in _rows(lines, summary, source=source):
            batch.append(row)
            if len(batch) >= _BATCH:
                TextEmbedding.objects.bulk_create(batch, ignore_conflicts=True)
                batch = []
        TextEmbedding.objects.bulk_create(batch, ignore_conflicts=True)
        if count != summary.vectors:
            raise InputError(f"the header promises {count} vectors but the file holds {summary.vectors} "
                             "(truncated or edited?)", field="count", line=1, source=source)
        summary.added = TextEmbedding.objects.filter(model_name=summary.model).count() - before
    return summary


def _maybe_gunzip(stream: IO[bytes]) -> IO[bytes]:
    # By its first bytes rather than its name: a gzip file renamed .jsonl still reads.
    if not hasattr(stream, "peek"):
        stream = io.BufferedReader(stream)
    return gzip.GzipFile(fileobj=stream) if stream.peek(2)[:2] == b"\x1f\x8b" else stream


def _header(obj: dict, *, expected_model: str) -> tuple[CacheImportSummary, int]:
    if obj.get("format") != FORMAT:
        raise InputError(f"must be {FORMAT!r}: is this a pluralweb embedding cache file?", field="format")
    if field(obj, "version", int) != VERSION:
        raise InputError(f"version {obj['version']} is not known here (this pluralweb reads {VERSION})",
                         field="version")
    model = text_field(obj, "model", max_length=200)
    if model != expected_model:
        raise InputError(f"the file holds vectors of model {model!r}, this database embeds with {expected_model!r} "
                         "(EMBEDDING_MODEL; --model to import another model's)", field="model")
    dim = field(obj, "dim", int)
    if not 1 <= dim <= MAX_DIM:
        raise InputError(f"must be between 1 and {MAX_DIM}", field="dim")
    cached = TextEmbedding.objects.filter(model_name=model).exclude(dim=dim).values_list("dim", flat=True).first()
    if cached is not None:
        raise InputError(f"this database caches {model!r} vectors of dimension {cached}, not {dim}", field="dim")
    count = field(obj, "count", int)
    if count < 0:
        raise InputError("must be 0 or more", field="count")
    return CacheImportSummary(model=model, dim=dim), count


def _rows(lines: Iterator[tuple[int, dict]], summary: CacheImportSummary, *, source: str) -> Iterator[TextEmbedding]:
    seen: set[str] = set()
    for line_no, obj in lines:
        try:
            sha, blob = _vector_line(obj, summary.dim)
            if sha in seen:
                raise InputError(f"sha256 {sha} appears twice in the file", field="sha256")
        except InputError as exc:
            raise exc.at(line=line_no, source=source) from None
        seen.add(sha)
        summary.vectors += 1
        yield TextEmbedding(model_name=summary.model, text_sha256=sha, dim=summary.dim, vector=blob)


def _vector_line(obj: dict, dim: int) -> tuple[str, bytes]:
    sha = field(obj, "sha256", str)
    if not SHA256_RE.match(sha):
        raise InputError("must be 64 lowercase hexadecimal digits (the sha256 of the text's UTF-8)", field="sha256")
    try:
        blob = base64.b64decode(field(obj, "vector", str), validate=True)
    except (binascii.Error, ValueError):
        raise InputError("must be base64 of little-endian float32 values", field="vector") from None
    if len(blob) != 4 * dim:
        raise InputError(f"holds {len(blob) // 4} values (of {len(blob)} bytes), the header says dim {dim}",
                         field="vector")
    vector = np.frombuffer(blob, dtype="<f4")
    if not np.isfinite(vector).all():
        raise InputError("holds NaN or infinity", field="vector")
    norm = float(np.linalg.norm(vector.astype(np.float64)))
    if abs(norm - 1.0) > UNIT_TOLERANCE:
        raise InputError(f"has length {norm:.6g}; cached vectors are L2-normalised (length 1)", field="vector")
    return sha, blob
