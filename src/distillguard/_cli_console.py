"""The console's commands: ``console`` (serve it) and ``console-user`` (manage its logins)."""

from __future__ import annotations

import getpass
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from distillguard.config import load_settings
from distillguard.errors import InputError


def register(app: typer.Typer, out: Console, err: Console) -> None:
    @app.command(name="console")
    def console_cmd(
        findings: Annotated[
            Path, typer.Option(help="Findings directory written by `scan --out`.")
        ] = Path("findings"),
        db: Annotated[Path | None, typer.Option("--db", help="DuckDB store.")] = None,
        gateway: Annotated[
            str | None,
            typer.Option(help="Gateway base URL whose admin API the console acts through."),
        ] = None,
        state: Annotated[
            Path | None, typer.Option(help="Console state file [default: beside the store].")
        ] = None,
        host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="Port.")] = 8700,
        config: Annotated[Path | None, typer.Option("--config", help="YAML settings file.")] = None,
    ) -> None:
        """Serve the analyst console (login required; create users with `console-user add`)."""
        from distillguard._extras import require

        require("console", "console")
        import uvicorn

        from distillguard.console import ConsoleState, create_console_app
        from distillguard.console._state import state_file

        overrides: dict[str, object] = {"db": db} if db else {}
        settings = load_settings(config, **overrides)
        if gateway:
            settings.console.gateway_url = gateway.rstrip("/")
        path = state_file(settings, state)
        app_ = create_console_app(settings, findings, state_path=path)
        users = ConsoleState(path)
        if not users.users() and not settings.console.trusted_user_header:
            err.print(
                "[yellow]no console users yet: add one with `distillguard console-user add NAME --role analyst`[/]"
            )
        out.print(f"console on http://{host}:{port}/ (findings {findings}, store {settings.db})")
        uvicorn.run(app_, host=host, port=port, log_level="warning", proxy_headers=False)

    @app.command(name="console-user")
    def console_user_cmd(
        verb: Annotated[str, typer.Argument(help="add (or replace) or list.")],
        name: Annotated[str | None, typer.Argument(help="User name.")] = None,
        role: Annotated[str, typer.Option(help="viewer or analyst.")] = "viewer",
        db: Annotated[Path | None, typer.Option("--db", help="DuckDB store.")] = None,
        state: Annotated[
            Path | None, typer.Option(help="Console state file [default: beside the store].")
        ] = None,
        config: Annotated[Path | None, typer.Option("--config", help="YAML settings file.")] = None,
    ) -> None:
        """Add a console user (password from DISTILLGUARD_CONSOLE_PASSWORD or a prompt), or list them."""
        from distillguard.console import ConsoleState
        from distillguard.console._state import state_file

        overrides: dict[str, object] = {"db": db} if db else {}
        settings = load_settings(config, **overrides)
        path = state_file(settings, state)
        users = ConsoleState(path)
        if verb == "list":
            for u in users.users():
                out.print(f"{u.name}\t{u.role}")
            return
        if verb != "add" or not name:
            raise InputError(
                "use `console-user add NAME --role viewer|analyst` or `console-user list`"
            )
        password = os.environ.get("DISTILLGUARD_CONSOLE_PASSWORD") or getpass.getpass(
            f"password for {name}: "
        )
        users.add_user(name, role, password)
        out.print(f"{name} ({role}) can log in to the console ({path})")
