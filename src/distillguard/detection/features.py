"""Per-exchange signals and per-account behaviour, as SQL over the ``exchanges`` view.

Pure: functions build SQL text; :class:`~distillguard.store.Store` runs it. The SQL is
plain DuckDB dialect over the contract's columns, so the event-level work (the volume) can
move to another engine without changing the analytics.

Account features are *counts* (``trace_n``, ``young_n``, the 24 hour-of-day counts, …) beside
the shares derived from them, so that a cohort or a cluster is scored by summing its members'
rows (:mod:`.entities`) instead of rescanning their exchanges, and so that the evidence
knows how many exchanges support each share (:mod:`.evidence`).
"""

from __future__ import annotations

from datetime import datetime

from distillguard.detection.engine import fingerprint
from distillguard.detection.signals.detectors import EXCHANGE_DETECTORS, PatternDetector
from distillguard.detection.signals.text import WITH_SYSTEM_PROMPT
from distillguard.rules import Institutional
from distillguard.schema import UNAUTHENTICATED

TEMPLATE_HEAD = 32
TEMPLATE_TAIL = 48
"""Characters of the normalised prompt start and end that fingerprint a template."""

NON_LATIN = r"[\x{0400}-\x{04FF}\x{0600}-\x{06FF}\x{0E00}-\x{0E7F}\x{3040}-\x{30FF}\x{4E00}-\x{9FFF}\x{AC00}-\x{D7AF}]"

HIGH_CAP_QUANTILE = 0.9
"""``max_tokens`` at or above this quantile of the accounts' typical (median) ``max_tokens``
counts as a high cap: the accounts, not the requests, set the bar, so that heavy accounts do
not raise it for themselves."""

YOUNG_DAYS = 30
"""Exchanges sent in an account's first this-many days are 'young' traffic (the new-account
period of account-fraud practice)."""

HABIT_SHARE = 0.3
"""A system prompt, tool set, parameter set or client is a habit of an account when at least
this share of its exchanges use it."""

ITEM_SAMPLE = 8
"""Items sent to several models are counted on one prompt in this many (by the prompt's
hash, so every copy of an item is in or out together): a quarter of the scan's cost saved on
a share that a sample estimates as well."""

RELEASE_HOURS = 48
"""Hours after a catalogued release in which moving to the new model is a pivot."""

SIGNAL_COUNTS = {
    "trace_extraction": "trace",
    "cot_request": "cot",
    "rubric_grading": "rubric",
    "llm_judge": "judge",
    "answer_format": "answer_format",
    "censorship_rewrite": "censorship",
    "coding": "coding",
    "math": "math",
    "planning": "planning",
}
"""Text signal → the stem of its account columns (``trace_n``, ``trace_share``)."""

HOURS = tuple(f"h{h:02d}" for h in range(24))

HABITS = ("system", "tools", "params", "client")
HABIT_COLUMNS = tuple(c for name in HABITS for c in (f"main_{name}_fp", f"main_{name}_n"))
"""Each account's most used system prompt, tool set, parameter set and client, and its uses."""

COUNTS = (
    "exchanges",
    "input_tokens",
    "output_tokens",
    "high_cap_n",
    "thinking_n",
    "multi_turn_n",
    *(f"{stem}_n" for stem in SIGNAL_COUNTS.values()),
    "agentic_n",
    "non_latin_n",
    "high_value_n",
    "temp0_n",
    "harness_n",
    "throttled_n",
    "refused_n",
    "institutional_n",
    "young_n",
    "release_window_n",
    "release_n",
    "items",
    "multi_model_items",
    *HOURS,
)
"""Additive account columns: a group's value is the sum of its members'."""

SHARES = {
    **{f"{stem}_share": f"{stem}_n" for stem in SIGNAL_COUNTS.values()},
    "high_cap_share": "high_cap_n",
    "thinking_share": "thinking_n",
    "multi_turn_share": "multi_turn_n",
    "agentic_share": "agentic_n",
    "non_latin_share": "non_latin_n",
    "high_value_share": "high_value_n",
    "temp0_share": "temp0_n",
    "harness_share": "harness_n",
    "throttled_share": "throttled_n",
    "refused_share": "refused_n",
    "institutional_share": "institutional_n",
    "young_share": "young_n",
}
"""Share column → its count column (over ``exchanges``)."""


