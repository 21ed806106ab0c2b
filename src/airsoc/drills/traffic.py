"""Drill traffic: seeded rows for each system of the demo fleet, the clients that send them in
batches through the gateway, and the transforms injectors add (a shifted feature, a broken
logger, an attacking client).

A :class:`TrafficControl` holds one :class:`Stream` per client. Each round of the drill asks it
for the requests due (:meth:`TrafficControl.round`): every stream draws its rows from the
system's generator (with the stream's *mix*, e.g. ``fraud_rate``), then each active
:class:`Transform` for that system may rewrite the frame before it becomes request rows and
delayed labels. Injectors only ever change what is sent; the platform decides the rest.

Example:
    >>> control = TrafficControl(seed=3)
    >>> control.add_stream(Stream(system="fraud-detector", client="checkout", rows_per_hour=120,
    ...                           rows_per_request=20))
    >>> batches = control.round(elapsed_s=0.0, step_s=1800.0)
    >>> [(b.system, b.client, len(b.rows)) for b in batches][:2], len(batches)
    ([('fraud-detector', 'checkout', 20), ('fraud-detector', 'checkout', 20)], 3)
    >>> len(batches[0].labels), sorted(batches[0].rows[0])[:2]
    (20, ['amount', 'card_age_days'])
    >>> columns = batches[0].columns
    >>> [dict(zip(columns, values)) for values in zip(*columns.values())] == batches[0].rows
    True
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from airsoc.errors import InputError
from airsoc.fleet.recommender import impressions
from airsoc.fleet.setup import (
    credit_rows,
    fraud_columns,
    fraud_rows,
    impression_rows,
    review_rows,
)
from airsoc.fleet.systems import credit_applications, fraud_transactions, sentiment_reviews

__all__ = [
    "CHAT_QUESTIONS",
    "GENERATORS",
    "ChatStream",
    "ChatTurn",
    "Generator",
    "Stream",
    "TrafficBatch",
    "TrafficControl",
    "Transform",
    "chat_questions",
]


@dataclass(frozen=True)
class Generator:
    """How a system's traffic is made: a seeded frame of ``n`` rows from the fleet's data
    generator, the request rows of a frame, and each row's ground truth (its delayed label)."""

    make: Callable[..., pd.DataFrame]
    rows: Callable[[pd.DataFrame], list[dict[str, Any]]]
    labels: Callable[[pd.DataFrame], list[Any]]
    mix: tuple[str, ...] = ()
    #: The request rows of a frame column by column, when the system has a faster way to
    #: them than transposing its rows.
    columns: Callable[[pd.DataFrame], dict[str, list[Any]]] | None = None


def _impression_labels(frame: pd.DataFrame) -> list[Any]:
    # The storefront reports a click and whether an order followed, for each impression.
    return [
        {"click": int(c), "order": int(o)}
        for c, o in zip(frame["click"], frame["order"], strict=True)
    ]


#: The demo fleet's systems that take rows: how their traffic is generated, and which
#: generator arguments a scenario may set as the stream's ``mix``.
GENERATORS: Mapping[str, Generator] = {
    "fraud-detector": Generator(
        make=fraud_transactions,
        rows=fraud_rows,
        labels=lambda f: [int(y) for y in f["is_fraud"]],
        mix=("fraud_rate", "hard_share"),
        columns=fraud_columns,
    ),
    "credit-scorer": Generator(
        make=credit_applications,
        rows=credit_rows,
        labels=lambda f: [int(y) for y in f["defaulted"]],
        mix=("group_b_share", "bias_against_b"),
    ),
    "sentiment-model": Generator(
        make=sentiment_reviews,
        rows=review_rows,
        labels=lambda f: [int(y) for y in f["positive"]],
    ),
    "recommender": Generator(
        make=impressions,
        rows=impression_rows,
        labels=_impression_labels,
        mix=("engagement", "click_logging"),
    ),
}


@dataclass
class Stream:
    """One client sending one system rows: ``rows_per_hour`` on the simulated clock, in
    requests of ``rows_per_request`` rows, drawn with the generator arguments ``mix``."""

    system: str
    client: str
    rows_per_hour: float
    rows_per_request: int = 50
    mix: dict[str, float] = field(default_factory=dict)
    labels: bool = True
    until_s: float | None = None
    source: Callable[[np.random.Generator, int], pd.DataFrame] | None = None

    def __post_init__(self) -> None:
        if self.system not in GENERATORS and self.source is None:
            raise InputError(
                f"no traffic generator for system {self.system!r}; "
                f"choose from {', '.join(sorted(GENERATORS))}",
                loc="system",
            )


