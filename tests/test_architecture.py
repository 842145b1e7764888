"""The layer contract, over every module of the project (STYLE.md "The shape of the whole"): imports flow
one way, like floors of a house, and no two modules import each other, even through other modules.

Floors, bottom to top: the shared errors and their HTTP mapping (annotation/errors.py) and the small
infrastructure modules; the numeric cores (no Django, nothing of ours); annotation; alignment; the project
package (settings, URLs). A module may import its own floor and the floors below. Doors (views, API,
admin, commands, tasks) are imported by nothing but URL confs and the admin registry.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("annotation", "alignment", "pluralweb")
CORES = ("alignment.pal", "alignment.sampling", "alignment.embeddings", "alignment.spica")
FLOORS = (
    ("foundation", ("annotation.errors", "annotation.input_rules", "pluralweb.env", "pluralweb.auth",
                    "pluralweb.celery", "pluralweb.throttling", "pluralweb.request_limits",
                    "pluralweb.security_headers")),
    ("cores", CORES),
    ("annotation", ("annotation",)),
    ("alignment", ("alignment",)),
    ("project", ("pluralweb",)),
)
DOORS = ("views", "api", "loop_api", "conversation_api", "conversation_views", "admin", "tasks", "urls", "commands")
FORBIDDEN_IN_CORES = ("django", "rest_framework", "celery", "kombu")


def _modules() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


MODULES = _modules()


def _imported_names(name: str, path: Path) -> set[str]:
    """Every name imported anywhere in the module (functions included), absolute."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def _own_module(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _graph() -> dict[str, set[str]]:
    from alignment.fits import RUNNERS  # loaded by name (importlib): an edge the parser cannot see

    graph = {name: {m for m in map(_own_module, _imported_names(name, path)) if m and m != name}
             for name, path in MODULES.items()}
    graph["alignment.fits"] |= {target.split(":")[0] for target in RUNNERS.values()}
    return graph


GRAPH = _graph()


def _floor(module: str) -> int:
    # The most specific prefix wins: annotation.errors is the foundation, the rest of annotation its floor.
    matches = [(len(prefix), level) for level, (_, prefixes) in enumerate(FLOORS) for prefix in prefixes
               if module == prefix or module.startswith(prefix + ".")]
    return max(matches)[1]


def _is_door(module: str) -> bool:
    return any(part in DOORS for part in module.split(".")[1:])


def test_every_module_is_on_a_floor():
    assert all(isinstance(_floor(module), int) for module in MODULES)
    assert len(MODULES) > 100, "the walk found too few modules"


def test_no_module_imports_a_floor_above_its_own():
    upward = sorted(f"{module} ({FLOORS[_floor(module)][0]}) imports {target} ({FLOORS[_floor(target)][0]})"
                    for module, targets in GRAPH.items() for target in targets
                    if not module.split(".")[-1].startswith("0")  # a migration belongs with its app
                    and _floor(target) > _floor(module))
    assert not upward, "\n".join(upward)


def test_annotation_never_imports_alignment():
    offenders = sorted(f"{module} imports {target}" for module, targets in GRAPH.items()
                       if module.startswith("annotation") for target in targets if target.startswith("alignment"))
    assert not offenders, "\n".join(offenders)


def test_no_import_cycles():
    cycles = _cycles(GRAPH)
    assert not cycles, "\n".join(" <-> ".join(sorted(cycle)) for cycle in cycles)


def test_doors_are_imported_only_by_url_confs_and_the_admin():
    offenders = sorted(f"{module} imports {target}" for module, targets in GRAPH.items() for target in targets
                       if _is_door(target) and not module.endswith(("urls", "admin", "tests"))
                       and not (_is_door(module) and target.rpartition(".")[0] == module.rpartition(".")[0]))
    assert not offenders, "\n".join(offenders)


@pytest.mark.parametrize("core", CORES)
def test_numeric_cores_import_nothing_of_django_or_ours_outside_themselves(core):
    files = [name for name in MODULES if name == core or name.startswith(core + ".")]
    assert files, f"{core} has no modules"
    offenders = sorted(
        f"{module}: {name}" for module in files for name in _imported_names(module, MODULES[module])
        if name.split(".")[0] in FORBIDDEN_IN_CORES or (name.split(".")[0] in PACKAGES and not name.startswith(core))
    )
    assert not offenders


def test_the_contract_can_fail():
    # The checks above are not vacuous: a made-up cycle is found, and the floors are told apart.
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]
    assert [_floor(m) for m in ("annotation.errors", "alignment.pal.model", "annotation.models", "alignment.fits",
                                "pluralweb.urls")] == [0, 1, 2, 3, 4]
    assert _is_door("alignment.dashboards.views") and not _is_door("alignment.fits")


def _cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(component)
    return found
