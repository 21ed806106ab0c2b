"""The public names of alerting and response: sorted, and each importable."""

from __future__ import annotations

import importlib

import pytest


@pytest.mark.parametrize("package", ["airsoc.alerting", "airsoc.response"])
def test_all_is_sorted_and_complete(package: str) -> None:
    module = importlib.import_module(package)
    assert module.__all__ == sorted(module.__all__)
    for name in module.__all__:
        assert getattr(module, name) is not None
