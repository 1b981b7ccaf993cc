"""``scan --engine spark``: the scan with its exchange-level stages on Apache Spark."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa

from distillguard.config import Settings
from distillguard.detection.pipeline import ScanResult, scan
from distillguard.errors import ConfigError
from distillguard.rules import Rules
from distillguard.schema import Kind
from distillguard.store import Store


def scan_on_spark(
    settings: Settings,
    open_store: Callable[[], Store],
    rules: Rules,
    out_dir: Path,
    master: str | None,
    exchanges: str | None,
    accounts: str | None,
    options: dict[str, Any],
) -> ScanResult:
    """Spark reads the exchanges (and, with ``accounts``, the accounts); the account-level
    work runs here in DuckDB: in the store (``open_store``) or, with ``accounts``, in memory
    over the accounts Spark read."""
    from distillguard.detection.spark import SparkExecutor

    if exchanges is None and not Path(settings.db).exists():
        raise ConfigError(f"{settings.db}: no store here: give --exchanges (and --accounts)")
    with contextlib.ExitStack() as stack:
        if accounts is None:
            store = stack.enter_context(open_store())
            account_rows: pa.Table | str = store.query("SELECT * FROM accounts")
        else:
            store = stack.enter_context(Store.open(":memory:", threads=settings.threads))
            account_rows = accounts
        source = exchanges or str(store.data_dir / Kind.EXCHANGES.value)
        spark = stack.enter_context(
            SparkExecutor.open(
                source,
                account_rows,
                master=master or settings.spark.master,
                conf=settings.spark.conf,
            )
        )
        if accounts is not None:  # the accounts Spark read, for the account-level work
            store.load_table(Kind.ACCOUNTS, spark.query("SELECT * FROM accounts"))
        return scan(store, rules, out_dir, engine=spark, **options)
