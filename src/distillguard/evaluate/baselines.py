"""Baselines run on the same data as ``scan``, for the side-by-side table.

- ``rate_limit``: a static per-account limit of the kind gateways enforce today (requests and
  tokens per minute and per day): an account is flagged when it ever exceeds one.
- ``isolation_forest``: scikit-learn's IsolationForest over per-account behaviour features
  (the same features ``scan`` computes, without text signals, linking or identity).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from distillguard.detection.engine import Executor


@dataclass(frozen=True)
class RateLimits:
    """Limits in the range a commercial API's low tiers publish."""

    requests_per_minute: int = 60
    requests_per_day: int = 2_000
    tokens_per_minute: int = 200_000
    tokens_per_day: int = 5_000_000


def rate_limit(store: Executor, signals: str, limits: RateLimits | None = None) -> set[str]:
    """Accounts that ever exceed a per-minute or per-day request or token limit."""
    lim = limits or RateLimits()
    rows = store.query(f"""
        WITH m AS (SELECT account_id, date_trunc('minute', ts) AS t, count(*) AS r,
                          sum(input_tokens + output_tokens) AS k FROM {signals} GROUP BY ALL),
             d AS (SELECT account_id, date_trunc('day', ts) AS t, count(*) AS r,
                          sum(input_tokens + output_tokens) AS k FROM {signals} GROUP BY ALL)
        SELECT account_id FROM m WHERE r > {lim.requests_per_minute} OR k > {lim.tokens_per_minute}
        UNION
        SELECT account_id FROM d WHERE r > {lim.requests_per_day} OR k > {lim.tokens_per_day}""")
    return set(rows.column("account_id").to_pylist())


BEHAVIOUR = (
    "exchanges",
    "active_days",
    "output_input_ratio",
    "mean_max_tokens",
    "high_cap_share",
    "thinking_share",
    "mean_messages",
    "multi_turn_share",
    "hour_entropy",
    "gap_cv",
    "gap_median_s",
    "top_head_share",
    "top_tail_share",
    "models",
    "ips",
    "asns",
    "volume_per_day",
)


def isolation_forest(features: pa.Table, *, contamination: float = 0.05, seed: int = 0) -> set[str]:
    """Accounts the isolation forest puts in its ``contamination`` most anomalous share.

    Rows are sorted by account first: the forest's subsamples depend on row order, and
    DuckDB's grouped output has none, so the same data and seed give the same answer."""
    from sklearn.ensemble import IsolationForest

    features = features.sort_by("account_id")
    cols = []
    for name in BEHAVIOUR:
        if name == "volume_per_day":
            x = np.asarray(
                features.column("exchanges").to_numpy(zero_copy_only=False), float
            ) / np.maximum(
                np.asarray(features.column("active_days").to_numpy(zero_copy_only=False), float), 1
            )
        else:
            x = np.asarray(features.column(name).to_numpy(zero_copy_only=False), float)
        cols.append(np.log1p(np.abs(np.nan_to_num(x, nan=0.0))))
    matrix = np.column_stack(cols)
    model = IsolationForest(n_estimators=200, contamination=contamination, random_state=seed)
    labels = model.fit_predict(matrix)
    ids = features.column("account_id").to_pylist()
    return {a for a, lab in zip(ids, labels, strict=True) if lab == -1}
