"""What a campaign's report and console page show that needs the exchanges: daily traffic by
model, infrastructure, representative prompts, the graph's links, the models' first use.

``scan`` computes these once for every campaign (and the daily traffic of every flagged
account) and writes them beside the findings, so a report or a console page reads small files
instead of the store. :class:`CampaignTables` reads them; for findings written without them
(or with representative prompts switched off at scan time) it runs the same queries against
the store for one campaign. Personal tokens in the graph (payment fingerprints, e-mail stems)
are written as keyed pseudonyms; the prompt file holds prompt text and is written ``0600``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from distillguard._files import write_parquet
from distillguard.config import ReportSettings
from distillguard.detection.engine import Executor
from distillguard.detection.features import EMAIL_DOMAIN
from distillguard.findings import Findings
from distillguard.pseudonym import pseudonym

DAILY = "account_daily.parquet"
INFRA = "campaign_infra.parquet"
PROMPTS = "campaign_prompts.parquet"
GRAPH = "campaign_graph.parquet"
MODELS = "models.parquet"

INFRA_ROWS = 15
"""Rows of each infrastructure table (the most shared values first)."""
PERSONAL_KINDS = frozenset({"payment", "email_stem"})
"""Linking tokens that are personal data, pseudonymised wherever they leave the findings."""
GRAPH_KINDS = frozenset(
    {"client_fp", "asn", "subnet", "template", "system_prompt", "payment", "email_stem"}
)
"""Linking kinds the graph can redraw per account from the per-exchange signals (sync
windows, sign-up bursts and near-duplicate groups are properties of groups, not drawn)."""
GRAPH_TOKENS = 12
"""The cluster's strongest linking tokens the graph draws."""

_SUBNET = r"regexp_extract(ip, '^(\d+\.\d+\.\d+)\.', 1)"
# (kind, value expression, rank by accounts first?)
_INFRA_KINDS = (
    ("asn", "CAST(asn AS VARCHAR)", "asn IS NOT NULL", False),
    ("subnet", f"{_SUBNET} || '.0/24'", "ip LIKE '%.%.%.%'", True),
    ("client_fp", "client_fp", "client_fp IS NOT NULL", True),
    ("user_agent", "user_agent", "user_agent IS NOT NULL", True),
    ("country", "country", "country IS NOT NULL", False),
)


def _members_ex(columns: str, window: str) -> str:
    return (
        f"SELECT k.cluster_id, {columns} FROM exchanges e JOIN _members k "
        f"ON e.account_id = k.account_id WHERE true{window}"
    )


def daily_sql(window: str) -> str:
    """Exchanges per account, UTC day and model over ``_members (account_id, cluster_id)``."""
    return f"""SELECT account_id, cluster_id, CAST(date_trunc('day', ts) AS DATE) AS date, model,
                      count(*) AS exchanges
               FROM ({_members_ex("e.account_id, e.ts, e.model", window)}) x
               GROUP BY account_id, cluster_id, CAST(date_trunc('day', ts) AS DATE), model
               ORDER BY account_id, date, model"""


def infra_sql(window: str) -> str:
    """Each campaign's most used networks, subnets, clients, user agents and countries.

    The members' exchanges are first counted per account and combination of values (far
    fewer rows than exchanges), then each kind's values are counted from those counts."""
    columns = "account_id, asn, ip, client_fp, user_agent, country"
    source = _members_ex(", ".join(f"e.{c}" for c in columns.split(", ")), window)
    values = "\n UNION ALL ".join(
        f"SELECT cluster_id, '{kind}' AS kind, {value} AS value, account_id, n FROM m WHERE {cond}"
        for kind, value, cond, _ in _INFRA_KINDS
    )
    by_accounts = ", ".join(f"'{k}'" for k, _, _, first in _INFRA_KINDS if first)
    return f"""WITH m AS (SELECT cluster_id, {columns}, count(*) AS n FROM ({source}) x
                    GROUP BY cluster_id, {columns}),
        v AS ({values}),
        g AS (SELECT cluster_id, kind, value, CAST(sum(n) AS BIGINT) AS exchanges,
                     count(DISTINCT account_id) AS accounts
              FROM v GROUP BY cluster_id, kind, value),
        r AS (SELECT *, row_number() OVER (
                  PARTITION BY cluster_id, kind
                  ORDER BY CASE WHEN kind IN ({by_accounts}) THEN accounts ELSE exchanges END DESC,
                           exchanges DESC, value) AS rank
              FROM g)
        SELECT cluster_id, kind, value, exchanges, accounts, rank FROM r WHERE rank <= {INFRA_ROWS}
        ORDER BY cluster_id, kind, rank"""


