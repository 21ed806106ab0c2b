"""Message templates (Jinja2, sandboxed) that users can override one by one.

The defaults live in :data:`DEFAULT_TEMPLATES`; a folder given in ``airsoc.yaml`` (``templates:``)
overrides any of them by file name (``slack.txt``, ``email_subject.txt``, ...). Templates run in
Jinja2's sandbox, so a template cannot reach into Python objects.

Example:
    >>> t = Templates()
    >>> t.render("pagerduty_summary.txt", {"status": "firing", "alerts": [1, 2],
    ...     "common_labels": {"system": "fraud", "failure_mode": "data_drift"}})
    '[FIRING:2] data_drift on fraud'
    >>> t.render("nope.txt", {})
    Traceback (most recent call last):
    ...
    airsoc.errors.NotFoundError: no template named 'nope.txt'; known: customer_notice.md, ...
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from airsoc.errors import InputError, NotFoundError

__all__ = ["DEFAULT_TEMPLATES", "Templates"]

_TITLE = (
    "[{{ status | upper }}{% if status == 'firing' %}:{{ alerts | length }}{% endif %}] "
    "{{ common_labels.get('failure_mode', 'alert') }} on "
    "{{ common_labels.get('system', group_labels.get('system', 'unknown system')) }}"
)

DEFAULT_TEMPLATES: dict[str, str] = {
    "slack.txt": _TITLE
    + """
{% for a in alerts %}• [{{ a.status }}] {{ a.labels.get('monitor', a.fingerprint) }}"""
    + """{% if a.annotations.get('summary') %}: {{ a.annotations.summary }}{% endif %}
{% endfor %}""",
    "email_subject.txt": _TITLE,
    "email_body.txt": _TITLE
    + """

Group: {{ group_key }}
{% for a in alerts %}
- [{{ a.status }}] {{ a.labels | dictsort | map('join', '=') | join(', ') }}
  started {{ a.starts_at }}{% if a.ends_at %}, ended {{ a.ends_at }}{% endif %}
{% if a.annotations.get('summary') %}  {{ a.annotations.summary }}
{% endif %}{% endfor %}""",
    "pagerduty_summary.txt": (
        "[{{ status | upper }}:{{ alerts | length }}] "
        "{{ common_labels.get('failure_mode', 'alert') }} on "
        "{{ common_labels.get('system', 'unknown system') }}"
    ),
    "status_update.md": """\
**{{ incident.ref }} status update** ({{ incident.severity | upper }}, {{ incident.phase }})

{{ incident.title }}
- System: {{ incident.system }}; failure mode: {{ incident.failure_mode }}
- Detected: {{ incident.detected_at }}
{% if incident.contained_at %}- Contained: {{ incident.contained_at }}
{% endif %}- Open alerts: {{ alerts | length }}
- Next update by: {{ next_update }}
""",
    "customer_notice.md": """\
Subject: Service notice: {{ incident.system }}

We are investigating an issue affecting {{ incident.system }}, first detected at \
{{ incident.detected_at }}.
{% if incident.phase in ['contained', 'eradicated', 'recovered'] %}The issue has been contained \
and we are restoring normal service.{% else %}Our team is working on containment.{% endif %}
We will post the next update by {{ next_update }}.
""",
    "escalation.txt": (
        "Escalation level {{ level }}: {{ incident.ref }} ({{ incident.severity | upper }}) "
        "{{ incident.title }} is not acknowledged after {{ waited }}"
    ),
}


class Templates:
    """The template set: defaults, overridden by files in ``folder`` when given."""

    def __init__(self, folder: str | Path | None = None) -> None:
        loaders: list[jinja2.BaseLoader] = []
        if folder is not None:
            path = Path(folder)
            if not path.is_dir():
                raise InputError(f"the templates folder {path} does not exist")
            loaders.append(jinja2.FileSystemLoader(str(path)))
        loaders.append(jinja2.DictLoader(DEFAULT_TEMPLATES))
        self.env = ImmutableSandboxedEnvironment(
            loader=jinja2.ChoiceLoader(loaders),
            undefined=jinja2.StrictUndefined,
            autoescape=False,
            keep_trailing_newline=True,
        )

    def render(self, name: str, context: Mapping[str, Any]) -> str:
        """Return template ``name`` filled with ``context``."""
        try:
            template = self.env.get_template(name)
        except jinja2.TemplateNotFound:
            known = ", ".join(sorted(DEFAULT_TEMPLATES))
            raise NotFoundError(f"no template named {name!r}; known: {known}") from None
        try:
            return template.render(**context).strip()
        except jinja2.TemplateError as exc:
            raise InputError(f"template {name!r} failed: {exc}") from None
