"""Reading configuration files, validated whole before anything applies, every error located.

The sections of ``airsoc.yaml`` belong to their domains; :mod:`airsoc.runtime.config` composes
the whole file.
"""

from __future__ import annotations

from airsoc.config.loader import format_loc, issues_from_validation, read_text, validate_yaml

__all__ = ["format_loc", "issues_from_validation", "read_text", "validate_yaml"]
