"""Forensics: evidence capture and the root cause of incidents, as service functions.

Poisoning (:mod:`~airsoc.forensics.poisoning`), drift (:mod:`~airsoc.forensics.drift`), RAG
(:mod:`~airsoc.forensics.rag`), fairness (:mod:`~airsoc.forensics.fairness`), prompt injection
(:mod:`~airsoc.forensics.injection`) and client abuse (:mod:`~airsoc.forensics.clients`); each
records its findings on an incident. The runtime wraps evidence capture and the poisoning
investigation as playbook actions (``capture_evidence``, ``forensics.poisoning``); every
investigation is also an ``airsoc forensics`` command. They never act on the system themselves.

Example:
    >>> from airsoc.forensics import investigate_poisoning, capture_evidence
    >>> callable(investigate_poisoning) and callable(capture_evidence)
    True
"""

from __future__ import annotations

from airsoc.forensics.clients import investigate_clients, record_client_findings
from airsoc.forensics.drift import investigate_drift, record_drift_findings
from airsoc.forensics.evidence import (
    EvidenceManifest,
    ManifestCheck,
    ManifestItem,
    capture_evidence,
    verify_manifest,
)
from airsoc.forensics.fairness import investigate_fairness, record_fairness_findings
from airsoc.forensics.findings import PoisoningRecord, record_poisoning_findings
from airsoc.forensics.injection import investigate_injection, record_injection_findings
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
    label_column_of,
    load_batches,
)
from airsoc.forensics.rag import investigate_rag, record_rag_findings

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
    "investigate_clients",
    "investigate_drift",
    "investigate_fairness",
    "investigate_incident",
    "investigate_injection",
    "investigate_poisoning",
    "investigate_rag",
    "label_column_of",
    "load_batches",
    "record_client_findings",
    "record_drift_findings",
    "record_fairness_findings",
    "record_injection_findings",
    "record_poisoning_findings",
    "record_rag_findings",
    "verify_manifest",
]
