"""LLM and RAG detectors: prompt injection, harmful output, grounding and cascades."""
