"""Per-exchange signals and per-account behaviour, as SQL over the ``exchanges`` view.

Pure: functions build SQL text; :class:`~distillguard.store.Store` runs it. The SQL is
plain DuckDB dialect over the contract's columns, so the event-level work (the volume) can
move to another engine without changing the analytics.
"""

from __future__ import annotations

from datetime import datetime

from distillguard.signals.detectors import EXCHANGE_DETECTORS, PatternDetector

TEMPLATE_HEAD = 32
TEMPLATE_TAIL = 48
"""Characters of the normalised prompt start and end that fingerprint a template."""

NON_LATIN = r"[\x{0400}-\x{04FF}\x{0600}-\x{06FF}\x{0E00}-\x{0E7F}\x{3040}-\x{30FF}\x{4E00}-\x{9FFF}\x{AC00}-\x{D7AF}]"
HIGH_OUTPUT_CAP = 8192


def _normalise(expr: str) -> str:
    """Lower-case, digits folded to 0, whitespace collapsed: a template's variable numbers vanish."""
    return f"regexp_replace(regexp_replace(lower({expr}), '[0-9]+', '0', 'g'), '\\s+', ' ', 'g')"


EMAIL_DOMAIN = "lower(coalesce({p}email_domain, split_part({p}email, '@', 2)))"
"""SQL for an account's e-mail domain (the column, else the part after @); format ``p`` with
the table alias and a dot, or an empty string."""

SAMPLE_EVERY = 32
SAMPLE_CHARS = 600
"""One exchange in ``SAMPLE_EVERY`` (by a hash of its request id) keeps the first
``SAMPLE_CHARS`` characters of its prompt as ``text_sample`` for near-duplicate detection."""

TEXT_WINDOW = 2000
"""Detectors read at most this many characters from each end of a prompt: wrappers and
instructions sit at the start or the end, and a 100 KB pasted file need not be scanned."""


def exchange_signals_sql(
    since: datetime | None = None, until: datetime | None = None
) -> tuple[str, list[object]]:
    """One row per exchange: identity, shape, every text detector, template fingerprints."""
    detectors = [cls("_text") for cls in EXCHANGE_DETECTORS if issubclass(cls, PatternDetector)]
    text_cols = ",\n  ".join(f"{d.sql()} > 0 AS {d.name}" for d in detectors)
    where: list[str] = []
    params: list[object] = []
    if since is not None:
        where.append("ts >= ?")
        params.append(since)
    if until is not None:
        where.append("ts < ?")
        params.append(until)
    sql = f"""
WITH e AS (
  SELECT *,
    CASE WHEN length(prompt) <= {2 * TEXT_WINDOW} THEN prompt
         ELSE left(prompt, {TEXT_WINDOW}) || chr(10) || right(prompt, {TEXT_WINDOW}) END AS _text
  FROM exchanges{" WHERE " + " AND ".join(where) if where else ""}
)
SELECT request_id, account_id, ts, model, endpoint, status,
  n_messages, n_tools, thinking, max_tokens, input_tokens, output_tokens,
  ip, asn, country, client_fp, user_agent,
  {text_cols},
  n_tools > 0 AS agentic,
  regexp_matches(left(prompt, 500), '{NON_LATIN}') AS non_latin,
  hash(left({_normalise(f"left(prompt, {2 * TEMPLATE_HEAD})")}, {TEMPLATE_HEAD})) AS head_fp,
  hash(right({_normalise(f"right(prompt, {2 * TEMPLATE_TAIL})")}, {TEMPLATE_TAIL})) AS tail_fp,
  CASE WHEN system IS NULL OR system = '' THEN NULL ELSE hash(system) END AS system_fp,
  length(prompt) AS prompt_chars,
  CASE WHEN hash(request_id) % {SAMPLE_EVERY} = 0 THEN left(prompt, {SAMPLE_CHARS}) END AS text_sample
FROM e"""
    return sql, params


