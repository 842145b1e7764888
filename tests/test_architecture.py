"""The numeric cores import nothing of Django, DRF or Celery (DESIGN.md section 2)."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORES = ["alignment/pal", "alignment/sampling", "alignment/embeddings", "alignment/spica"]
FORBIDDEN = ("django", "rest_framework", "celery", "annotation", "pluralweb", "kombu")


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("core", CORES)
def test_numeric_cores_import_no_django(core):
    files = list((ROOT / core).rglob("*.py"))
    if core != "alignment/spica":
        assert files, f"{core} has no modules"
    offenders = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in files
        for name in _imports(path)
        if name.split(".")[0] in FORBIDDEN
    }
    assert not offenders
