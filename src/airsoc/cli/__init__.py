"""The ``airsoc`` command (Typer + Rich). Each domain adds a sub-command module here."""
