"""The Spark engine: the pipeline's SQL translated for Spark means what it means on DuckDB, and
a whole scan on Spark writes the same findings as on DuckDB.

The translation tests need only sqlglot; the rest need PySpark and a Java runtime (``make
test`` installs a JRE when missing), and fail rather than skip on CI."""

from __future__ import annotations

import hashlib
import math
import os
import shutil
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pydantic import SecretStr

import distillguard as dg
from distillguard.detection.engine import fingerprint
from distillguard.detection.features import exchange_signals_sql
from distillguard.detection.pipeline import scan
from distillguard.errors import StoreError
from distillguard.rules import load_rules
from distillguard.schema import Kind

spark_mod = pytest.importorskip("distillguard.detection.spark")
pytest.importorskip("sqlglot")
spark_sql = spark_mod.spark_sql

# py4j's sockets are closed by the JVM side; Python reports them as unclosed
pytestmark = [
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]


def _md5_fp(text: str) -> int:
    """The fingerprint by hand: the first 15 hex digits of the UTF-8 MD5."""
    return int(hashlib.md5(text.encode()).hexdigest()[:15], 16)


# -- translation (no JVM) ------------------------------------------------------------------


def test_parameters_are_inlined_in_order() -> None:
    since = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
    sql = spark_sql("SELECT 1 FROM t WHERE a <> ? AND ts >= ? AND n = ?", ["it's", since, 7])
    assert "'it\\'s'" in sql
    assert "CAST('2026-03-01 12:30:00.000000' AS TIMESTAMP)" in sql
    assert sql.endswith("n = 7")


def test_a_parameter_count_mismatch_is_an_error() -> None:
    with pytest.raises(StoreError, match="fewer parameters"):
        spark_sql("SELECT ? + ?", [1])
    with pytest.raises(StoreError, match="more parameters"):
        spark_sql("SELECT ?", [1, 2])


def test_duckdb_only_constructs_become_their_spark_equivalents() -> None:
    sql = spark_sql(
        "WITH s AS NOT MATERIALIZED (SELECT * FROM x) "
        "SELECT arg_max(v, (c, v)) AS a, mode(k ORDER BY k) AS m, quantile_cont(n, 0.9) AS q, "
        f"epoch_us(ts) AS us, epoch(ts) AS e, {fingerprint('p')} AS f, "
        "regexp_matches(p, '(?i)schritt') AS r FROM s GROUP BY ALL"
    )
    assert "MATERIALIZED" not in sql
    assert "MAX_BY(v, STRUCT(c, v))" in sql
    assert "MODE(k, TRUE)" in sql
    assert "PERCENTILE(n, 0.9)" in sql
    assert "UNIX_MICROS(ts) AS us" in sql
    assert "(UNIX_MICROS(ts) / 1e6) AS e" in sql
    assert "CAST(CONV(LEFT(MD5(CAST(p AS STRING)), 15), 16, 10) AS BIGINT)" in sql
    assert "p RLIKE '(?u)(?i)schritt'" in sql


def test_local_masters_get_a_few_shuffle_partitions() -> None:
    part = spark_mod._local_partitions
    assert part("local[2]") == {"spark.sql.shuffle.partitions": "4"}
    assert part("local[8]") == {"spark.sql.shuffle.partitions": "16"}
    assert part("local[3, 2]") == {"spark.sql.shuffle.partitions": "6"}  # with task retries
    assert part("local[*]")["spark.sql.shuffle.partitions"] == str(
        max(4, 2 * (os.cpu_count() or 1))
    )
    assert part("spark://host:7077") == part("yarn") == part("local[x]") == {}


def test_only_the_columns_the_signals_read_cross_to_the_tasks() -> None:
    sql, _ = exchange_signals_sql(source="_batch")
    used = spark_mod._columns(sql)
    assert {"prompt", "system", "tools", "request_id", "ts", "account_id"} <= used
    assert not {"response", "reasoning", "messages", "asn_org"} & used
    from distillguard.rules import Institutional

    inst = Institutional(asn_org_pattern="university", asns=[])
    assert "asn_org" in spark_mod._columns(exchange_signals_sql(None, None, inst, "_batch")[0])


