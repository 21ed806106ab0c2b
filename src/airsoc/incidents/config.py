"""Config field types of the incident domain: a failure mode and a severity, checked on load.

Example:
    >>> from pydantic import TypeAdapter
    >>> TypeAdapter(SeverityValue).validate_python("SEV2")
    'sev2'
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator

__all__ = ["FailureModeName", "SeverityName", "SeverityValue"]

SeverityName = Literal["sev1", "sev2", "sev3", "sev4", "sev5"]


def _check_failure_mode(value: str | None) -> str | None:
    if value is not None:
        from airsoc.errors import AirsocError
        from airsoc.incidents.taxonomy import failure_mode

        try:
            return failure_mode(value).name
        except AirsocError as exc:
            raise ValueError(exc.message) from None
    return value


def _check_severity(value: str | None) -> str | None:
    if value is not None:
        from airsoc.errors import AirsocError
        from airsoc.incidents.lifecycle import parse_severity

        try:
            return parse_severity(value).value
        except AirsocError as exc:
            raise ValueError(exc.message) from None
    return value


FailureModeName = Annotated[str | None, AfterValidator(_check_failure_mode)]
SeverityValue = Annotated[str | None, AfterValidator(_check_severity)]
