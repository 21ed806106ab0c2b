"""The audit timeline: append-only, keyed, hash-chained records of every state change that matters.

Entries belong to a chain named after their subject (``incident/42``, ``system/fraud-detector``).
Each entry's hash is an HMAC-SHA256, under a key kept outside the database, of its canonical JSON
plus the previous entry's hash, and it is written in the same transaction as the change it
records. A registry row per chain holds its count and head under a keyed tag; signed heads can be
exported (:func:`anchor_heads`) and checked later (:func:`verify_chains` with ``anchor=``).
"""

from __future__ import annotations

from airsoc.audit.keys import AUDIT_KEY_ENV, AuditKey, audit_key_for_session, load_audit_key
from airsoc.audit.service import (
    GENESIS_HASH,
    AnchoredHead,
    AuditAnchor,
    AuditEntryView,
    ChainReport,
    anchor_heads,
    append_entry,
    list_entries,
    load_anchor,
    upgrade_chains,
    verify_chains,
)

__all__ = [
    "AUDIT_KEY_ENV",
    "GENESIS_HASH",
    "AnchoredHead",
    "AuditAnchor",
    "AuditEntryView",
    "AuditKey",
    "ChainReport",
    "anchor_heads",
    "append_entry",
    "audit_key_for_session",
    "list_entries",
    "load_anchor",
    "load_audit_key",
    "upgrade_chains",
    "verify_chains",
]
