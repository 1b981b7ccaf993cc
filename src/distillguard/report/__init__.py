"""Campaign incident reports: HTML, the same as PDF, and a JSON twin (docs/reports.md).

write_report(store, findings, "cluster-0001", out, settings)   # one campaign
write_index(store, findings, out, settings)                     # every campaign in the window
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from distillguard._files import write_private, write_text
from distillguard.config import Settings
from distillguard.detection.engine import Executor
from distillguard.findings import Findings
from distillguard.report._charts import all_charts
from distillguard.report._model import REPORT_VERSION, build, write_json

__all__ = ["REPORT_VERSION", "ReportFiles", "build", "write_index", "write_report"]


@dataclass
class ReportFiles:
    """What one report wrote."""

    cluster_id: str
    html: Path
    pdf: Path | None
    json: Path
    report: dict[str, Any]


def _env() -> Any:
    from jinja2 import Environment, PackageLoader, select_autoescape

    return Environment(
        loader=PackageLoader("distillguard.report", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def write_report(
    store: Executor, findings: Findings, cluster_id: str, out: str | Path, settings: Settings
) -> ReportFiles:
    """Write ``report.html``, ``report.pdf`` (unless ``report.pdf`` is off), ``report.json``
    and the chart images under ``out``."""
    out_dir = Path(out)
    out_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    report = build(store, findings, cluster_id, settings)
    charts = all_charts(report, out_dir, settings.report.graph_nodes)
    html = out_dir / "report.html"
    # reports hold (redacted) prompts and campaign infrastructure: owner-only files
    write_text(html, _env().get_template("report.html.j2").render(r=report, charts=charts))
    json_path = out_dir / "report.json"
    write_json(report, json_path)
    pdf: Path | None = None
    if settings.report.pdf:
        from distillguard.report._pdf import write_pdf

        pdf = out_dir / "report.pdf"
        write_private(pdf, lambda tmp: write_pdf(report, charts, out_dir, tmp))
    return ReportFiles(cluster_id, html, pdf, json_path, report)


def write_index(
    store: Executor,
    findings: Findings,
    out: str | Path,
    settings: Settings,
    *,
    verdicts: tuple[str, ...] = ("review", "act"),
    since: datetime | None = None,
    until: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[Path, list[ReportFiles]]:
    """A report per campaign whose verdict is in ``verdicts`` and whose activity overlaps
    ``[since, until)``, under ``out/<cluster_id>/``, and ``out/index.html`` + ``index.json``
    listing them."""
    import json

    out_dir = Path(out)
    out_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    chosen = [
        c
        for c in findings.all_clusters()
        if c["verdict"] in verdicts
        and (since is None or c["last_seen"] >= since)
        and (until is None or c["first_seen"] < until)
    ]
    written = []
    for i, c in enumerate(chosen):
        written.append(
            write_report(store, findings, c["cluster_id"], out_dir / c["cluster_id"], settings)
        )
        if progress:
            progress(i + 1, len(chosen))
    rows = [
        {
            "cluster_id": f.cluster_id,
            "summary": f.report["summary"],
            "accounts": f.report["cluster"]["accounts"],
            "exchanges": f.report["cluster"]["exchanges"],
            "first_seen": f.report["cluster"]["first_seen"],
            "last_seen": f.report["cluster"]["last_seen"],
            "risk": f.report["cluster"]["risk"],
            "verdict": f.report["cluster"]["verdict"],
            "html": f"{f.cluster_id}/report.html",
            "pdf": f"{f.cluster_id}/report.pdf" if f.pdf else None,
        }
        for f in written
    ]
    index = out_dir / "index.html"
    window = {
        "since": since.isoformat() if since else findings.window.get("since"),
        "until": until.isoformat() if until else findings.window.get("until"),
    }
    write_text(
        index,
        _env()
        .get_template("index.html.j2")
        .render(
            rows=rows,
            window=window,
            organisation=settings.report.organisation,
            verdicts=verdicts,
        ),
    )
    write_text(
        out_dir / "index.json", json.dumps({"window": window, "campaigns": rows}, indent=1) + "\n"
    )
    return index, written
