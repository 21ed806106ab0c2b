"""Served pipelines called without scikit-learn's per-call table handling, same outputs.

A served model is often ``Pipeline([("pre", ColumnTransformer([...])), ("clf", estimator)])``.
For the small batches a gateway request carries, most of a call is the column transformer's
work on a pandas table (column selection, dtype checks, frame construction), not the model.
:func:`direct_pipeline` looks at a fitted pipeline once and, when every piece of its column
transformer is one it can reproduce exactly (a one-hot encoder of string columns that ignores
unknown values, a standard scaler, a passthrough or a drop) and the transformer hands the
estimator a dense array, returns a :class:`DirectPipeline` that builds the same float64 array
straight from the columns' values and calls the fitted estimator on it. A lone text column
under a TF-IDF or count vectorizer (a sparse output) is taken too: the vectorizer is called on
the texts and its matrix stacked as the column transformer stacks it. Anything else (other
steps, other transformers, sparse output, a configured output container) gets ``None``: the
adapter then calls the pipeline as usual.

At call time the values are checked first: a value that is not a plain string, or a number
that is not finite (or an integer float64 cannot hold exactly), makes :meth:`DirectPipeline.
transform` return ``None`` and the adapter takes the usual path, so errors and corner cases
stay scikit-learn's own.

Example:
    >>> import pandas as pd
    >>> from sklearn.compose import ColumnTransformer
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import Pipeline
    >>> from sklearn.preprocessing import OneHotEncoder
    >>> frame = pd.DataFrame({"kind": ["a", "b", "a", "b"], "x": [0.0, 1.0, 0.2, 0.9]})
    >>> pre = ColumnTransformer(
    ...     [("kind", OneHotEncoder(handle_unknown="ignore"), ["kind"])], remainder="passthrough")
    >>> model = Pipeline([("pre", pre), ("clf", LogisticRegression())]).fit(frame, [0, 1, 0, 1])
    >>> direct = direct_pipeline(model, {"kind": "string", "x": "number"})
    >>> columns = {"kind": ["a", "c"], "x": [0.5, 1.0]}
    >>> (direct.predict_proba(columns, 2) == model.predict_proba(pd.DataFrame(columns))).all()
    np.True_
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["DirectPipeline", "direct_pipeline"]

#: Integers float64 holds exactly; a larger one takes the usual path.
_EXACT_INT = 2**53


@dataclass(frozen=True, slots=True)
class _Piece:
    """One transformer of the column transformer: its kind, its input columns, its state."""

    kind: str  # "onehot", "scale", "passthrough" or "text"
    columns: tuple[str, ...]
    categories: tuple[dict[str, int], ...] = ()
    width: int = 0
    mean: np.ndarray | None = None
    scale: np.ndarray | None = None
    vectorizer: Any = None


class DirectPipeline:
    """A fitted ``ColumnTransformer`` + estimator pipeline, called on columns of values."""

    def __init__(self, pieces: Sequence[_Piece], estimator: Any, kinds: Mapping[str, str]):
        self.pieces = tuple(pieces)
        self.estimator = estimator
        used = {c for piece in self.pieces for c in piece.columns}
        self._strings = tuple(c for c in used if kinds[c] == "string")
        self._numbers = tuple(c for c in used if kinds[c] != "string")

    def transform(self, columns: Mapping[str, Any], n: int) -> Any:
        """Return the array the column transformer would hand the estimator for these
        ``n`` rows, or None when a value (or a global output setting) asks for the usual path.

        A column is a list of plain values or a numpy array: float64 for numbers, object
        holding strings for strings."""
        if _global_output() != "default":
            return None
        for name in self._strings:
            values = columns[name]
            if isinstance(values, np.ndarray) and (values.dtype != object or values.ndim != 1):
                return None
            if len(values) != n or (n and set(map(type, values)) != {str}):
                return None
        for name in self._numbers:
            if not _plain_numbers(columns[name], n):
                return None
        if self.pieces[0].kind == "text":
            # The column transformer's sparse output: the vectorizer's matrix, checked and
            # stacked as it does (a lone text column is the only sparse case taken here).
            from scipy import sparse
            from sklearn.utils import check_array

            piece = self.pieces[0]
            matrix = piece.vectorizer.transform(list(columns[piece.columns[0]]))
            checked = check_array(matrix, accept_sparse=True, ensure_all_finite=False)
            return sparse.hstack([checked]).tocsr()
        blocks: list[np.ndarray] = []
        for piece in self.pieces:
            if piece.kind == "onehot":
                block = np.zeros((n, piece.width), dtype=np.float64)
                offset = 0
                for name, index in zip(piece.columns, piece.categories, strict=True):
                    # Each value's category, -1 for one the encoder never saw (ignored).
                    at = np.fromiter(
                        map(index.get, columns[name], itertools.repeat(-1)), np.intp, count=n
                    )
                    known = np.flatnonzero(at >= 0)
                    block[known, offset + at[known]] = 1.0
                    offset += len(index)
            else:
                block = np.array([columns[c] for c in piece.columns], dtype=np.float64).T
                if piece.kind == "scale":
                    # StandardScaler.transform's own operations, in its order.
                    if piece.mean is not None:
                        block -= piece.mean
                    if piece.scale is not None:
                        block /= piece.scale
            blocks.append(block)
        return np.hstack(blocks)

    def predict_proba(self, columns: Mapping[str, Any], n: int) -> np.ndarray | None:
        """Return the estimator's class probabilities, or None (the usual path)."""
        data = self.transform(columns, n)
        return None if data is None else np.asarray(self.estimator.predict_proba(data))

    def predict(self, columns: Mapping[str, Any], n: int) -> np.ndarray | None:
        """Return the estimator's predictions, or None (the usual path)."""
        data = self.transform(columns, n)
        return None if data is None else np.asarray(self.estimator.predict(data))


