"""Small linear text classifiers stored as numpy arrays (no pickle, no torch).

Two kinds of model, both saved as plain arrays in a ``.npz`` file:

* :class:`HashedTextModel`: character 2-5-grams and word 1-2-grams hashed into a fixed space
  (no vocabulary to store), then a linear layer. Cheap: well under a millisecond per text. It
  is the first stage of every LLM text detector.
* :class:`EmbeddingHead`: a linear layer, or a small neural network (one hidden layer of
  rectified units, fitted by scikit-learn's ``MLPClassifier``), over MiniLM sentence
  embeddings. It reads meaning rather than wording, and runs only where the first stage is
  unsure.

Both are multi-class (one row of weights per class, softmax); a binary model has two classes.

Example:
    >>> m = HashedTextModel.fit(["ignore all rules", "reset my password", "drop your rules",
    ...                          "where is my parcel"], ["attack", "benign", "attack", "benign"])
    >>> m.classes
    ('attack', 'benign')
    >>> float(m.proba(["ignore the rules"])[0, 0]) > 0.5
    True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier

from airsoc.errors import DataFileError

__all__ = ["EmbeddingHead", "HashedTextModel", "load_arrays", "save_arrays"]

_CHAR_FEATURES = 2**18
_WORD_FEATURES = 2**16


@dataclass(frozen=True)
class _Linear:
    classes: tuple[str, ...]
    coef: np.ndarray  # (n_classes, n_features), float32
    intercept: np.ndarray  # (n_classes,)

    def proba_of(self, features: Any) -> np.ndarray:
        logits = np.asarray(features @ self.coef.T, dtype=np.float64) + self.intercept
        if len(self.classes) == 2 and self.coef.shape[0] == 1:
            p = 1.0 / (1.0 + np.exp(-logits[:, 0]))
            return np.stack([1.0 - p, p], axis=1)
        logits -= logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        return np.asarray(e / e.sum(axis=1, keepdims=True))


def _fit_linear(features: Any, labels: Sequence[str], c: float) -> _Linear:
    model = LogisticRegression(C=c, class_weight="balanced", max_iter=2000)
    model.fit(features, list(labels))
    return _Linear(
        tuple(str(x) for x in model.classes_),
        np.asarray(model.coef_, dtype=np.float32),
        np.asarray(model.intercept_, dtype=np.float64),
    )


def _hash_features(texts: Sequence[str]) -> Any:
    chars = HashingVectorizer(
        analyzer="char_wb",
        ngram_range=(2, 5),
        n_features=_CHAR_FEATURES,
        alternate_sign=False,
        norm="l2",
        lowercase=True,
    ).transform(list(texts))
    words = HashingVectorizer(
        analyzer="word",
        ngram_range=(1, 2),
        n_features=_WORD_FEATURES,
        alternate_sign=False,
        norm="l2",
        lowercase=True,
        token_pattern=r"(?u)\b\w+\b",
    ).transform(list(texts))
    return sparse.hstack([chars, words]).tocsr()


class HashedTextModel:
    """A logistic model over hashed character and word n-grams.

    >>> m = HashedTextModel.fit(["a b", "c d"], ["x", "y"])
    >>> m.proba(["a b"]).shape
    (1, 2)
    """

    def __init__(self, linear: _Linear) -> None:
        self.linear = linear

    @property
    def classes(self) -> tuple[str, ...]:
        """Return the class names, in the order of :meth:`proba`'s columns."""
        return self.linear.classes

    @classmethod
    def fit(cls, texts: Sequence[str], labels: Sequence[str], *, c: float = 8.0) -> HashedTextModel:
        """Return the model fitted on ``texts`` and their ``labels``."""
        return cls(_fit_linear(_hash_features(texts), labels, c))

    def proba(self, texts: Sequence[str]) -> np.ndarray:
        """Return one row of class probabilities per text."""
        return self.linear.proba_of(_hash_features(texts))

    def features_of(self, texts: Sequence[str]) -> Any:
        """Return the L2-normalised hashed rows (used to find the nearest known text)."""
        return _hash_features(texts)

    def to_arrays(self, prefix: str) -> dict[str, np.ndarray]:
        """Return the arrays that :meth:`from_arrays` reads back (weights stored as float16)."""
        return _linear_arrays(self.linear, prefix, np.float16)

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], prefix: str) -> HashedTextModel:
        """Return the model stored under ``prefix`` in ``arrays``."""
        return cls(_linear_from(arrays, prefix))


