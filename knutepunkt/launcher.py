"""`knutepunkt up`: the whole hub on one machine."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def up() -> None:
        """Start the whole hub on this machine."""
        raise typer.Exit(1)
