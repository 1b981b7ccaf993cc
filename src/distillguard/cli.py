"""The ``distillguard`` command line. Thin: parse options, build :class:`Settings`, call the
library, print. Every :class:`DistillguardError` becomes a one-line message and its exit code."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from distillguard._extras import require
from distillguard.config import Settings, load_settings
from distillguard.errors import ConfigError, DistillguardError
from distillguard.ingest import ADAPTERS, ingest_files
from distillguard.schema import Kind, schema_markdown
from distillguard.sim import SCENARIOS, describe_scenarios, simulate
from distillguard.store import Store

app = typer.Typer(
    name="distillguard",
    help="Find, stop and document distillation campaigns against LLM APIs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)

ConfigOpt = Annotated[
    Path | None, typer.Option("--config", help="YAML settings file.", exists=False)
]
DbOpt = Annotated[
    Path | None, typer.Option("--db", help="DuckDB store [default: ./distillguard.duckdb].")
]


def _settings(config: Path | None, **overrides: Any) -> Settings:
    return load_settings(config, **overrides)


def _open(settings: Settings, *, read_only: bool = False) -> Store:
    return Store.open(
        settings.db,
        read_only=read_only,
        threads=settings.threads,
        memory_limit=settings.memory_limit,
    )


@contextmanager
def _progress(
    settings: Settings, label: str, *, bytes_: bool
) -> Iterator[Callable[[int, int], None]]:
    enabled = settings.progress and err.is_terminal
    cols: list[Any] = [TextColumn("{task.description}"), BarColumn()]
    cols += (
        [DownloadColumn()] if bytes_ else [MofNCompleteColumn()]  # "?" while the total is unknown
    )
    cols.append(TimeRemainingColumn())
    with Progress(*cols, console=err, disable=not enabled, transient=True) as bar:
        task = bar.add_task(label, total=None)

        def hook(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield hook


def _parse_time(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        ts = datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith("Z") else value)
    except ValueError:
        raise ConfigError(
            f"{option}: expected an ISO 8601 time such as 2026-04-22T00:00Z, got {value!r}"
        ) from None
    return ts if ts.tzinfo else ts.replace(tzinfo=datetime.now().astimezone().tzinfo).astimezone()


@app.command()
def ingest(
    files: Annotated[list[Path], typer.Argument(help="Files or directories to ingest.")],
    fmt: Annotated[
        str, typer.Option("--format", "-f", help=f"One of: {', '.join(ADAPTERS)}.")
    ] = "native",
    account: Annotated[
        str | None,
        typer.Option(
            help="Account of records that name none (a Batch job's, a one-client capture's)."
        ),
    ] = None,
    signals: Annotated[
        bool,
        typer.Option(
            "--signals/--no-signals",
            help="Compute the new exchanges' per-exchange signals now (with --rules' "
            "institutional rule), so scans only aggregate; otherwise the next scan does.",
        ),
    ] = True,
    rules_file: Annotated[
        Path | None, typer.Option("--rules", help="Detection rules YAML (default: built-in).")
    ] = None,
    db: DbOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Ingest exchange, account or truth files into the store (idempotent; rejects beside the store)."""
    settings = _settings(config, db=db)
    started = time.perf_counter()
    with _open(settings) as store:
        with _progress(settings, "ingest", bytes_=True) as hook:
            report = ingest_files(
                files,
                fmt,
                store,
                settings,
                progress=lambda path, done, total: hook(done, total),
                account=account,
            )
        # one progress bar at a time: the signals' follows the ingest's
        signal_s = _ingest_signals(store, settings, rules_file) if signals else 0.0
    table = Table(title=f"ingested into {settings.db}")
    for col in (
        "file",
        "kind",
        "format",
        "read",
        "new",
        "duplicate",
        "replaced",
        "rejected",
        "skipped",
    ):
        table.add_column(col, justify="left" if col in ("file", "kind", "format") else "right")
    for f in report.files:
        table.add_row(
            Path(f.path).name,
            f.kind,
            f.format,
            f"{f.read:,}",
            f"{f.inserted:,}",
            f"{f.duplicates:,}",
            f"{f.replaced:,}",
            f"{f.rejected:,}",
            f"{f.skipped:,}",
        )
    out.print(table)
    for f in report.files:
        if f.rejects_path:
            out.print(f"[yellow]{f.rejected:,} rejected row(s) of {f.path} → {f.rejects_path}[/]")
        if f.note:
            out.print(f"[yellow]{escape(f.path)}: {escape(f.note)}[/]")
    if signals:
        out.print(f"signals of new exchange parts computed in {signal_s:.1f}s")
    out.print(f"done in {time.perf_counter() - started:.1f}s")


