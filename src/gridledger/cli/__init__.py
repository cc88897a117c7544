"""Command-line interface (Typer). Entry points only: parse, call scenarios, print.

One module per command group (``elecoin``, ``chain``, ``community``, ``v2v``, ``forecast``)
and per top-level command (``serve``, ``reproduce``, ``demo``, ``doctor``); shared options and
the user-error handler live in :mod:`gridledger.cli.common`.
"""

from __future__ import annotations

import typer

from gridledger.cli import chain, community, demo, doctor, elecoin, forecast, reproduce, serve, v2v

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help="gridledger: blockchain-based P2P electricity trading with AI-driven markets.")
app.add_typer(elecoin.app, name="elecoin")
app.add_typer(chain.app, name="chain")
app.add_typer(community.app, name="community")
app.add_typer(v2v.app, name="v2v")
app.add_typer(forecast.app, name="forecast")
app.command("serve")(serve.serve)
app.command("reproduce")(reproduce.reproduce)
app.command("demo")(demo.demo)
app.command("doctor")(doctor.doctor)


def main() -> None:
    app()


__all__ = ["app", "main"]
