"""The error codes and docs/errors.md stay in step; codes are unique."""

from __future__ import annotations

import re
from pathlib import Path

from airsoc.errors import AirsocError, ConfigError, ConfigIssue, all_error_classes

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_every_code_has_a_docs_heading_and_every_heading_a_code() -> None:
    text = (REPO_ROOT / "docs" / "errors.md").read_text()
    documented = set(re.findall(r"^## `([a-z_]+)`$", text, flags=re.M))
    codes = {cls.code for cls in all_error_classes()}
    assert codes == documented


def test_codes_are_unique() -> None:
    codes = [cls.code for cls in all_error_classes()]
    assert len(codes) == len(set(codes))


def test_config_error_names_every_location() -> None:
    err = ConfigError(
        [ConfigIssue("monitors[0].window", "invalid duration", "1x"), ConfigIssue("a", "b")],
        source="airsoc.yaml",
    )
    assert str(err) == "airsoc.yaml: monitors[0].window: invalid duration (got '1x') (and 1 more)"
    assert [i["loc"] for i in err.to_dict()["issues"]] == ["monitors[0].window", "a"]
    assert isinstance(err, AirsocError)
