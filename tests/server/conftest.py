"""Fixtures for the web app: an app on a real store, users of every role with real API tokens."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from airsoc.clock import SimulatedClock
from airsoc.server.app import create_app
from airsoc.server.auth import add_user, issue_token
from airsoc.store import Store

PASSWORD = "correct-horse-battery"
ROLES = {"vic": "viewer", "dana": "responder", "sam": "approver", "ada": "admin"}


@dataclass
class Api:
    """A test client and a bearer header per user (vic viewer, dana responder, sam approver,
    ada admin)."""

    app: FastAPI
    client: TestClient
    tokens: dict[str, str]
    store: Store
    clock: SimulatedClock

    def auth(self, user: str) -> dict[str, str]:
        """Return the Authorization header of ``user``."""
        return {"Authorization": f"Bearer {self.tokens[user]}"}


def seed_users(store: Store, clock: SimulatedClock) -> dict[str, str]:
    """Add one user per role (password PASSWORD) and return their API tokens."""
    tokens = {}
    with store.transaction() as s:
        for name, role in ROLES.items():
            add_user(s, clock=clock, name=name, role=role, password=PASSWORD, actor="setup")
            tokens[name] = issue_token(s, clock=clock, user=name, name="tests", actor="setup").token
    return tokens


def make_api(store: Store, clock: SimulatedClock) -> Iterator[Api]:
    """Yield an :class:`Api` on ``store``."""
    tokens = seed_users(store, clock)
    app = create_app(store.settings, clock=clock, store=store)
    with TestClient(app) as client:
        yield Api(app=app, client=client, tokens=tokens, store=store, clock=clock)


@pytest.fixture
def api(sqlite_store: Store, clock: SimulatedClock) -> Iterator[Api]:
    """The app on SQLite, with a user of every role."""
    yield from make_api(sqlite_store, clock)


@pytest.fixture
def api_any_store(store: Store, clock: SimulatedClock) -> Iterator[Api]:
    """The app on SQLite and on PostgreSQL, with a user of every role."""
    yield from make_api(store, clock)
