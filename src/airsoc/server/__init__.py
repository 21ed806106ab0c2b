"""The web API, the console and /metrics."""

from __future__ import annotations