def test_duckdb_fingerprint_is_the_md5_prefix() -> None:
    texts = ["", "abc", "Schritt für Schritt", "一步一步", "x" * 5000, "it's"]
    with dg.Store.open(":memory:") as store:
        got = store.query_with(
            f"SELECT t, {fingerprint('t')} AS f FROM _t",
            _t=pa.table({"t": pa.array([*texts, None], pa.string())}),
        ).to_pylist()
    assert {r["t"]: r["f"] for r in got} == {**{t: _md5_fp(t) for t in texts}, None: None}
    assert _md5_fp("abc") == 0x900150983CD24FB


# -- on Spark ------------------------------------------------------------------------------


def _have_java() -> bool:
    return bool(os.environ.get("JAVA_HOME")) or shutil.which("java") is not None


@pytest.fixture(scope="module")
def spark_session() -> Iterator[Any]:
    if not _have_java():
        if os.environ.get("CI"):
            pytest.fail("CI must have a Java runtime for the Spark tests (make test installs one)")
        pytest.skip("no Java runtime: the Spark tests need one")
    pytest.importorskip("pyspark")
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.master("local[2]").appName("distillguard-tests")
    for key, value in {**spark_mod.DEFAULT_CONF, "spark.sql.shuffle.partitions": "4"}.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    yield session
    session.stop()


def _executor(session: Any, tmp_path: Path, exchanges: pa.Table, accounts: pa.Table) -> Any:
    pq.write_table(exchanges, tmp_path / "ex.parquet")
    return spark_mod.SparkExecutor(session, str(tmp_path / "ex.parquet"), accounts)


def _both(session: Any, tmp_path: Path, sql: str, **tables: pa.Table) -> list[list[dict]]:
    """``sql`` over ``tables`` on DuckDB and on Spark."""
    with dg.Store.open(":memory:") as store:
        duck = store.query_with(sql, **tables).to_pylist()
    empty = pa.table({"account_id": pa.array([], pa.string())})
    ex = spark_mod.SparkExecutor(session, _parquet(tmp_path), empty)
    return [duck, ex.query_with(sql, **tables).to_pylist()]


def _parquet(tmp_path: Path) -> str:
    path = tmp_path / "none.parquet"
    schema = dg.KINDS[Kind.EXCHANGES].arrow_schema(with_extra=False)
    pq.write_table(schema.empty_table(), path)
    return str(path)


def test_fingerprints_are_equal_on_both_engines(spark_session: Any, tmp_path: Path) -> None:
    texts = ["", "abc", "Schritt für Schritt", "一步一步", "ÀÉÎ õü 🙂", "a\nb\\c'd"]
    duck, spark = _both(
        spark_session,
        tmp_path,
        f"SELECT t, {fingerprint('t')} AS f FROM _t ORDER BY t",
        _t=pa.table({"t": pa.array(texts, pa.string())}),
    )
    assert duck == spark
    assert {r["t"]: r["f"] for r in spark} == {t: _md5_fp(t) for t in texts}


