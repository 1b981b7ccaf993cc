"""The campaign tables the scan writes for reports and the console: their queries on a few rows
against answers worked out by hand, and the report model the same whether it reads the files
or queries the store."""

from __future__ import annotations

import shutil
import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

import distillguard as dg
from distillguard.detection.campaign_tables import (
    DAILY,
    GRAPH,
    INFRA,
    MODELS,
    PROMPTS,
    daily_sql,
    infra_sql,
    models_sql,
    prompts_sql,
    remove_campaign_tables,
)
from distillguard.report._model import _infrastructure, build
from helpers import Campaigns


def _ex(rid: str, account: str, ts: str, **kw: Any) -> dict[str, Any]:
    row = {
        "request_id": rid,
        "account_id": account,
        "ts": datetime.fromisoformat(ts).replace(tzinfo=UTC),
        "model": "m1",
        "ip": "10.0.0.1",
        "asn": 100,
        "client_fp": "fpA",
        "user_agent": "ua/1",
        "country": "US",
        "prompt": "Solve 12 + 3. Show steps.",
    }
    return {**row, **kw}


ROWS = [
    # cluster c1: a and b; cluster c2: c; d is in no campaign
    _ex("r1", "a", "2026-05-01T10:00:00", prompt="Solve 12 + 3. Show steps."),
    _ex("r2", "a", "2026-05-01T23:59:00", prompt="Solve 40 + 2. Show steps.", asn=200),
    _ex("r3", "a", "2026-05-02T00:01:00", model="m2", prompt="Write a poem", asn=200),
    _ex("r4", "b", "2026-05-02T08:00:00", ip="10.0.1.7", client_fp="fpB", asn=300),
    _ex("r5", "b", "2026-05-02T09:00:00", ip="10.0.1.8", client_fp="fpB", asn=300),
    _ex("r6", "b", "2026-05-02T10:00:00", ip="10.0.1.9", client_fp="fpB", asn=300, prompt=""),
    _ex("r7", "c", "2026-05-03T10:00:00", model="m2", prompt=None, ip="::1", asn=None),
    _ex("r8", "d", "2026-05-05T10:00:00", model="m3"),
]
MEMBERS = pa.table({"account_id": ["a", "b", "c"], "cluster_id": ["c1", "c1", "c2"]})


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.register("_rows", pa.Table.from_pylist(ROWS))
    con.execute("CREATE TABLE exchanges AS SELECT * FROM _rows")
    con.register("_members", MEMBERS)
    return con


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple[Any, ...]]:
    return sorted(con.sql(sql).fetchall(), key=lambda r: tuple(str(x) for x in r))


def test_daily_counts_by_account_day_and_model(con: duckdb.DuckDBPyConnection) -> None:
    got = _rows(
        con,
        f"SELECT account_id, cluster_id, CAST(date AS VARCHAR), model, exchanges FROM ({daily_sql('')})",
    )
    assert got == [
        ("a", "c1", "2026-05-01", "m1", 2),  # 10:00 and 23:59 on the 1st
        ("a", "c1", "2026-05-02", "m2", 1),  # 00:01 is the next UTC day
        ("b", "c1", "2026-05-02", "m1", 3),
        ("c", "c2", "2026-05-03", "m2", 1),
    ]  # d is not a member: not counted


def test_the_window_bounds_every_query(con: duckdb.DuckDBPyConnection) -> None:
    window = " AND e.ts >= TIMESTAMPTZ '2026-05-02 00:00:00+00'"
    got = _rows(con, f"SELECT account_id, exchanges FROM ({daily_sql(window)})")
    assert got == [("a", 1), ("b", 3), ("c", 1)]
    models = _rows(
        con, f"SELECT model, exchanges FROM ({models_sql(window.replace('e.ts', 'ts'))})"
    )
    assert models == [("m1", 3), ("m2", 2), ("m3", 1)]  # r4-r6; r3, r7; r8


def test_infrastructure_ranks_and_counts(con: duckdb.DuckDBPyConnection) -> None:
    got = {
        (c, k, v): (n, a)
        for c, k, v, n, a in con.sql(
            f"SELECT cluster_id, kind, value, exchanges, accounts FROM ({infra_sql('')})"
        ).fetchall()
    }
    # c1: a has ASN 100 once, 200 twice; b has 300 three times
    assert got[("c1", "asn", "300")] == (3, 1)
    assert got[("c1", "asn", "200")] == (2, 1)
    assert got[("c1", "asn", "100")] == (1, 1)
    # a's three exchanges share 10.0.0.0/24; b's 10.0.1.0/24
    assert got[("c1", "subnet", "10.0.0.0/24")] == (3, 1)
    assert got[("c1", "subnet", "10.0.1.0/24")] == (3, 1)
    assert got[("c1", "client_fp", "fpA")] == (3, 1)
    assert got[("c1", "user_agent", "ua/1")] == (6, 2)
    assert got[("c1", "country", "US")] == (6, 2)
    # c's only exchange: IPv6 (no /24), no ASN
    assert ("c2", "subnet", "::1") not in got
    assert not [k for k in got if k[0] == "c2" and k[1] in ("asn", "subnet")]
    assert got[("c2", "client_fp", "fpA")] == (1, 1)


