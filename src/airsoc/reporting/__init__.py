"""Post-mortems, findings and fleet metrics."""

from __future__ import annotations