def _normalise(expr: str) -> str:
    """Lower-case, digits folded to 0, whitespace collapsed: a template's variable numbers vanish."""
    return f"regexp_replace(regexp_replace(lower({expr}), '[0-9]+', '0', 'g'), '\\s+', ' ', 'g')"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


EMAIL_DOMAIN = "lower(coalesce({p}email_domain, split_part({p}email, '@', 2)))"
"""SQL for an account's e-mail domain (the column, else the part after @); format ``p`` with
the table alias and a dot, or an empty string."""

SAMPLE_EVERY = 32
SAMPLE_CHARS = 600
"""One exchange in ``SAMPLE_EVERY`` (by a hash of its request id) keeps the first
``SAMPLE_CHARS`` characters of its prompt as ``text_sample`` for near-duplicate detection."""

TEXT_WINDOW = 2000
"""Detectors read at most this many characters from each end of a prompt (and from the start
of a system prompt): wrappers and instructions sit at the start or the end, and a 100 KB pasted
file need not be scanned."""

NO_RELEASES = "(SELECT NULL::VARCHAR AS model, NULL::TIMESTAMPTZ AS released_at WHERE false)"
"""An empty release catalogue, as a relation."""


def window_terms(since: datetime | None, until: datetime | None) -> tuple[list[str], list[object]]:
    """``ts`` conditions (half-open ``[since, until)``) and their parameters."""
    terms: list[str] = []
    params: list[object] = []
    if since is not None:
        terms.append("ts >= ?")
        params.append(since)
    if until is not None:
        terms.append("ts < ?")
        params.append(until)
    return terms, params


def exchange_signals_sql(
    since: datetime | None = None,
    until: datetime | None = None,
    institutional: Institutional | None = None,
    source: str = "exchanges",
) -> tuple[str, list[object]]:
    """One row per exchange of ``source`` (a relation with the exchange contract's columns):
    identity, shape, every text detector, fingerprints, and whether it came from a research or
    education network (``institutional``)."""
    text_cols = ",\n  ".join(
        f"{cls('_text_sys' if cls.name in WITH_SYSTEM_PROMPT else '_text').sql()} > 0 AS {cls.name}"
        for cls in EXCHANGE_DETECTORS
        if issubclass(cls, PatternDetector)
    )
    # attempts with a key that named no account belong to no account
    terms, values = window_terms(since, until)
    where: list[str] = ["account_id <> ?", *terms]
    params: list[object] = [UNAUTHENTICATED, *values]
    if institutional is None:
        inst = "false"
    else:
        asns = ", ".join(str(int(a)) for a in institutional.asns)
        inst = (
            f"coalesce(regexp_matches(asn_org, {_literal('(?i)' + institutional.asn_org_pattern)}), false)"
            + (f" OR coalesce(asn IN ({asns}), false)" if asns else "")
        )
    sql = f"""
WITH e AS (
  SELECT *,
    CASE WHEN length(prompt) <= {2 * TEXT_WINDOW} THEN prompt
         ELSE left(prompt, {TEXT_WINDOW}) || chr(10) || right(prompt, {TEXT_WINDOW}) END AS _text
  FROM {source}{" WHERE " + " AND ".join(where) if where else ""}
), e2 AS (
  SELECT *, CASE WHEN system IS NULL OR system = '' THEN _text
                 ELSE left(system, {TEXT_WINDOW}) || chr(10) || _text END AS _text_sys
  FROM e
)
SELECT request_id, account_id, ts, model, endpoint, status,
  n_messages, n_tools, thinking, temperature, max_tokens, input_tokens, output_tokens,
  ip, asn, country, client_fp, user_agent,
  {text_cols},
  n_tools > 0 AS agentic,
  regexp_matches(left(prompt, 500), '{NON_LATIN}') AS non_latin,
  ({inst}) AS institutional,
  {fingerprint(f"left({_normalise(f'left(coalesce(prompt, {_E}), {2 * TEMPLATE_HEAD})')}, {TEMPLATE_HEAD})")} AS head_fp,
  {fingerprint(f"right({_normalise(f'right(coalesce(prompt, {_E}), {2 * TEMPLATE_TAIL})')}, {TEMPLATE_TAIL})")} AS tail_fp,
  CASE WHEN system IS NULL OR system = '' THEN NULL ELSE {fingerprint("system")} END AS system_fp,
  CASE WHEN tools IS NULL OR tools = '' THEN NULL ELSE {fingerprint("tools")} END AS tools_fp,
  {fingerprint(_PARAMS)} AS params_fp,
  {fingerprint("prompt")} AS prompt_fp,
  length(prompt) AS prompt_chars,
  CASE WHEN {fingerprint("request_id")} % {SAMPLE_EVERY} = 0 THEN left(prompt, {SAMPLE_CHARS}) END AS text_sample
FROM e2"""
    return sql, params