def test_infrastructure_keeps_the_most_shared(con: duckdb.DuckDBPyConnection) -> None:
    many = [_ex(f"x{i}", "a", "2026-05-01T12:00:00", user_agent=f"ua/{i % 20}") for i in range(40)]
    con.register("_more", pa.Table.from_pylist(many))
    con.execute("INSERT INTO exchanges SELECT * FROM _more")
    uas = con.sql(
        f"SELECT value FROM ({infra_sql('')}) WHERE cluster_id = 'c1' AND kind = 'user_agent'"
    ).fetchall()
    assert len(uas) == 15  # top 15 of 21 user agents
    assert ("ua/1",) in uas  # shared by both members: ranked first


def test_prompts_group_by_opening_with_digits_folded(con: duckdb.DuckDBPyConnection) -> None:
    got = _rows(con, f"SELECT cluster_id, text, exchanges FROM ({prompts_sql('', 5, 100)})")
    assert got == [
        # r1, r2 (a) and r4, r5 (b): one opening once digits fold; the example is r1's (the
        # first request id); r6's empty prompt and r7's null are not prompts
        ("c1", "Solve 12 + 3. Show steps.", 4),
        ("c1", "Write a poem", 1),
    ]
    one = _rows(con, f"SELECT text FROM ({prompts_sql('', 1, 5)})")
    assert one == [("Solve",)]  # one example per campaign, clipped to 5 characters


def test_the_report_shows_the_most_shared_values_of_each_kind() -> None:
    rows = [
        # 12 client fingerprints: fp0 held by 12 accounts, fp1 by 11, ...
        *[("client_fp", f"fp{i}", 100 - i, 12 - i) for i in range(12)],
        # networks rank by exchanges, not accounts
        ("asn", "64500", 10, 5),
        ("asn", "64501", 90, 1),
        ("country", "DE", 3, 3),
        ("country", "FR", 3, 3),
    ]
    # ranks as infra_sql gives them (its own tests check that ranking), rows shuffled
    ranks = [*range(1, 13), 2, 1, 1, 2]
    order = list(range(len(rows)))[::-1]
    rows, ranks = [rows[i] for i in order], [ranks[i] for i in order]
    table = pa.table(
        {
            "cluster_id": ["c1"] * len(rows),
            "kind": [r[0] for r in rows],
            "value": [r[1] for r in rows],
            "exchanges": [r[2] for r in rows],
            "accounts": [r[3] for r in rows],
            "rank": ranks,
        }
    )
    got = _infrastructure(table)
    assert [r["client_fp"] for r in got["client_fingerprints"]] == [f"fp{i}" for i in range(10)]
    assert [r["asn"] for r in got["asns"]] == [64501, 64500]  # numbers, by exchanges
    assert got["traffic_countries"] == [  # a tie falls back to the value
        {"country": "DE", "exchanges": 3},
        {"country": "FR", "exchanges": 3},
    ]
    assert got["subnets"] == [] and got["user_agents"] == []


def _without_tables(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    remove_campaign_tables(dst)
    return dst


def _stable(model: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in model.items() if k not in ("reference", "generated_at", "findings")}


def test_the_report_says_the_same_from_the_files_and_from_the_store(
    campaigns: Campaigns, tmp_path: Path
) -> None:
    bare = _without_tables(campaigns.findings, tmp_path / "bare")
    with dg.Store.open(campaigns.settings.db, read_only=True) as store:
        written = dg.load_findings(campaigns.findings)
        queried = dg.load_findings(bare)
        assert written.cluster_ids() and written.cluster_ids() == queried.cluster_ids()
        for cluster_id in written.cluster_ids():
            a = build(store, written, cluster_id, campaigns.settings)
            b = build(store, queried, cluster_id, campaigns.settings)
            assert _stable(a) == _stable(b), cluster_id
            assert a["timeline"]["daily"] and a["infrastructure"]["asns"]
    assert not any((bare / n).exists() for n in (DAILY, INFRA, PROMPTS, GRAPH, MODELS))


def test_every_findings_file_is_owner_only(campaigns: Campaigns) -> None:
    """Findings hold IPs, e-mail stems, payment tokens and prompt text."""
    names = {p.name for p in campaigns.findings.iterdir()}
    assert {DAILY, INFRA, PROMPTS, GRAPH, MODELS, "findings.json", "accounts.parquet"} <= names
    assert not [n for n in names if n.endswith(".tmp")]
    for path in campaigns.findings.rglob("*"):
        want = 0o700 if path.is_dir() else 0o600
        assert stat.S_IMODE(path.stat().st_mode) == want, path.name