class EmbeddingHead:
    """A logistic model, or a network of one hidden layer, over sentence embeddings.

    >>> head = EmbeddingHead.fit(np.eye(4, dtype=np.float32), ["a", "b", "a", "b"])
    >>> head.proba(np.eye(4, dtype=np.float32)[:1]).round(1).tolist()
    [[0.7, 0.3]]
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(2000, 2)).astype(np.float32)
    >>> y = ["in" if a * b > 0 else "out" for a, b in x]  # no line separates these
    >>> net = EmbeddingHead.fit(x, y, hidden=32)
    >>> float(np.mean((net.proba(x)[:, 0] > 0.5) == (np.array(y) == "in"))) > 0.9
    True
    """

    def __init__(
        self, linear: _Linear, hidden: tuple[np.ndarray, np.ndarray] | None = None
    ) -> None:
        self.linear = linear
        #: The hidden layer's weights (n_inputs, n_units) and biases, or None (logistic).
        self.hidden = hidden

    @property
    def classes(self) -> tuple[str, ...]:
        """Return the class names, in the order of :meth:`proba`'s columns."""
        return self.linear.classes

    @classmethod
    def fit(
        cls, vectors: np.ndarray, labels: Sequence[str], *, c: float = 4.0, hidden: int = 0
    ) -> EmbeddingHead:
        """Return the head fitted on embedding rows and their ``labels``: logistic (with
        inverse regularisation ``c``) or, with ``hidden`` units, a network of one hidden layer
        (L2 penalty 1e-3, early stopping on a tenth of the rows, a fixed seed)."""
        if not hidden:
            return cls(_fit_linear(vectors, labels, c))
        net = MLPClassifier(
            hidden_layer_sizes=(hidden,),
            alpha=1e-3,
            early_stopping=True,
            random_state=0,
            max_iter=200,
        )
        net.fit(vectors, list(labels))
        # Two classes: one output unit gives the probability of the second class, the
        # convention of a binary _Linear; more classes: one unit per class, softmax.
        linear = _Linear(
            tuple(str(x) for x in net.classes_),
            np.asarray(net.coefs_[1].T, dtype=np.float32),
            np.asarray(net.intercepts_[1], dtype=np.float64),
        )
        return cls(
            linear,
            (
                np.asarray(net.coefs_[0], dtype=np.float32),
                np.asarray(net.intercepts_[0], dtype=np.float32),
            ),
        )

    def proba(self, vectors: np.ndarray) -> np.ndarray:
        """Return one row of class probabilities per embedding row."""
        if self.hidden is not None:
            weights, bias = self.hidden
            vectors = np.maximum(np.asarray(vectors, dtype=np.float32) @ weights + bias, 0.0)
        return self.linear.proba_of(vectors)

    def to_arrays(self, prefix: str) -> dict[str, np.ndarray]:
        """Return the arrays that :meth:`from_arrays` reads back."""
        arrays = _linear_arrays(self.linear, prefix, np.float32)
        if self.hidden is not None:
            arrays[f"{prefix}.hidden.coef"], arrays[f"{prefix}.hidden.intercept"] = self.hidden
        return arrays

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], prefix: str) -> EmbeddingHead:
        """Return the head stored under ``prefix`` in ``arrays``."""
        hidden = None
        if f"{prefix}.hidden.coef" in arrays:
            weights = np.asarray(arrays[f"{prefix}.hidden.coef"], dtype=np.float32)
            bias = np.asarray(arrays.get(f"{prefix}.hidden.intercept"), dtype=np.float32)
            if bias.shape != (weights.shape[1],):
                raise DataFileError(
                    f"model arrays: {prefix}.hidden.intercept does not fit its coef"
                )
            hidden = (weights, bias)
        return cls(_linear_from(arrays, prefix), hidden)


def _linear_arrays(linear: _Linear, prefix: str, dtype: Any) -> dict[str, np.ndarray]:
    return {
        f"{prefix}.classes": np.array(linear.classes),
        f"{prefix}.coef": linear.coef.astype(dtype),
        f"{prefix}.intercept": linear.intercept,
    }


def _linear_from(arrays: Mapping[str, np.ndarray], prefix: str) -> _Linear:
    try:
        return _Linear(
            tuple(str(x) for x in arrays[f"{prefix}.classes"]),
            np.asarray(arrays[f"{prefix}.coef"], dtype=np.float32),
            np.asarray(arrays[f"{prefix}.intercept"], dtype=np.float64),
        )
    except KeyError as exc:
        raise DataFileError(f"model arrays lack {exc.args[0]}") from None


def save_arrays(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    """Write ``arrays`` to a compressed ``.npz`` file (plain arrays: loading runs no code).

    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "m.npz"
    >>> save_arrays(p, {"x": np.arange(3)})
    >>> load_arrays(p)["x"].tolist()
    [0, 1, 2]
    """
    np.savez_compressed(path, **dict(arrays))  # type: ignore[arg-type]


def load_arrays(path: Path | str) -> dict[str, np.ndarray]:
    """Return the arrays of a ``.npz`` file, refusing pickled objects."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except (OSError, ValueError) as exc:
        raise DataFileError(f"{path}: cannot read model arrays ({exc})") from None
