"""Embedding cache files: an export of one database's cache pre-seeds another's; hostile files are refused
with file, line and field, and store nothing."""

import base64
import gzip
import io
import json

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from alignment.embedding_files import embeddings_export, embeddings_import
from alignment.models import TextEmbedding
from annotation.errors import InputError
from annotation.study_files import study_import
from tests.factories import jsonl_bytes, make_study, study_lines

MODEL = "all-MiniLM-L6-v2"


def _cache() -> dict[str, tuple[int, bytes]]:
    return {sha: (dim, bytes(blob)) for sha, dim, blob in
            TextEmbedding.objects.filter(model_name=MODEL).values_list("text_sha256", "dim", "vector")}


@pytest.mark.parametrize("name", ["cache.jsonl", "cache.jsonl.gz"])
def test_an_export_imported_into_an_empty_cache_gives_back_the_same_vectors(db, tmp_path, name):
    make_study(slug="seed", prompts=3, candidates=3)  # embeds 9 texts inline
    before = _cache()
    assert len(before) == 9
    assert embeddings_export(tmp_path / name) == 9
    TextEmbedding.objects.all().delete()

    with (tmp_path / name).open("rb") as stream:
        summary = embeddings_import(stream, source=name)
    assert (summary.model, summary.dim, summary.vectors, summary.added) == (MODEL, 384, 9, 9)
    assert _cache() == before
    with (tmp_path / name).open("rb") as stream:
        assert embeddings_import(stream, source=name).added == 0  # already cached: kept, not duplicated


def test_a_pre_seeded_database_pairs_an_import_at_once_with_no_worker(db, tmp_path):
    make_study(slug="seed", prompts=2, candidates=3)
    embeddings_export(tmp_path / "cache.jsonl")
    TextEmbedding.objects.all().delete()
    call_command("embeddings_import", str(tmp_path / "cache.jsonl"), stdout=io.StringIO())
    summary = study_import(jsonl_bytes(study_lines(slug="new", prompts=2, candidates=3)), on_worker=True)
    assert summary.job is None and summary.pairs == 6


def test_the_commands_report_what_they_did(db, tmp_path):
    make_study(slug="seed", prompts=1, candidates=2)
    out = io.StringIO()
    call_command("embeddings_export", str(tmp_path / "c.jsonl"), stdout=out)
    assert out.getvalue().strip() == f"{tmp_path / 'c.jsonl'}: 2 vectors"
    out = io.StringIO()
    call_command("embeddings_import", str(tmp_path / "c.jsonl"), stdout=out)
    assert "2 vectors of all-MiniLM-L6-v2 (dim 384), 0 new to this database" in out.getvalue()


def test_an_export_of_an_empty_cache_is_a_header_that_imports_to_nothing(db, tmp_path):
    assert embeddings_export(tmp_path / "empty.jsonl") == 0
    assert json.loads((tmp_path / "empty.jsonl").read_text()) == {
        "format": "pluralweb-embeddings", "version": 1, "model": MODEL, "dim": 0, "count": 0}


# --- hostile files ----------------------------------------------------------------------------------------


def _unit(dim: int = 4, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=dim).astype("<f4")
    return v / np.linalg.norm(v)


def _line(sha: str, vector: np.ndarray) -> dict:
    return {"sha256": sha, "vector": base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode()}


def _file(lines: list) -> io.BytesIO:
    return io.BytesIO("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines).encode())


def _good(count: int = 2) -> list:
    header = {"format": "pluralweb-embeddings", "version": 1, "model": MODEL, "dim": 4, "count": count}
    return [header] + [_line(f"{i:064x}", _unit(seed=i)) for i in range(count)]


def _with(line_no: int, **changes) -> list:
    lines = _good()
    lines[line_no - 1] = {**lines[line_no - 1], **changes}
    return lines


HOSTILE = {
    "not our format": (_with(1, format="something-else"), 1, "format"),
    "a newer version": (_with(1, version=2), 1, "version"),
    "another model": (_with(1, model="other-model"), 1, "model"),
    "a zero dimension": (_with(1, dim=0), 1, "dim"),
    "a negative count": (_with(1, count=-1), 1, "count"),
    "an uppercase sha256": (_with(2, sha256="A" * 64), 2, "sha256"),
    "a short sha256": (_with(3, sha256="abc"), 3, "sha256"),
    "a missing vector": (_with(2, vector=None), 2, "vector"),
    "a vector that is not base64": (_with(2, vector="@@@not base64@@@"), 2, "vector"),
    "a vector of the wrong length": (_with(3, vector=_line("0" * 64, _unit(dim=5))["vector"]), 3, "vector"),
    "a NaN": (_with(2, vector=_line("0" * 64, np.array([np.nan, 0, 0, 1]))["vector"]), 2, "vector"),
    "an infinity": (_with(3, vector=_line("0" * 64, np.array([np.inf, 0, 0, 0]))["vector"]), 3, "vector"),
    "a vector that is not unit length": (_with(2, vector=_line("0" * 64, 2 * _unit())["vector"]), 2, "vector"),
    "a sha256 twice": (_with(3, sha256=f"{0:064x}"), 3, "sha256"),
    "a truncated file": (_good()[:2], 1, "count"),
}


@pytest.mark.parametrize("case", HOSTILE)
def test_a_hostile_cache_file_is_refused_naming_line_and_field_and_stores_nothing(db, case):
    lines, line, field = HOSTILE[case]
    with pytest.raises(InputError) as refused:
        embeddings_import(_file(lines), source="cache.jsonl")
    assert (refused.value.line, refused.value.field, refused.value.source) == (line, field, "cache.jsonl")
    assert not TextEmbedding.objects.exists()


def test_a_good_file_after_the_hostile_ones_imports(db):
    assert embeddings_import(_file(_good()), source="cache.jsonl").added == 2


def test_a_dimension_unlike_the_cached_one_is_refused(db):
    make_study(slug="seed", prompts=1, candidates=2)  # 384-dimensional vectors of MODEL
    with pytest.raises(InputError, match="dimension 384, not 4") as refused:
        embeddings_import(_file(_good()), source="cache.jsonl")
    assert (refused.value.line, refused.value.field) == (1, "dim")
    assert TextEmbedding.objects.count() == 2


@pytest.mark.parametrize("content, message", [
    (b"", "the file is empty"),
    (b"not json\n", "invalid JSON"),
    (_file(_good()[:1]).getvalue() + b"\xff\xfe\n", "not UTF-8"),
    (b"\x1f\x8b\x08\x00garbage", "not a readable gzip file"),
    (gzip.compress(_file(_good()).getvalue())[:-8], "not a readable gzip file"),  # cut short
])
def test_files_that_are_not_json_lines_are_refused_with_the_reason(db, content, message):
    with pytest.raises(InputError, match=message):
        embeddings_import(io.BytesIO(content), source="cache.jsonl")


def test_the_import_command_names_the_file_and_line(db, tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(_file(_with(2, sha256="xyz")).getvalue())
    with pytest.raises(CommandError, match=r"bad\.jsonl:2: field 'sha256'"):
        call_command("embeddings_import", str(path))
    with pytest.raises(CommandError, match="no such file"):
        call_command("embeddings_import", str(tmp_path / "missing.jsonl"))
