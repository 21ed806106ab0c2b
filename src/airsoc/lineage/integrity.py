"""Integrity: content hashes of artifacts and data files, where a registry URI points on disk,
and checks of registered model artifacts and batches against the sha256 the registry holds.

A mismatch is a ``supply_chain`` signal: the :class:`IntegrityReport` says so and
:meth:`IntegrityReport.raise_for_mismatch` turns it into an error.

Example:
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "model.joblib"
    >>> _ = path.write_bytes(b"weights")
    >>> sha256_file(path)[:12]
    '9a129038d9a0'
    >>> local_path("file://" + str(path)) == path
    True
    >>> local_path("https://models.example/model.joblib") is None
    True
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from urllib.parse import unquote, urlparse

from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from airsoc.errors import HashMismatchError, InputError, NotFoundError
from airsoc.lineage.records import batch_row, model_row

__all__ = ["IntegrityReport", "local_path", "sha256_file", "verify_artifact", "verify_batch"]

_CHUNK = 1 << 20


def sha256_file(path: str | Path) -> str:
    """Return the hex sha256 of the file at ``path``, read in 1 MiB chunks.

    A directory (an MLflow model folder, say) hashes as the sha256 over its files' relative
    paths and contents in sorted order, so the same tree always gives the same hash.
    """
    target = Path(path)
    if target.is_dir():
        tree = hashlib.sha256()
        for file in sorted(p for p in target.rglob("*") if p.is_file()):
            tree.update(file.relative_to(target).as_posix().encode() + b"\0")
            tree.update(bytes.fromhex(sha256_file(file)))
        return tree.hexdigest()
    digest = hashlib.sha256()
    try:
        with open(target, "rb") as fh:
            while chunk := fh.read(_CHUNK):
                digest.update(chunk)
    except FileNotFoundError:
        raise NotFoundError(f"file {path} does not exist") from None
    return digest.hexdigest()


def local_path(uri: str) -> Path | None:
    """Return the local file a URI names (a plain path or ``file://``), or None for remote URIs."""
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    if not parsed.scheme:
        return Path(uri)
    return None


class IntegrityReport(BaseModel):
    """The result of checking a file against the sha256 the registry holds."""

    subject: str
    path: str
    expected: str
    actual: str
    ok: bool
    failure_mode: str | None = Field(None, description="'supply_chain' when the hashes differ")

    def raise_for_mismatch(self) -> IntegrityReport:
        """Return self when the hashes match; raise :class:`HashMismatchError` otherwise."""
        if not self.ok:
            raise HashMismatchError(
                f"{self.subject}: {self.path} hashes to {self.actual}, "
                f"the registry holds {self.expected} (supply_chain)"
            )
        return self


def verify_artifact(
    session: Session, *, system: str, version: str, path: str | Path | None = None
) -> IntegrityReport:
    """Return whether a model artifact (its registered URI, or ``path``) has the registered hash.

    A mismatch is a ``supply_chain`` signal: the report says so and
    :meth:`IntegrityReport.raise_for_mismatch` turns it into an error.
    """
    row = model_row(session, system, version)
    return _verify(f"model {system} {version}", row.artifact_uri, row.sha256, path)


def verify_batch(
    session: Session, *, batch_id: str, path: str | Path | None = None
) -> IntegrityReport:
    """Return whether a batch's file (its registered URI, or ``path``) has the registered hash."""
    row = batch_row(session, batch_id)
    return _verify(f"batch {batch_id}", row.uri, row.sha256, path)


def _verify(subject: str, uri: str, expected: str, path: str | Path | None) -> IntegrityReport:
    target = Path(path) if path is not None else local_path(uri) if uri else None
    if target is None:
        raise InputError(f"{subject}: {uri or 'no URI'} is not a local file; give --path")
    actual = sha256_file(target)
    ok = actual == expected
    return IntegrityReport(
        subject=subject,
        path=str(target),
        expected=expected,
        actual=actual,
        ok=ok,
        failure_mode=None if ok else "supply_chain",
    )
