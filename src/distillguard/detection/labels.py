"""Analyst labels: reading them (label files, the console's state file) and learning the
evidence weights from them (``scan --labels``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq
import yaml

from distillguard._files import write_text
from distillguard.detection.scoring import fit_weights
from distillguard.errors import InputError
from distillguard.rules import Rules


def read_labels(path: Path) -> dict[str, bool]:
    """Analyst labels from a truth-shaped file (Parquet, JSONL or CSV: account_id, label) or
    from the console's state file (the latest label of each account)."""
    if path.is_file() and _head(path) == b"SQLite format 3\x00":
        from distillguard.console._state import read_console_labels

        return read_console_labels(path)
    try:
        name = path.name.lower()
        if name.endswith(".parquet"):
            table = pq.read_table(path)
        elif name.endswith(".csv"):
            table = pacsv.read_csv(path)
        else:
            table = pajson.read_json(path)
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read labels: {exc}", path=path) from exc
    if not {"account_id", "label"} <= set(table.column_names):
        raise InputError(
            "labels need the columns account_id and label (legit or attack)", path=path
        )
    out = {}
    for row, (account, label) in enumerate(
        zip(table.column("account_id").to_pylist(), table.column("label").to_pylist(), strict=True),
        start=1,
    ):
        if label not in ("legit", "attack"):
            raise InputError(
                f"row {row}, field 'label': {label!r} is not one of: legit, attack", path=path
            )
        out[str(account)] = label == "attack"
    return out


def _head(path: Path) -> bytes:
    with path.open("rb") as f:
        return f.read(16)


def learn(attrs: pa.Table, labels: dict[str, bool], rules: Rules, out_dir: Path) -> Rules:
    """The evidence weights re-fitted to analyst labels (account → is an attack) over the
    window's accounts; written to ``out_dir/learned_rules.yaml`` for review."""
    ids = attrs.column("account_id").to_pylist()
    keep = [i for i, a in enumerate(ids) if a in labels]
    if len({labels[ids[i]] for i in keep}) < 2:
        raise InputError(
            "labels must name at least one attack and one legitimate account present in the window"
        )
    y = np.array([labels[ids[i]] for i in keep], dtype=float)
    learned = fit_weights(attrs.take(pa.array(keep)), y, rules, fit_on=attrs)
    write_text(
        out_dir / "learned_rules.yaml",
        yaml.safe_dump(learned.model_dump(), sort_keys=False, allow_unicode=True),
    )
    return learned