def account_features_sql(signals: str) -> str:
    """Per-account behaviour over the signals relation ``signals`` (a table, view or
    ``read_parquet(...)``). Every column is documented in docs/detection.md."""
    return f"""
WITH s AS (SELECT * FROM {signals}),
releases AS (  -- a model first seen after the log's first day is a release
  SELECT model, min(ts) AS released FROM s GROUP BY model
  HAVING min(ts) > (SELECT min(ts) FROM s) + INTERVAL 1 DAY
),
hours AS (
  SELECT account_id, hour(ts) AS h, count(*) AS c FROM s GROUP BY ALL
),
hour_entropy AS (
  SELECT account_id, -sum(c / t * ln(c / t)) / ln(24) AS hour_entropy
  FROM (SELECT *, sum(c) OVER (PARTITION BY account_id) AS t FROM hours) GROUP BY account_id
),
heads AS (
  SELECT account_id, max(c) AS top_head FROM (SELECT account_id, head_fp, count(*) c FROM s GROUP BY ALL) GROUP BY account_id
),
tails AS (
  SELECT account_id, max(c) AS top_tail FROM (SELECT account_id, tail_fp, count(*) c FROM s GROUP BY ALL) GROUP BY account_id
),
topics AS (  -- spread over capability areas: 0 = one area only, 1 = evenly over all five
  SELECT account_id, -sum(c / t * ln(c / t)) / ln(5) AS topic_breadth
  FROM (SELECT *, sum(c) OVER (PARTITION BY account_id) AS t FROM (
    SELECT account_id, CASE WHEN agentic THEN 'agentic' WHEN coding THEN 'coding' WHEN math THEN 'math'
                            WHEN planning THEN 'planning' ELSE 'other' END AS area, count(*) AS c
    FROM s GROUP BY ALL)) GROUP BY account_id
),
gaps AS (
  SELECT account_id, stddev_pop(g) / nullif(avg(g), 0) AS gap_cv, median(g) AS gap_median_s
  FROM (SELECT account_id, epoch(ts) - lag(epoch(ts)) OVER (PARTITION BY account_id ORDER BY ts) AS g FROM s)
  WHERE g IS NOT NULL GROUP BY account_id
)
SELECT
  s.account_id,
  count(*) AS exchanges,
  min(s.ts) AS first_seen,
  max(s.ts) AS last_seen,
  count(DISTINCT date_trunc('day', s.ts)) AS active_days,
  sum(s.input_tokens) AS input_tokens,
  sum(s.output_tokens) AS output_tokens,
  sum(s.output_tokens) / greatest(sum(s.input_tokens), 1) AS output_input_ratio,
  avg(s.max_tokens) AS mean_max_tokens,
  avg((coalesce(s.max_tokens, 0) >= {HIGH_OUTPUT_CAP})::INT) AS high_cap_share,
  avg(s.thinking::INT) AS thinking_share,
  avg(s.n_messages) AS mean_messages,
  avg((s.n_messages > 2)::INT) AS multi_turn_share,
  avg(s.trace_extraction::INT) AS trace_share,
  avg(s.cot_request::INT) AS cot_share,
  avg(s.rubric_grading::INT) AS rubric_share,
  avg(s.censorship_rewrite::INT) AS censorship_share,
  avg(s.coding::INT) AS coding_share,
  avg(s.math::INT) AS math_share,
  avg(s.planning::INT) AS planning_share,
  avg(s.agentic::INT) AS agentic_share,
  avg(s.non_latin::INT) AS non_latin_share,
  avg((s.coding OR s.agentic OR s.math OR s.planning)::INT) AS high_value_share,
  avg((s.status = 429)::INT) AS throttled_share,
  count(DISTINCT s.model) AS models,
  avg((r.model IS NOT NULL AND s.ts < r.released + INTERVAL 2 DAY)::INT)
    / greatest(avg((s.ts >= (SELECT min(released) FROM releases)
                    AND s.ts < (SELECT min(released) FROM releases) + INTERVAL 2 DAY)::INT), 1e-9)
    AS release_pivot_share,
  count(DISTINCT s.ip) AS ips,
  count(DISTINCT s.asn) AS asns,
  count(DISTINCT s.client_fp) AS client_fps,
  mode(s.country) AS main_country,
  mode(s.client_fp) AS main_client_fp,
  mode(s.asn) AS main_asn,
  mode(s.system_fp) AS main_system_fp,
  any_value(he.hour_entropy) AS hour_entropy,
  any_value(h.top_head) / count(*) AS top_head_share,
  any_value(t.top_tail) / count(*) AS top_tail_share,
  any_value(tp.topic_breadth) AS topic_breadth,
  any_value(g.gap_cv) AS gap_cv,
  any_value(g.gap_median_s) AS gap_median_s
FROM s
LEFT JOIN releases r ON r.model = s.model
LEFT JOIN hour_entropy he ON he.account_id = s.account_id
LEFT JOIN heads h ON h.account_id = s.account_id
LEFT JOIN tails t ON t.account_id = s.account_id
LEFT JOIN gaps g ON g.account_id = s.account_id
LEFT JOIN topics tp ON tp.account_id = s.account_id
GROUP BY s.account_id"""