def test_ties_and_time_arithmetic_agree(spark_session: Any, tmp_path: Path) -> None:
    # account a: countries DE, FR once each (tie: DE, the first in order), habits x and y twice
    # each (tie: y, the larger); gaps 1.5 s and 0.25 s; both in the 12:04 two-minute window
    ts = [
        datetime(2026, 3, 1, 12, 4, 0, tzinfo=UTC),
        datetime(2026, 3, 1, 12, 4, 1, 500000, tzinfo=UTC),
        datetime(2026, 3, 1, 12, 4, 1, 750000, tzinfo=UTC),
    ]
    rows = pa.table(
        {
            "a": ["a", "a", "a"],
            "country": ["FR", "DE", None],
            "v": ["x", "y", "y"],
            "c": [2, 2, 2],
            "ts": pa.array(ts, pa.timestamp("us", tz="UTC")),
        }
    )
    sql = """
    SELECT a, mode(country ORDER BY country) AS country, arg_max(v, (c, v)) AS habit,
      min(epoch_us(ts) // 86400000000) AS day,
      min(strftime(to_timestamp((epoch_us(ts) // 120000000) * 120), '%Y-%m-%d %H:%M')) AS bucket
    FROM _r GROUP BY a"""
    duck, spark = _both(spark_session, tmp_path, sql, _r=rows)
    expected = {
        "a": "a",
        "country": "DE",
        "habit": "y",
        "day": 20513,  # 2026-03-01 is 20,513 days after 1970-01-01
        "bucket": "2026-03-01 12:04",
    }
    assert duck == spark == [expected]
    gaps = """SELECT (epoch_us(ts) - lag(epoch_us(ts)) OVER (ORDER BY ts)) / 1e6 AS g FROM _r
              ORDER BY ts"""
    duck, spark = _both(spark_session, tmp_path, gaps, _r=rows)
    assert [r["g"] for r in duck] == [r["g"] for r in spark] == [None, 1.5, 0.25]


def test_per_exchange_signals_agree_with_duckdb(spark_session: Any, tmp_path: Path) -> None:
    prompts = [
        "Please show your full chain of thought, step by step, before the final answer.",
        "Zeige deine Gedankenkette Schritt für Schritt.",
        "请一步一步地展示你的完整推理过程。",
        "Rate the following answer on a scale of 1 to 10 and explain the score.",
        "Rewrite this answer so it does not mention the protests.",
        "What is the capital of France?",
        "def add(a, b):\n    return a + b\nFix the bug.",
        "",
        "x" * 6000 + " think step by step",
    ]
    schema = dg.KINDS[Kind.EXCHANGES].arrow_schema()
    n = len(prompts)
    columns: dict[str, pa.Array] = {}
    for field in schema:
        if field.name == "prompt":
            columns[field.name] = pa.array(prompts, field.type)
        elif field.name == "request_id":
            columns[field.name] = pa.array([f"r{i}" for i in range(n)], field.type)
        elif field.name == "account_id":
            columns[field.name] = pa.array(["acct"] * n, field.type)
        elif field.name == "ts":
            columns[field.name] = pa.array([datetime(2026, 3, 1, tzinfo=UTC)] * n, field.type)
        elif field.name == "system":
            columns[field.name] = pa.array(["You are a strict grader."] * n, field.type)
        elif field.nullable:
            columns[field.name] = pa.nulls(n, field.type)
        elif pa.types.is_string(field.type):
            columns[field.name] = pa.array(["chat"] * n, field.type)
        else:  # required numbers and flags
            columns[field.name] = pa.array([0] * n, pa.int64()).cast(field.type)
    exchanges = pa.table(columns, schema=schema)
    empty = pa.table({"account_id": pa.array([], pa.string())})
    ex = _executor(spark_session, tmp_path, exchanges, empty)
    ex.write_signals(None, None, None, tmp_path / "signals")
    spark = pq.read_table(tmp_path / "signals").sort_by("request_id")
    with dg.Store.open(":memory:") as store:
        store.load_table(Kind.EXCHANGES, exchanges)
        sql, params = exchange_signals_sql()
        duck = store.query(f"SELECT * FROM ({sql}) ORDER BY request_id", params)
    assert spark.schema.equals(duck.schema, check_metadata=False), (spark.schema, duck.schema)
    for name in duck.column_names:
        assert spark.column(name).to_pylist() == duck.column(name).to_pylist(), name
    assert any(duck.column("trace_extraction").to_pylist())  # the texts exercise detectors


# -- the whole scan ------------------------------------------------------------------------


def _same(a: pa.Table, b: pa.Table, name: str) -> None:
    assert a.schema == b.schema, name
    assert a.num_rows == b.num_rows, name
    for column in a.column_names:
        left, right = a.column(column).to_pylist(), b.column(column).to_pylist()
        for i, (x, y) in enumerate(zip(left, right, strict=True)):
            if isinstance(x, float) and isinstance(y, float):
                assert (math.isnan(x) and math.isnan(y)) or abs(x - y) <= 1e-9, (name, column, i)
            else:
                assert x == y, (name, column, i, x, y)


