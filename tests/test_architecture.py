"""The import rules of docs/architecture.md, enforced: layers only import down, siblings stay apart, no
import cycle, no import of our own modules hidden in a function, nothing changes the environment at import.

The rules are read from the `layers` block of docs/architecture.md, so they are written once.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "dlt_ingest"
ARCHITECTURE = ROOT / "docs" / "architecture.md"


def layers() -> list[list[str]]:
    """The layers, top first; each a list of sibling packages/modules (`a | b` in the docs block)."""
    text = ARCHITECTURE.read_text(encoding="utf-8")
    block = text.split("```layers\n", 1)[1].split("```", 1)[0]
    rows = [line.split("#", 1)[0].strip() for line in block.splitlines()]
    return [[name.strip() for name in row.split("|")] for row in rows if row]


@dataclass(frozen=True)
class Import:
    source: str  # the importing module
    target: str  # the imported module of ours
    line: int
    in_function: bool


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _resolve(name: str, known: dict[str, Path]) -> str | None:
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(name: str, path: Path, known: dict[str, Path]) -> Iterator[Import]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]

    def visit(node: ast.AST, in_function: bool) -> Iterator[Import]:
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            targets: list[str] = []
            if isinstance(child, ast.Import):
                targets = [alias.name for alias in child.names]
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package.rsplit(".", child.level - 1)[0] if child.level > 1 else package
                    base = f"{anchor}.{base}".rstrip(".")
                targets = [f"{base}.{alias.name}" for alias in child.names] or [base]
            for target in targets:
                if target == "dlt_ingest" or target.startswith("dlt_ingest."):
                    resolved = _resolve(target, known)
                    if resolved and resolved != name:
                        yield Import(name, resolved, child.lineno, in_function)
            yield from visit(child, nested)

    yield from visit(tree, False)


def all_imports() -> list[Import]:
    known = modules()
    return [found for name, path in known.items() for found in imports_of(name, path, known)]


def layer_of(module: str, rules: list[list[str]]) -> tuple[int, str]:
    """(layer index, the sibling entry) of a module: its longest matching entry."""
    best: tuple[int, str] | None = None
    for index, row in enumerate(rules):
        for entry in row:
            if (module == entry or module.startswith(entry + ".")) and (best is None or len(entry) > len(best[1])):
                best = (index, entry)
    assert best is not None, f"{module} belongs to no layer of docs/architecture.md"
    return best


def test_every_module_belongs_to_a_layer() -> None:
    rules = layers()
    for module in modules():
        layer_of(module, rules)


def test_imports_only_go_down_and_siblings_stay_apart() -> None:
    rules = layers()
    wrong = []
    for found in all_imports():
        (source_layer, source_entry), (target_layer, target_entry) = (layer_of(found.source, rules),
                                                                       layer_of(found.target, rules))
        if source_entry == target_entry:
            continue  # inside one package
        if target_layer <= source_layer:
            wrong.append(f"{found.source}:{found.line} imports {found.target} ({target_entry} is not below "
                         f"{source_entry})")
    assert wrong == []


def test_there_is_no_import_cycle() -> None:
    graph: dict[str, set[str]] = {name: set() for name in modules()}
    for found in all_imports():
        graph[found.source].add(found.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def connect(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph[node]:
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in graph:
        if node not in index:
            connect(node)
    assert cycles == []


def test_no_module_of_ours_is_imported_inside_a_function() -> None:
    hidden = [f"{found.source}:{found.line} imports {found.target}" for found in all_imports() if found.in_function]
    assert hidden == []


def test_importing_every_module_changes_no_environment_variable() -> None:
    script = (
        "import importlib, json, os, pkgutil, sys\n"
        "before = dict(os.environ)\n"
        "import dlt_ingest\n"
        "for info in pkgutil.walk_packages(dlt_ingest.__path__, 'dlt_ingest.'):\n"
        "    importlib.import_module(info.name)\n"
        "after = dict(os.environ)\n"
        "print(json.dumps(sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))))\n"
    )
    environment = {key: value for key, value in os.environ.items() if key != "RUNTIME__DLTHUB_TELEMETRY"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=environment,
                          check=True, timeout=120)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