_E = "''"
_PARAMS = (
    "concat_ws('|', coalesce(CAST(CAST(round(temperature * 1000) AS BIGINT) AS VARCHAR), '-'), "
    "coalesce(CAST(max_tokens AS VARCHAR), '-'), coalesce(CAST(thinking AS VARCHAR), '-'))"
)
"""An exchange's sampling parameters as text (temperature in thousandths, so that the text
is the same on every engine)."""


def _count(condition: str, name: str) -> str:
    return f"count(*) FILTER (WHERE {condition}) AS {name}"


def account_features_sql(
    signals: str, releases: str = NO_RELEASES, accounts: str | None = "accounts"
) -> str:
    """Per-account behaviour over the signals relation ``signals`` (a table, view or
    ``read_parquet(...)``): counts, the shares derived from them, and reported features.
    ``releases`` is a (model, released_at) relation (the catalogue); ``accounts`` the account
    table that gives creation times (None: no young traffic). docs/detection.md lists every
    column."""
    signal_counts = ",\n  ".join(
        _count(f"s.{sig}", f"{stem}_n") for sig, stem in SIGNAL_COUNTS.items()
    )
    hours = ",\n  ".join(
        f"CAST(coalesce(sum(c) FILTER (WHERE h = {h}), 0) AS BIGINT) AS {name}"
        for h, name in enumerate(HOURS)
    )
    shares = ",\n  ".join(f"{count} / exchanges AS {share}" for share, count in SHARES.items())
    created = (
        f"LEFT JOIN (SELECT account_id, created_at FROM {accounts}) acc ON acc.account_id = s.account_id"
        if accounts
        else "LEFT JOIN (SELECT NULL::VARCHAR AS account_id, NULL::TIMESTAMPTZ AS created_at WHERE false) acc ON false"
    )
    habit = ",\n    ".join(
        # ties broken by the value: the same habit whatever order the rows arrive in
        f"arg_max(v, (c, v)) FILTER (WHERE k = {i}) AS main_{name}_fp, "
        f"max(c) FILTER (WHERE k = {i}) AS main_{name}_n"
        for i, name in enumerate(HABITS)
    )
    return f"""
WITH s AS NOT MATERIALIZED (SELECT * FROM {signals}),
cap AS (
  SELECT coalesce(quantile_cont(m, {HIGH_CAP_QUANTILE}), 9e18) AS p90
  FROM (SELECT median(max_tokens) AS m FROM s WHERE max_tokens IS NOT NULL GROUP BY account_id)
),
win AS (  -- exchanges in the hours after a catalogued release, and those on the new model
  SELECT s.account_id, count(DISTINCT s.request_id) AS release_window_n,
         count(DISTINCT s.request_id) FILTER (WHERE s.model = r.model) AS release_n
  FROM s JOIN {releases} r
    ON s.ts >= r.released_at AND s.ts < r.released_at + INTERVAL {RELEASE_HOURS} HOUR
  GROUP BY s.account_id
),
fingerprints AS (  -- one scan: the account's templates, system prompts, tools, parameters, clients
  SELECT account_id, head_fp, tail_fp, system_fp, tools_fp, params_fp,
    coalesce(client_fp, 'ua:' || user_agent) AS client, count(*) AS c
  FROM s
  GROUP BY GROUPING SETS ((account_id, head_fp), (account_id, tail_fp), (account_id, system_fp),
                          (account_id, tools_fp), (account_id, params_fp),
                          (account_id, coalesce(client_fp, 'ua:' || user_agent)))
),
templates AS (
  SELECT account_id,
    max(c) FILTER (WHERE head_fp IS NOT NULL) AS top_head,
    max(c) FILTER (WHERE tail_fp IS NOT NULL) AS top_tail
  FROM fingerprints GROUP BY account_id
),
habits AS (  -- each account's most used system prompt, tool set, parameter set and client
  SELECT account_id,
    {habit}
  FROM (
    SELECT account_id, c,
      CASE WHEN system_fp IS NOT NULL THEN 0 WHEN tools_fp IS NOT NULL THEN 1
           WHEN params_fp IS NOT NULL THEN 2 WHEN client IS NOT NULL THEN 3 END AS k,
      coalesce(system_fp::VARCHAR, tools_fp::VARCHAR, params_fp::VARCHAR, client) AS v
    FROM fingerprints WHERE head_fp IS NULL AND tail_fp IS NULL
  ) WHERE k IS NOT NULL GROUP BY account_id
),
items AS (  -- distinct prompts (one in 8, by the prompt's hash: an item's copies stay together),
            -- and those sent to two or more models (evaluation sweeps)
  SELECT account_id, count(*) AS items, count(*) FILTER (WHERE m >= 2) AS multi_model_items
  FROM (SELECT account_id, prompt_fp, count(DISTINCT model) AS m FROM s
        WHERE prompt_fp % {ITEM_SAMPLE} = 0 GROUP BY ALL) GROUP BY account_id
),
topics AS (  -- spread over capability areas: 0 = one area only, 1 = evenly over all five
  SELECT account_id, -sum(c / t * ln(c / t)) / ln(5) AS topic_breadth
  FROM (SELECT *, sum(c) OVER (PARTITION BY account_id) AS t FROM (
    SELECT account_id, CASE WHEN agentic THEN 'agentic' WHEN coding THEN 'coding' WHEN math THEN 'math'
                            WHEN planning THEN 'planning' ELSE 'other' END AS area, count(*) AS c
    FROM s GROUP BY ALL)) GROUP BY account_id
),
hours AS (
  SELECT account_id, {hours}
  FROM (SELECT account_id, hour(ts) AS h, count(*) AS c FROM s GROUP BY ALL) GROUP BY account_id
),
days AS (
  SELECT account_id, count(*) AS active_days, list_sort(list(d)) AS days
  FROM (SELECT DISTINCT account_id, epoch_us(ts) // 86400000000 AS d FROM s) GROUP BY account_id
),
gaps AS (
  SELECT account_id, stddev_pop(g) / nullif(avg(g), 0) AS gap_cv, median(g) AS gap_median_s
  FROM (SELECT account_id,  -- whole microseconds: exact on every engine
          (epoch_us(ts) - lag(epoch_us(ts)) OVER (PARTITION BY account_id ORDER BY ts)) / 1e6 AS g FROM s)
  WHERE g IS NOT NULL GROUP BY account_id
),
base AS (
  SELECT
    s.account_id,
    count(*) AS exchanges,
    min(s.ts) AS first_seen,
    max(s.ts) AS last_seen,
    CAST(coalesce(sum(s.input_tokens), 0) AS BIGINT) AS input_tokens,
    CAST(coalesce(sum(s.output_tokens), 0) AS BIGINT) AS output_tokens,
    avg(s.max_tokens) AS mean_max_tokens,
    {_count("s.max_tokens >= cap.p90", "high_cap_n")},
    {_count("s.thinking", "thinking_n")},
    avg(s.n_messages) AS mean_messages,
    {_count("s.n_messages > 2", "multi_turn_n")},
    {signal_counts},
    {_count("s.agentic", "agentic_n")},
    {_count("s.non_latin", "non_latin_n")},
    {_count("s.coding OR s.agentic OR s.math OR s.planning", "high_value_n")},
    {_count("s.temperature = 0", "temp0_n")},
    {_count("s.temperature = 0 AND (s.answer_format OR s.llm_judge)", "harness_n")},
    {_count("s.status = 429", "throttled_n")},
    {_count("s.status IN (401, 403)", "refused_n")},
    {_count("s.institutional", "institutional_n")},
    {_count(f"acc.created_at IS NOT NULL AND s.ts < acc.created_at + INTERVAL {YOUNG_DAYS} DAY", "young_n")}
  FROM s CROSS JOIN cap {created}
  GROUP BY s.account_id
),
spread AS (  -- how many models, IPs, networks and clients; the most used country and network
  SELECT account_id,
    count(model) AS models, count(ip) AS ips, count(asn) AS asns, count(client_fp) AS client_fps,
    -- ties: the first in order
    arg_min(country, (-c, country)) FILTER (WHERE country IS NOT NULL) AS main_country,
    arg_min(asn, (-c, asn)) FILTER (WHERE asn IS NOT NULL) AS main_asn
  FROM (SELECT account_id, model, ip, asn, client_fp, country, count(*) AS c FROM s
        GROUP BY GROUPING SETS ((account_id, model), (account_id, ip), (account_id, asn),
                                (account_id, client_fp), (account_id, country))) v
  GROUP BY account_id
)
SELECT base.*,
  sp.models, sp.ips, sp.asns, sp.client_fps, sp.main_country, sp.main_asn,
  dy.active_days, dy.days,
  {", ".join(f"hr.{h}" for h in HOURS)},
  {", ".join(f"hb.{c}" for c in HABIT_COLUMNS)},
  coalesce(w.release_window_n, 0) AS release_window_n,
  coalesce(w.release_n, 0) AS release_n,
  coalesce(w.release_n, 0) / greatest(coalesce(w.release_window_n, 0), 1) AS release_share,
  coalesce(i.items, 0) AS items, coalesce(i.multi_model_items, 0) AS multi_model_items,
  coalesce(i.multi_model_items, 0) / greatest(coalesce(i.items, 0), 1) AS multi_model_share,
  output_tokens / greatest(input_tokens, 1) AS output_input_ratio,
  {shares},
  tm.top_head / exchanges AS top_head_share,
  tm.top_tail / exchanges AS top_tail_share,
  tp.topic_breadth,
  g.gap_cv,
  g.gap_median_s
FROM base
JOIN spread sp ON sp.account_id = base.account_id
JOIN days dy ON dy.account_id = base.account_id
JOIN hours hr ON hr.account_id = base.account_id
LEFT JOIN win w ON w.account_id = base.account_id
LEFT JOIN items i ON i.account_id = base.account_id
LEFT JOIN templates tm ON tm.account_id = base.account_id
LEFT JOIN gaps g ON g.account_id = base.account_id
LEFT JOIN topics tp ON tp.account_id = base.account_id
LEFT JOIN habits hb ON hb.account_id = base.account_id"""