def direct_pipeline(model: Any, kinds: Mapping[str, str]) -> DirectPipeline | None:
    """Return a :class:`DirectPipeline` for ``model`` fed columns of the types ``kinds``
    (feature name -> gateway type), or None when it cannot give exactly the pipeline's output."""
    try:
        from sklearn.compose import ColumnTransformer
        from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import OneHotEncoder, StandardScaler
    except ImportError:  # pragma: no cover - scikit-learn is a dependency
        return None
    if type(model) is not Pipeline or len(model.steps) != 2:
        return None
    pre, estimator = model.steps[0][1], model.steps[1][1]
    if type(pre) is not ColumnTransformer or not hasattr(pre, "transformers_"):
        return None
    if _configured_output(pre):
        return None
    fitted_names = [str(n) for n in getattr(pre, "feature_names_in_", [])]
    if not fitted_names or not set(fitted_names) <= set(kinds):
        return None
    pieces: list[_Piece] = []
    for _, transformer, spec in pre.transformers_:
        if isinstance(spec, str) and transformer != "drop":
            # A single named column: a 1-D column, which only a text vectorizer is taken on.
            if type(transformer) not in (TfidfVectorizer, CountVectorizer):
                return None
            if kinds.get(spec) != "string" or not isinstance(transformer.vocabulary_, dict):
                return None
            width = len(transformer.vocabulary_)
            pieces.append(_Piece("text", (spec,), width=width, vectorizer=transformer))
            continue
        names = _column_names(spec, fitted_names)
        if names is None:
            return None
        if transformer == "drop" or not names:
            continue
        piece = _piece(transformer, names, kinds, OneHotEncoder, StandardScaler)
        if piece is None:
            return None
        pieces.append(piece)
    if not pieces or all(p.kind == "passthrough" for p in pieces):
        return None
    texts = sum(p.kind == "text" for p in pieces)
    if texts and (len(pieces) != 1 or getattr(pre, "sparse_output_", False) is not True):
        return None
    if not texts and getattr(pre, "sparse_output_", True) is not False:
        return None
    width = sum(p.width for p in pieces)
    if getattr(estimator, "n_features_in_", width) != width:
        return None
    if not hasattr(estimator, "predict"):
        return None
    return DirectPipeline(pieces, estimator, kinds)