def prompts_sql(window: str, examples: int, chars: int) -> str:
    """Each campaign's most repeated prompt openings (digits folded), one example of each: the
    first by request id.

    Exchanges are grouped by their raw 48-character head first, so the folding runs once per
    distinct head, and only the chosen examples' prompt text is read."""
    source = _members_ex(
        "e.request_id, left(e.prompt, 48) AS head",
        window + " AND e.prompt IS NOT NULL AND e.prompt <> ''",
    )
    return f"""WITH p AS ({source}),
        h AS (SELECT cluster_id, head, min(request_id) AS first, count(*) AS n
              FROM p GROUP BY cluster_id, head),
        g AS (SELECT cluster_id, opening, min(first) AS first, CAST(sum(n) AS BIGINT) AS exchanges
              FROM (SELECT cluster_id, regexp_replace(lower(head), '[0-9]+', '0', 'g') AS opening,
                           first, n FROM h) x
              GROUP BY cluster_id, opening),
        r AS (SELECT * FROM (SELECT *, row_number() OVER (
                  PARTITION BY cluster_id ORDER BY exchanges DESC, opening) AS rank FROM g) y
              WHERE rank <= {int(examples)}),
        t AS (SELECT e.request_id, min(left(e.prompt, {int(chars)})) AS text FROM exchanges e
              WHERE e.request_id IN (SELECT first FROM r){window} GROUP BY e.request_id)
        SELECT r.cluster_id, t.text, r.exchanges, r.rank FROM r JOIN t ON t.request_id = r.first
        ORDER BY r.cluster_id, r.rank"""


def models_sql(window: str) -> str:
    """Each model's first exchange and traffic in the window."""
    return (
        "SELECT model, min(ts) AS first_seen, count(*) AS exchanges FROM exchanges e "
        f"WHERE true{window} GROUP BY model ORDER BY model"
    )


def graph_sql(src: str) -> str:
    """Which of ``_drawn``'s accounts hold which linking tokens, from the per-exchange
    signals (the relation ``src``) and the accounts table."""
    return rf"""WITH s AS (SELECT * FROM {src} WHERE account_id IN (SELECT account_id FROM _drawn))
        SELECT DISTINCT account_id, 'client_fp' AS kind, client_fp AS token FROM s WHERE client_fp IS NOT NULL
        UNION SELECT DISTINCT account_id, 'asn', CAST(asn AS VARCHAR) FROM s WHERE asn IS NOT NULL
        UNION SELECT DISTINCT account_id, 'subnet', {_SUBNET} FROM s WHERE ip LIKE '%.%.%.%'
        UNION SELECT DISTINCT account_id, 'template', 'head:' || CAST(head_fp AS VARCHAR) FROM s
        UNION SELECT DISTINCT account_id, 'template', 'tail:' || CAST(tail_fp AS VARCHAR) FROM s
        UNION SELECT DISTINCT account_id, 'system_prompt', CAST(system_fp AS VARCHAR) FROM s WHERE system_fp IS NOT NULL
        UNION SELECT account_id, 'payment', payment_fp FROM accounts WHERE payment_fp IS NOT NULL
              AND account_id IN (SELECT account_id FROM _drawn)
        UNION SELECT account_id, 'email_stem', regexp_replace(lower(split_part(email, '@', 1)), '[0-9]+$', '')
              || '@' || {EMAIL_DOMAIN.format(p="")}
              FROM accounts WHERE email IS NOT NULL AND account_id IN (SELECT account_id FROM _drawn)"""


def _members(pairs: list[tuple[str, str]]) -> pa.Table:
    ids, clusters = zip(*pairs, strict=True) if pairs else ((), ())
    return pa.table(
        {
            "account_id": pa.array(list(ids), pa.string()),
            "cluster_id": pa.array(list(clusters), pa.string()),
        }
    )


