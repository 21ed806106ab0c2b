"""Content hashes of artifacts and data files, and where a registry URI points on disk.

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

from airsoc.errors import NotFoundError

__all__ = ["local_path", "sha256_file"]

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
