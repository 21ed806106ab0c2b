"""Appending to, verifying, anchoring and upgrading the keyed audit timeline.

Each entry's hash is an HMAC-SHA256, under a key kept outside the database
(:mod:`airsoc.audit.keys`), of its canonical JSON followed by the previous entry's hash. Each
chain's registry row holds its count and head under a keyed tag. Together they name:

- an edited entry, even when the attacker recomputes plain sha256 hashes (no key, no valid HMAC);
- a deleted entry or a truncated tail (a gap, or fewer entries than the registry counts);
- a rewound head (tail deleted and the registry row set back: its keyed tag no longer matches);
- with an anchor (:func:`anchor_heads`, exported elsewhere): a rewind to an old registry row, a
  rewrite after the anchor, and a deleted chain; without one, a deleted chain that a record
  refers to (``expected``).

Example:
    >>> from airsoc.clock import SimulatedClock
    >>> from airsoc.testing import scratch_store
    >>> store = scratch_store()
    >>> clock = SimulatedClock()
    >>> with store.transaction() as s:
    ...     e = append_entry(s, clock=clock, chain="system/fraud-detector", actor="alice",
    ...                      action="routing.rollback", reason="poisoned v7", data={"to": "v6"})
    >>> e.seq, len(e.hash)
    (1, 64)
    >>> with store.read() as s:
    ...     anchor = anchor_heads(s, clock=clock)
    ...     [r.ok for r in verify_chains(s, anchor=anchor)]
    [True]
    >>> store.close()
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from airsoc.audit.keys import AuditKey, audit_key_for_session
from airsoc.audit.models import AuditChain, AuditEntry
from airsoc.clock import Clock, ensure_utc
from airsoc.errors import AuditAnchorError, AuditChainBrokenError, AuditKeyError

__all__ = [
    "ANCHOR_FORMAT",
    "GENESIS_HASH",
    "AnchoredHead",
    "AuditAnchor",
    "AuditEntryView",
    "ChainReport",
    "anchor_heads",
    "append_entry",
    "canonical_entry",
    "entry_hash",
    "entry_mac",
    "head_tag",
    "list_entries",
    "load_anchor",
    "stored_entry_bytes",
    "upgrade_chains",
    "verify_chains",
]

logger = logging.getLogger("airsoc.audit")

GENESIS_HASH = "0" * 64
#: The version tag of exported anchors.
ANCHOR_FORMAT = "airsoc-audit-anchor/1"


class AuditEntryView(BaseModel):
    """An audit entry as the CLI, API and reports show it."""

    model_config = ConfigDict(from_attributes=True)

    chain: str
    seq: int
    at: datetime
    actor: str
    action: str
    reason: str
    data: dict[str, Any]
    prev_hash: str
    hash: str


class ChainReport(BaseModel):
    """The result of checking one chain: ``ok``, or the first broken entry, what and why.

    ``kind`` names the problem with a stable word: ``entry_edited``, ``entry_missing``,
    ``entry_unsigned``, ``other_key``, ``head_rewound``, ``chain_deleted``,
    ``rewritten_since_anchor``, ``record_disagrees`` or ``record_missing``.
    """

    chain: str
    entries: int
    ok: bool
    first_broken_seq: int | None = None
    problem: str | None = None
    kind: str | None = None


class AnchoredHead(BaseModel):
    """One chain's head as an anchor holds it: how many entries and the last entry's hash."""

    model_config = ConfigDict(extra="forbid")

    chain: str
    entries: int
    head_hash: str


class AuditAnchor(BaseModel):
    """Signed heads of every chain at one moment, to be kept outside the database.

    Write it to a file, post it to a webhook or a log (``to_json()``); later,
    ``verify_chains(..., anchor=load_anchor(text))`` names any chain that was deleted, rewound
    or rewritten since. The signature is an HMAC under the audit key.
    """

    model_config = ConfigDict(extra="forbid")

    format: str = ANCHOR_FORMAT
    created_at: datetime
    key_id: str
    chains: list[AnchoredHead]
    signature: str = ""

    def signed_bytes(self) -> bytes:
        """Return the bytes the signature covers (everything but the signature)."""
        body = self.model_dump(mode="json", exclude={"signature"})
        return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()

    def to_json(self) -> str:
        """Return the anchor as one line of JSON."""
        return self.model_dump_json()


def canonical_entry(
    *, chain: str, seq: int, at: datetime, actor: str, action: str, reason: str, data: Any
) -> bytes:
    """Return the bytes an entry's hash covers: sorted-key compact JSON, time in UTC ISO form.

    >>> from datetime import datetime, timezone
    >>> canonical_entry(chain="c", seq=1, at=datetime(2026, 1, 1, tzinfo=timezone.utc),
    ...                 actor="a", action="x", reason="", data={})[:40]
    b'{"action":"x","actor":"a","at":"2026-01-'
    """
    body = {
        "chain": chain,
        "seq": seq,
        "at": ensure_utc(at).isoformat(timespec="microseconds"),
        "actor": actor,
        "action": action,
        "reason": reason,
        "data": data,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def stored_entry_bytes(row: AuditEntry) -> bytes:
    """Return the bytes the hash of a stored entry covers (:func:`canonical_entry` of its
    fields)."""
    return canonical_entry(
        chain=row.chain,
        seq=row.seq,
        at=row.at,
        actor=row.actor,
        action=row.action,
        reason=row.reason,
        data=row.data,
    )


def entry_hash(canonical: bytes, prev_hash: str) -> str:
    """Return sha256 over the canonical entry and the previous hash (entries before keyed audit).

    >>> entry_hash(b"{}", GENESIS_HASH)[:12]
    'cb3911e88a00'
    """
    return hashlib.sha256(canonical + prev_hash.encode()).hexdigest()


def entry_mac(key: AuditKey, canonical: bytes, prev_hash: str) -> str:
    """Return the keyed hash of an entry: HMAC-SHA256 of the canonical entry and previous hash.

    >>> entry_mac(AuditKey(bytes(32)), b"{}", GENESIS_HASH) != entry_hash(b"{}", GENESIS_HASH)
    True
    """
    return key.sign(canonical + prev_hash.encode())


def head_tag(key: AuditKey, *, chain: str, count: int, head_hash: str) -> str:
    """Return the keyed tag of a chain's registry row: its name, count and head hash.

    >>> len(head_tag(AuditKey(bytes(32)), chain="c", count=1, head_hash=GENESIS_HASH))
    64
    """
    return key.sign(_head_message(chain, count, head_hash))


def append_entry(
    session: Session,
    *,
    clock: Clock,
    chain: str,
    actor: str,
    action: str,
    reason: str = "",
    data: dict[str, Any] | None = None,
    key: AuditKey | None = None,
) -> AuditEntryView:
    """Append an entry to ``chain`` inside the caller's transaction and return it.

    The chain's registry row is locked (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite's write
    lock is already held), so concurrent writers queue and the chain never forks. The entry is
    signed with ``key`` (default: the store's audit key). A chain written before keyed audit is
    verified and re-signed first. A registry row whose keyed tag does not match (a head rewound
    by hand) is refused rather than signed again, which would hide the rewind.

    >>> import tempfile
    >>> from airsoc.clock import SimulatedClock
    >>> from airsoc.settings import Settings
    >>> from airsoc.store import Store
    >>> store = Store.open(Settings.resolve(data_dir=tempfile.mkdtemp(), environ={}))
    >>> with store.transaction() as s:
    ...     append_entry(s, clock=SimulatedClock(), chain="c", actor="a", action="x").seq
    1
    >>> store.close()
    """
    signer = key or audit_key_for_session(session)
    payload = _normalise(data or {})
    _ensure_chain(session, chain)
    head = session.execute(
        select(AuditChain).where(AuditChain.chain == chain).with_for_update()
    ).scalar_one()
    if head.head_seq > 0 and head.head_mac is None:
        _upgrade_locked(session, head, signer)
    elif head.head_seq > 0:
        _check_head_before_append(head, signer)
    seq = head.head_seq + 1
    at = clock.now()
    digest = entry_mac(
        signer,
        canonical_entry(
            chain=chain, seq=seq, at=at, actor=actor, action=action, reason=reason, data=payload
        ),
        head.head_hash,
    )
    entry = AuditEntry(
        chain=chain,
        seq=seq,
        at=at,
        actor=actor,
        action=action,
        reason=reason,
        data=payload,
        prev_hash=head.head_hash,
        hash=digest,
        key_id=signer.key_id,
    )
    session.add(entry)
    _set_head(head, signer, count=seq, head_hash=digest)
    session.flush()
    return AuditEntryView.model_validate(entry)


def list_entries(session: Session, *, chain: str) -> list[AuditEntryView]:
    """Return the entries of ``chain`` in order.

    >>> import tempfile
    >>> from airsoc.settings import Settings
    >>> from airsoc.store import Store
    >>> store = Store.open(Settings.resolve(data_dir=tempfile.mkdtemp(), environ={}))
    >>> with store.read() as s:
    ...     list_entries(s, chain="incident/1")
    []
    >>> store.close()
    """
    rows = session.execute(
        select(AuditEntry).where(AuditEntry.chain == chain).order_by(AuditEntry.seq)
    ).scalars()
    return [AuditEntryView.model_validate(r) for r in rows]


def anchor_heads(
    session: Session,
    *,
    clock: Clock,
    key: AuditKey | None = None,
    chains: Sequence[str] | None = None,
) -> AuditAnchor:
    """Return the signed heads of every chain (or the named ones), to export as an anchor.

    Keep the result where whoever can write the database cannot rewrite it: a file on another
    host, a webhook, a log shipper (``anchor.to_json()``). Each chain is walked and verified
    first; a chain that is already broken is refused
    (:class:`~airsoc.errors.AuditChainBrokenError`), so an anchor never vouches for tampered
    history.

    >>> import tempfile
    >>> from airsoc.clock import SimulatedClock
    >>> from airsoc.settings import Settings
    >>> from airsoc.store import Store
    >>> store = Store.open(Settings.resolve(data_dir=tempfile.mkdtemp(), environ={}))
    >>> clock = SimulatedClock()
    >>> with store.transaction() as s:
    ...     _ = append_entry(s, clock=clock, chain="c", actor="a", action="x")
    >>> with store.read() as s:
    ...     anchor = anchor_heads(s, clock=clock)
    >>> [(h.chain, h.entries) for h in anchor.chains], load_anchor(anchor.to_json()) == anchor
    ([('c', 1)], True)
    >>> store.close()
    """
    signer = key or audit_key_for_session(session, create=False)
    reports = verify_chains(session, key=signer, chains=chains)
    broken = [r for r in reports if not r.ok]
    if broken:
        first = broken[0]
        raise AuditChainBrokenError(
            f"audit chain {first.chain} is broken at entry {first.first_broken_seq}: "
            f"{first.problem}; an anchor would vouch for it, so none was made"
        )
    names = [r.chain for r in reports]
    heads = {
        row.chain: row
        for row in session.execute(select(AuditChain).where(AuditChain.chain.in_(names))).scalars()
    }
    anchored = [
        AnchoredHead(chain=name, entries=heads[name].head_seq, head_hash=heads[name].head_hash)
        for name in names
        if name in heads and heads[name].head_seq > 0
    ]
    anchor = AuditAnchor(created_at=clock.now(), key_id=signer.key_id, chains=anchored)
    anchor.signature = signer.sign(anchor.signed_bytes())
    return anchor


def load_anchor(text: str | bytes) -> AuditAnchor:
    """Return the anchor in ``text`` (its signature is checked by :func:`verify_chains`).

    >>> load_anchor('{"format": "x"}')
    Traceback (most recent call last):
    ...
    airsoc.errors.AuditAnchorError: not an airsoc audit anchor: created_at: Field required
    """
    try:
        anchor = AuditAnchor.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise AuditAnchorError(f"not an airsoc audit anchor: {where}: {first['msg']}") from None
    if anchor.format != ANCHOR_FORMAT:
        raise AuditAnchorError(
            f"not an airsoc audit anchor: format {anchor.format!r}, expected {ANCHOR_FORMAT!r}"
        )
    return anchor


def verify_chains(
    session: Session,
    *,
    chains: Sequence[str] | None = None,
    key: AuditKey | None = None,
    anchor: AuditAnchor | None = None,
    expected: Mapping[str, str] | None = None,
) -> list[ChainReport]:
    """Check every chain (or the named ones) and report the first problem of each.

    Parameters
    ----------
    session
        A session of the store.
    chains
        Only these chains (default: every chain in the registry, the anchor and ``expected``).
    key
        The audit key (default: the store's).
    anchor
        Heads exported earlier by :func:`anchor_heads`: a chain it holds that is gone, shorter,
        or different at the anchored entry is named.
    expected
        Chains that records refer to, with who refers (``{"incident/3": "incident 3"}``): a
        missing one is named as deleted.

    Returns
    -------
    list of ChainReport
        One per chain, sorted by chain name.

    Raises
    ------
    AuditAnchorError
        When the anchor's signature does not match this key.

    Examples
    --------
    >>> import tempfile
    >>> from airsoc.settings import Settings
    >>> from airsoc.store import Store
    >>> store = Store.open(Settings.resolve(data_dir=tempfile.mkdtemp(), environ={}))
    >>> with store.read() as s:
    ...     [(r.chain, r.kind) for r in verify_chains(s, expected={"incident/9": "incident 9"})]
    [('incident/9', 'chain_deleted')]
    >>> store.close()
    """
    anchored: dict[str, AnchoredHead] = {h.chain: h for h in anchor.chains} if anchor else {}
    referred = dict(expected or {})
    if chains:
        names = sorted(set(chains))
    else:
        stored = set(session.execute(select(AuditChain.chain)).scalars())
        stored |= set(session.execute(select(AuditEntry.chain).distinct()).scalars())
        names = sorted(stored | set(anchored) | set(referred))
    # The key is looked up only when something signed must be checked: a store that holds
    # only entries from before keyed audit (or nothing) is verified without one.
    signer = _LazyKey(session, key)
    if anchor is not None:
        _check_anchor(anchor, signer.get())
    return [
        _verify_one(
            session, name, signer, anchored=anchored.get(name), referred_by=referred.get(name)
        )
        for name in names
    ]


def upgrade_chains(session: Session, *, key: AuditKey | None = None) -> list[ChainReport]:
    """Verify and re-sign every chain written before keyed audit; return one report per chain.

    A chain whose plain sha256 hashes verify is re-signed entry by entry with the audit key. A
    chain that does not verify is left as it is (re-signing would hide the tampering) and
    reported. Already keyed chains are not touched. Safe to run at every start.

    >>> import tempfile
    >>> from airsoc.settings import Settings
    >>> from airsoc.store import Store
    >>> store = Store.open(Settings.resolve(data_dir=tempfile.mkdtemp(), environ={}))
    >>> with store.transaction() as s:
    ...     upgrade_chains(s)
    []
    >>> store.close()
    """
    signer = key or audit_key_for_session(session)
    legacy = session.execute(
        select(AuditChain)
        .where(AuditChain.head_mac.is_(None), AuditChain.head_seq > 0)
        .order_by(AuditChain.chain)
        .with_for_update()
    ).scalars()
    return [_upgrade_locked(session, head, signer) for head in legacy]


# ---------------------------------------------------------------------- internals


class _LazyKey:
    def __init__(self, session: Session, key: AuditKey | None) -> None:
        self._session = session
        self._key = key

    def get(self) -> AuditKey:
        if self._key is None:
            self._key = audit_key_for_session(self._session, create=False)
        return self._key


def _verify_one(
    session: Session,
    chain: str,
    lazy_key: _LazyKey,
    *,
    anchored: AnchoredHead | None,
    referred_by: str | None,
) -> ChainReport:
    def broken(count: int, seq: int | None, kind: str, problem: str) -> ChainReport:
        return ChainReport(
            chain=chain, entries=count, ok=False, first_broken_seq=seq, problem=problem, kind=kind
        )

    head = session.get(AuditChain, chain)
    rows = session.execute(
        select(AuditEntry).where(AuditEntry.chain == chain).order_by(AuditEntry.seq)
    ).scalars()
    prev = GENESIS_HASH
    count = 0
    hashes: dict[int, str] = {}
    for expected_seq, row in enumerate(rows, start=1):
        count += 1
        if row.seq != expected_seq:
            return broken(
                count,
                expected_seq,
                "entry_missing",
                f"entry {expected_seq} is missing (next stored entry is {row.seq})",
            )
        if row.prev_hash != prev:
            return broken(
                count, row.seq, "entry_edited", "it does not point at the previous entry's hash"
            )
        if row.key_id is None:
            return broken(
                count,
                row.seq,
                "entry_unsigned",
                "it carries no keyed hash (written before keyed audit and never upgraded, "
                "or its key id was erased); run the audit upgrade, or treat it as edited",
            )
        key = lazy_key.get()
        if row.key_id != key.key_id:
            return broken(
                count,
                row.seq,
                "other_key",
                f"it is signed with audit key {row.key_id}, not with this key "
                f"({key.key_id}); verify with the key that wrote it",
            )
        canonical = stored_entry_bytes(row)
        if not key.verify(canonical + row.prev_hash.encode(), row.hash):
            return broken(
                count,
                row.seq,
                "entry_edited",
                "its content does not match its keyed hash (edited after it was written)",
            )
        prev = row.hash
        hashes[row.seq] = row.hash
    if count == 0 and head is None:
        if anchored is not None:
            return broken(
                0,
                1,
                "chain_deleted",
                f"the chain is gone: the anchor holds {anchored.entries} entries of it",
            )
        if referred_by is not None:
            return broken(
                0, 1, "chain_deleted", f"the chain is gone, but {referred_by} refers to it"
            )
        return ChainReport(chain=chain, entries=0, ok=True)
    if head is None:
        return broken(count, 1, "head_rewound", "the chain has entries but no registry row")
    if head.head_seq != count or head.head_hash != prev:
        return broken(
            count,
            count + 1,
            "entry_missing",
            f"the chain head expects {head.head_seq} entries but {count} are stored",
        )
    if count and head.head_mac is None:
        return broken(count, count, "entry_unsigned", "the chain's registry row is not signed")
    if count and (
        head.key_id != (key := lazy_key.get()).key_id
        or head.head_mac is None
        or not key.verify(_head_message(chain, count, prev), head.head_mac)
    ):
        return broken(
            count,
            count + 1,
            "head_rewound",
            f"the registry row (count {count}) does not match its keyed tag: the head was set "
            "back or edited by hand, so entries after it may have been deleted",
        )
    if anchored is not None:
        if count < anchored.entries:
            return broken(
                count,
                count + 1,
                "head_rewound",
                f"the anchor holds {anchored.entries} entries but {count} are stored: "
                f"entries {count + 1}..{anchored.entries} were deleted and the head rewound",
            )
        if hashes.get(anchored.entries) != anchored.head_hash:
            return broken(
                count,
                anchored.entries,
                "rewritten_since_anchor",
                f"entry {anchored.entries} is not the one the anchor holds: the chain was "
                "rewritten since it was anchored",
            )
    return ChainReport(chain=chain, entries=count, ok=True)


def _check_anchor(anchor: AuditAnchor, key: AuditKey) -> None:
    if anchor.key_id != key.key_id:
        raise AuditAnchorError(
            f"the anchor was signed with audit key {anchor.key_id}, not with this key "
            f"({key.key_id})"
        )
    if not key.verify(anchor.signed_bytes(), anchor.signature):
        raise AuditAnchorError(
            "the anchor's signature does not match its content: the anchor was edited"
        )


def _check_head_before_append(head: AuditChain, key: AuditKey) -> None:
    if head.key_id != key.key_id:
        raise AuditKeyError(
            f"audit chain {head.chain} is signed with audit key {head.key_id}, but this process "
            f"holds key {key.key_id}; restore the key (file audit.key in the data dir, or "
            "AIRSOC_AUDIT_KEY) that wrote it"
        )
    if head.head_mac is None or not key.verify(
        _head_message(head.chain, head.head_seq, head.head_hash), head.head_mac
    ):
        raise AuditChainBrokenError(
            f"audit chain {head.chain}: its registry row does not match its keyed tag (the head "
            "was set back or edited by hand); nothing more is appended until it is investigated"
        )


def _upgrade_locked(session: Session, head: AuditChain, key: AuditKey) -> ChainReport:
    rows = list(
        session.execute(
            select(AuditEntry).where(AuditEntry.chain == head.chain).order_by(AuditEntry.seq)
        ).scalars()
    )
    prev = GENESIS_HASH
    problem = None
    for expected_seq, row in enumerate(rows, start=1):
        canonical = stored_entry_bytes(row)
        if (
            row.seq != expected_seq
            or row.prev_hash != prev
            or row.key_id is not None
            or entry_hash(canonical, row.prev_hash) != row.hash
        ):
            problem = f"entry {expected_seq} does not verify as written before keyed audit"
            break
        prev = row.hash
    if problem is None and (head.head_seq != len(rows) or head.head_hash != prev):
        problem = f"the chain head expects {head.head_seq} entries but {len(rows)} are stored"
    if problem is not None:
        logger.error("audit chain %s is not re-signed: %s", head.chain, problem)
        return ChainReport(
            chain=head.chain, entries=len(rows), ok=False, problem=problem, kind="entry_edited"
        )
    prev = GENESIS_HASH
    for row in rows:
        canonical = stored_entry_bytes(row)
        row.prev_hash = prev
        row.hash = entry_mac(key, canonical, prev)
        row.key_id = key.key_id
        prev = row.hash
    _set_head(head, key, count=len(rows), head_hash=prev)
    session.flush()
    return ChainReport(chain=head.chain, entries=len(rows), ok=True)


def _set_head(head: AuditChain, key: AuditKey, *, count: int, head_hash: str) -> None:
    head.head_seq = count
    head.head_hash = head_hash
    head.key_id = key.key_id
    head.head_mac = key.sign(_head_message(head.chain, count, head_hash))


def _head_message(chain: str, count: int, head_hash: str) -> bytes:
    return f"airsoc-audit-head\x00{chain}\x00{count}\x00{head_hash}".encode()


def _ensure_chain(session: Session, chain: str) -> None:
    values = {"chain": chain, "head_seq": 0, "head_hash": GENESIS_HASH}
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(pg_insert(AuditChain).values(**values).on_conflict_do_nothing())
    else:
        session.execute(sqlite_insert(AuditChain).values(**values).on_conflict_do_nothing())


def _normalise(data: dict[str, Any]) -> dict[str, Any]:
    # Round-trip through JSON so what is hashed is exactly what the database gives back.
    loaded: dict[str, Any] = json.loads(json.dumps(data, sort_keys=True, default=str))
    return loaded