def _drawn_and_wanted(
    findings: Findings, cluster: dict[str, Any], nodes: int, members: list[str] | None = None
) -> tuple[list[str], set[tuple[str, str]]]:
    """The accounts the graph draws (the highest-risk members) and the tokens it links by."""
    if members is None:
        members = [m["account_id"] for m in findings.members(cluster["cluster_id"], reasons=False)]
    drawn = members[:nodes]
    wanted = {
        (t["kind"], str(t["token"]))
        for t in (cluster.get("shared_infrastructure") or [])[:GRAPH_TOKENS]
        if t["kind"] in GRAPH_KINDS
    }
    return drawn, wanted


def _edges(
    store: Executor,
    signals: Path,
    wanted_by: dict[str, tuple[list[str], set[tuple[str, str]]]],
    key: bytes,
) -> pa.Table:
    """``(cluster_id, account_id, kind, token)``: each drawn account and the cluster's tokens
    it holds, personal tokens pseudonymised."""
    drawn = sorted({a for d, w in wanted_by.values() if w for a in d})
    out: dict[str, list[str]] = {"cluster_id": [], "account_id": [], "kind": [], "token": []}
    if drawn and signals.exists():
        rows = store.query_with(
            graph_sql(store.parquet(signals)),
            _drawn=pa.table({"account_id": pa.array(drawn, pa.string())}),
        ).to_pylist()
        held: dict[str, set[tuple[str, str]]] = {}
        for r in rows:
            if r["token"] is not None:
                held.setdefault(r["account_id"], set()).add((r["kind"], str(r["token"])))
        for cluster_id, (accounts, wanted) in sorted(wanted_by.items()):
            edges = sorted(
                {
                    (a, kind, pseudonym(key, kind, token) if kind in PERSONAL_KINDS else token)
                    for a in accounts
                    for kind, token in held.get(a, set()) & wanted
                }
            )
            for a, kind, token in edges:
                for column, value in zip(out, (cluster_id, a, kind, token), strict=True):
                    out[column].append(value)
    return pa.table({k: pa.array(v, pa.string()) for k, v in out.items()})


def write_campaign_tables(
    store: Executor, findings: Findings, report: ReportSettings, key: bytes
) -> None:
    """Compute every campaign's tables (and every flagged account's daily traffic) and write
    them into the findings directory."""
    window = findings.window_condition("e.ts")
    accounts = findings.accounts
    in_campaigns = accounts.filter(pc.is_valid(accounts["cluster_id"]))
    clustered = in_campaigns.select(["account_id", "cluster_id"])
    out = findings.path
    remove_campaign_tables(out)
    write_parquet(CampaignTables(findings, store, report, key).flagged_daily(), out / DAILY)
    write_parquet(store.query_with(infra_sql(window), _members=clustered), out / INFRA)
    write_parquet(store.query(models_sql(findings.window_condition("ts"))), out / MODELS)
    if report.prompts != "off" and report.prompt_examples:
        sql = prompts_sql(window, report.prompt_examples, report.prompt_chars * 4)
        write_parquet(store.query_with(sql, _members=clustered), out / PROMPTS)
    ranked = in_campaigns.sort_by([("risk", "descending"), ("account_id", "ascending")])
    members: dict[str, list[str]] = {}  # each campaign's members, highest risk first
    for cluster_id, account_id in zip(
        ranked["cluster_id"].to_pylist(), ranked["account_id"].to_pylist(), strict=True
    ):
        members.setdefault(cluster_id, []).append(account_id)
    wanted_by = {
        c["cluster_id"]: _drawn_and_wanted(
            findings, c, report.graph_nodes, members.get(c["cluster_id"], [])
        )
        for c in findings.all_clusters()
    }
    write_parquet(_edges(store, out / "exchange_signals.parquet", wanted_by, key), out / GRAPH)


def remove_campaign_tables(out: Path) -> None:
    """Remove a findings directory's campaign tables (before its findings are rewritten, so
    no reader pairs new findings with old tables)."""
    for name in (DAILY, INFRA, PROMPTS, GRAPH, MODELS):
        (out / name).unlink(missing_ok=True)