@pytest.mark.slow
def test_a_whole_scan_writes_the_same_findings_on_both_engines(
    spark_session: Any, tmp_path: Path, corpus: Path
) -> None:
    sim = tmp_path / "sim"
    report = dg.simulate("adversarial", 50_000, seed=21, out=sim, corpus=corpus)
    assert report.exchanges >= 50_000
    settings = dg.load_settings(db=tmp_path / "dg.duckdb", progress=False)
    rules = load_rules(None)
    with dg.Store.open(settings.db) as store:
        dg.ingest_files([sim], "native", store, settings)
        duck = scan(store, rules, tmp_path / "duck")
        spark = spark_mod.SparkExecutor(
            spark_session,
            str(store.data_dir / Kind.EXCHANGES.value),
            store.query("SELECT * FROM accounts"),
        )
        on_spark = scan(store, rules, tmp_path / "spark", engine=spark)
    verdicts = duck.verdict_counts()
    assert verdicts["act"] + verdicts["review"] > 0 and duck.clusters.num_rows > 0
    assert on_spark.verdict_counts() == verdicts
    for name in (
        "accounts.parquet",
        "clusters.parquet",
        "cohorts.parquet",
        "account_features.parquet",
        "campaign_infra.parquet",
        "campaign_prompts.parquet",
        "campaign_graph.parquet",
        "account_daily.parquet",
        "models.parquet",
    ):
        _same(
            pq.read_table(tmp_path / "duck" / name), pq.read_table(tmp_path / "spark" / name), name
        )
    # Spark's per-exchange signals are a dataset directory, owner-only like every finding
    signals = tmp_path / "spark" / "exchange_signals.parquet"
    assert signals.is_dir()
    assert (
        pq.read_table(signals).num_rows
        == pq.read_table(tmp_path / "duck" / "exchange_signals.parquet").num_rows
    )
    for path in [signals, *signals.rglob("*")]:
        assert path.stat().st_mode & 0o077 == 0, path


def _without_times(value: Any) -> Any:
    """A report or bundle without the moment it was made (it differs between two runs)."""
    if isinstance(value, dict):
        return {
            k: _without_times(v)
            for k, v in value.items()
            if k not in ("generated", "generated_at", "created", "modified", "id", "timestamp")
        }
    if isinstance(value, list):
        return [_without_times(v) for v in value]
    return value


def test_reports_intel_and_baselines_query_spark_through_the_same_seam(
    spark_session: Any, tmp_path: Path
) -> None:
    """A campaign report, its STIX indicators and evaluate's baselines, computed with the
    Spark executor from findings without their campaign tables (so every query runs on the
    engine), equal those computed with the store."""
    from distillguard.detection.campaign_tables import remove_campaign_tables
    from distillguard.evaluate.baselines import rate_limit
    from distillguard.evaluate.embedding_baselines import sample_prompts
    from distillguard.intel.stix import export_bundle
    from distillguard.report._model import build

    sim = tmp_path / "sim"
    dg.simulate("adversarial", 8_000, seed=5, out=sim)
    settings = dg.load_settings(db=tmp_path / "dg.duckdb", progress=False)
    settings = settings.model_copy(
        update={
            "intel": settings.intel.model_copy(
                update={"consortium_key": SecretStr("a-sharing-group-key-123456")}
            )
        }
    )
    rules = load_rules(None)
    with dg.Store.open(settings.db) as store:
        dg.ingest_files([sim], "native", store, settings)
        scan(store, rules, tmp_path / "findings")
        shutil.copytree(tmp_path / "findings", tmp_path / "bare")
        remove_campaign_tables(tmp_path / "bare")
        findings, bare = (
            dg.load_findings(tmp_path / "findings"),
            dg.load_findings(tmp_path / "bare"),
        )
        clusters = [c["cluster_id"] for c in findings.all_clusters()]
        assert clusters
        spark = spark_mod.SparkExecutor(
            spark_session,
            str(store.data_dir / Kind.EXCHANGES.value),
            store.query("SELECT * FROM accounts"),
        )
        cid = clusters[0]
        on_duck = build(store, bare, cid, settings)
        assert _without_times(build(spark, bare, cid, settings)) == _without_times(on_duck)
        assert on_duck["timeline"]["daily"] and on_duck["infrastructure"]["asns"]

        def indicators(bundle: dict[str, Any]) -> list[str]:
            return sorted(o["pattern"] for o in bundle["objects"] if o["type"] == "indicator")

        stix_duck = export_bundle(store, findings, cid, settings, rules)
        assert indicators(stix_duck)
        assert indicators(export_bundle(spark, findings, cid, settings, rules)) == indicators(
            stix_duck
        )
        signals = tmp_path / "findings" / "exchange_signals.parquet"
        limited = rate_limit(store, store.parquet(signals))
        assert rate_limit(spark, spark.parquet(signals)) == limited
        sampled = sample_prompts(store, store.parquet(signals), per_account=4)
        assert sampled and sample_prompts(spark, spark.parquet(signals), per_account=4) == sampled


