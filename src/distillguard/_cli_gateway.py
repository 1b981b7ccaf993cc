"""The gateway's commands: ``gateway``, ``mock-upstream``, ``admin-token``, ``decide``, ``watch``.

Registered on the main app by :mod:`distillguard.cli`; kept apart so each module holds one
concept (the offline pipeline there, the online gateway here)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from distillguard._extras import require
from distillguard.errors import ConfigError

GatewayConfigOpt = Annotated[
    Path | None, typer.Option("--config", help="Gateway YAML (docs/gateway.md).")
]


GatewayUrlOpt = Annotated[str, typer.Option("--gateway", help="Gateway base URL (its admin API).")]


def _admin_client(url: str) -> Any:
    import os

    from distillguard.gateway._config import ADMIN_TOKEN_ENV
    from distillguard.gateway._loop import AdminClient

    token = os.environ.get(ADMIN_TOKEN_ENV)
    if not token:
        raise ConfigError(f"{ADMIN_TOKEN_ENV}: set it to the gateway's admin token")
    return AdminClient(url, token)


def register(app: typer.Typer, out: Console, err: Console) -> None:
    """Add the gateway's commands to ``app``."""

    @app.command(name="gateway")
    def gateway_cmd(
        config: GatewayConfigOpt = None,
        host: Annotated[
            str | None, typer.Option(help="Listen address (overrides the file).")
        ] = None,
        port: Annotated[int | None, typer.Option(help="Listen port (overrides the file).")] = None,
    ) -> None:
        """Serve the OpenAI/Anthropic-compatible gateway in front of the configured upstream."""
        require("gateway", "gateway")
        import uvicorn

        from distillguard.gateway import create_app, load_gateway_config

        cfg = load_gateway_config(config, host=host, port=port)
        if cfg.upstream.openai is None and cfg.upstream.anthropic is None:
            raise ConfigError(
                f"{config or 'gateway config'}: upstream: set openai and/or anthropic"
            )
        err.print(
            f"distillguard gateway on http://{cfg.host}:{cfg.port} · state {cfg.state.backend} · "
            f"log {cfg.log.dir} ({cfg.log.content}) · admin API "
            f"{'on' if cfg.admin.digest() else 'off (no admin token set)'}"
        )
        from distillguard.gateway._server import protocol_class

        server = cfg.server
        uvicorn.run(
            create_app(cfg), host=cfg.host, port=cfg.port, log_level="warning",
            access_log=False, loop="uvloop", http=protocol_class(server.header_timeout_s),
            timeout_graceful_shutdown=10, timeout_keep_alive=int(max(1, server.idle_timeout_s)),
            limit_concurrency=server.max_connections,
            # client addresses come from the socket; X-Forwarded-For only when the config's
            # trust_forwarded_for says so (uvicorn would otherwise trust it from 127.0.0.1)
            proxy_headers=False,
        )  # fmt: skip

    @app.command(name="mock-upstream")
    def mock_upstream_cmd(
        host: Annotated[str, typer.Option(help="Listen address.")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="Listen port.")] = 9000,
        delay_ms: Annotated[float, typer.Option(help="Service time of each answer.")] = 0.0,
        chunk_delay_ms: Annotated[float, typer.Option(help="Gap between stream events.")] = 0.0,
    ) -> None:
        """A local upstream speaking the three APIs (for trying the gateway, tests and benchmarks)."""
        require("gateway", "mock-upstream")
        import uvicorn

        from distillguard.gateway import create_mock_app

        uvicorn.run(
            create_mock_app(delay_ms=delay_ms, chunk_delay_ms=chunk_delay_ms), host=host, port=port,
            log_level="warning", access_log=False, loop="uvloop", http="httptools",
        )  # fmt: skip

    @app.command(name="admin-token")
    def admin_token_cmd() -> None:
        """Print a new random admin token and the SHA-256 to put in gateway.yaml."""
        import hashlib
        import secrets

        token = "dgadm-" + secrets.token_urlsafe(32)
        out.print(f"token:        {token}")
        out.print(f"token_sha256: {hashlib.sha256(token.encode()).hexdigest()}")
        err.print(
            "keep the token secret (DISTILLGUARD_GATEWAY_ADMIN_TOKEN); commit only the digest"
        )

    @app.command(name="decide")
    def decide_cmd(
        findings: Annotated[Path, typer.Option("--findings", help="Findings directory of a scan.")],
        policy: Annotated[Path, typer.Option("--policy", help="Policy YAML (findings → actions).")],
        gateway: GatewayUrlOpt = "http://127.0.0.1:8080",
        dry_run: Annotated[bool, typer.Option("--dry-run", help="Print, do not send.")] = False,
    ) -> None:
        """Turn scan findings into gateway decisions through the policy, and load them."""
        require("gateway", "decide")
        from distillguard.gateway._loop import plan
        from distillguard.gateway._policy import load_policy

        batch = plan(load_policy(policy), findings)
        counts: dict[str, int] = {}
        for d in batch["decisions"]:
            counts[f"{d['action']} {d['scope']}"] = counts.get(f"{d['action']} {d['scope']}", 0) + 1
        out.print(
            f"{len(batch['decisions'])} decisions ("
            + (", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "none")
            + f"); {len(batch['clusters'])} accounts assigned to clusters"
        )
        if dry_run:
            for d in batch["decisions"][:50]:
                out.print(f"  {d['action']:8} {d['scope']} {d['target']}: {d['reason'][:120]}")
            return
        answer = _admin_client(gateway).call("POST", "/admin/decisions/batch", batch)
        out.print(
            f"gateway: {len(answer['created'])} created, {len(answer['unchanged'])} unchanged, "
            f"{len(answer['lifted'])} lifted, {answer['suppressed']} suppressed by analysts"
        )

    @app.command(name="watch")
    def watch_cmd(
        policy: Annotated[Path, typer.Option("--policy", help="Policy YAML (findings → actions).")],
        config: GatewayConfigOpt = None,
        gateway: GatewayUrlOpt = "http://127.0.0.1:8080",
        interval: Annotated[str, typer.Option(help="Time between rounds (30s, 5m, 1h).")] = "5m",
        window: Annotated[str, typer.Option(help="Sliding window each round scans.")] = "24h",
        db: Annotated[
            Path, typer.Option("--db", help="Store the watch loads the log into.")
        ] = Path("watch.duckdb"),
        out_dir: Annotated[Path, typer.Option("--out", help="Where findings go.")] = Path("watch"),
        rounds: Annotated[int | None, typer.Option(help="Stop after this many rounds.")] = None,
    ) -> None:
        """Rescan the gateway's own log every --interval and push the policy's decisions."""
        require("gateway", "watch")
        from distillguard.gateway import load_gateway_config
        from distillguard.gateway._loop import parse_duration, watch_forever
        from distillguard.gateway._policy import load_policy

        cfg = load_gateway_config(config)
        watch_forever(
            cfg, _admin_client(gateway), load_policy(policy), db=db, out=out_dir,
            window_s=parse_duration(window, "--window"),
            interval_s=parse_duration(interval, "--interval"), rounds=rounds,
            say=lambda s: err.print(f"[dim]{datetime.now():%H:%M:%S}[/] {s}", highlight=False),
        )  # fmt: skip
