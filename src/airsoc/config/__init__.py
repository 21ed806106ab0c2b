"""``airsoc.yaml``: the one configuration file, validated whole before anything applies."""

from __future__ import annotations

from airsoc.config.loader import STARTER_CONFIG, load_config, parse_config
from airsoc.config.schema import AirsocConfig, Duration, parse_duration

__all__ = [
    "STARTER_CONFIG",
    "AirsocConfig",
    "Duration",
    "load_config",
    "parse_config",
    "parse_duration",
]
