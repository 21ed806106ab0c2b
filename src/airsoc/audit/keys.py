"""The audit timeline's signing key: kept outside the database, found the same way everywhere.

Resolution order: ``AIRSOC_AUDIT_KEY`` in the environment (64 hex digits, or any text of at
least 32 characters), then the file ``<data-dir>/audit.key`` (mode 0600), created with 32 random
bytes on first use. Every process that writes one database must hold the same key: with
PostgreSQL shared by several hosts, set ``AIRSOC_AUDIT_KEY`` on each.

A key is known by its *key id* (a short hash of the key, never the key), stored with every entry
and chain head so a verifier holding another key says so instead of calling everything edited.

Example:
    >>> import tempfile
    >>> data_dir = tempfile.mkdtemp()
    >>> key = load_audit_key(data_dir=data_dir, environ={})
    >>> key == load_audit_key(data_dir=data_dir, environ={}), len(key.key_id)
    (True, 16)
    >>> oct((Path(data_dir) / "audit.key").stat().st_mode & 0o777)
    '0o600'
    >>> AuditKey.from_text("k" * 32).sign(b"entry")[:12]
    '78a96a12f267'
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
import stat
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airsoc.errors import AuditKeyError

__all__ = [
    "AUDIT_KEY_ENV",
    "AUDIT_KEY_FILE",
    "AuditKey",
    "audit_key_for_session",
    "load_audit_key",
]

#: The environment variable that holds the key (takes precedence over the key file).
AUDIT_KEY_ENV = "AIRSOC_AUDIT_KEY"
#: The key file's name in the data dir.
AUDIT_KEY_FILE = "audit.key"
#: Where a :class:`~airsoc.store.Store` session keeps the settings it was opened with.
_SETTINGS_INFO = "airsoc_settings"
#: A session may carry its own key (tests, tools that verify with a given key).
_KEY_INFO = "airsoc_audit_key"
_MIN_TEXT_KEY = 32

_cache: dict[tuple[str, int, int, int], AuditKey] = {}
_cache_lock = threading.Lock()


@dataclass(frozen=True)
class AuditKey:
    """An HMAC-SHA256 key and its public id; ``repr`` never shows the secret."""

    secret: bytes = field(repr=False)
    key_id: str = ""

    def __post_init__(self) -> None:
        if not self.key_id:
            ident = hashlib.sha256(b"airsoc-audit-key-id\x00" + self.secret).hexdigest()[:16]
            object.__setattr__(self, "key_id", ident)

    @classmethod
    def from_text(cls, text: str) -> AuditKey:
        """Return the key written as 64 hex digits, or as text of at least 32 characters.

        >>> AuditKey.from_text("00" * 32).key_id == AuditKey(bytes(32)).key_id
        True
        >>> AuditKey.from_text("short")
        Traceback (most recent call last):
        ...
        airsoc.errors.AuditKeyError: the audit key is too short: give 64 hex digits or at least \
