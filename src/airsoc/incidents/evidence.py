"""Content-addressed evidence blobs on disk: ``<root>/<sha[:2]>/<sha>``, written atomically.

Example:
    >>> import tempfile
    >>> blobs = BlobStore(tempfile.mkdtemp())
    >>> digest = blobs.put(b"prediction log excerpt")
    >>> blobs.get(digest)
    b'prediction log excerpt'
    >>> blobs.check(digest), blobs.check("0" * 64)
    ('ok', 'missing')
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Literal

from airsoc.errors import HashMismatchError, NotFoundError

__all__ = ["BlobStatus", "BlobStore", "sha256_hex"]

#: What :meth:`BlobStore.check` finds: the blob hashes to its name, is gone, or was altered.
BlobStatus = Literal["ok", "missing", "altered"]

_CHUNK = 1 << 20


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

    def put_stream(self, stream: BinaryIO) -> tuple[str, int]:
        """Store what ``stream`` holds, copied in chunks (never whole in memory), and return its
        sha256 and size. Until the copy is complete and synced it has only a temporary name.

        >>> import io, tempfile
        >>> BlobStore(tempfile.mkdtemp()).put_stream(io.BytesIO(b"x"))[1]
        1
        """
        self.root.mkdir(parents=True, exist_ok=True)
        hasher = hashlib.sha256()
        size = 0
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                while chunk := stream.read(_CHUNK):
                    hasher.update(chunk)
                    size += len(chunk)
                    fh.write(chunk)
                fh.flush()
                os.fsync(fh.fileno())
            digest = hasher.hexdigest()
            target = self.path(digest)
            if target.exists():
                Path(tmp).unlink()
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return digest, size

    def get(self, digest: str) -> bytes:
        """Return the blob, after checking it still hashes to ``digest``."""
        if not _is_sha256(digest):
            raise HashMismatchError(f"{digest[:80]!r} is not a sha256 digest")
        target = self.path(digest)
        try:
            data = target.read_bytes()
        except FileNotFoundError:
            # The message reaches API clients: it names the blob, never the server's paths.
            raise NotFoundError(
                f"evidence blob {digest} is missing from the evidence store"
            ) from None
        actual = sha256_hex(data)
        if actual != digest:
            raise HashMismatchError(
                f"evidence blob {digest} has been altered on disk (it now hashes to {actual})"
            )
        return data

    def check(self, digest: str) -> BlobStatus:
        """Return whether the blob named ``digest`` is intact, missing or altered (streamed).

        >>> import tempfile
        >>> blobs = BlobStore(tempfile.mkdtemp())
        >>> d = blobs.put(b"x")
        >>> _ = blobs.path(d).write_bytes(b"y")
        >>> blobs.check(d)
        'altered'
        """
        if not _is_sha256(digest):
            return "altered"  # not a sha256 at all: never used as a path
        hasher = hashlib.sha256()
        try:
            with self.path(digest).open("rb") as fh:
                while chunk := fh.read(_CHUNK):
                    hasher.update(chunk)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return "missing"
        return "ok" if hasher.hexdigest() == digest else "altered"


def _is_sha256(digest: str) -> bool:
    return len(digest) == 64 and all(c in "0123456789abcdef" for c in digest)
