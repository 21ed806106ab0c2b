"""Detectors for attacks on tabular models: evasion, extraction and training-data poisoning."""
