"""Campaign incident reports rendered from a simulated scenario and read back."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from pypdf import PdfReader

import distillguard as dg
from distillguard.report import _env, write_report
from distillguard.report._model import redact
from distillguard.report._pdf import write_pdf
from helpers import Campaigns, run_cli


def _biggest(c: Campaigns) -> dict:
    clusters = dg.load_findings(c.findings).all_clusters()
    return max((x for x in clusters if x["verdict"] == "act"), key=lambda x: x["exchanges"])


@pytest.fixture(scope="module")
def written(campaigns: Campaigns, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    cluster = _biggest(campaigns)
    out = tmp_path_factory.mktemp("report")
    with dg.Store.open(campaigns.settings.db, read_only=True) as store:
        files = write_report(
            store,
            dg.load_findings(campaigns.findings),
            cluster["cluster_id"],
            out,
            campaigns.settings,
        )
    assert files.pdf is not None
    return cluster, out


def _personal(c: Campaigns, cluster: dict) -> list[str]:
    """The members' raw e-mail addresses, local parts and payment fingerprints."""
    rows = pq.read_table(c.sim / "accounts.parquet").to_pylist()
    members = set(cluster["account_ids"])
    values = []
    for r in rows:
        if r["account_id"] in members:
            if r.get("email"):
                values += [r["email"], r["email"].split("@")[0]]
            if r.get("payment_fp"):
                values.append(r["payment_fp"])
    return [v for v in values if len(v) >= 6]


def test_numbers_match_the_findings(written: tuple[dict, Path]) -> None:
    cluster, out = written
    doc = json.loads((out / "report.json").read_text())
    c = doc["cluster"]
    assert (c["cluster_id"], c["accounts"], c["exchanges"]) == (
        cluster["cluster_id"],
        cluster["accounts"],
        cluster["exchanges"],
    )
    assert c["first_seen"] == cluster["first_seen"].isoformat()
    assert sum(d["exchanges"] for d in doc["timeline"]["daily"]) == cluster["exchanges"]
    assert sum(m["exchanges"] for m in doc["models"]) == cluster["exchanges"]
    assert len(doc["accounts"]) == cluster["accounts"]
    assert f"{cluster['exchanges']:,}" in doc["summary"]
    html = (out / "report.html").read_text()
    assert f"{cluster['exchanges']:,}" in html and cluster["cluster_id"] in html
    for section in (
        "Summary",
        "Activity over time",
        "Capabilities targeted",
        "Attribution",
        "Account graph",
        "Infrastructure",
        "Representative prompts",
        "Actions taken",
        "Referral to authorities",
    ):
        assert f">{section}<" in html
    assert "Test Lab" in html and "abuse@test-lab.example" in html
    for img in re.findall(r'src="(img/[^"]+)"', html):
        assert (out / img).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_pdf_has_the_pages_and_the_same_numbers(written: tuple[dict, Path]) -> None:
    cluster, out = written
    pdf = PdfReader(out / "report.pdf")
    assert 4 <= len(pdf.pages) <= 12
    text = "\n".join(page.extract_text() for page in pdf.pages)
    assert cluster["cluster_id"] in text and f"{cluster['exchanges']:,}" in text
    assert "Referral to authorities" in text and "page 1" in text
    assert len(pdf.pages[0].images) + len(pdf.pages[1].images) >= 2  # charts are in


def test_no_raw_email_or_payment_data_in_any_output(
    campaigns: Campaigns, written: tuple[dict, Path]
) -> None:
    cluster, out = written
    texts = [
        (out / "report.html").read_text(),
        (out / "report.json").read_text(),
        "\n".join(p.extract_text() for p in PdfReader(out / "report.pdf").pages),
    ]
    secrets = _personal(campaigns, cluster)
    assert secrets
    for value in secrets:
        for text in texts:
            assert value not in text


def test_hostile_strings_are_escaped_in_html_and_survive_pdf(
    written: tuple[dict, Path], tmp_path: Path
) -> None:
    _, out = written
    doc = json.loads((out / "report.json").read_text())
    evil = "<script>alert('x')</script> & </td><img src=x onerror=1> 研究 思考过程 \u202e"
    doc["prompts"]["examples"] = [{"text": evil, "exchanges": 3}]
    doc["infrastructure"]["user_agents"] = [{"user_agent": evil, "exchanges": 1, "accounts": 1}]
    doc["summary"] = evil
    charts = {k: f"img/{k}.png" for k in ("daily", "creations", "capabilities", "graph")}
    html = _env().get_template("report.html.j2").render(r=doc, charts=charts)
    assert "<script>" not in html and "&lt;script&gt;" in html and "<img src=x" not in html
    (tmp_path / "img").mkdir()
    for name in charts.values():
        (tmp_path / name).write_bytes((out / name).read_bytes())
    write_pdf(doc, charts, tmp_path, tmp_path / "r.pdf")
    assert "alert" in "".join(p.extract_text() for p in PdfReader(tmp_path / "r.pdf").pages)


def test_redaction_masks_personal_data_and_clips() -> None:
    text = "mail bob.smith@corp.example or see https://x.example/a?b=1 key sk-abcdef1234567890 from 10.2.3.4 card 4111111111111111\x00"
    out = redact(text, 400)
    for gone in ("bob.smith", "https://", "sk-abcdef", "10.2.3.4", "4111", "\x00"):
        assert gone not in out
    assert "[email]" in out and "[url]" in out and "[secret]" in out and "[ip]" in out
    assert len(redact("word " * 1000, 50)) == 50


