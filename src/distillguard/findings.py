"""Reading what ``scan`` wrote (the findings contract, docs/findings.md), for reports,
indicator export and the gateway. Every problem names the file."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from distillguard.errors import InputError

_JSON_FIELDS = ("capabilities", "shared_infrastructure", "organisation", "reasons")


@dataclass
class Findings:
    """One scan's output: account and cluster tables, and its window."""

    path: Path
    accounts: pa.Table
    clusters: pa.Table
    window: dict[str, str | None]

    def window_condition(self, column: str = "ts") -> str:
        """SQL ``AND`` terms restricting ``column`` to the scan's window (empty when the scan
        had none). The bounds are parsed as timestamps first, so a tampered findings.json
        cannot inject SQL."""
        terms = []
        for key, op in (("since", ">="), ("until", "<")):
            value = self.window.get(key)
            if value:
                try:
                    bound = datetime.fromisoformat(str(value))
                except ValueError as exc:
                    raise InputError(
                        f"window.{key} is not a timestamp: {value!r}",
                        path=self.path / "findings.json",
                    ) from exc
                terms.append(f" AND {column} {op} TIMESTAMPTZ '{bound.isoformat()}'")
        return "".join(terms)

    def cluster_ids(self) -> list[str]:
        return [str(c) for c in self.clusters.column("cluster_id").to_pylist()]

    def cluster(self, cluster_id: str) -> dict[str, Any]:
        """The cluster's row with its JSON fields parsed; a clear error for an unknown id."""
        for row in self.clusters.to_pylist():
            if row["cluster_id"] == cluster_id:
                return _parse(row, self.path / "clusters.parquet")
        known = ", ".join(self.cluster_ids()[:10]) or "none"
        raise InputError(
            f"no cluster {cluster_id!r} in these findings (known: {known})",
            path=self.path / "clusters.parquet",
        )

    def all_clusters(self) -> list[dict[str, Any]]:
        return [_parse(r, self.path / "clusters.parquet") for r in self.clusters.to_pylist()]

    def members(self, cluster_id: str, *, reasons: bool = True) -> list[dict[str, Any]]:
        """Account rows of the cluster's members, highest risk first; ``reasons`` parsed (or
        left as JSON text)."""
        rows = self.accounts.filter(pc.equal(self.accounts["cluster_id"], cluster_id)).to_pylist()
        path = self.path / "accounts.parquet"
        for r in rows if reasons else ():
            r["reasons"] = _loads(r["reasons"], path, "reasons")
        return sorted(rows, key=lambda r: (-r["risk"], r["account_id"]))


def _loads(text: Any, path: Path, field: str) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except (TypeError, ValueError) as exc:
        raise InputError(f"field {field!r} is not valid JSON: {exc}", path=path) from exc


def _parse(row: dict[str, Any], path: Path) -> dict[str, Any]:
    out = dict(row)
    for key in _JSON_FIELDS:
        if key in out:
            out[key] = _loads(out[key], path, key)
    return out


REQUIRED = {
    "accounts.parquet": ("account_id", "risk", "verdict", "cluster_id", "reasons"),
    "clusters.parquet": ("cluster_id", "account_ids", "exchanges", "first_seen", "last_seen"),
}


def load_findings(path: str | Path) -> Findings:
    """Load a findings directory written by ``distillguard scan --out``."""
    root = Path(path)
    if not root.is_dir():
        raise InputError("not a findings directory: run `distillguard scan --out DIR`", path=root)
    tables: dict[str, pa.Table] = {}
    for name, columns in REQUIRED.items():
        file = root / name
        if not file.is_file():
            raise InputError(f"no {name} here: run `distillguard scan --out` first", path=root)
        try:
            table = pq.read_table(file)
        except (OSError, pa.ArrowInvalid) as exc:
            raise InputError(f"cannot read: {exc}", path=file) from exc
        missing = [c for c in columns if c not in table.column_names]
        if missing:
            raise InputError(f"not a findings file: missing {', '.join(missing)}", path=file)
        tables[name] = table
    window: dict[str, str | None] = {"since": None, "until": None}
    doc = root / "findings.json"
    if doc.is_file():
        try:
            window = json.loads(doc.read_text(encoding="utf-8")).get("window", window)
        except ValueError as exc:
            raise InputError(f"not valid JSON: {exc}", path=doc) from exc
    return Findings(root, tables["accounts.parquet"], tables["clusters.parquet"], window)
