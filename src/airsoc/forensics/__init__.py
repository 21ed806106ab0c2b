"""Forensics: evidence capture and the root cause of incidents, as service functions.

The runtime wraps these as playbook actions (``capture_evidence``, ``forensics.poisoning``) and
CLI commands; they never act on the system themselves.

Example:
    >>> from airsoc.forensics import investigate_poisoning, capture_evidence
    >>> callable(investigate_poisoning) and callable(capture_evidence)
    True
"""

from __future__ import annotations

from airsoc.forensics.evidence import (
    EvidenceManifest,
    ManifestCheck,
    ManifestItem,
    capture_evidence,
    verify_manifest,
)
from airsoc.forensics.findings import PoisoningRecord, record_poisoning_findings
from airsoc.forensics.poisoning import (
    BatchData,
    BatchSuspicion,
    CleanBatch,
    Option,
    PoisoningInvestigation,
    Recommendation,
    SourceSuspicion,
    SuspectSample,
    Window,
    degraded_version,
    investigate_batches,
    investigate_incident,
    investigate_poisoning,
    load_batches,
)

__all__ = [
    "BatchData",
    "BatchSuspicion",
    "CleanBatch",
    "EvidenceManifest",
    "ManifestCheck",
    "ManifestItem",
    "Option",
    "PoisoningInvestigation",
    "PoisoningRecord",
    "Recommendation",
    "SourceSuspicion",
    "SuspectSample",
    "Window",
    "capture_evidence",
    "degraded_version",
    "investigate_batches",
    "investigate_incident",
    "investigate_poisoning",
    "load_batches",
    "record_poisoning_findings",
    "verify_manifest",
]