# -- the command ---------------------------------------------------------------------------


def test_scan_engine_option_is_checked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from helpers import run_cli_streams

    code, _, err = run_cli_streams(capsys, "scan", "--out", str(tmp_path), "--engine", "polars")
    assert code == 2 and "must be duckdb or spark" in err
    code, _, err = run_cli_streams(
        capsys, "scan", "--out", str(tmp_path), "--exchanges", str(tmp_path)
    )
    assert code == 2 and "need --engine spark" in err
    code, _, err = run_cli_streams(
        capsys, "scan", "--engine", "spark", "--db", str(tmp_path / "none.duckdb"),
        "--out", str(tmp_path / "f"),
    )  # fmt: skip
    assert code == 3 and "give --exchanges" in err


def test_scan_command_on_spark_reads_parquet_uris_without_a_store(
    spark_session: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from helpers import run_cli_streams

    sim, db = tmp_path / "sim", tmp_path / "dg.duckdb"
    dg.simulate("mixed", 6_000, seed=8, out=sim)
    code, _, _ = run_cli_streams(
        capsys, "ingest", str(sim / "exchanges"), str(sim / "accounts.parquet"), "--db", str(db)
    )
    assert code == 0
    code, out, err = run_cli_streams(
        capsys, "scan", "--db", str(db), "--out", str(tmp_path / "duck")
    )
    assert code == 0, err
    # no store: exchanges and accounts straight from the simulator's Parquet
    code, out, err = run_cli_streams(
        capsys, "scan", "--engine", "spark", "--spark-master", "local[2]",
        "--exchanges", str(sim / "exchanges"), "--accounts", str(sim / "accounts.parquet"),
        "--db", str(tmp_path / "absent.duckdb"), "--out", str(tmp_path / "spark"),
    )  # fmt: skip
    assert code == 0, err
    assert "findings in" in out
    assert not (tmp_path / "absent.duckdb").exists()
    for name in ("accounts.parquet", "clusters.parquet"):
        _same(
            pq.read_table(tmp_path / "duck" / name), pq.read_table(tmp_path / "spark" / name), name
        )
    code, _, err = run_cli_streams(
        capsys, "scan", "--engine", "spark", "--exchanges", str(tmp_path / "missing"),
        "--accounts", str(sim / "accounts.parquet"), "--out", str(tmp_path / "f2"),
    )  # fmt: skip
    assert code == 5 and "cannot read exchanges" in err and "missing" in err


def test_spark_failures_are_store_errors_naming_what_failed(
    spark_session: Any, tmp_path: Path
) -> None:
    empty = pa.table({"account_id": pa.array([], pa.string())})
    ex = spark_mod.SparkExecutor(spark_session, _parquet(tmp_path), empty)
    with pytest.raises(StoreError, match="query failed") as bad_column:
        ex.query("SELECT no_such_column FROM exchanges")
    assert "no_such_column" in str(bad_column.value)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(StoreError, match=r"writing .*a-file.* failed"):
        ex.write_signals(None, None, None, blocker / "signals")
