"""The floors of the house: imports point down, never up or sideways, and no file-level cycle.

The table is DESIGN.md's "Components" table, as data. Every import of every module counts, at
the top of the module or inside a function (``TYPE_CHECKING`` blocks included: a type names a
dependency too).
"""

from __future__ import annotations

import ast
import textwrap
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

#: The floor of each top-level module or folder of ``airsoc`` (DESIGN.md, "Components").
BASE = -2.0
FLOORS: Mapping[str, float] = {
    "clock": BASE,
    "errors": BASE,
    "settings": BASE,
    "types": BASE,
    "roles": BASE,
    "config": BASE,
    "store": -1,
    "telemetry": 0,
    "detection": 0,
    "audit": 0,
    "lineage": 1,
    "incidents": 1,
    "serving": 2,
    "monitoring": 3,
    "alerting": 4,
    "response": 5,
    "forensics": 5,
    "reporting": 6,
    "fleet": 7,
    "runtime": 8,
    "drills": 9,
    "__init__": 9.5,
    "server": 10,
    "cli": 11,
    "testing": 12,
    "py.typed": BASE,
}


@dataclass(frozen=True)
class Import:
    """One import of ``target`` (a dotted module name) by ``module``, at ``line``."""

    module: str
    target: str
    line: int


def module_name(path: Path, root: Path) -> str:
    """Return the dotted name of the module in ``path`` below ``root``."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_package(path: Path) -> bool:
    return path.name == "__init__.py"


def imports_of(source: str, *, module: str, package: bool, known: set[str]) -> list[Import]:
    """Return every ``airsoc`` import in ``source``, resolved to the module it loads.

    ``from airsoc.x import name`` counts as an import of ``airsoc.x.name`` where that is a
    module of ``known``, else of ``airsoc.x`` itself.
    """
    found: list[Import] = []
    here = module.split(".") if package else module.split(".")[:-1]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [Import(module, a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - (node.level - 1)]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.append(Import(module, sub if sub in known else target, node.lineno))
    return [i for i in found if i.target == "airsoc" or i.target.startswith("airsoc.")]


def scan(root: Path) -> dict[str, list[Import]]:
    """Return the imports of every module of the ``airsoc`` package below ``root``."""
    files = sorted((root / "airsoc").rglob("*.py"))
    known = {module_name(f, root) for f in files}
    return {
        module_name(f, root): imports_of(
            f.read_text(encoding="utf-8"),
            module=module_name(f, root),
            package=_is_package(f),
            known=known,
        )
        for f in files
    }


def folder_of(module: str) -> str:
    """Return the top-level folder (or module) of ``airsoc`` that ``module`` belongs to."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def floor_violations(graph: Mapping[str, Iterable[Import]]) -> list[str]:
    """Return one line per import that points up a floor or sideways on one floor."""
    problems = []
    for module, imports in graph.items():
        mine = folder_of(module)
        for imp in imports:
            theirs = folder_of(imp.target)
            if theirs == mine:
                continue
            if mine not in FLOORS or theirs not in FLOORS:
                unknown = mine if mine not in FLOORS else theirs
                problems.append(f"{module}:{imp.line}: {unknown!r} has no floor in the table")
                continue
            if FLOORS[mine] == FLOORS[theirs] == BASE:
                continue
            if FLOORS[theirs] >= FLOORS[mine]:
                way = "sideways" if FLOORS[theirs] == FLOORS[mine] else "up"
                problems.append(
                    f"{module}:{imp.line} imports {imp.target} ({way}: {mine} is on floor "
                    f"{FLOORS[mine]:g}, {theirs} on floor {FLOORS[theirs]:g})"
                )
    return problems


def cycles(graph: Mapping[str, Iterable[Import]]) -> list[list[str]]:
    """Return the file-level import cycles (strongly connected components of two or more
    modules, or a module importing itself), each sorted."""
    edges = {m: sorted({i.target for i in imps if i.target in graph}) for m, imps in graph.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(start: str) -> None:
        # Tarjan's algorithm, iterative so deep graphs do not hit the recursion limit.
        nonlocal counter
        work = [(start, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            targets = edges[node]
            if i < len(targets):
                work.append((node, i + 1))
                nxt = targets[i]
                if nxt not in index:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in edges[node]:
                    found.append(sorted(component))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])

    for module in sorted(edges):
        if module not in index:
            visit(module)
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, list[Import]]:
    return scan(SRC)


def test_every_folder_has_a_floor(graph: dict[str, list[Import]]) -> None:
    assert {folder_of(m) for m in graph} <= set(FLOORS)


def test_imports_point_down_the_floors(graph: dict[str, list[Import]]) -> None:
    assert floor_violations(graph) == []


def test_no_file_level_cycles(graph: dict[str, list[Import]]) -> None:
    assert cycles(graph) == []


def test_only_the_top_floors_import_the_public_api(graph: dict[str, list[Import]]) -> None:
    importers = {m for m, imps in graph.items() if any(i.target == "airsoc" for i in imps)}
    assert {folder_of(m) for m in importers} <= {"cli", "server", "testing"}


def _plant(root: Path, files: Mapping[str, str]) -> Path:
    for name, text in files.items():
        path = root / "airsoc" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


def test_a_planted_upward_import_fails(tmp_path: Path) -> None:
    root = _plant(
        tmp_path,
        {
            "__init__.py": "",
            "detection/__init__.py": "",
            "detection/drift.py": """
                def check():
                    from airsoc.response.playbooks import Playbook  # up, inside a function
                    return Playbook
            """,
            "response/__init__.py": "",
            "response/playbooks.py": "Playbook = object\n",
        },
    )
    (problem,) = floor_violations(scan(root))
    assert "airsoc.detection.drift:3 imports airsoc.response.playbooks (up" in problem


def test_a_planted_sideways_import_and_cycle_fail(tmp_path: Path) -> None:
    root = _plant(
        tmp_path,
        {
            "__init__.py": "",
            "response/__init__.py": "",
            "response/a.py": "from airsoc.response import b\n",
            "response/b.py": "from . import a\n",
            "forensics/__init__.py": "",
            "forensics/c.py": "import airsoc.response.a\n",
        },
    )
    graph = scan(root)
    (problem,) = floor_violations(graph)
    assert "sideways" in problem
    assert cycles(graph) == [["airsoc.response.a", "airsoc.response.b"]]
