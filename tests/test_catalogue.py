"""The model catalogue: only catalogued releases count as releases."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

import distillguard as dg
from distillguard.catalogue import Catalogue, load_catalogue
from distillguard.detection.features import account_features_sql


def test_the_gateway_models_section_is_a_catalogue(tmp_path: Path) -> None:
    path = tmp_path / "gateway.yaml"
    path.write_text(
        "listen: {port: 8080}\n"
        "models:\n"
        "  - {id: atlas-4, released_at: '2026-05-12T09:00:00Z', owned_by: upstream}\n"
        "  - {id: atlas-3.5}\n",
        encoding="utf-8",
    )
    cat = load_catalogue(path)
    assert [m.id for m in cat.models] == ["atlas-4", "atlas-3.5"]
    releases = cat.releases().to_pylist()
    assert releases == [{"model": "atlas-4", "released_at": datetime(2026, 5, 12, 9, tzinfo=UTC)}]
    assert load_catalogue(None).releases().num_rows == 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("models: [{id: x, released_at: '2026-05-12T09:00:00'}]\n", "time zone"),
        ("models: [{released_at: '2026-05-12T09:00:00Z'}]\n", "models.0.id"),
        ("listen: {port: 1}\n", "no 'models' list"),
        ("- just\n- a list\n", "top level must be a mapping"),
    ],
)
def test_a_bad_catalogue_names_the_file(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "models.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(dg.ConfigError, match=message) as info:
        load_catalogue(path)
    assert str(path) in str(info.value)


def test_a_fine_tuned_model_first_seen_mid_window_is_not_a_release() -> None:
    """A customer moving to its own fine-tuned id gets no release-pivot evidence: the id is
    not in the catalogue. Moving to a catalogued model in its first 48 hours does."""
    ts = [datetime(2026, 5, d, 12, tzinfo=UTC) for d in (1, 20, 21, 21)]
    rows = {
        "request_id": ["1", "2", "3", "4"],
        "account_id": ["ft", "ft", "early", "early"],
        "ts": ts,
        "model": ["base", "ft:base:acme:v1:9f", "atlas-4", "atlas-4"],
    }
    cat = Catalogue.model_validate(
        {"models": [{"id": "atlas-4", "released_at": "2026-05-20T09:00:00Z"}]}
    )
    con = duckdb.connect()
    sig = pa.table(rows)
    for col in (
        "n_messages",
        "input_tokens",
        "output_tokens",
        "max_tokens",
        "temperature",
        "status",
        "asn",
    ):
        sig = sig.append_column(col, pa.array([None] * 4, pa.int64()))
    for col in ("thinking", "trace_extraction", "cot_request", "rubric_grading", "llm_judge",
                "answer_format", "censorship_rewrite", "coding", "math", "planning", "agentic",
                "non_latin", "institutional"):  # fmt: skip
        sig = sig.append_column(col, pa.array([False] * 4))
    for col in ("ip", "country", "client_fp", "user_agent"):
        sig = sig.append_column(col, pa.array([None] * 4, pa.string()))
    for col in ("head_fp", "tail_fp", "system_fp", "tools_fp", "params_fp", "prompt_fp"):
        sig = sig.append_column(col, pa.array([1] * 4, pa.int64()))
    con.register("sig", sig)
    con.register("_releases", cat.releases())
    out = {
        r["account_id"]: r
        for r in con.sql(account_features_sql("sig", "_releases", accounts=None))
        .to_arrow_table()
        .to_pylist()
    }
    # ft's move on the 20th falls in atlas-4's window but is not onto a released model
    assert (out["ft"]["release_window_n"], out["ft"]["release_n"]) == (1, 0)
    assert (out["early"]["release_window_n"], out["early"]["release_n"]) == (2, 2)
    # without a catalogue nothing is a release, however late a model first appears
    bare = con.sql(account_features_sql("sig", accounts=None)).to_arrow_table().to_pylist()
    assert all((r["release_window_n"], r["release_n"]) == (0, 0) for r in bare)
