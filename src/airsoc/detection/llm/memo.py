"""A bounded memo of verdicts: LLM detectors see the same texts again and again (the gateway's
guard and every sliding monitor window judge each turn, and an app's answers repeat), and a
detector's verdict on a text depends only on the text and the detector's settings.

Example:
    >>> from airsoc.detection.verdict import Verdict
    >>> memo = VerdictMemo(size=2)
    >>> calls = []
    >>> def judge() -> Verdict:
    ...     calls.append(1)
    ...     return Verdict(detector="d", method="m", subject="first", failure_mode="f",
    ...                    decision="ok", reason="fine")
    >>> first = memo.get(("text",), judge, subject="a")
    >>> first.subject, memo.get(("text",), judge, subject="b").subject
    ('a', 'b')
    >>> len(calls)
    1
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

from airsoc.detection.verdict import Verdict

__all__ = ["MEMO_SIZE", "VerdictMemo"]

#: Verdicts a detector keeps by default.
MEMO_SIZE = 4096


class VerdictMemo:
    """The last ``size`` verdicts of one detector, by key (the text and what else decides)."""

    def __init__(self, *, size: int = MEMO_SIZE) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, Verdict] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, judge: Callable[[], Verdict], *, subject: str) -> Verdict:
        """Return the verdict of ``key`` about ``subject``: remembered, else ``judge()``."""
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
        if found is None:
            found = judge()
            with self._lock:
                self._items[key] = found
                while len(self._items) > self.size:
                    self._items.popitem(last=False)
        return found if found.subject == subject else found.model_copy(update={"subject": subject})