def account_attributes_sql(features: str, disposable: str) -> str:
    """Join behaviour (``features``) with identity: account age, verification, e-mail shape,
    payment methods shared across organisations, billing/traffic country, verified pathways.
    ``disposable`` is a relation with one ``domain`` column of disposable e-mail domains."""
    return f"""
WITH a AS (
  SELECT *,
    lower(split_part(email, '@', 1)) AS local_part,
    {EMAIL_DOMAIN.format(p="")} AS domain
  FROM accounts
),
stems AS (
  SELECT account_id,
    regexp_replace(local_part, '[0-9]+$', '') || '@' || domain AS email_stem,
    TRY_CAST(regexp_extract(local_part, '([0-9]+)$', 1) AS BIGINT) AS email_number
  FROM a WHERE email IS NOT NULL
),
runs AS (  -- consecutive numbers under one stem share (number - rank)
  SELECT email_stem, email_number - row_number() OVER (PARTITION BY email_stem ORDER BY email_number) AS run
  FROM (SELECT DISTINCT email_stem, email_number FROM stems WHERE email_number IS NOT NULL)
),
stem_groups AS (  -- sequential sign-ups: dev.0017 … dev.0021 (a run of 5), not random name collisions
  SELECT r.email_stem, max(r.n) >= 5 AS dense, any_value(c.stem_accounts) AS stem_accounts
  FROM (SELECT email_stem, run, count(*) AS n FROM runs GROUP BY ALL) r
  JOIN (SELECT email_stem, count(*) AS stem_accounts FROM stems GROUP BY email_stem) c USING (email_stem)
  GROUP BY r.email_stem
),
payments AS (  -- an organisation paying for its teams' accounts is one payer, not many
  SELECT payment_fp, count(DISTINCT coalesce(org_id, 'account:' || account_id)) AS payment_orgs
  FROM accounts WHERE payment_fp IS NOT NULL GROUP BY payment_fp
),
disposable AS (SELECT DISTINCT lower(domain) AS domain FROM {disposable})
SELECT f.*,
  a.org_id, a.created_at, a.verification, a.tier, a.program, coalesce(a.allowlisted, false) AS allowlisted,
  a.billing_country, a.payment_fp, a.domain AS email_domain, st.email_stem,
  coalesce(sg.stem_accounts, 1) AS stem_accounts,
  coalesce(p.payment_orgs, 1) AS shared_payment,
  epoch(f.first_seen - a.created_at) / 86400.0 AS age_days,
  (a.verification IS NULL OR a.verification IN ('none', 'email'))::DOUBLE AS weak_verification,
  (d.domain IS NOT NULL OR coalesce(sg.dense, false))::DOUBLE AS email_pattern,
  coalesce(sg.dense, false) AS email_sequential,
  (a.billing_country IS NOT NULL AND f.main_country IS NOT NULL
   AND a.billing_country <> f.main_country)::DOUBLE AS billing_mismatch,
  f.exchanges / greatest(f.active_days, 1) AS volume_per_day,
  CASE WHEN a.program IN ('research', 'education') AND a.verification IN ('id', 'business')
       THEN f.institutional_n ELSE 0 END AS pathway_n,
  CASE WHEN a.program IN ('research', 'education') AND a.verification IN ('id', 'business')
       THEN f.institutional_share ELSE 0.0 END AS pathway_share,
  (a.verification = 'business' AND a.tier IN ('scale', 'enterprise')
   AND coalesce(epoch(f.first_seen - a.created_at) / 86400.0 >= 180, false))::DOUBLE AS established_business
FROM {features} f
LEFT JOIN a ON a.account_id = f.account_id
LEFT JOIN stems st ON st.account_id = f.account_id
LEFT JOIN stem_groups sg ON sg.email_stem = st.email_stem
LEFT JOIN payments p ON p.payment_fp = a.payment_fp
LEFT JOIN disposable d ON d.domain = a.domain
ORDER BY f.account_id"""


