"""Return profiles as bytes and back: a stable, versioned format that never runs code on load.

A serialised :class:`~airsoc.detection.profiles.DatasetProfile` is::

    b"ASPROF"                 6 bytes, magic
    version                   uint16, big-endian (currently 1)
    header length             uint32, big-endian
    header                    UTF-8 JSON: dataset fields, one object per column, blob table
    blobs                     raw bytes, one after the other, as the blob table describes

Numeric arrays are stored little-endian with their dtype in the blob table (``<i8`` histogram
counts, ``<f8`` exact sorted values); sketches are stored in Apache DataSketches' own portable
serialisation (KLL doubles, frequent strings), which every DataSketches language reads. The
header is written with sorted keys, so equal profiles give equal bytes. A reader refuses a
newer version or a damaged buffer with a :class:`~airsoc.errors.DataFileError` rather than
guessing; nothing is unpickled.

This is the form profiles travel in between Spark executors and the driver
(:mod:`airsoc.detection.spark`); :meth:`DatasetProfile.save` keeps writing ``.profile`` files.

Example:
    >>> from airsoc.detection.profiles import profile
    >>> p = profile({"x": [1.0, 2.0, None], "c": ["a", "b", "a"]})
    >>> data = profile_to_bytes(p)
    >>> data[:6], profile_from_bytes(data)["c"].category_counts
    (b'ASPROF', {'a': 2, 'b': 1})
    >>> profile_to_bytes(profile_from_bytes(data)) == data
    True
"""

from __future__ import annotations

import json
import struct
from typing import Any

import numpy as np
import numpy.typing as npt

from airsoc.detection.profiles import ColumnProfile, DatasetProfile, Grid
from airsoc.errors import DataFileError

__all__ = ["FORMAT_VERSION", "MAGIC", "profile_from_bytes", "profile_to_bytes"]

MAGIC = b"ASPROF"
FORMAT_VERSION = 1
_PREFIX = struct.Struct(">6sHI")
# Blob fields of a column and the dtype each is stored as (None: opaque sketch bytes).
_ARRAYS: dict[str, str | None] = {"counts": "<i8", "values": "<f8", "kll": None, "frequent": None}
_SCALARS = (
    "name",
    "kind",
    "n_rows",
    "nulls",
    "n_infinite",
    "min",
    "max",
    "mean",
    "m2",
    "out_of_range",
    "category_counts",
    "other_count",
)


def _finite_or_none(value: float | None) -> float | str | None:
    # JSON has no NaN or infinity; min/max of a column with infinite values can be infinite.
    if value is None or np.isfinite(value):
        return value
    return repr(float(value))


def _float_back(value: float | str | None) -> float | None:
    return float(value) if value is not None else None


def profile_to_bytes(profile: DatasetProfile) -> bytes:
    """Return ``profile`` serialised (format version :data:`FORMAT_VERSION`).

    >>> from airsoc.detection.profiles import profile
    >>> len(profile_to_bytes(profile({"x": [1.0]}))) > 12
    True
    """
    blobs: list[bytes] = []
    offset = 0
    columns: list[dict[str, Any]] = []
    for col in profile.columns.values():
        meta: dict[str, Any] = {name: getattr(col, name) for name in _SCALARS}
        for name in ("min", "max", "mean", "m2"):
            meta[name] = _finite_or_none(meta[name])
        meta["grid"] = None if col.grid is None else [col.grid.lo, col.grid.width, col.grid.size]
        stored: dict[str, dict[str, Any]] = {}
        for name, dtype in _ARRAYS.items():
            value = getattr(col, name)
            if value is None:
                continue
            raw = bytes(value) if dtype is None else np.ascontiguousarray(value, dtype).tobytes()
            stored[name] = {"dtype": dtype, "offset": offset, "length": len(raw)}
            blobs.append(raw)
            offset += len(raw)
        meta["blobs"] = stored
        columns.append(meta)
    header = {
        "n_rows": profile.n_rows,
        "source": profile.source,
        "meta": profile.meta,
        "columns": columns,
    }
    head = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    return _PREFIX.pack(MAGIC, FORMAT_VERSION, len(head)) + head + b"".join(blobs)


def _blob(body: bytes, spec: dict[str, Any]) -> npt.NDArray[Any] | bytes:
    start, length = int(spec["offset"]), int(spec["length"])
    if start < 0 or start + length > len(body):
        raise DataFileError("profile bytes are truncated: a column's data runs past the end")
    raw = body[start : start + length]
    if spec["dtype"] is None:
        return raw
    return np.frombuffer(raw, dtype=spec["dtype"]).astype(spec["dtype"][1:], copy=True)


def profile_from_bytes(data: bytes, *, source: str = "profile bytes") -> DatasetProfile:
    """Return the profile serialised in ``data``; DataFileError if it is not one, or newer.

    >>> profile_from_bytes(b"PK\\x03\\x04 not a profile")
    Traceback (most recent call last):
    ...
    airsoc.errors.DataFileError: profile bytes: not an airsoc profile (bad magic)
    """
    if len(data) < _PREFIX.size or data[: len(MAGIC)] != MAGIC:
        raise DataFileError(f"{source}: not an airsoc profile (bad magic)")
    _magic, version, head_len = _PREFIX.unpack_from(data)
    if version != FORMAT_VERSION:
        raise DataFileError(
            f"{source}: profile format version {version} is not supported "
            f"(this airsoc reads version {FORMAT_VERSION}); upgrade airsoc"
        )
    head_end = _PREFIX.size + head_len
    if head_end > len(data):
        raise DataFileError(f"{source}: profile bytes are truncated in the header")
    try:
        header = json.loads(data[_PREFIX.size : head_end])
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataFileError(f"{source}: damaged profile header: {exc}") from None
    body = data[head_end:]
    cols: dict[str, ColumnProfile] = {}
    for meta in header["columns"]:
        blobs = meta.pop("blobs")
        grid = meta.pop("grid")
        for name in ("min", "max", "mean", "m2"):
            meta[name] = _float_back(meta[name])
        arrays: dict[str, Any] = {name: _blob(body, spec) for name, spec in blobs.items()}
        cols[meta["name"]] = ColumnProfile(
            **meta,
            grid=None if grid is None else Grid(float(grid[0]), float(grid[1]), int(grid[2])),
            **arrays,
        )
    return DatasetProfile(cols, int(header["n_rows"]), str(header["source"]), header["meta"])
