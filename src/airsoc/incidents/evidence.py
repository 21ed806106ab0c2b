"""Content-addressed evidence blobs on disk: ``<root>/<sha[:2]>/<sha>``, written atomically.

Example:
    >>> import tempfile
    >>> blobs = BlobStore(tempfile.mkdtemp())
    >>> digest = blobs.put(b"prediction log excerpt")
    >>> blobs.get(digest)
    b'prediction log excerpt'
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from airsoc.errors import HashMismatchError, NotFoundError

__all__ = ["BlobStore", "sha256_hex"]


def sha256_hex(data: bytes) -> str:
    """Return the hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


class BlobStore:
    """Immutable blobs keyed by their sha256; a blob is never half-written."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def path(self, digest: str) -> Path:
        """Return where the blob with ``digest`` lives."""
        return self.root / digest[:2] / digest

    def put(self, data: bytes) -> str:
        """Store ``data`` (once, however often it is put) and return its sha256."""
        digest = sha256_hex(data)
        target = self.path(digest)
        if target.exists():
            return digest
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return digest

    def get(self, digest: str) -> bytes:
        """Return the blob, after checking it still hashes to ``digest``."""
        target = self.path(digest)
        try:
            data = target.read_bytes()
        except FileNotFoundError:
            raise NotFoundError(f"evidence blob {digest} is missing from {self.root}") from None
        actual = sha256_hex(data)
        if actual != digest:
            raise HashMismatchError(
                f"evidence blob {digest} has been altered on disk (it now hashes to {actual})"
            )
        return data