@dataclass
class TrafficBatch:
    """One request's worth of traffic before it is sent: the frame, who sends it, and when."""

    system: str
    client: str
    frame: pd.DataFrame
    elapsed_s: float
    labels_enabled: bool = True

    @property
    def rows(self) -> list[dict[str, Any]]:
        """Return the request rows."""
        return GENERATORS[self.system].rows(self.frame)

    @property
    def columns(self) -> dict[str, list[Any]]:
        """Return the request rows column by column (feature name to values), as a predict
        body's ``columns`` carries them."""
        generator = GENERATORS[self.system]
        if generator.columns is not None:
            return generator.columns(self.frame)
        rows = generator.rows(self.frame)
        return {name: [row[name] for row in rows] for name in rows[0]} if rows else {}

    @property
    def labels(self) -> list[Any]:
        """Return each row's ground truth, as the label sender posts it later."""
        return GENERATORS[self.system].labels(self.frame)


@dataclass
class Transform:
    """A change to one system's traffic from ``start_s`` (to ``until_s``), for every client or
    only ``client``; ``apply`` gets the batch and the fraction of its ramp done (0 to 1)."""

    name: str
    system: str
    apply: Callable[[TrafficBatch, float], TrafficBatch]
    start_s: float
    ramp_s: float = 0.0
    until_s: float | None = None
    client: str | None = None

    def progress(self, elapsed_s: float) -> float:
        """Return how far the ramp is at ``elapsed_s`` (1 when there is no ramp)."""
        if self.ramp_s <= 0:
            return 1.0
        return min(1.0, max(0.0, (elapsed_s - self.start_s) / self.ramp_s))

    def active(self, batch: TrafficBatch) -> bool:
        """Return whether this transform applies to ``batch``."""
        return (
            batch.system == self.system
            and batch.elapsed_s >= self.start_s
            and (self.until_s is None or batch.elapsed_s < self.until_s)
            and (self.client is None or batch.client == self.client)
        )