def account_attributes_sql(features: str, disposable_domains: list[str]) -> str:
    """Join behaviour (``features``) with identity: account age, verification, email shape,
    shared payment methods, billing/traffic country. Derived evidence columns end the row."""
    domains = (
        ", ".join("'" + d.lower().replace("'", "''") + "'" for d in disposable_domains) or "''"
    )
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
payments AS (
  SELECT payment_fp, count(*) AS payment_accounts FROM accounts WHERE payment_fp IS NOT NULL GROUP BY payment_fp
)
SELECT f.*,
  a.org_id, a.created_at, a.verification, a.tier, a.program, coalesce(a.allowlisted, false) AS allowlisted,
  a.billing_country, a.payment_fp, a.domain AS email_domain, st.email_stem,
  coalesce(sg.stem_accounts, 1) AS stem_accounts,
  coalesce(p.payment_accounts, 1) AS shared_payment,
  epoch(f.first_seen - a.created_at) / 86400.0 AS age_days,
  greatest(0.0, least(1.0, 1.0 - (epoch(f.first_seen - a.created_at) / 86400.0 - 2.0) / 28.0)) AS young_account,
  (a.verification IS NULL OR a.verification IN ('none', 'email'))::DOUBLE AS weak_verification,
  (list_contains([{domains}], a.domain) OR coalesce(sg.dense, false))::DOUBLE AS email_pattern,
  (a.billing_country IS NOT NULL AND f.main_country IS NOT NULL
   AND a.billing_country <> f.main_country)::DOUBLE AS billing_mismatch,
  f.exchanges / greatest(f.active_days, 1) AS volume_per_day
FROM {features} f
LEFT JOIN a ON a.account_id = f.account_id
LEFT JOIN stems st ON st.account_id = f.account_id
LEFT JOIN stem_groups sg ON sg.email_stem = st.email_stem
LEFT JOIN payments p ON p.payment_fp = a.payment_fp"""


def text_samples_sql(signals: str, per_account: int = 8) -> str:
    """(account_id, text): up to ``per_account`` sampled prompt starts per account."""
    return f"""
SELECT account_id, text_sample AS text FROM {signals} WHERE text_sample IS NOT NULL
QUALIFY row_number() OVER (PARTITION BY account_id ORDER BY hash(request_id)) <= {per_account}
ORDER BY account_id, hash(request_id)"""


def link_tokens_sql(
    signals: str,
    attributes: str,
    *,
    min_template_uses: int = 20,
    min_burst: int = 3,
    max_bursts: int = 20,
    signup_minutes: int = 10,
) -> str:
    """(account_id, kind, token) rows: what an account shares with others.

    Templates count only when they make up a real part of the account's traffic."""
    return f"""
WITH per_account AS (SELECT account_id, count(*) AS n FROM {signals} GROUP BY account_id),
tmpl AS (  -- a template is a fixed start or end around content that varies
  SELECT s.account_id, 'template' AS kind, 'tail:' || s.tail_fp::VARCHAR AS token, count(*) AS c,
         count(DISTINCT s.head_fp) AS fills
  FROM {signals} s GROUP BY s.account_id, s.tail_fp
  UNION ALL
  SELECT s.account_id, 'template', 'head:' || s.head_fp::VARCHAR, count(*), count(DISTINCT s.tail_fp)
  FROM {signals} s GROUP BY s.account_id, s.head_fp
)
SELECT t.account_id, t.kind, t.token FROM tmpl t JOIN per_account p USING (account_id)
  WHERE t.c >= greatest({min_template_uses}, 0.05 * p.n) AND t.fills >= 0.5 * t.c
UNION
SELECT DISTINCT account_id, 'subnet', regexp_extract(ip, '^(\\d+\\.\\d+\\.\\d+)\\.', 1)
  FROM {signals} WHERE ip LIKE '%.%.%.%'
UNION
SELECT DISTINCT account_id, 'asn', asn::VARCHAR FROM {signals} WHERE asn IS NOT NULL
UNION
SELECT account_id, 'sync', bucket FROM (  -- the 2-minute windows an account bursts in
  SELECT account_id, strftime(time_bucket(INTERVAL 2 MINUTE, ts), '%Y-%m-%dT%H:%M') AS bucket,
    row_number() OVER (PARTITION BY account_id ORDER BY count(*) DESC, bucket) AS rank
  FROM {signals} GROUP BY account_id, bucket HAVING count(*) >= {min_burst}
) WHERE rank <= {max_bursts}
UNION
SELECT account_id, 'signup', strftime(time_bucket(INTERVAL {signup_minutes} MINUTE, created_at), '%Y-%m-%dT%H:%M')
  FROM {attributes} WHERE created_at IS NOT NULL
UNION
SELECT account_id, 'client_fp', main_client_fp FROM {attributes} WHERE main_client_fp IS NOT NULL
UNION
SELECT account_id, 'system_prompt', main_system_fp::VARCHAR FROM {attributes} WHERE main_system_fp IS NOT NULL
UNION
SELECT account_id, 'payment', payment_fp FROM {attributes} WHERE payment_fp IS NOT NULL AND shared_payment > 1
UNION
SELECT account_id, 'email_stem', email_stem FROM {attributes} WHERE email_pattern > 0 AND stem_accounts >= 3"""
