"""What every integration shares: the delivery loop (attempts, backoff on the clock, a recorded
:class:`~airsoc.alerting.notification.Delivery`) and webhook signatures.

Receivers (:mod:`airsoc.alerting.receivers`) and the OCSF sinks (:mod:`airsoc.alerting.sinks`)
both build on it.

Example:
    >>> headers = sign_webhook(b"s3cret", b"{}", timestamp=1767225600)
    >>> verify_webhook_signature(b"s3cret", b"{}", headers, now=1767225600)
    True
"""

from __future__ import annotations

import hashlib
import hmac
import smtplib
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from airsoc.alerting.config import DeliveryPolicy
from airsoc.alerting.notification import Delivery, Notification
from airsoc.clock import Clock

__all__ = [
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "sign_webhook",
    "verify_webhook_signature",
]

SIGNATURE_HEADER = "X-Airsoc-Signature"
TIMESTAMP_HEADER = "X-Airsoc-Timestamp"


class _PermanentFailureError(Exception):
    """A failure that retrying cannot fix (e.g. HTTP 400)."""


class _Integration:
    """Shared delivery loop: attempts, exponential backoff, and a recorded :class:`Delivery`."""

    kind = "integration"

    def __init__(self, receiver: str, policy: DeliveryPolicy, *, clock: Clock) -> None:
        self.receiver = receiver
        self.name = f"{receiver}/{self.kind}"
        self.policy = policy
        self.send_resolved = policy.send_resolved
        self.clock = clock

    def send(self, notification: Notification) -> Delivery:
        """Deliver ``notification``, retrying with backoff; return what happened."""
        return self._with_retries(lambda: self._deliver(notification), notification.group_key)

    def _with_retries(
        self, deliver: Callable[[], tuple[int | None, dict[str, Any]]], group_key: str
    ) -> Delivery:
        """Call ``deliver`` until it succeeds, fails for good or runs out of attempts."""
        error: str | None = None
        code: int | None = None
        request: dict[str, Any] = {}
        delay = self.policy.backoff.total_seconds()
        attempt = 0
        for attempt in range(1, self.policy.max_attempts + 1):
            try:
                code, request = deliver()
                return self._delivery(group_key, "delivered", attempt, None, code, request)
            except _PermanentFailureError as exc:
                error = str(exc)
                break
            except (OSError, httpx.HTTPError, smtplib.SMTPException) as exc:
                error = f"{type(exc).__name__}: {exc}"
            if attempt < self.policy.max_attempts:
                self.clock.sleep(delay)
                delay *= 2
        return self._delivery(group_key, "failed", attempt, error, code, request)

    def _delivery(
        self,
        group_key: str,
        status: str,
        attempts: int,
        error: str | None,
        code: int | None,
        request: dict[str, Any],
    ) -> Delivery:
        return Delivery(
            receiver=self.receiver,
            integration=self.kind,
            group_key=group_key,
            status=status,
            attempts=attempts,
            at=self.clock.now(),
            error=error,
            response_code=code,
            request=request,
        )

    def _deliver(self, notification: Notification) -> tuple[int | None, dict[str, Any]]:
        raise NotImplementedError

    def _post(
        self, url: str, body: bytes, headers: Mapping[str, str] | None = None
    ) -> tuple[int, dict[str, Any]]:
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        timeout = self.policy.timeout.total_seconds()
        response = httpx.post(url, content=body, headers=all_headers, timeout=timeout)
        if response.status_code >= 500 or response.status_code == 429:
            raise httpx.HTTPStatusError(
                f"HTTP {response.status_code}", request=response.request, response=response
            )
        if response.status_code >= 400:
            raise _PermanentFailureError(f"HTTP {response.status_code}: {response.text[:200]}")
        return response.status_code, {"url": _redact(url), "bytes": len(body)}


def _redact(url: str) -> str:
    # Slack webhook URLs are secrets; keep the host only.
    return httpx.URL(url).copy_with(path="/…", query=None).__str__()


def sign_webhook(secret: bytes, body: bytes, *, timestamp: int) -> dict[str, str]:
    """Return the signature headers for ``body`` sent at ``timestamp`` (Unix seconds)."""
    mac = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return {TIMESTAMP_HEADER: str(timestamp), SIGNATURE_HEADER: f"sha256={mac}"}


def verify_webhook_signature(
    secret: bytes,
    body: bytes,
    headers: Mapping[str, str],
    *,
    now: int,
    tolerance_seconds: int = 300,
) -> bool:
    """Return whether ``headers`` carry a valid, fresh signature of ``body``."""
    lowered = {k.lower(): v for k, v in headers.items()}
    stamp = lowered.get(TIMESTAMP_HEADER.lower(), "")
    given = lowered.get(SIGNATURE_HEADER.lower(), "")
    if not stamp.isdigit() or abs(now - int(stamp)) > tolerance_seconds:
        return False
    expected = sign_webhook(secret, body, timestamp=int(stamp))[SIGNATURE_HEADER]
    return hmac.compare_digest(expected, given)
