"""The packages form floors and imports only run down: the measurement behind issue 18.

Read from the source with :mod:`ast` (nothing is imported), so a lazy import inside a
function counts as much as one at the top: either way the lower floor would need the
upper one to run. A package may import its own modules and any package on a lower
floor; packages on the same floor (``processors`` and ``api``) are siblings and may not
import each other. ``bench`` and ``tests`` sit on top: they compose everything and
nothing below may import them.
"""

from __future__ import annotations

import ast
from pathlib import Path

from infra.settings import REPO_ROOT

#: package -> floor; a module may import from its own package or a strictly lower floor.
FLOORS: dict[str, int] = {
    "schemas": 0,  # the contract: events, topics, consumer groups, media formats
    "infra": 1,  # the ground: settings, connections (and the publisher), http, metrics, logs
    "sinks": 2,  # stores: Cassandra, Redis, MinIO
    "processors": 3,  # stream processors ...
    "api": 3,  # ... and the read API, siblings on one floor
    "producers": 4,  # the ingest service
    "operate": 5,  # what an operator runs: CLI, commands, stack, provision, supervisor
    "bench": 6,  # benchmarks compose the whole system ...
    "tests": 7,  # ... and the tests cover it all, benchmarks included
}


def _modules() -> dict[str, Path]:
    """Every module of every package in :data:`FLOORS`, by dotted name."""
    found = {}
    for package in FLOORS:
        for path in sorted((REPO_ROOT / package).rglob("*.py")):
            parts = path.relative_to(REPO_ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def _imported(module: str, path: Path, tree: ast.Module) -> list[tuple[int, str]]:
    """(line, dotted target) of every import statement in ``tree``, relative ones resolved."""
    targets = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                if path.name != "__init__.py":
                    base = base[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            targets.append((node.lineno, target))
    return targets


def _uphill(module: str, target: str) -> bool:
    here, there = module.split(".")[0], target.split(".")[0]
    if there not in FLOORS or there == here:
        return False
    return FLOORS[there] >= FLOORS[here]


def test_imports_only_run_down_the_floors() -> None:
    wrong = []
    for module, path in _modules().items():
        tree = ast.parse(path.read_text(), filename=str(path))
        for line, target in _imported(module, path, tree):
            if _uphill(module, target):
                where = f"{path.relative_to(REPO_ROOT)}:{line}"
                wrong.append(f"{where}: {module} (floor {FLOORS[module.split('.')[0]]}) "
                             f"imports {target} (floor {FLOORS[target.split('.')[0]]})")
    assert not wrong, "imports running up or sideways:\n" + "\n".join(wrong)


def _import_module_calls(tree: ast.Module) -> list[ast.Call]:
    calls = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in ("import_module", "find_spec", "__import__"):
                calls.append(node)
    return calls


def test_project_modules_are_imported_by_name_not_by_string() -> None:
    """A string import hides an arrow from this test, from mypy and from grep; a plain
    import (inside a function when it must be lazy) says the same and is checked."""
    wrong = []
    for path in _modules().values():
        tree = ast.parse(path.read_text(), filename=str(path))
        for call in _import_module_calls(tree):
            where = f"{path.relative_to(REPO_ROOT)}:{call.lineno}"
            wrong.append(f"{where}: {ast.unparse(call)}")
    assert not wrong, "string imports where a plain import works:\n" + "\n".join(wrong)