def _ingest_signals(store: Store, settings: Settings, rules_file: Path | None) -> float:
    """Compute the new parts' per-exchange signals now, so scans only aggregate; seconds."""
    from distillguard.detection.signal_store import ensure_signals
    from distillguard.rules import load_rules

    started = time.perf_counter()
    with _progress(settings, "signals", bytes_=False) as hook:
        ensure_signals(store, load_rules(rules_file).institutional, progress=hook)
    return time.perf_counter() - started


@app.command(name="simulate")
def simulate_cmd(
    out_dir: Annotated[Path, typer.Option("--out", help="Directory to write (must be empty).")],
    scenario: Annotated[str, typer.Option(help=f"One of: {', '.join(SCENARIOS)}.")] = "mixed",
    scale: Annotated[
        int, typer.Option(help="Exchanges to generate (1,000 to 50,000,000).")
    ] = 100_000,
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same output.")] = 1,
    corpus: Annotated[
        Path | None, typer.Option(help="Public prompt corpus directory (../shared/corpus).")
    ] = None,
    split: Annotated[str, typer.Option(help="Corpus half: all, tune or eval.")] = "all",
    config: ConfigOpt = None,
) -> None:
    """Write simulated exchanges, accounts and ground truth for a scenario."""
    settings = _settings(config)
    corpus = corpus or settings.corpus
    started = time.perf_counter()
    with _progress(settings, f"simulate {scenario}", bytes_=False) as hook:
        report = simulate(scenario, scale, seed, out_dir, corpus=corpus, split=split, progress=hook)
    _print_sim(report)
    out.print(
        f"wrote {report.exchanges:,} exchanges of {report.accounts:,} accounts to {out_dir} "
        f"in {time.perf_counter() - started:.1f}s"
    )


def _print_sim(report: Any) -> None:
    table = Table(
        title=f"scenario {report.scenario} · seed {report.seed} · text from {report.corpus}"
    )
    for col in ("persona / campaign", "accounts", "exchanges"):
        table.add_column(col, justify="left" if col.startswith("persona") else "right")
    for name, g in sorted(report.by_group.items(), key=lambda kv: -kv[1]["exchanges"]):
        table.add_row(name, f"{g['accounts']:,}", f"{g['exchanges']:,}")
    out.print(table)


