"""The API's routers, one module per domain; :mod:`airsoc.server.app` mounts them."""

from __future__ import annotations
