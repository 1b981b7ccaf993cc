"""Native ingestion: Parquet, JSONL and CSV; idempotent; rejects beside the store."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import distillguard as dg
from helpers import exchange, read_rejects, write_jsonl

ROWS = [
    exchange(request_id=f"r{i}", account_id=f"a{i % 3}", prompt=f"question {i}") for i in range(50)
]


def ingest(
    paths: list[Path], store: dg.Store, settings: dg.Settings, fmt: str = "native"
) -> dg.IngestReport:
    return dg.ingest_files(paths, fmt, store, settings)


def test_jsonl_is_ingested_and_reingest_adds_nothing(
    tmp_path: Path, store: dg.Store, settings: dg.Settings
) -> None:
    path = write_jsonl(tmp_path / "ex.jsonl", ROWS)
    first = ingest([path], store, settings)
    assert (first.files[0].kind, first.inserted, first.rejected) == ("exchanges", 50, 0)
    again = ingest([path], store, settings)
    assert (again.inserted, again.files[0].duplicates) == (0, 50)
    assert store.count(dg.Kind.EXCHANGES) == 50


def test_duplicates_inside_one_file_keep_the_first_row(
    tmp_path: Path, store: dg.Store, settings: dg.Settings
) -> None:
    path = write_jsonl(
        tmp_path / "dup.jsonl", [exchange(prompt="first"), exchange(prompt="second")]
    )
    rep = ingest([path], store, settings)
    assert (rep.inserted, rep.files[0].duplicates) == (1, 1)
    assert store.read(columns=["prompt"]).column("prompt").to_pylist() == ["first"]


def test_parquet_round_trip_keeps_types_and_extra_columns(
    tmp_path: Path, store: dg.Store, settings: dg.Settings
) -> None:
    table = pa.Table.from_pylist([{**r, "team": "blue"} for r in ROWS])
    table = table.set_column(
        table.schema.get_field_index("ts"),
        "ts",
        pa.array([f"2026-04-22T10:{i:02d}:00Z" for i in range(50)]),
    )
    pq.write_table(table, tmp_path / "ex.parquet")
    rep = ingest([tmp_path / "ex.parquet"], store, settings)
    assert rep.inserted == 50
    got = store.read(columns=["request_id", "extra"]).to_pylist()
    assert got[0]["extra"] == '{"team": "blue"}'
    out = tmp_path / "out.parquet"
    assert store.export_parquet(dg.Kind.EXCHANGES, out) == 50
    again = dg.load_settings(db=tmp_path / "other.duckdb")
    with dg.Store.open(again.db) as other:
        assert ingest([out], other, again).inserted == 50
        assert other.read(columns=["extra"]).column("extra").to_pylist()[0] == '{"team": "blue"}'


def test_csv_with_bad_rows_reports_each_with_row_field_reason(
    tmp_path: Path, store: dg.Store, settings: dg.Settings
) -> None:
    path = tmp_path / "ex.csv"
    path.write_bytes(
        b"request_id,ts,account_id,endpoint,model,prompt,input_tokens,output_tokens\n"
        b'r1,2026-04-22T10:00:00Z,a1,messages,m,"hello, world",5,6\n'
        b"r2,2026-04-22T10:00:00Z,a1,messages,m,hi,five,6\n"
        b"r3,2026-04-22T10:00:00Z,a1,messages,m\n"
        b"r4,2026-04-22T10:00:00Z,a1,messages,m,\xff\xfe bad utf8,5,6\n"
        b"r5,2026-04-22T10:00:00Z,,messages,m,hi,5,6\n"
        b'r6,2026-04-22T10:00:00Z,a1,messages,m,"multi\nline",5,6\n'
    )
    rep = ingest([path], store, settings)
    assert (rep.inserted, rep.rejected) == (2, 4)
    rejects = {r["row"]: r for r in read_rejects(rep)}
    assert rejects[2]["field"] == "input_tokens" and "five" in rejects[2]["reason"]
    assert (
        rejects[3]["field"] == "(record)"
        and "has 5 cells, the header has 8" in rejects[3]["reason"]
    )
    assert rejects[4]["field"] == "prompt" and rejects[4]["reason"] == "not valid UTF-8"
    assert rejects[5]["field"] == "account_id"
    assert all(r["file"] == str(path) for r in rejects.values())
    assert Path(rep.files[0].rejects_path or "").parent == settings.db.parent / "rejects"
    assert store.read(columns=["prompt"]).column("prompt").to_pylist() == [
        "hello, world",
        "multi\nline",
    ]


def test_gzipped_jsonl_with_broken_lines(
    tmp_path: Path, store: dg.Store, settings: dg.Settings
) -> None:
    path = tmp_path / "ex.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write(json.dumps(exchange(request_id="good")) + "\n\n")
        f.write("{not json\n")
        f.write("[1, 2]\n")
        f.write(json.dumps(exchange(request_id="big", prompt="y" * 3000)) + "\n")
    small = dg.load_settings(db=settings.db, ingest={"max_text_bytes": 2048})
    rep = ingest([path], store, small)
    assert (rep.inserted, rep.rejected) == (1, 3)
    reasons = {r["row"]: r["reason"] for r in read_rejects(rep)}
    assert reasons[3].startswith("not valid JSON")
    assert reasons[4] == "expected a JSON object, got list"
    assert "over the limit of 2,048" in reasons[5]


def test_accounts_are_upserted_and_recognised_by_columns(
    tmp_path: Path, store: dg.Store, settings: dg.Settings
) -> None:
    acc = [
        {
            "account_id": "a1",
            "created_at": "2025-01-01T00:00:00Z",
            "verification": "email",
            "tier": "free",
        },
        {"account_id": "a2", "created_at": "2025-01-02T00:00:00Z", "tier": "platinum"},
    ]
    rep = ingest([write_jsonl(tmp_path / "acc.jsonl", acc)], store, settings, fmt="openai")
    assert (rep.files[0].kind, rep.files[0].format, rep.inserted, rep.rejected) == (
        "accounts",
        "native",
        1,
        1,
    )
    update = [
        {
            "account_id": "a1",
            "created_at": "2025-01-01T00:00:00Z",
            "verification": "id",
            "tier": "build",
        }
    ]
    rep2 = ingest([write_jsonl(tmp_path / "acc2.jsonl", update)], store, settings)
    assert (rep2.inserted, rep2.files[0].replaced) == (0, 1)
    assert store.read(dg.Kind.ACCOUNTS, columns=["verification"]).column(
        "verification"
    ).to_pylist() == ["id"]


def test_directory_of_files_is_expanded(
    tmp_path: Path, store: dg.Store, settings: dg.Settings
) -> None:
    (tmp_path / "d").mkdir()
    write_jsonl(tmp_path / "d" / "a.jsonl", ROWS[:10])
    write_jsonl(tmp_path / "d" / "b.jsonl", ROWS[10:20])
    (tmp_path / "d" / "notes.txt").write_text("ignored")
    assert ingest([tmp_path / "d"], store, settings).inserted == 20


@pytest.mark.parametrize(
    ("name", "content", "error", "message"),
    [
        ("x.txt", "hello", dg.UnknownFormatError, "cannot tell the file type"),
        ("x.jsonl", '{"foo": 1}\n', dg.FileKindError, "columns match no record kind"),
        ("x.csv", "request_id,prompt\nr1,hi\n", dg.InputError, "missing required column"),
    ],
)
def test_bad_files_give_clear_errors(
    tmp_path: Path,
    store: dg.Store,
    settings: dg.Settings,
    name: str,
    content: str,
    error: type[Exception],
    message: str,
) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(error, match=message) as info:
        ingest([path], store, settings)
    assert str(path) in str(info.value)


def test_a_csv_header_that_repeats_a_column_is_a_file_reject(
    tmp_path: Path, store: dg.Store, settings: dg.Settings
) -> None:
    path = tmp_path / "x.csv"
    path.write_text("request_id,ts,prompt,prompt\nr1,2026-01-01T00:00:00Z,a,b\n")
    rep = ingest([path], store, settings)
    (reject,) = read_rejects(rep)
    assert (reject["row"], reject["field"]) == (1, "(file)")
    assert "repeats column(s): prompt" in reject["reason"] and rep.inserted == 0


def test_blank_csv_header_cells_name_their_column_by_position(
    tmp_path: Path, store: dg.Store, settings: dg.Settings
) -> None:
    row = ROWS[0]
    path = tmp_path / "x.csv"
    names = [*row, ""]
    cells = [str(row[n]).replace(",", " ") for n in row] + ["note"]
    path.write_text(",".join(names) + "\n" + ",".join(cells) + "\n")
    rep = ingest([path], store, settings)
    assert rep.inserted == 1 and rep.rejected == 0
    (extra,) = store.query("SELECT extra FROM exchanges").column("extra").to_pylist()
    assert json.loads(extra) == {f"column_{len(names)}": "note"}


def test_missing_file_and_unknown_format(
    tmp_path: Path, store: dg.Store, settings: dg.Settings
) -> None:
    with pytest.raises(dg.InputError, match="no such file"):
        ingest([tmp_path / "absent.jsonl"], store, settings)
    path = write_jsonl(tmp_path / "e.jsonl", ROWS[:1])
    with pytest.raises(dg.UnknownFormatError, match="unknown format 'bedrock'"):
        ingest([path], store, settings, fmt="bedrock")


def test_empty_file_ingests_nothing(tmp_path: Path, store: dg.Store, settings: dg.Settings) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("request_id,ts,account_id,endpoint,model,prompt,input_tokens,output_tokens\n")
    rep = ingest([path], store, settings)
    assert (rep.inserted, rep.rejected, rep.files[0].read) == (0, 0, 0)


def test_a_file_larger_than_a_batch_streams(tmp_path: Path, settings: dg.Settings) -> None:
    rows = [exchange(request_id=f"s{i}") for i in range(2_500)]
    small = dg.load_settings(db=settings.db, ingest={"batch_rows": 300})
    with dg.Store.open(small.db) as store:
        rep = dg.ingest_files([write_jsonl(tmp_path / "big.jsonl", rows)], "native", store, small)
        assert rep.inserted == 2_500


def test_a_file_in_a_directory_that_holds_no_records_is_passed_over_and_named(
    tmp_path: Path, store: dg.Store, settings: dg.Settings
) -> None:
    (tmp_path / "d").mkdir()
    write_jsonl(tmp_path / "d" / "a.jsonl", ROWS[:10])
    (tmp_path / "d" / "manifest.json").write_text('{\n  "scenario": "mixed"\n}\n')
    report = ingest([tmp_path / "d"], store, settings)
    assert report.inserted == 10
    (manifest,) = [f for f in report.files if f.path.endswith("manifest.json")]
    assert (manifest.kind, manifest.read, manifest.inserted) == ("none", 0, 0)
    assert manifest.note is not None and "columns match no record kind" in manifest.note
    # named on its own, the same file is an error
    with pytest.raises(dg.FileKindError):
        ingest([tmp_path / "d" / "manifest.json"], store, settings)
