"""The ``regulatory`` section of ``airsoc.yaml``: who the provider is, which jurisdictions the
systems are placed in, their time zones, whether EU AI Act Article 73 applies, and when to remind.

A system takes its jurisdiction's time zone and Article 73 setting unless it sets its own.

Example:
    >>> section = RegulatorySection.model_validate({"regulatory": {
    ...     "provider": "Acme Payments GmbH",
    ...     "reminders": ["24h", "2h"],
    ...     "jurisdictions": {"eu": {"time_zone": "Europe/Berlin"}},
    ...     "systems": {"fraud-detector": {"jurisdiction": "eu"},
    ...                 "credit-scorer": {"jurisdiction": "eu", "time_zone": "Europe/Dublin"}}}})
    >>> p = section.regulatory.profile("credit-scorer")
    >>> p.time_zone, p.article_73, p.jurisdiction
    ('Europe/Dublin', True, 'eu')
    >>> section.regulatory.profile("recommender") is None
    True
    >>> RegulatorySection.model_validate({"regulatory": {"jurisdictions": {
    ...     "eu": {"time_zone": "Europe/Berlinn"}}}})
    Traceback (most recent call last):
    ...
    pydantic_core._pydantic_core.ValidationError: 1 validation error for RegulatorySection
    regulatory.jurisdictions.eu.time_zone
      Value error, unknown time zone 'Europe/Berlinn' (an IANA name such as Europe/Berlin) ...
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, Field, model_validator

from airsoc.types import Duration, StrictModel

__all__ = [
    "JurisdictionConfig",
    "RegulatoryConfig",
    "RegulatoryProfile",
    "RegulatorySection",
    "RegulatorySystemConfig",
    "check_time_zone",
]


def check_time_zone(value: str) -> str:
    """Return ``value`` if it names an IANA time zone; raise ``ValueError`` otherwise.

    >>> check_time_zone("Europe/Dublin")
    'Europe/Dublin'
    """
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {value!r} (an IANA name such as Europe/Berlin)"
        ) from None
    return value


TimeZoneName = Annotated[str, AfterValidator(check_time_zone)]


def _default_reminders() -> list[timedelta]:
    return [timedelta(hours=24), timedelta(hours=2)]


class JurisdictionConfig(StrictModel):
    """A jurisdiction: its time zone, whether Article 73 applies, and the authority reported to."""

    time_zone: TimeZoneName
    article_73: bool = True
    authority: str = Field("the market surveillance authority", max_length=300)


class RegulatorySystemConfig(StrictModel):
    """Where a system is placed; ``time_zone`` and ``article_73`` override its jurisdiction's."""

    jurisdiction: str
    time_zone: TimeZoneName | None = None
    article_73: bool | None = None


class RegulatoryProfile(BaseModel):
    """What applies to one system: jurisdiction, time zone, Article 73, authority, provider."""

    system: str
    jurisdiction: str
    time_zone: str
    article_73: bool
    authority: str
    provider: str


class RegulatoryConfig(StrictModel):
    """The provider, its jurisdictions, where each system is placed, and the reminder lead
    times before a report is due (an overdue reminder always follows)."""

    provider: str = Field("", max_length=300)
    reminders: list[Duration] = Field(default_factory=_default_reminders, max_length=10)
    jurisdictions: dict[str, JurisdictionConfig] = Field(default_factory=dict)
    systems: dict[str, RegulatorySystemConfig] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known_jurisdictions(self) -> RegulatoryConfig:
        for name, system in self.systems.items():
            if system.jurisdiction not in self.jurisdictions:
                known = ", ".join(sorted(self.jurisdictions)) or "none"
                raise ValueError(
                    f"systems.{name}.jurisdiction: unknown jurisdiction "
                    f"{system.jurisdiction!r}; defined: {known}"
                )
        if any(r <= timedelta(0) for r in self.reminders):
            raise ValueError("reminders: every lead time must be longer than zero")
        return self

    def profile(self, system: str) -> RegulatoryProfile | None:
        """Return what applies to ``system``, or ``None`` when it is not placed anywhere."""
        placed = self.systems.get(system)
        if placed is None:
            return None
        where = self.jurisdictions[placed.jurisdiction]
        return RegulatoryProfile(
            system=system,
            jurisdiction=placed.jurisdiction,
            time_zone=placed.time_zone or where.time_zone,
            article_73=where.article_73 if placed.article_73 is None else placed.article_73,
            authority=where.authority,
            provider=self.provider,
        )


class RegulatorySection(StrictModel):
    """The section of ``airsoc.yaml`` reporting owns."""

    regulatory: RegulatoryConfig = Field(default_factory=RegulatoryConfig)