class TrafficControl:
    """The drill's clients and the transforms injected into their traffic."""

    def __init__(self, *, seed: int = 0) -> None:
        self.seed = seed
        self.streams: list[Stream] = []
        self.transforms: list[Transform] = []
        self._rng = np.random.default_rng(seed)
        self._carry: dict[int, float] = {}
        self.chat_streams: list[ChatStream] = []
        self._chat_carry: dict[int, float] = {}

    def add_stream(self, stream: Stream) -> None:
        """Add a client sending traffic from the next round on."""
        self.streams.append(stream)

    def add_chat_stream(self, stream: ChatStream) -> None:
        """Add users sending a chat system turns from the next round on."""
        self.chat_streams.append(stream)

    def add_transform(self, transform: Transform) -> None:
        """Apply ``transform`` to the matching traffic from its ``start_s`` on."""
        self.transforms.append(transform)

    def set_mix(self, system: str, **mix: float) -> None:
        """Change the generator arguments of every stream of ``system`` (a seasonal shift, a
        campaign raising the fraud rate)."""
        allowed = GENERATORS[system].mix
        for key in mix:
            if key not in allowed:
                raise InputError(
                    f"{system} traffic has no mix argument {key!r}; "
                    f"choose from {', '.join(allowed) or 'none'}",
                    loc=key,
                )
        for stream in self.streams:
            if stream.system == system:
                stream.mix.update(mix)

    def scale(self, factor: float) -> None:
        """Multiply every stream's rate by ``factor`` (tests run drills at reduced scale)."""
        for stream in self.streams:
            stream.rows_per_hour *= factor
        for chat in self.chat_streams:
            chat.turns_per_hour *= factor

    def round(self, *, elapsed_s: float, step_s: float) -> list[TrafficBatch]:
        """Return the requests due in the ``step_s`` seconds starting at ``elapsed_s``."""
        out: list[TrafficBatch] = []
        for i, stream in enumerate(self.streams):
            if stream.until_s is not None and elapsed_s >= stream.until_s:
                continue
            due = stream.rows_per_hour * step_s / 3600 + self._carry.get(i, 0.0)
            requests = math.floor(due / stream.rows_per_request)
            self._carry[i] = due - requests * stream.rows_per_request
            if requests <= 0:
                continue
            n = requests * stream.rows_per_request
            seed = int(self._rng.integers(0, 2**31 - 1))
            if stream.source is not None:
                frame = stream.source(np.random.default_rng(seed), n)
            else:
                frame = GENERATORS[stream.system].make(n, seed=seed, **stream.mix)
            for r in range(requests):
                part = frame.iloc[r * stream.rows_per_request : (r + 1) * stream.rows_per_request]
                batch = TrafficBatch(
                    system=stream.system,
                    client=stream.client,
                    frame=part.reset_index(drop=True),
                    elapsed_s=elapsed_s,
                    labels_enabled=stream.labels,
                )
                for transform in self.transforms:
                    if transform.active(batch):
                        batch = transform.apply(batch, transform.progress(elapsed_s))
                out.append(batch)
        return out

    def chat_round(self, *, elapsed_s: float, step_s: float) -> list[ChatTurn]:
        """Return the chat turns due in the ``step_s`` seconds starting at ``elapsed_s`` (this
        control's generator draws them, so the same seed sends the same conversations).

        >>> control = TrafficControl(seed=2)
        >>> control.add_chat_stream(ChatStream(system="support-bot", client="help-center",
        ...                                    turns_per_hour=7))
        >>> turns = control.chat_round(elapsed_s=0.0, step_s=1800.0)
        >>> len(turns), turns[0].system, turns[0].messages[0]["role"]
        (3, 'support-bot', 'user')
        """
        out: list[ChatTurn] = []
        for i, stream in enumerate(self.chat_streams):
            if stream.until_s is not None and elapsed_s >= stream.until_s:
                continue
            due = stream.turns_per_hour * step_s / 3600 + self._chat_carry.get(i, 0.0)
            n = math.floor(due)
            self._chat_carry[i] = due - n
            if n <= 0:
                continue
            rng = np.random.default_rng(int(self._rng.integers(0, 2**31 - 1)))
            out += stream.turns(rng, n, elapsed_s)
        return out


# ----------------------------------------------------------------------------------- chat

#: Questions the support bot's customers and employees ask besides the fleet's own list
#: (:mod:`airsoc.fleet.rag.questions`), written for the drills: other wordings of the same
#: needs, so a drill's conversations are not a loop of forty sentences.
CHAT_QUESTIONS: tuple[str, ...] = (
    "I paid for a monthly plan last week and changed my mind, can I get my money back?",
    "My refund was approved on Monday, when will I see it on my statement?",
    "If I stop my subscription now, do I lose access straight away?",
    "We cancelled our account by mistake, is the data still there?",
    "What happens to service credits if the platform is down for an afternoon?",
    "Is phone support available at weekends?",
    "The reset email never arrived, how long should I wait before asking again?",
    "Our finance team needs last year's invoices, how far back can we download them?",
    "Does an unpaid invoice get charged extra after the due date?",
    "I am starting a new job here next month, how much holiday do I get?",
    "Can I move some of this year's vacation days into next year?",
    "How long can a new father take off after the birth?",
    "I was ill for two days, do I need a note from a doctor?",
    "Is there money for a desk and chair when working from home?",
    "What hotel budget applies for a trip to Berlin?",
    "Can I fly business class to a customer meeting in Lisbon?",
    "I forgot to file a taxi receipt from March, is it too late?",
    "What is the spending cap on my company card each month?",
    "Do I need several offers before buying a new server rack?",
    "Can I use my training budget for a conference ticket?",
    "Does my password need special characters, and how long must it be?",
    "I clicked on a strange link in an email, who do I tell and how fast?",
    "Who reviews which colleagues can see production data?",
    "Is customer data encrypted when it sits on disk?",
    "My laptop is four years old, can I get a new one?",
    "How long are the nightly database backups kept for?",
    "Which companies process our customers' data on our behalf?",
    "How soon does on-call have to respond when paged at night?",
    "How quickly would the platform be back after losing a data centre?",
    "I would like to download everything you store about me, how do I ask?",
)

#: Ways people start and end a message (most add nothing).
_OPENERS = ("", "", "", "Hi, ", "Hello, ", "Quick question: ", "Good morning, ")
_CLOSERS = ("", "", "", " Thanks!", " Thank you.", " Cheers.")


