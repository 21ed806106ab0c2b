"""The package surface: sorted importable __all__, py.typed, one place that reads the time."""

from __future__ import annotations

import ast
import importlib
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import airsoc

SRC = Path(airsoc.__file__).resolve().parent


def isort_key(name: str) -> tuple[int, str]:
    """Return ruff's RUF022 order: CONSTANTS, then Classes, then everything else."""
    if name.isupper() or (name.upper() == name and "_" in name):
        return (0, name)
    return (1, name) if name[:1].isupper() else (2, name)


def test_all_is_sorted_and_importable() -> None:
    assert airsoc.__all__ == sorted(airsoc.__all__, key=isort_key)
    for name in airsoc.__all__:
        assert hasattr(airsoc, name), name


def test_import_airsoc_loads_no_domain_until_a_name_is_read() -> None:
    code = (
        "import sys, airsoc\n"
        "print(sorted(m for m in sys.modules if m.startswith('airsoc.')))\n"
        "airsoc.Verdict\n"
        "print('scipy' in sys.modules)\n"
    )
    paths = (str(SRC.parent), os.environ.get("PYTHONPATH"))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert result.stdout.splitlines() == ["[]", "True"]


def test_the_lazy_names_are_the_public_names() -> None:
    assert set(airsoc._HOMES) == set(airsoc.__all__) - {"__version__"}
    assert set(airsoc.__all__) <= set(dir(airsoc))
    for name, home in airsoc._HOMES.items():
        assert getattr(airsoc, name) is getattr(importlib.import_module(home), name)
    with pytest.raises(AttributeError, match="no attribute 'Verdicts'"):
        _ = airsoc.Verdicts


def test_every_module_imports_and_declares_a_sorted_all() -> None:
    for info in pkgutil.walk_packages([str(SRC)], prefix="airsoc."):
        if ".migrations" in info.name:
            continue
        module = importlib.import_module(info.name)
        exported = getattr(module, "__all__", None)
        if exported is not None:
            assert list(exported) == sorted(exported, key=isort_key), info.name
            for name in exported:
                assert hasattr(module, name), f"{info.name}.{name}"


def test_py_typed_ships() -> None:
    assert (SRC / "py.typed").exists()


def test_only_clock_reads_the_system_time() -> None:
    offenders = []
    for path in SRC.rglob("*.py"):
        if path.name == "clock.py":
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in {"now", "utcnow", "today"}:
                base = node.value
                if isinstance(base, ast.Name) and base.id in {"datetime", "date"}:
                    offenders.append(f"{path.relative_to(SRC)}:{node.lineno}")
            if (
                isinstance(node, ast.Attribute)
                and node.attr == "time"
                and isinstance(node.value, ast.Name)
                and node.value.id == "time"
            ):
                offenders.append(f"{path.relative_to(SRC)}:{node.lineno}")
    assert offenders == []