@app.command(name="scan")
def scan_cmd(
    out_dir: Annotated[Path, typer.Option("--out", help="Directory for the findings.")],
    since: Annotated[str | None, typer.Option(help="Start (inclusive), ISO 8601.")] = None,
    until: Annotated[str | None, typer.Option(help="End (exclusive), ISO 8601.")] = None,
    rules_file: Annotated[
        Path | None, typer.Option("--rules", help="Detection rules YAML (default: packaged).")
    ] = None,
    labels_file: Annotated[
        Path | None,
        typer.Option(
            "--labels",
            help="Analyst labels to learn weights from: a file of account_id, label "
            "(legit|attack), or the console's state file (console.sqlite).",
        ),
    ] = None,
    models: Annotated[
        Path | None,
        typer.Option(
            "--models",
            help="Model catalogue YAML (models: [{id, released_at}]; gateway.yaml works): "
            "only catalogued releases count as releases.",
        ),
    ] = None,
    engine: Annotated[
        str,
        typer.Option(
            help="Where the exchange-level stages run: duckdb (the store) or spark "
            "(docs/scale.md).",
        ),
    ] = "duckdb",
    spark_master: Annotated[
        str | None,
        typer.Option(help="Spark master for --engine spark [default: spark.master, local[*]]."),
    ] = None,
    exchanges: Annotated[
        str | None,
        typer.Option(
            help="--engine spark: exchange Parquet to read, a path or URI (s3a://…) "
            "[default: the store's exchange parts].",
        ),
    ] = None,
    accounts: Annotated[
        str | None,
        typer.Option(
            help="--engine spark: account Parquet (contract columns), a path or URI "
            "[default: the store's accounts].",
        ),
    ] = None,
    db: DbOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Find campaigns: score accounts, link them into clusters, write findings."""
    from distillguard.catalogue import load_catalogue
    from distillguard.detection.labels import read_labels
    from distillguard.detection.pipeline import scan
    from distillguard.rules import load_rules

    if engine not in ("duckdb", "spark"):
        raise typer.BadParameter(f"must be duckdb or spark, not {engine!r}", param_hint="--engine")
    if engine == "duckdb" and (spark_master or exchanges or accounts):
        raise typer.BadParameter(
            "--spark-master, --exchanges and --accounts need --engine spark", param_hint="--engine"
        )
    settings = _settings(config, db=db, models=models)
    rules = load_rules(rules_file)
    catalogue = load_catalogue(settings.models)
    labels = read_labels(labels_file) if labels_file else None
    started = time.perf_counter()
    options: dict[str, Any] = {
        "since": _parse_time(since, "--since"),
        "until": _parse_time(until, "--until"),
        "labels": labels,
        "catalogue": catalogue,
        "progress": lambda step: err.print(f"[dim]· {step}[/]") if settings.progress else None,
        "report": settings.report,
    }
    if engine == "spark":
        from distillguard._cli_spark import scan_on_spark

        result = scan_on_spark(
            settings,
            lambda: _open(settings, read_only=True),
            rules,
            out_dir,
            spark_master,
            exchanges,
            accounts,
            options,
        )
    else:
        with _open(settings, read_only=True) as store:
            result = scan(store, rules, out_dir, **options)
    _print_findings(result)
    out.print(
        f"findings in {out_dir} · {time.perf_counter() - started:.1f}s "
        f"({', '.join(f'{k} {v:.1f}s' for k, v in result.timings.items())})"
    )


@app.command(name="evaluate")
def evaluate_cmd(
    findings: Annotated[Path, typer.Option("--findings", help="Directory written by `scan`.")],
    truth: Annotated[
        Path,
        typer.Option("--truth", help="truth.parquet (account_id, label, persona, campaign_id)."),
    ],
    exchange_truth: Annotated[
        Path | None, typer.Option(help="exchange_truth.parquet (default: beside --truth).")
    ] = None,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", help="Where to write evaluation.md/json [default: --findings]."),
    ] = None,
    no_baselines: Annotated[
        bool, typer.Option("--no-baselines", help="Skip the baselines.")
    ] = False,
    delay_checkpoints: Annotated[
        int,
        typer.Option(help="Measure detection delay by rescanning at N time checkpoints (0: off)."),
    ] = 0,
    rules_file: Annotated[
        Path | None, typer.Option("--rules", help="Rules for the delay rescans.")
    ] = None,
    embeddings: Annotated[
        bool,
        typer.Option(
            "--embeddings", help="Also run the PRADA and MMD baselines (slow: embeds prompts)."
        ),
    ] = False,
    corpus: Annotated[
        Path | None, typer.Option(help="Corpus for the MMD benign reference.")
    ] = None,
    models: Annotated[
        Path | None,
        typer.Option("--models", help="Model catalogue for the delay rescans (as for scan)."),
    ] = None,
    db: DbOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Measure findings against ground truth, beside baselines on the same data."""
    if not no_baselines or embeddings:
        require("evaluate", "evaluate", hint="or run it with --no-baselines")
    from distillguard.catalogue import load_catalogue
    from distillguard.evaluate import evaluate, load_truth, render_markdown, write_report

    settings = _settings(config, db=db, models=models)
    t = load_truth(truth, exchange_truth)
    with (
        _open(settings, read_only=True) as store,
        _progress(settings, "embed prompts", bytes_=False) as hook,
    ):
        from distillguard.rules import load_rules

        report = evaluate(
            findings,
            t,
            store,
            baselines=not no_baselines,
            delay_checkpoints=delay_checkpoints,
            rules=load_rules(rules_file),
            catalogue=load_catalogue(settings.models),
            embedding_baselines=embeddings,
            corpus=str(corpus) if corpus else None,
            progress=hook,
        )
    md, js = write_report(report, out_dir or findings)
    typer.echo(render_markdown(report))
    out.print(f"written: {md} · {js}")


def _print_findings(result: Any) -> None:
    import json

    counts = result.verdict_counts()
    out.print(
        "accounts: " + " · ".join(f"{v} {counts[v]:,}" for v in ("act", "review", "watch", "ok"))
    )
    if not result.clusters.num_rows:
        out.print("no campaigns (clusters) found")
        return
    out.print(f"[bold]{result.clusters.num_rows} campaign(s) found[/]")
    for c in result.clusters.to_pylist():
        caps = json.loads(c["capabilities"])
        top = sorted(((v, k) for k, v in caps.items() if v >= 0.1), reverse=True)[:3]
        infra = json.loads(c["shared_infrastructure"])
        kinds = sorted({i["kind"].replace("_", " ") for i in infra})
        why = [r["text"] for r in json.loads(c["reasons"])[:2]]
        out.print(
            f"[bold]{c['cluster_id']}[/] {c['verdict'].upper()} risk {c['risk']:.2f}: "
            f"{c['accounts']:,} accounts, {c['exchanges']:,} exchanges, "
            f"{c['first_seen']:%Y-%m-%d} → {c['last_seen']:%Y-%m-%d}",
            highlight=False,
        )
        out.print(
            f"    targets: {', '.join(f'{k} {v:.0%}' for v, k in top) or 'general chat'}",
            highlight=False,
        )
        out.print(f"    linked by: {', '.join(kinds)}", highlight=False)
        for line in why:
            out.print(f"    why: {line}", highlight=False)


@app.command()
def info(db: DbOpt = None, config: ConfigOpt = None) -> None:
    """Show what the store holds."""
    settings = _settings(config, db=db)
    with _open(settings, read_only=True) as store:
        _print_summary(store.summary(), settings.db)


def _print_summary(s: dict[str, Any], db: Path) -> None:
    out.print(
        f"[bold]{db}[/]: {s['exchanges']:,} exchanges · {s['accounts']:,} accounts · "
        f"{s['active_accounts']:,} active · {s['input_tokens'] + s['output_tokens']:,} tokens"
    )
    if s["first_ts"] is not None:
        out.print(f"from {s['first_ts']:%Y-%m-%d %H:%M} to {s['last_ts']:%Y-%m-%d %H:%M} UTC")
    if s["models"]:
        out.print("models: " + ", ".join(f"{m} {n:,}" for m, n in s["models"]))
        out.print("endpoints: " + ", ".join(f"{m} {n:,}" for m, n in s["endpoints"]))
    if s["truth_mix"]:
        table = Table(title="ground truth (simulated)")
        for col in ("label", "persona", "accounts", "exchanges"):
            table.add_column(col, justify="right" if col in ("accounts", "exchanges") else "left")
        for label, persona, accounts, n in s["truth_mix"]:
            table.add_row(label, persona, f"{accounts:,}", f"{n:,}")
        out.print(table)


@app.command()
def export(
    target: Annotated[Path, typer.Argument(help="Parquet file to write.")],
    kind: Annotated[Kind, typer.Option(help="What to export.")] = Kind.EXCHANGES,
    since: Annotated[str | None, typer.Option(help="Start (inclusive), ISO 8601.")] = None,
    until: Annotated[str | None, typer.Option(help="End (exclusive), ISO 8601.")] = None,
    db: DbOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Export a time window of the store to Parquet."""
    settings = _settings(config, db=db)
    with _open(settings, read_only=True) as store:
        n = store.export_parquet(
            kind, target, since=_parse_time(since, "--since"), until=_parse_time(until, "--until")
        )
    out.print(f"wrote {n:,} {kind.value} rows to {target}")


@app.command()
def schema() -> None:
    """Print the exchange-log contract as Markdown (the text of docs/schema.md)."""
    typer.echo(schema_markdown())


@app.command()
def scenarios() -> None:
    """List the simulator's scenarios, personas and campaigns."""
    for name, desc in describe_scenarios().items():
        out.print(f"[bold]{name}[/]: {desc}")
    out.print("scenarios: " + ", ".join(SCENARIOS))


@app.command()
def demo(
    workdir: Annotated[Path, typer.Option(help="Where the demo writes its files.")] = Path(
        "demo-output"
    ),
    scale: Annotated[int, typer.Option(help="Exchanges to simulate.")] = 200_000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 7,
    corpus: Annotated[
        Path | None, typer.Option(help="Prompt corpus (default: ../shared/corpus if present).")
    ] = None,
) -> None:
    """Simulate a mixed scenario, ingest it, scan it, show the campaigns found and write an
    incident report for the largest."""
    import shutil

    require("report", "demo")

    settings = _settings(None, db=workdir / "distillguard.duckdb")
    if corpus is None and Path("../shared/corpus").is_dir():
        corpus = Path("../shared/corpus")
    sim_dir = workdir / "sim"
    stale_paths = (
        sim_dir,
        settings.db,
        Path(str(settings.db) + ".data"),
        workdir / "findings",
        workdir / "reports",
    )
    for stale in stale_paths:
        if Path(stale).is_dir():
            shutil.rmtree(stale)
        elif Path(stale).exists():
            Path(stale).unlink()
    started = time.perf_counter()
    out.rule("1 · simulate")
    with _progress(settings, "simulate", bytes_=False) as hook:
        report = simulate("mixed", scale, seed, sim_dir, corpus=corpus, progress=hook)
    _print_sim(report)
    out.rule("2 · ingest")
    files = [
        *sorted((sim_dir / "exchanges").glob("*.parquet")),
        sim_dir / "accounts.parquet",
        sim_dir / "truth.parquet",
        sim_dir / "exchange_truth.parquet",
    ]
    with _open(settings) as store, _progress(settings, "ingest", bytes_=True) as hook:
        ing = ingest_files(files, "native", store, settings, progress=lambda p, d, t: hook(d, t))
        out.print(
            f"ingested {ing.inserted:,} rows from {len(ing.files)} files, {ing.rejected:,} rejected"
        )
        out.rule("3 · the store")
        _print_summary(store.summary(), settings.db)
    out.rule("4 · scan: campaigns found")
    from distillguard.catalogue import load_catalogue
    from distillguard.detection.pipeline import scan
    from distillguard.rules import load_rules

    with _open(settings, read_only=True) as store:
        result = scan(
            store,
            load_rules(),
            workdir / "findings",
            catalogue=load_catalogue(sim_dir / "models.yaml"),
            report=settings.report,
        )
    _print_findings(result)
    out.print(
        f"findings: {workdir / 'findings'} (accounts.parquet, clusters.parquet, findings.json)"
    )
    acted = [c for c in result.clusters.to_pylist() if c["verdict"] == "act"]
    if acted:
        from distillguard.findings import load_findings
        from distillguard.report import write_report

        top = max(acted, key=lambda c: c["exchanges"])
        out.rule(f"5 · incident report for {top['cluster_id']}")
        with _open(settings, read_only=True) as store:
            written = write_report(
                store,
                load_findings(workdir / "findings"),
                top["cluster_id"],
                workdir / "reports" / top["cluster_id"],
                settings,
            )
        out.print(written.report["summary"])
        out.print(f"report: {written.html} · {written.pdf} · {written.json}")
    out.print(
        f"\ndemo finished in {time.perf_counter() - started:.0f}s · store: {settings.db} · "
        "next: `distillguard info --db " + str(settings.db) + "`"
    )
    state = workdir / "console.sqlite"
    out.print(
        "\nopen the analyst console on these findings:\n"
        f"  distillguard console-user add analyst --role analyst --state {state}\n"
        f"  distillguard console --findings {workdir / 'findings'} --db {settings.db} "
        f"--state {state}\n"
        "  then browse http://127.0.0.1:8700/ (add --gateway URL to act through a gateway)",
        highlight=False,
        soft_wrap=True,  # commands stay on one line, to copy
    )


FindingsOpt = Annotated[
    Path,
    typer.Option("--findings", help="Directory written by `scan`."),
]


@app.command(name="report")
def report_cmd(
    cluster_id: Annotated[
        str | None, typer.Argument(help="Campaign (cluster id) to report on.")
    ] = None,
    all_: Annotated[
        bool, typer.Option("--all", help="Every campaign flagged review or act, plus an index.")
    ] = False,
    out_dir: Annotated[Path, typer.Option("--out", help="Directory for the report.")] = Path(
        "reports"
    ),
    since: Annotated[
        str | None, typer.Option(help="With --all: campaigns active from (ISO 8601).")
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="With --all: campaigns active before (ISO 8601).")
    ] = None,
    findings: FindingsOpt = Path("findings"),
    db: DbOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Write an incident report (HTML, PDF, JSON) for a campaign, or for all of them."""
    from distillguard.findings import load_findings

    require("report", "report")
    from distillguard.report import write_index, write_report

    if (cluster_id is None) == (not all_):
        raise typer.BadParameter("give a CLUSTER_ID or --all (not both)")
    settings = _settings(config, db=db)
    found = load_findings(findings)
    with _open(settings, read_only=True) as store:
        if all_:
            with _progress(settings, "reports", bytes_=False) as hook:
                index, written = write_index(
                    store,
                    found,
                    out_dir,
                    settings,
                    since=_parse_time(since, "--since"),
                    until=_parse_time(until, "--until"),
                    progress=hook,
                )
            out.print(f"{len(written)} campaign report(s) · index: {index}")
            return
        assert cluster_id is not None
        files = write_report(store, found, cluster_id, out_dir, settings)
    out.print(files.report["summary"])
    out.print(f"written: {files.html} · {files.pdf or '(no PDF)'} · {files.json}")


intel_app = typer.Typer(
    help="Share indicators: STIX 2.1 export, TAXII 2.1 push/pull, match partners' bundles.",
    no_args_is_help=True,
)
app.add_typer(intel_app, name="intel")


@intel_app.command(name="export")
def intel_export_cmd(
    cluster_id: Annotated[str, typer.Argument(help="Campaign (cluster id) to export.")],
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Bundle file [default: <cluster_id>.stix.json].")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="Only 'stix' (STIX 2.1 JSON).")] = "stix",
    findings: FindingsOpt = Path("findings"),
    rules_file: Annotated[
        Path | None, typer.Option("--rules", help="Detection rules YAML (disposable domains).")
    ] = None,
    db: DbOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Export a campaign's indicators as a STIX 2.1 bundle (needs the consortium key)."""
    import json

    from distillguard.findings import load_findings

    require("intel", "intel export")
    from distillguard.intel import export_bundle
    from distillguard.rules import load_rules

    if fmt != "stix":
        raise typer.BadParameter("only --format stix is supported", param_hint="--format")
    settings = _settings(config, db=db)
    found = load_findings(findings)
    with _open(settings, read_only=True) as store:
        bundle = export_bundle(store, found, cluster_id, settings, load_rules(rules_file))
    target = out_file or Path(f"{cluster_id}.stix.json")
    target.write_text(json.dumps(bundle, indent=1) + "\n", encoding="utf-8")
    kinds: dict[str, int] = {}
    for o in bundle["objects"]:
        kinds[o["type"]] = kinds.get(o["type"], 0) + 1
    out.print(f"{target}: " + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())))