def chat_questions(
    rng: np.random.Generator,
    n: int,
    *,
    policy_share: float = 0.7,
    topics: Sequence[str] = (),
) -> list[str]:
    """Return ``n`` benign support questions drawn with ``rng``: about ``policy_share`` of them
    about the policies (the fleet's questions and :data:`CHAT_QUESTIONS`, in varied wordings;
    with ``topics``, only those mentioning one of these words), the rest account requests,
    greetings and requests for a person.

    >>> qs = chat_questions(np.random.default_rng(1), 300)
    >>> len(qs), len(set(qs)) > 100
    (300, True)
    >>> chat_questions(np.random.default_rng(1), 2, policy_share=1.5)
    Traceback (most recent call last):
    ...
    airsoc.errors.InputError: policy_share: must be within [0, 1], got 1.5
    >>> all("refund" in q.lower() for q in chat_questions(np.random.default_rng(1), 20,
    ...                                                    policy_share=1, topics=["refund"]))
    True
    """
    from airsoc.fleet.rag.questions import OTHER_QUESTIONS, POLICY_QUESTIONS

    if not 0.0 <= policy_share <= 1.0:
        raise InputError(f"must be within [0, 1], got {policy_share}", loc="policy_share")
    policy = tuple(
        q
        for q in (*POLICY_QUESTIONS, *CHAT_QUESTIONS)
        if not topics or any(w.lower() in q.lower() for w in topics)
    )
    if not policy:
        raise InputError(f"no support question mentions {', '.join(topics)}", loc="topics")
    out: list[str] = []
    for _ in range(n):
        if rng.random() < policy_share:
            question = policy[int(rng.integers(len(policy)))]
            opener = _OPENERS[int(rng.integers(len(_OPENERS)))]
            closer = _CLOSERS[int(rng.integers(len(_CLOSERS)))]
            if opener:
                question = question[0].lower() + question[1:]
            out.append(f"{opener}{question}{closer}")
        else:
            out.append(OTHER_QUESTIONS[int(rng.integers(len(OTHER_QUESTIONS)))])
    return out


@dataclass
class ChatTurn:
    """One turn a user sends a chat system: the OpenAI ``messages`` of the request, the
    session (sent as the request's ``user``) and the client (the app) that sends it."""

    system: str
    client: str
    session_id: str
    messages: list[dict[str, Any]]
    elapsed_s: float

    @property
    def question(self) -> str:
        """Return the text of the last user message."""
        users = [m for m in self.messages if m.get("role") == "user"]
        return str(users[-1].get("content", "")) if users else ""


#: Makes ``n`` turns of a chat stream: (rng, n, elapsed_s) -> (session_id, messages) pairs.
ChatSource = Callable[[np.random.Generator, int, float], list[tuple[str, list[dict[str, Any]]]]]


@dataclass
class ChatStream:
    """Users of one app sending a chat system questions: ``turns_per_hour`` on the simulated
    clock, from ``users`` people each in their own session (a new session every
    ``turns_per_session`` of their turns), benign questions about ``policy_share`` of them about
    the policies (those mentioning one of ``topics``, when given). ``source`` replaces the
    benign questions (an attacker's turns)."""

    system: str
    client: str
    turns_per_hour: float
    users: int = 50
    turns_per_session: int = 3
    policy_share: float = 0.7
    topics: tuple[str, ...] = ()
    until_s: float | None = None
    source: ChatSource | None = None
    _sent: int = 0

    def turns(self, rng: np.random.Generator, n: int, elapsed_s: float) -> list[ChatTurn]:
        """Return the next ``n`` turns of this stream."""
        if self.source is not None:
            pairs = self.source(rng, n, elapsed_s)
        else:
            pairs = []
            asked = chat_questions(rng, n, policy_share=self.policy_share, topics=self.topics)
            for question in asked:
                user = int(rng.integers(self.users))
                session = (self._sent // max(self.users, 1)) // self.turns_per_session
                pairs.append(
                    (f"{self.client}-u{user}-s{session}", [{"role": "user", "content": question}])
                )
                self._sent += 1
        return [
            ChatTurn(self.system, self.client, sid, messages, elapsed_s) for sid, messages in pairs
        ]
