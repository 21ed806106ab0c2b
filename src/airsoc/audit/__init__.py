"""The audit timeline: append-only, hash-chained records of every state change that matters.

Entries belong to a chain named after their subject (``incident/42``, ``system/fraud-detector``).
Each entry's hash is sha256 over its canonical JSON plus the previous entry's hash, and it is
written in the same transaction as the change it records.
"""

from __future__ import annotations

from airsoc.audit.service import (
    GENESIS_HASH,
    AuditEntryView,
    ChainReport,
    append_entry,
    list_entries,
    verify_chains,
)

__all__ = [
    "GENESIS_HASH",
    "AuditEntryView",
    "ChainReport",
    "append_entry",
    "list_entries",
    "verify_chains",
]
