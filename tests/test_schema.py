from pathlib import Path

import pyarrow as pa
import pytest

import distillguard as dg

ROOT = Path(__file__).resolve().parents[1]


def test_docs_schema_md_is_the_generated_reference() -> None:
    text = (ROOT / "docs" / "schema.md").read_text(encoding="utf-8")
    assert text == dg.schema_markdown() + "\n", "regenerate: distillguard schema > docs/schema.md"


def test_every_field_is_documented_with_type_requirement_and_example() -> None:
    text = dg.schema_markdown()
    for spec in dg.KINDS.values():
        for f in spec.fields:
            assert f"| `{f.name}` |" in text
            assert f.description
            assert f.example is not None


def test_arrow_schemas_carry_the_version_and_the_extra_column() -> None:
    schema = dg.EXCHANGES.arrow_schema()
    assert schema.metadata[b"distillguard.schema_version"] == dg.SCHEMA_VERSION.encode()
    assert schema.names[-1] == "extra"
    assert schema.field("ts").type == pa.timestamp("us", tz="UTC")
    assert not schema.field("request_id").nullable


@pytest.mark.parametrize(
    ("columns", "kind"),
    [
        (["request_id", "ts", "account_id", "prompt", "model"], dg.Kind.EXCHANGES),
        (["account_id", "created_at", "email"], dg.Kind.ACCOUNTS),
        (["account_id", "label", "persona", "campaign_id"], dg.Kind.TRUTH),
        (["request_id", "account_id", "campaign_id"], dg.Kind.EXCHANGE_TRUTH),
    ],
)
def test_detect_kind_from_columns(columns: list[str], kind: dg.Kind) -> None:
    spec = dg.detect_kind(columns)
    assert spec is not None and spec.kind is kind


def test_detect_kind_none_for_unrelated_columns() -> None:
    assert dg.detect_kind(["foo", "bar"]) is None