def text_samples_sql(signals: str, per_account: int = 8) -> str:
    """(account_id, text): up to ``per_account`` sampled prompt starts per account."""
    return f"""
SELECT account_id, text_sample AS text FROM {signals} WHERE text_sample IS NOT NULL
QUALIFY row_number() OVER (PARTITION BY account_id ORDER BY {fingerprint("request_id")}) <= {per_account}
ORDER BY account_id, {fingerprint("request_id")}"""


def _minute_number(ts: str, minutes: int) -> str:
    """The number of the ``minutes``-long window (counted from the epoch) holding ``ts``."""
    return f"(epoch_us({ts}) // {60 * int(minutes) * 1_000_000})"


def _minute_text(number: str, minutes: int) -> str:
    """The UTC start of window ``number`` (:func:`_minute_number`) as ``YYYY-MM-DD HH:MM``."""
    return f"strftime(to_timestamp({number} * {60 * int(minutes)}), '%Y-%m-%d %H:%M')"


def _minute_bucket(ts: str, minutes: int) -> str:
    """The UTC start of the ``minutes``-long window (counted from the epoch) holding ``ts``,
    as ``YYYY-MM-DD HH:MM``."""
    return _minute_text(_minute_number(ts, minutes), minutes)


def link_tokens_sql(
    signals: str,
    attributes: str,
    *,
    min_template_uses: int = 3,
    min_burst: int = 3,
    max_bursts: int = 20,
    signup_minutes: int = 10,
) -> str:
    """(account_id, kind, token) rows: what an account shares with others.

    Templates count only when they make up a real part of the account's traffic; a system
    prompt, tool set, parameter set or client counts only when it is a habit (at least
    ``HABIT_SHARE`` of the account's exchanges), not an account's most frequent of many."""
    habit = f"greatest(3, {HABIT_SHARE} * exchanges)"
    return f"""
WITH per_account AS (SELECT account_id, count(*) AS n FROM {signals} GROUP BY account_id),
pairs AS (  -- each account's (start, end) pairs, counted once for both kinds of template
  SELECT account_id, head_fp, tail_fp, count(*) AS c FROM {signals}
  GROUP BY account_id, head_fp, tail_fp
),
tmpl AS (  -- a template is a fixed start or end around content that varies
  SELECT account_id, 'template' AS kind, 'tail:' || tail_fp::VARCHAR AS token, sum(c) AS c,
         count(head_fp) AS fills
  FROM pairs GROUP BY account_id, tail_fp
  UNION ALL
  SELECT account_id, 'template', 'head:' || head_fp::VARCHAR, sum(c), count(tail_fp)
  FROM pairs GROUP BY account_id, head_fp
)
SELECT t.account_id, t.kind, t.token FROM tmpl t JOIN per_account p USING (account_id)
  WHERE t.c >= greatest({min_template_uses}, 0.05 * p.n) AND t.fills >= 0.5 * t.c
UNION
SELECT DISTINCT account_id, 'subnet', regexp_extract(ip, '^(\\d+\\.\\d+\\.\\d+)\\.', 1)
  FROM {signals} WHERE ip LIKE '%.%.%.%'
UNION
SELECT DISTINCT account_id, 'asn', asn::VARCHAR FROM {signals} WHERE asn IS NOT NULL
UNION
SELECT account_id, 'sync', {_minute_text("bucket", 2)} FROM (  -- the 2-minute windows it bursts in
  SELECT account_id, bucket, row_number() OVER (PARTITION BY account_id ORDER BY n DESC, bucket) AS rank
  FROM (SELECT account_id, bucket, count(*) AS n
        FROM (SELECT account_id, {_minute_number("ts", 2)} AS bucket FROM {signals}) b
        GROUP BY account_id, bucket HAVING count(*) >= {min_burst}) c
) r WHERE rank <= {max_bursts}
UNION
SELECT account_id, 'signup', {_minute_bucket("created_at", signup_minutes)}
  FROM {attributes} WHERE created_at IS NOT NULL
UNION
SELECT account_id, 'client_fp', main_client_fp FROM {attributes} WHERE main_client_n >= {habit}
UNION
SELECT account_id, 'system_prompt', main_system_fp FROM {attributes} WHERE main_system_n >= {habit}
UNION
SELECT account_id, 'tools', main_tools_fp FROM {attributes} WHERE main_tools_n >= {habit}
UNION
SELECT account_id, 'params', main_params_fp FROM {attributes} WHERE main_params_n >= {habit}
UNION
SELECT account_id, 'payment', payment_fp FROM {attributes} WHERE payment_fp IS NOT NULL AND shared_payment > 1
UNION
SELECT account_id, 'email_stem', email_stem FROM {attributes} WHERE email_sequential AND stem_accounts >= 3"""
