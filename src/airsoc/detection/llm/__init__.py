"""LLM and RAG detectors: prompt injection, harmful output, grounding and cascades.

Example:
    >>> from airsoc.detection.llm import HarmfulOutputDetector
    >>> HarmfulOutputDetector().detect("Thanks, your ticket is closed.").decision
    'ok'
"""

from __future__ import annotations

from airsoc.detection.llm.calibration import InjectionCalibration, calibrate_injection
from airsoc.detection.llm.canary import CanaryLeak, find_canary_leaks, new_canary
from airsoc.detection.llm.cascade import CascadeDetector
from airsoc.detection.llm.corpus import LabelledText, load_labelled_texts
from airsoc.detection.llm.embeddings import (
    Embedder,
    MiniLMEmbedder,
    TfidfEmbedder,
    default_embedder,
    minilm_available,
)
from airsoc.detection.llm.grounding import (
    ApprovedDocument,
    DocumentIndex,
    GroundingChecker,
    RetrievedChunk,
    extract_answer,
    load_document_index,
)
from airsoc.detection.llm.harmful import HarmfulOutputDetector
from airsoc.detection.llm.injection import PromptInjectionDetector
from airsoc.detection.llm.scan import scan_file
from airsoc.detection.llm.text import prepare_text
from airsoc.detection.llm.turns import Turn, parse_turns

__all__ = [
    "ApprovedDocument",
    "CanaryLeak",
    "CascadeDetector",
    "DocumentIndex",
    "Embedder",
    "GroundingChecker",
    "HarmfulOutputDetector",
    "InjectionCalibration",
    "LabelledText",
    "MiniLMEmbedder",
    "PromptInjectionDetector",
    "RetrievedChunk",
    "TfidfEmbedder",
    "Turn",
    "calibrate_injection",
    "default_embedder",
    "extract_answer",
    "find_canary_leaks",
    "load_document_index",
    "load_labelled_texts",
    "minilm_available",
    "new_canary",
    "parse_turns",
    "prepare_text",
    "scan_file",
]
