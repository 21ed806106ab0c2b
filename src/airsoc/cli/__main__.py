"""``python -m airsoc.cli``: the ``airsoc`` command, for when the script is not on PATH."""

from __future__ import annotations

if __name__ == "__main__":
    from airsoc.cli.main import run

    run()