@intel_app.command(name="push")
def intel_push_cmd(
    bundle_file: Annotated[Path, typer.Argument(help="STIX bundle to share.")],
    server: Annotated[str, typer.Option(help="TAXII 2.1 API root URL.")],
    collection: Annotated[str, typer.Option(help="Collection id.")],
    definitions: Annotated[
        bool,
        typer.Option(
            "--definitions/--no-definitions",
            help="Also push extension-definition objects (leave them out for medallion 3.0.0).",
        ),
    ] = True,
    config: ConfigOpt = None,
) -> None:
    """Add a bundle's objects to a TAXII 2.1 collection (user/password from intel settings)."""
    import json

    from distillguard.errors import InputError

    require("intel", "intel push")
    from distillguard.intel import push

    settings = _settings(config)
    try:
        bundle = json.loads(bundle_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read bundle: {exc}", path=bundle_file) from exc
    status = push(bundle, server, collection, settings, include_definitions=definitions)
    out.print(f"pushed {status['success']} of {status['total']} objects ({status['status']})")


@intel_app.command(name="pull")
def intel_pull_cmd(
    server: Annotated[str, typer.Option(help="TAXII 2.1 API root URL.")],
    collection: Annotated[str, typer.Option(help="Collection id.")],
    out_file: Annotated[Path, typer.Option("--out", help="Where to write the bundle.")] = Path(
        "pulled.stix.json"
    ),
    added_after: Annotated[
        str | None, typer.Option(help="Only objects added after this time (ISO 8601).")
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Fetch a TAXII 2.1 collection's objects into one bundle file."""
    import json

    require("intel", "intel pull")
    from distillguard.intel import pull

    settings = _settings(config)
    bundle = pull(server, collection, settings, added_after=added_after)
    out_file.write_text(json.dumps(bundle, indent=1) + "\n", encoding="utf-8")
    out.print(f"{out_file}: {len(bundle['objects'])} objects")


@intel_app.command(name="match")
def intel_match_cmd(
    bundles: Annotated[list[Path], typer.Argument(help="Partners' STIX bundles.")],
    findings: FindingsOpt = Path("findings"),
    rules_file: Annotated[
        Path | None, typer.Option("--rules", help="Detection rules YAML (verdict thresholds).")
    ] = None,
    db: DbOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Match partners' indicators against our accounts; add the matches to the findings."""
    from distillguard.findings import load_findings

    require("intel", "intel match")
    from distillguard.intel import apply_to_findings, match, read_bundles
    from distillguard.rules import load_rules

    settings = _settings(config, db=db)
    shared = read_bundles(bundles)
    found = load_findings(findings)
    with _open(settings, read_only=True) as store:
        result = match(store, found, shared, settings)
    changed = apply_to_findings(found, result, settings, load_rules(rules_file))
    out.print(
        f"{result.indicators} indicators understood ({result.skipped} skipped) · "
        f"{len(result.matches)} accounts match · {changed} findings updated in {findings}"
    )
    for account, inds in sorted(result.matches.items())[:20]:
        out.print(f"  {account}: " + ", ".join(sorted({i.kind for i in inds})))


from distillguard._cli_console import register as _register_console  # noqa: E402
from distillguard._cli_gateway import register as _register_gateway  # noqa: E402

_register_gateway(app, out, err)
_register_console(app, out, err)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app; a distillguard error becomes one line and its exit code.

    Usage errors are Typer's own (exit code 2); everything else raises as it should."""
    try:
        app(args=argv)
    except DistillguardError as exc:
        # the message is text, not markup: "[report]" or "messages[0]" must print as written
        err.print(f"[red]error:[/] {escape(str(exc))}", highlight=False)
        raise SystemExit(exc.exit_code) from None


if __name__ == "__main__":
    main()
