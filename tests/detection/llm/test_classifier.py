"""The small classifiers behind the LLM detectors, stored as plain arrays."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from airsoc.detection.llm.classifier import EmbeddingHead, load_arrays, save_arrays
from airsoc.detection.llm.injection import load_injection_model
from airsoc.errors import DataFileError


def _rings(n: int, seed: int) -> tuple[np.ndarray, list[str]]:
    """Points inside a ring and outside it: no line separates them."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 8)).astype(np.float32)
    radius = np.linalg.norm(x, axis=1)
    return x, ["attack" if r > np.median(radius) else "benign" for r in radius]


def test_a_hidden_layer_learns_what_a_logistic_head_cannot() -> None:
    x, y = _rings(3000, seed=1)
    test_x, test_y = _rings(1000, seed=2)
    truth = np.array(test_y) == "attack"
    net = EmbeddingHead.fit(x, y, hidden=32)
    linear = EmbeddingHead.fit(x, y)
    assert net.hidden is not None
    assert linear.hidden is None

    def accuracy(head: EmbeddingHead) -> float:
        p = head.proba(test_x)[:, head.classes.index("attack")]
        return float(np.mean((p > 0.5) == truth))

    assert accuracy(net) > 0.85
    assert accuracy(linear) < 0.65


def test_a_hidden_layer_survives_the_round_trip_through_npz(tmp_path: Path) -> None:
    x, y = _rings(2000, seed=3)
    net = EmbeddingHead.fit(x, y, hidden=16)
    save_arrays(tmp_path / "head.npz", net.to_arrays("head"))
    back = EmbeddingHead.from_arrays(load_arrays(tmp_path / "head.npz"), "head")
    assert back.classes == net.classes
    np.testing.assert_allclose(back.proba(x), net.proba(x), rtol=1e-6)


def test_a_hidden_layer_whose_biases_do_not_fit_its_weights_is_refused() -> None:
    x, y = _rings(2000, seed=4)
    arrays = EmbeddingHead.fit(x, y, hidden=16).to_arrays("head")
    arrays["head.hidden.intercept"] = arrays["head.hidden.intercept"][:3]
    with pytest.raises(DataFileError, match=r"head\.hidden\.intercept"):
        EmbeddingHead.from_arrays(arrays, "head")


def test_the_shipped_injection_head_is_a_network_of_one_hidden_layer() -> None:
    model = load_injection_model()
    assert model.head is not None
    assert model.head.hidden is not None
    weights, bias = model.head.hidden
    assert weights.shape == (384, 256)
    assert bias.shape == (256,)
