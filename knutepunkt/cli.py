"""The `knutepunkt` console script: the launcher (`up`) and the ops commands."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="knutepunkt",
    help="Knutepunkt Strømsø: run the hub, and see and steer a running one.",
    no_args_is_help=True,
    add_completion=False,
)


# A callback keeps `up` a subcommand even while it is the only command registered
# (typer would otherwise run a lone command without its name).
@app.callback()
def _root() -> None:
    """Knutepunkt Strømsø: run the hub, and see and steer a running one."""


def _register() -> None:
    # Each command group lives in its own module; they only add themselves here.
    from knutepunkt import launcher

    launcher.register(app)
    try:
        from knutepunkt import ops
    except ImportError:  # the ops commands are optional until installed
        return
    ops.register(app)


def main() -> None:
    _register()
    app()