32 characters
        """
        value = text.strip()
        if len(value) == 64:
            try:
                return cls(bytes.fromhex(value))
            except ValueError:
                pass
        if len(value) < _MIN_TEXT_KEY:
            raise AuditKeyError(
                "the audit key is too short: give 64 hex digits or at least 32 characters"
            )
        return cls(value.encode())

    def sign(self, message: bytes) -> str:
        """Return the hex HMAC-SHA256 of ``message`` under this key.

        >>> len(AuditKey(bytes(32)).sign(b"x"))
        64
        """
        return hmac.new(self.secret, message, hashlib.sha256).hexdigest()

    def verify(self, message: bytes, tag: str) -> bool:
        """Return whether ``tag`` is this key's HMAC of ``message`` (constant-time compare).

        >>> key = AuditKey(bytes(32))
        >>> key.verify(b"x", key.sign(b"x")), key.verify(b"y", key.sign(b"x"))
        (True, False)
        """
        return hmac.compare_digest(self.sign(message), tag)


def load_audit_key(
    *, data_dir: str | Path, environ: Mapping[str, str] | None = None, create: bool = True
) -> AuditKey:
    """Return the audit key: ``AIRSOC_AUDIT_KEY``, else ``<data_dir>/audit.key``.

    Parameters
    ----------
    data_dir
        The data dir whose key file is used when the environment holds no key.
    environ
        The environment to read (default: ``os.environ``).
    create
        Create the key file (32 random bytes, mode 0600) when it does not exist yet. Two
        processes creating it at once end up with the same key.

    Raises
    ------
    AuditKeyError
        When the key is too short, or the file is malformed or readable by other users.

    Examples
    --------
    >>> load_audit_key(data_dir="/nonexistent", environ={"AIRSOC_AUDIT_KEY": "ab" * 32}).key_id
    '68e7e8b2f350cf64'
    """
    env = os.environ if environ is None else environ
    text = env.get(AUDIT_KEY_ENV)
    if text:
        return AuditKey.from_text(text)
    path = Path(data_dir) / AUDIT_KEY_FILE
    with _cache_lock:
        if not path.exists():
            if not create:
                raise AuditKeyError(
                    f"no audit key: set {AUDIT_KEY_ENV} or restore {AUDIT_KEY_FILE} in the data dir"
                )
            _create_key_file(path)
        try:
            info = path.stat()
        except OSError as exc:
            raise AuditKeyError(f"cannot read the audit key file: {exc.strerror}") from None
        # Keyed by the file's identity too: a replaced key file is read again.
        cache_key = (str(path.resolve()), info.st_ino, info.st_mtime_ns, info.st_mode)
        cached = _cache.get(cache_key)
        if cached is None:
            cached = _cache[cache_key] = _read_key_file(path)
        return cached


def audit_key_for_session(session: Any, *, create: bool = True) -> AuditKey:
    """Return the audit key for a session of a :class:`~airsoc.store.Store`.

    A key set on the session (``session.info["airsoc_audit_key"]``) wins; otherwise the key
    comes from the environment or the data dir of the settings the store was opened with.
    Writers create the key file on first use; verifiers pass ``create=False`` so a missing key
    is an error, never a new key that would call every entry forged.

    >>> from types import SimpleNamespace
    >>> audit_key_for_session(SimpleNamespace(info={"airsoc_audit_key": AuditKey(bytes(32))}))
    AuditKey(key_id='9016d2a2617c1b11')
    """
    info = getattr(session, "info", {})
    given = info.get(_KEY_INFO)
    if isinstance(given, AuditKey):
        return given
    settings = info.get(_SETTINGS_INFO)
    data_dir = getattr(settings, "data_dir", None)
    if data_dir is None:
        text = os.environ.get(AUDIT_KEY_ENV)
        if text:
            return AuditKey.from_text(text)
        raise AuditKeyError(
            f"no audit key for this session: open it through airsoc's Store or set {AUDIT_KEY_ENV}"
        )
    return load_audit_key(data_dir=data_dir, create=create)


def _create_key_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".audit-key-")
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, (secrets.token_hex(32) + "\n").encode())
        os.fsync(fd)
        os.close(fd)
        # link() fails when the file exists: a concurrent creator's key wins, whole.
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def _read_key_file(path: Path) -> AuditKey:
    try:
        mode = path.stat().st_mode
        text = path.read_text()
    except OSError as exc:
        raise AuditKeyError(
            f"cannot read the audit key file {AUDIT_KEY_FILE}: {exc.strerror}"
        ) from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise AuditKeyError(
            f"the audit key file {path} is readable by other users "
            f"(mode {oct(mode & 0o777)}); run chmod 600 on it"
        )
    value = text.strip()
    if len(value) != 64:
        raise AuditKeyError(f"the audit key file {path} does not hold 64 hex digits")
    return AuditKey.from_text(value)