def test_prompts_can_be_left_out(campaigns: Campaigns, tmp_path: Path) -> None:
    settings = campaigns.settings.model_copy(
        update={
            "report": campaigns.settings.report.model_copy(update={"prompts": "off", "pdf": False})
        }
    )
    cluster = _biggest(campaigns)
    with dg.Store.open(settings.db, read_only=True) as store:
        files = write_report(
            store, dg.load_findings(campaigns.findings), cluster["cluster_id"], tmp_path, settings
        )
    assert files.pdf is None and not (tmp_path / "report.pdf").exists()
    assert files.report["prompts"] == {"mode": "off", "examples": []}
    assert "not included" in files.html.read_text()


def test_report_all_writes_an_index_of_flagged_campaigns(
    campaigns: Campaigns,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DISTILLGUARD_REPORT__PDF", "false")
    code, output = run_cli(
        capsys,
        "report",
        "--all",
        "--findings",
        str(campaigns.findings),
        "--db",
        str(campaigns.settings.db),
        "--out",
        str(tmp_path),
    )
    assert code == 0, output
    flagged = [
        c
        for c in dg.load_findings(campaigns.findings).all_clusters()
        if c["verdict"] in ("review", "act")
    ]
    index = json.loads((tmp_path / "index.json").read_text())
    assert [r["cluster_id"] for r in index["campaigns"]] == [c["cluster_id"] for c in flagged]
    html = (tmp_path / "index.html").read_text()
    for c in flagged:
        assert f'href="{c["cluster_id"]}/report.html"' in html
        assert (tmp_path / c["cluster_id"] / "report.html").is_file()


def test_bad_requests_are_clear_errors(
    campaigns: Campaigns, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["--db", str(campaigns.settings.db), "--out", str(tmp_path)]
    code, output = run_cli(
        capsys, "report", "cluster-9999", "--findings", str(campaigns.findings), *base
    )
    assert code == 4 and "no cluster 'cluster-9999'" in output
    assert "cluster-0001" in output  # names the known ones
    code, output = run_cli(
        capsys, "report", "cluster-0001", "--findings", str(tmp_path / "nope"), *base
    )
    assert code == 4 and "not a findings directory" in output
    code, output = run_cli(capsys, "report", "--findings", str(campaigns.findings), *base)
    assert code == 2
    (tmp_path / "f").mkdir()
    (tmp_path / "f" / "accounts.parquet").write_text("not parquet")
    (tmp_path / "f" / "clusters.parquet").write_text("not parquet")
    code, output = run_cli(
        capsys, "report", "cluster-0001", "--findings", str(tmp_path / "f"), *base
    )
    assert code == 4 and "accounts.parquet" in output


def test_report_all_keeps_to_the_window(
    campaigns: Campaigns,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DISTILLGUARD_REPORT__PDF", "false")
    flagged = [
        c
        for c in dg.load_findings(campaigns.findings).all_clusters()
        if c["verdict"] in ("review", "act")
    ]
    cut = sorted(c["first_seen"] for c in flagged)[len(flagged) // 2]
    code, output = run_cli(
        capsys,
        "report",
        "--all",
        "--until",
        cut.isoformat(),
        "--findings",
        str(campaigns.findings),
        "--db",
        str(campaigns.settings.db),
        "--out",
        str(tmp_path / "a"),
    )
    assert code == 0, output
    index = json.loads((tmp_path / "a" / "index.json").read_text())
    assert {r["cluster_id"] for r in index["campaigns"]} == {
        c["cluster_id"] for c in flagged if c["first_seen"] < cut
    }
    assert index["window"]["until"] == cut.isoformat()
    code, output = run_cli(
        capsys,
        "report",
        "--all",
        "--since",
        "2030-01-01T00:00Z",
        "--findings",
        str(campaigns.findings),
        "--db",
        str(campaigns.settings.db),
        "--out",
        str(tmp_path / "b"),
    )
    assert code == 0 and "0 campaign report(s)" in output
    assert "No campaign in this window" in (tmp_path / "b" / "index.html").read_text()
    code, output = run_cli(
        capsys,
        "report",
        "--all",
        "--since",
        "yesterday",
        "--findings",
        str(campaigns.findings),
        "--db",
        str(campaigns.settings.db),
        "--out",
        str(tmp_path / "c"),
    )
    assert code == 3 and "--since" in output


def test_the_findings_window_becomes_safe_sql(campaigns: Campaigns, tmp_path: Path) -> None:
    found = dg.load_findings(campaigns.findings)
    found.window = {"since": "2026-05-01T00:00:00+00:00", "until": None}
    assert found.window_condition("e.ts") == " AND e.ts >= TIMESTAMPTZ '2026-05-01T00:00:00+00:00'"
    found.window = {"since": "2026-05-01'; DROP TABLE accounts; --", "until": None}
    with pytest.raises(dg.InputError, match="not a timestamp"):
        found.window_condition()


def test_report_files_are_owner_only(written: tuple[dict, Path]) -> None:
    """Reports hold redacted prompts and a campaign's infrastructure."""
    import stat

    _, out = written
    files = [p for p in out.rglob("*") if p.is_file()]
    assert {"report.html", "report.json", "report.pdf"} <= {p.name for p in files}
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