class CampaignTables:
    """A findings directory's campaign tables, read once and filtered per campaign; the same
    queries against the store for findings written without them."""

    def __init__(
        self,
        findings: Findings,
        store: Executor,
        report: ReportSettings,
        key: bytes,
        cache: dict[str, pa.Table | None] | None = None,
    ):
        self.findings = findings
        self.store = store
        self.report = report
        self.key = key
        self._read = {} if cache is None else cache
        """Files read so far, by name (shared by callers that read the same findings)."""

    def _file(self, name: str) -> pa.Table | None:
        if name not in self._read:
            path = self.findings.path / name
            self._read[name] = pq.read_table(path) if path.is_file() else None
        return self._read[name]

    def _one(self, table: pa.Table, cluster_id: str) -> pa.Table:
        return table.filter(pc.equal(table["cluster_id"], cluster_id))

    def _query(self, sql: str, cluster_id: str) -> pa.Table:
        ids = self.findings.cluster(cluster_id)["account_ids"] or []
        return self.store.query_with(sql, _members=_members([(a, cluster_id) for a in ids]))

    @property
    def window(self) -> str:
        return self.findings.window_condition("e.ts")

    def flagged_daily(self) -> pa.Table:
        """``(account_id, cluster_id, date, model, exchanges)`` of every clustered or
        non-``ok`` account."""
        table = self._file(DAILY)
        if table is None:
            accounts = self.findings.accounts
            shown = accounts.filter(
                pc.or_(pc.is_valid(accounts["cluster_id"]), pc.not_equal(accounts["verdict"], "ok"))
            ).select(["account_id", "cluster_id"])
            table = self.store.query_with(daily_sql(self.window), _members=shown)
            self._read[DAILY] = table
        return table

    def daily(self, cluster_id: str) -> pa.Table:
        """``(account_id, cluster_id, date, model, exchanges)`` of the campaign's members."""
        table = self._file(DAILY)
        if table is not None:
            return self._one(table, cluster_id)
        return self._query(daily_sql(self.window), cluster_id)

    def infra(self, cluster_id: str) -> pa.Table:
        """``(cluster_id, kind, value, exchanges, accounts, rank)`` by kind, the most shared
        first (``rank`` 1)."""
        table = self._file(INFRA)
        found = (
            self._one(table, cluster_id)
            if table is not None
            else self._query(infra_sql(self.window), cluster_id)
        )
        return found.sort_by([("kind", "ascending"), ("rank", "ascending")])

    def prompts(self, cluster_id: str) -> pa.Table:
        """``(cluster_id, text, exchanges, rank)``, the most repeated first (clipped raw text;
        the caller redacts)."""
        cfg = self.report
        table = self._file(PROMPTS)
        if table is None:
            sql = prompts_sql(self.window, cfg.prompt_examples, cfg.prompt_chars * 4)
            table = self._query(sql, cluster_id)
        found = self._one(table, cluster_id).sort_by([("rank", "ascending")])
        return found.slice(0, cfg.prompt_examples)

    def models(self) -> pa.Table:
        """``(model, first_seen, exchanges)`` over the whole window."""
        table = self._file(MODELS)
        if table is None:
            table = self.store.query(models_sql(self.findings.window_condition("ts")))
            self._read[MODELS] = table
        return table

    def graph(self, cluster_id: str, members: list[str] | None = None) -> dict[str, Any]:
        """The drawn accounts and ``[account_id, kind, token]`` edges; ``members`` (highest
        risk first) when the caller has them."""
        cluster = self.findings.cluster(cluster_id)
        drawn, wanted = _drawn_and_wanted(self.findings, cluster, self.report.graph_nodes, members)
        table = self._file(GRAPH)
        if table is None:
            signals = self.findings.path / "exchange_signals.parquet"
            table = _edges(self.store, signals, {cluster_id: (drawn, wanted)}, self.key)
        rows = self._one(table, cluster_id).to_pylist()
        return {
            "accounts": drawn,
            "edges": [[r["account_id"], r["kind"], r["token"]] for r in rows],
        }
