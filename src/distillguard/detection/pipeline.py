"""``scan``, the detection pipeline: exchanges → signals → account behaviour → own risk →
cohorts → clusters → findings.

The exchange-level steps (signals, features, linking tokens, campaign tables) run as SQL on an
executor (:mod:`.engine`: the store's DuckDB by default, or Spark); the account-, cohort- and
cluster-level work (small even for millions of exchanges) runs here, in Python and the
store's DuckDB. Each step lives in its own module of this package: signals
(:mod:`.signal_store`, :mod:`.features`), linking (:mod:`.cohorts`, :mod:`.neardup`,
:mod:`.linking`), cluster scoring (:mod:`.cluster_scoring`), findings writing
(:mod:`.findings_writer`, :mod:`.campaign_tables`) and analyst labels (:mod:`.labels`); their
contract is in docs/findings.md.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pyarrow as pa

from distillguard._files import (
    make_private,
    remove_path,
    write_parquet,
    write_private,
    write_private_dir,
    write_text,
)
from distillguard.catalogue import Catalogue
from distillguard.config import ReportSettings
from distillguard.detection.campaign_tables import remove_campaign_tables, write_campaign_tables
from distillguard.detection.cluster_scoring import score_clusters
from distillguard.detection.cohorts import score_cohorts
from distillguard.detection.engine import Executor
from distillguard.detection.entities import with_derived
from distillguard.detection.features import (
    HABITS,
    account_attributes_sql,
    account_features_sql,
    link_tokens_sql,
    text_samples_sql,
)
from distillguard.detection.findings_writer import (
    FINDINGS_VERSION,
    account_findings,
    campaign_shares,
    cohort_findings,
    numeric_features,
    write_findings_json,
)
from distillguard.detection.labels import learn
from distillguard.detection.linking import link
from distillguard.detection.neardup import neardup_tokens
from distillguard.detection.scoring import (
    exculpation,
    score_accounts,
)
from distillguard.detection.signal_store import ensure_signals, export_window
from distillguard.errors import InputError
from distillguard.findings import load_findings
from distillguard.pseudonym import local_key
from distillguard.rules import VERDICTS, Rules
from distillguard.store import Store

Progress = Callable[[str], None]


@dataclass
class ScanResult:
    out: Path
    accounts: pa.Table
    clusters: pa.Table
    timings: dict[str, float] = field(default_factory=dict)

    def verdict_counts(self) -> dict[str, int]:
        verdicts = self.accounts.column("verdict").to_pylist()
        return {v: verdicts.count(v) for v in VERDICTS}


LINK_ATTRIBUTES = (
    "account_id",
    "exchanges",
    "created_at",
    *(f"main_{name}_{c}" for name in HABITS for c in ("fp", "n")),
    "payment_fp",
    "shared_payment",
    "email_sequential",
    "email_stem",
    "stem_accounts",
)
"""The account attributes :func:`~distillguard.detection.features.link_tokens_sql` reads."""


def account_table(
    store: Store,
    signals: str,
    rules: Rules,
    catalogue: Catalogue | None = None,
    engine: Executor | None = None,
) -> pa.Table:
    """Every account's features (aggregated over the signals relation by ``engine``, the
    store by default) and identity attributes (joined in the store)."""
    releases = (catalogue or Catalogue()).releases()
    features = (engine or store).query_with(
        account_features_sql(signals, "_releases"), _releases=releases
    )
    disposable = pa.table({"domain": pa.array(sorted(rules.disposable), pa.string())})
    attrs = store.query_with(
        account_attributes_sql("_features", "_disposable"),
        _features=features,
        _disposable=disposable,
    )
    return with_derived(attrs)


def scan(
    store: Store,
    rules: Rules,
    out: str | Path,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    labels: dict[str, bool] | None = None,
    catalogue: Catalogue | None = None,
    progress: Progress | None = None,
    report: ReportSettings | None = None,
    engine: Executor | None = None,
) -> ScanResult:
    """Scan the store's exchanges in ``[since, until)`` and write findings to ``out``.

    ``catalogue`` names the models and their release times (release-pivot evidence counts
    only catalogued releases). ``labels`` (account → is an attack), from analysts, re-fit the
    evidence weights before scoring; the learned rules are written to
    ``out/learned_rules.yaml`` for review. ``report`` sets what the campaign tables keep
    for reports and the console (representative prompts, graph size).

    ``engine`` runs the exchange-level stages (signals, features, linking tokens, campaign
    tables) over its ``exchanges`` and ``accounts``: by default the store itself (DuckDB),
    or e.g. a :class:`~distillguard.detection.spark.SparkExecutor`. The account-level work
    runs in the store, which must hold the same accounts."""
    out_dir = Path(out)
    out_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    say = progress or (lambda _msg: None)
    ex: Executor = engine or store

    def step(name: str) -> Callable[[], None]:
        started = time.perf_counter()
        say(name)
        return lambda: timings.__setitem__(name, round(time.perf_counter() - started, 2))

    if ex.count_window(since, until) == 0:
        raise InputError(
            "no exchanges in the store for this window: ingest logs first", path=store.path
        )
    signals_path = out_dir / "exchange_signals.parquet"
    done = step("signals")
    if ex is store:
        # computed once per store part and kept (signal_store); this scan links the window's
        # files in. A store whose data directory this user cannot write (an analyst's
        # read-only copy) is scanned the slow way: every signal computed here, nothing kept
        try:
            stored = ensure_signals(store, rules.institutional)
        except OSError as exc:
            say(f"signals not kept ({exc}): computing them for this scan only")
            stored = []
        if stored:
            export_window(store, stored, since, until, signals_path)
        else:
            write_private_dir(
                signals_path,
                lambda folder: write_private(
                    folder / "part-00000.parquet",
                    lambda path: store.write_signals(since, until, rules.institutional, path),
                ),
            )
    else:  # another engine computes the window's signals where the exchanges are
        if signals_path.is_file():  # an older scan's single file: the signals are a dataset
            remove_path(signals_path)
        ex.write_signals(since, until, rules.institutional, signals_path)
        make_private(signals_path)
    done()
    signals = ex.parquet(signals_path)

    done = step("account features")
    attrs = account_table(store, signals, rules, catalogue, ex)
    if labels:
        rules = learn(attrs, labels, rules, out_dir)
    own = score_accounts(attrs, rules)
    done()

    done = step("linking")
    tokens = ex.query_with(
        link_tokens_sql(signals, "_attrs"), _attrs=attrs.select(list(LINK_ATTRIBUTES))
    )
    if "neardup" in rules.linking.kinds:
        near = neardup_tokens(ex.query(text_samples_sql(signals)))
        tokens = pa.concat_tables([tokens.cast(near.schema), near])
    allowlisted = frozenset(_allowlisted(attrs))
    own_risk = dict(zip(own.account_id, own.risk.tolist(), strict=True))
    cohorts = score_cohorts(attrs, tokens, rules, own_risk, exclude=allowlisted)
    linking_cohorts = cohorts.linking(rules.cohorts.gate)
    clusters = link(
        tokens,
        own_risk,
        rules.linking,
        cohorts=linking_cohorts,
        admit=rules.cohorts.admit,
        protected=frozenset(
            a
            for a, x in zip(own.account_id, exculpation(own, rules), strict=True)
            if x <= -rules.cohorts.protect
        ),
        exclude=allowlisted,
    )
    done()

    done = step("clusters")
    cluster_table, cluster_risk = score_clusters(store, attrs, tokens, clusters, rules)
    done()

    done = step("findings")
    remove_campaign_tables(out_dir)
    share = campaign_shares(ex, signals, clusters)
    accounts = account_findings(attrs, own, clusters, cluster_risk, share, rules, allowlisted)
    for name, table in (
        ("accounts.parquet", accounts),
        ("account_features.parquet", numeric_features(attrs)),
        ("clusters.parquet", cluster_table),
        ("cohorts.parquet", cohort_findings(cohorts, rules)),
    ):
        write_parquet(table, out_dir / name)
    result = ScanResult(out_dir, accounts, cluster_table, timings)
    write_findings_json(out_dir, accounts, cluster_table, result.verdict_counts(), since, until)
    # the key reports use (beside the store; an in-memory store's lives in its temporary dir)
    key_of = Path(store.path) if store.path != ":memory:" else store.data_dir / "memory"
    write_campaign_tables(ex, load_findings(out_dir), report or ReportSettings(), local_key(key_of))
    done()
    result.timings = timings
    summary = {
        "findings_version": FINDINGS_VERSION,
        "timings_s": timings,
        "verdicts": result.verdict_counts(),
        "clusters": cluster_table.num_rows,
        "cohorts": len(cohorts.risk),
        "cohorts_linking": len(linking_cohorts),
        "releases": [m.id for m in (catalogue or Catalogue()).models if m.released_at],
    }
    write_text(out_dir / "scan.json", json.dumps(summary, indent=2) + "\n")
    return result


def _allowlisted(attrs: pa.Table) -> set[str]:
    return {
        a
        for a, x in zip(
            attrs.column("account_id").to_pylist(),
            attrs.column("allowlisted").to_pylist(),
            strict=True,
        )
        if x
    }