def _plain_numbers(values: Any, n: int) -> bool:
    """Whether ``values`` are ``n`` finite numbers that float64 holds exactly, as plain
    Python numbers or a one-dimensional float64 array."""
    if len(values) != n:
        return False
    if isinstance(values, np.ndarray):
        return values.ndim == 1 and values.dtype == np.float64 and bool(np.isfinite(values).all())
    kinds = set(map(type, values))
    # The common cases at C speed; a mix of ints and floats value by value.
    if kinds == {float}:
        return bool(np.isfinite(np.fromiter(values, np.float64, count=n)).all())
    if kinds == {int}:
        return bool(min(values) >= -_EXACT_INT and max(values) <= _EXACT_INT)
    for v in values:
        kind = type(v)
        if kind is float:
            if not math.isfinite(v):
                return False
        elif kind is not int or not -_EXACT_INT <= v <= _EXACT_INT:
            return False
    return True


def _global_output() -> Any:
    import sklearn

    return sklearn.get_config().get("transform_output", "default")


def _configured_output(transformer: Any) -> bool:
    config = getattr(transformer, "_sklearn_output_config", None) or {}
    return any(value not in (None, "default") for value in config.values())


def _column_names(spec: Any, fitted: list[str]) -> list[str] | None:
    """Return the feature names a transformer's column spec picks (lists of names or of
    positions), or None for any other spec (a single name gives 1-D input; masks, slices)."""
    if isinstance(spec, str) or not isinstance(spec, list | tuple | np.ndarray):
        return None
    out = []
    for item in list(spec):
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, int | np.integer) and not isinstance(item, bool | np.bool_):
            if not 0 <= int(item) < len(fitted):
                return None
            out.append(fitted[int(item)])
        else:
            return None
    return out


def _identity(transformer: Any) -> bool:
    """Whether ``transformer`` is the identity a fitted column transformer puts in place of
    ``"passthrough"`` (a ``FunctionTransformer`` without function or validation)."""
    from sklearn.preprocessing import FunctionTransformer

    return (
        type(transformer) is FunctionTransformer
        and transformer.func is None
        and not transformer.validate
        and not transformer.kw_args
        and not _configured_output(transformer)
    )


def _piece(
    transformer: Any, names: list[str], kinds: Mapping[str, str], onehot: Any, scaler: Any
) -> _Piece | None:
    numeric = all(kinds.get(n) in ("number", "integer") for n in names)
    if transformer == "passthrough" or _identity(transformer):
        return _Piece("passthrough", tuple(names), width=len(names)) if numeric else None
    if type(transformer) is scaler:
        if not numeric or getattr(transformer, "n_features_in_", None) != len(names):
            return None
        mean = transformer.mean_ if transformer.with_mean else None
        scale = transformer.scale_ if transformer.with_std else None
        for values in (mean, scale):
            if values is not None and (
                not isinstance(values, np.ndarray) or values.dtype != np.float64
            ):
                return None
        return _Piece("scale", tuple(names), width=len(names), mean=mean, scale=scale)
    if type(transformer) is onehot:
        if (
            any(kinds.get(n) != "string" for n in names)
            or transformer.handle_unknown != "ignore"
            or getattr(transformer, "drop_idx_", None) is not None
            or getattr(transformer, "_infrequent_enabled", True)
            or np.dtype(transformer.dtype) != np.float64
            or len(transformer.categories_) != len(names)
        ):
            return None
        indexes = []
        for categories in transformer.categories_:
            values = list(categories)
            if not all(type(v) is str for v in values) or len(set(values)) != len(values):
                return None
            indexes.append({v: i for i, v in enumerate(values)})
        width = sum(len(i) for i in indexes)
        return _Piece("onehot", tuple(names), categories=tuple(indexes), width=width)
    return None
