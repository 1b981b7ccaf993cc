"""The traffic simulator: legitimate personas and published-style campaigns, with ground truth.

``simulate(...)`` writes, under ``out``::

    exchanges/part-00000.parquet …   the exchange log (contract v1), streamed in parts
    accounts.parquet                 one row per account
    truth.parquet                    label, persona and campaign per account
    exchange_truth.parquet           per-exchange attribution inside mixed (reseller) accounts
    models.yaml                      the model catalogue: every model with its release time
    manifest.json                    scenario, scale, seed, corpus and counts

Deterministic by seed; memory is bounded by the largest single account's time array and
one write batch, whatever the scale.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from distillguard.errors import SimulationError
from distillguard.schema import ACCOUNTS, EXCHANGE_TRUTH, EXCHANGES, TRUTH, KindSpec
from distillguard.sim.actors import MODELS, RELEASE_DAY, T0, Account, Ids, groups
from distillguard.sim.adversarial import HARD_NEGATIVE_MIX, OPERATION_MIX
from distillguard.sim.campaigns import CAMPAIGNS
from distillguard.sim.textpool import SPLITS, TextPools, generated_pools, load_corpus
from distillguard.sim.traffic import exchanges

__all__ = ["SCENARIOS", "SimReport", "describe_scenarios", "simulate"]

_LEGIT_MIX = {
    "hobbyist": 0.12,
    "app_backend": 0.28,
    "enterprise_batch": 0.20,
    "benchmark_runner": 0.05,
    "coding_agent": 0.12,
    "licensed_distiller": 0.10,
    "student": 0.08,
    "startup_builder": 0.05,
}
_ATTACK_MIX = {
    "reasoning_extraction": 0.005,
    "agentic_harvest": 0.113,
    "model_pivot": 0.43,
    "hydra_reseller": 0.06,
    "rubric_grading": 0.008,
    "censorship_rewrite": 0.006,
    "multilingual_coercion": 0.008,
}


def _mix(
    legit_share: float, attacks: dict[str, float], legit: dict[str, float] = _LEGIT_MIX
) -> dict[str, float]:
    out = {k: v * legit_share for k, v in legit.items()}
    total = sum(attacks.values())
    out.update({k: v / total * (1 - legit_share) for k, v in attacks.items()} if attacks else {})
    return out


_ADVERSARIAL_LEGIT = {
    **{k: v * (1 - sum(HARD_NEGATIVE_MIX.values())) for k, v in _LEGIT_MIX.items()},
    **HARD_NEGATIVE_MIX,
}

SCENARIOS: dict[str, dict[str, float]] = {
    "mixed": _mix(0.37, _ATTACK_MIX),
    "legit": _mix(1.0, {}),
    **{name: _mix(0.8, {name: 1.0}) for name in CAMPAIGNS},
    "adversarial": _mix(0.65, OPERATION_MIX, _ADVERSARIAL_LEGIT),
    "hard-negatives": _mix(1.0, {}, _ADVERSARIAL_LEGIT),
}
"""Scenario → share of exchanges per persona or campaign (shares sum to 1)."""

MIN_SCALE, MAX_SCALE = 1_000, 50_000_000
PART_ROWS = 2_000_000
WRITE_ROWS = 50_000


@dataclass
class SimReport:
    scenario: str
    scale: int
    seed: int
    corpus: str
    split: str
    out: str
    exchanges: int = 0
    accounts: int = 0
    parts: int = 0
    by_group: dict[str, dict[str, int]] = field(default_factory=dict)


def _allocate(scale: int, mix: dict[str, float]) -> dict[str, int]:
    """Split ``scale`` by shares so that the parts sum exactly to it (largest remainder)."""
    raw = {k: scale * v for k, v in mix.items()}
    out = {k: int(v) for k, v in raw.items()}
    for k in sorted(raw, key=lambda k: raw[k] - out[k], reverse=True)[: scale - sum(out.values())]:
        out[k] += 1
    return out


def describe_scenarios() -> dict[str, str]:
    """Each persona or campaign name → one line saying what it models."""
    return {name: group.description for name, group in groups().items()}


class _PartWriter:
    """Streams exchange columns into Parquet parts of at most PART_ROWS rows."""

    def __init__(self, directory: Path, spec: KindSpec) -> None:
        self.dir = directory
        self.spec = spec
        self.schema = spec.arrow_schema()
        self.part = 0
        self.rows_in_part = 0
        self.writer: pq.ParquetWriter | None = None
        self.buffer: dict[str, list[Any]] = {}
        self.buffered = 0

    def add(self, cols: dict[str, list[Any]]) -> None:
        for k, v in cols.items():
            self.buffer.setdefault(k, []).extend(v)
        self.buffered += len(cols["request_id"])
        if self.buffered >= WRITE_ROWS:
            self.flush()

    def flush(self) -> None:
        if not self.buffered:
            return
        arrays = []
        for f in self.spec.fields:
            values = self.buffer.get(f.name) or None  # a column the generator leaves empty
            arrays.append(
                pa.nulls(self.buffered, f.type) if values is None else pa.array(values, f.type)
            )
        arrays.append(pa.nulls(self.buffered, pa.string()))
        table = pa.Table.from_arrays(arrays, schema=self.schema)
        if self.writer is None or self.rows_in_part >= PART_ROWS:
            self._roll()
        assert self.writer is not None
        self.writer.write_table(table, row_group_size=WRITE_ROWS)
        self.rows_in_part += table.num_rows
        self.buffer, self.buffered = {}, 0

    def _roll(self) -> None:
        if self.writer is not None:
            self.writer.close()
        path = self.dir / f"part-{self.part:05d}.parquet"
        self.writer = pq.ParquetWriter(
            path, self.schema, compression="zstd", dictionary_pagesize_limit=64 << 20
        )
        self.part += 1
        self.rows_in_part = 0

    def close(self) -> int:
        self.flush()
        if self.writer is not None:
            self.writer.close()
        return self.part


def _account_table(accounts: list[Account]) -> pa.Table:
    cols: dict[str, list[Any]] = {f.name: [] for f in ACCOUNTS.fields}
    for a in accounts:
        cols["account_id"].append(a.account_id)
        cols["org_id"].append(a.org_id)
        cols["created_at"].append(int(a.created_at * 1_000_000))
        cols["email"].append(a.email)
        cols["email_domain"].append(a.email.rsplit("@", 1)[-1])
        cols["payment_fp"].append(a.payment_fp)
        cols["billing_country"].append(a.billing_country)
        cols["signup_ip"].append(a.signup_ip)
        cols["verification"].append(a.verification)
        cols["tier"].append(a.tier)
        cols["program"].append(a.program)
        cols["allowlisted"].append(a.allowlisted)
    arrays = [pa.array(cols[f.name], f.type) for f in ACCOUNTS.fields] + [
        pa.nulls(len(accounts), pa.string())
    ]
    return pa.Table.from_arrays(arrays, schema=ACCOUNTS.arrow_schema())


def _truth_table(accounts: list[Account]) -> pa.Table:
    arrays = [
        pa.array([a.account_id for a in accounts]),
        pa.array([a.label for a in accounts]),
        pa.array([a.persona for a in accounts]),
        pa.array([a.campaign_id for a in accounts], pa.string()),
        pa.array([a.evasion for a in accounts], pa.string()),
        pa.nulls(len(accounts), pa.string()),
    ]
    return pa.Table.from_arrays(arrays, schema=TRUTH.arrow_schema())


def _attribution(request_ids: list[str], account_id: str, campaigns: list[str | None]) -> pa.Table:
    n = len(request_ids)
    return pa.Table.from_arrays(
        [
            pa.array(request_ids, pa.string()),
            pa.array([account_id] * n, pa.string()),
            pa.array(campaigns, pa.string()),
            pa.nulls(n, pa.string()),
        ],
        schema=EXCHANGE_TRUTH.arrow_schema(),
    )


def _write_catalogue(path: Path) -> None:
    """The simulated world's model catalogue, in the format ``scan --models`` and the
    gateway's ``models`` section read. Fine-tuned model ids are customers', not releases."""
    import yaml

    first = datetime.fromtimestamp(T0, UTC) - timedelta(days=180)
    released = {MODELS[0]: first, MODELS[1]: first, MODELS[2]: None}
    rows = [
        {
            "id": model,
            "released_at": (
                when or datetime.fromtimestamp(T0 + RELEASE_DAY * 86_400, UTC)
            ).isoformat(),
        }
        for model, when in released.items()
    ]
    path.write_text(yaml.safe_dump({"models": rows}, sort_keys=False), encoding="utf-8")


def simulate(
    scenario: str,
    scale: int,
    seed: int,
    out: str | Path,
    *,
    corpus: str | Path | None = None,
    split: str = "all",
    progress: Callable[[int, int], None] | None = None,
) -> SimReport:
    """Simulate ``scale`` exchanges of ``scenario`` into ``out`` (see module docstring)."""
    if scenario not in SCENARIOS:
        raise SimulationError(
            f"unknown scenario {scenario!r}; choose one of: {', '.join(SCENARIOS)}"
        )
    if not MIN_SCALE <= scale <= MAX_SCALE:
        raise SimulationError(
            f"--scale must be between {MIN_SCALE:,} and {MAX_SCALE:,}, got {scale:,}"
        )
    if split not in SPLITS:
        raise SimulationError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    pools: TextPools = load_corpus(corpus, split) if corpus is not None else generated_pools(seed)
    out_dir = Path(out)
    ex_dir = out_dir / "exchanges"
    if ex_dir.exists() and any(ex_dir.glob("part-*.parquet")):
        raise SimulationError(f"{ex_dir}: already holds a simulation; choose an empty --out")
    ex_dir.mkdir(parents=True, exist_ok=True)

    mix = SCENARIOS[scenario]
    all_groups = groups()
    ids = Ids(np.random.default_rng([seed, 0x1D5]))
    accounts: list[Account] = []
    for gi, (name, budget) in enumerate(_allocate(scale, mix).items()):
        if budget <= 0:
            continue
        accounts += all_groups[name].build(
            np.random.default_rng([seed, gi]), budget, scale / 1e6, ids
        )
    # interleave personas in the files, as a real log would (deterministically)
    order = np.random.default_rng([seed, 0x0DE]).permutation(len(accounts))
    accounts = [accounts[int(i)] for i in order]

    report = SimReport(
        scenario, scale, seed, pools.source, split, str(out_dir), accounts=len(accounts)
    )
    pq.write_table(_account_table(accounts), out_dir / "accounts.parquet", compression="zstd")
    pq.write_table(_truth_table(accounts), out_dir / "truth.parquet", compression="zstd")
    writer = _PartWriter(ex_dir, EXCHANGES)
    truth_writer = pq.ParquetWriter(
        out_dir / "exchange_truth.parquet", EXCHANGE_TRUTH.arrow_schema(), compression="zstd"
    )
    total = sum(a.n for a in accounts)
    done = 0
    try:
        for k, acct in enumerate(accounts):
            rng = np.random.default_rng([seed, 0xACC7, k])
            group = report.by_group.setdefault(acct.persona, {"accounts": 0, "exchanges": 0})
            group["accounts"] += 1
            for cols, attribution in exchanges(acct, pools, rng, seed=seed):
                writer.add(cols)
                rows = len(cols["request_id"])
                group["exchanges"] += rows
                report.exchanges += rows
                if acct.mixed is not None:
                    truth_writer.write_table(
                        _attribution(cols["request_id"], acct.account_id, attribution)
                    )
            done += acct.n
            if progress is not None:
                progress(done, total)
    finally:
        report.parts = writer.close()
        truth_writer.close()
    _write_catalogue(out_dir / "models.yaml")
    (out_dir / "manifest.json").write_text(
        json.dumps(asdict(report), indent=2) + "\n", encoding="utf-8"
    )
    return report
