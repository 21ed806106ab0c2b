"""Detectors for every failure mode, and the ``Verdict`` they return."""
