"""One account's exchanges: times, prompts, tools, models, tokens and answers, as columns."""

from __future__ import annotations

import json
import random
import zlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from distillguard.schema import EXCHANGES
from distillguard.sim import templates as T
from distillguard.sim import timing
from distillguard.sim.actors import (
    MODELS,
    NEW_MODEL,
    RELEASE_DAY,
    T0,
    WINDOW_DAYS,
    Account,
    Profile,
)
from distillguard.sim.adversarial.benign_text import NATIVE_LANGUAGES, native_question, stepwise
from distillguard.sim.adversarial.compose import COMPOSERS
from distillguard.sim.textpool import TextPools
from distillguard.sim.timing import DAY, US

AGENT_TOOLS = json.dumps(
    [
        {
            "name": "read_file",
            "description": "Read a file from the repository.",
            "input_schema": {
                "type": "object",
                "properties": {"path": {"type": "string"}},
                "required": ["path"],
            },
        },
        {
            "name": "edit_file",
            "description": "Replace text in a file.",
            "input_schema": {
                "type": "object",
                "properties": {
                    "path": {"type": "string"},
                    "old": {"type": "string"},
                    "new": {"type": "string"},
                },
            },
        },
        {
            "name": "run_tests",
            "description": "Run the test suite and return the summary.",
            "input_schema": {"type": "object", "properties": {"selector": {"type": "string"}}},
        },
        {
            "name": "bash",
            "description": "Run a shell command in the sandbox.",
            "input_schema": {
                "type": "object",
                "properties": {"command": {"type": "string"}},
                "required": ["command"],
            },
        },
    ]
)
TOOL_RESULTS = (
    "Tool result (run_tests): 41 passed, 2 failed\nFAILED tests/test_parser.py::test_empty_input - AssertionError",
    "Tool result (read_file src/app/models.py):\nclass Order(BaseModel):\n    id: int\n    total: Decimal\n",
    "Tool result (bash: git status): On branch main\nChanges not staged for commit:\n  modified: src/app/api.py",
    "Tool result (edit_file): 1 replacement made in src/app/api.py",
    "Tool result (bash: pytest -x): collected 58 items ... 58 passed in 3.21s",
    "Tool result (read_file README.md): # Project\nSetup: pip install -e .\n",
)
STOP = {
    "chat.completions": ("stop", "length", "tool_calls"),
    "responses": ("stop", "length", "tool_calls"),
    "completions": ("stop", "length", "stop"),
    "messages": ("end_turn", "max_tokens", "tool_use"),
}
CHUNK = 50_000


def _times(
    acct: Account,
    rng: np.random.Generator,
    n: int,
    profile: Profile,
    *,
    seed: int,
    as_customers: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Request times (µs) and turn numbers for ``n`` requests of ``acct``."""
    d0 = int((acct.t_from - T0) // DAY)
    d1 = int(np.ceil((acct.t_to - T0) / DAY))
    first_weekday = 2  # 2026-04-22 is a Wednesday
    tz = _tz(acct.country)
    kw: dict[str, Any] = acct.timing_kw
    mode = "human" if as_customers else acct.timing
    if mode in ("human", "service", "agent"):
        curve = {"human": str(kw.get("curve", "evening")), "service": "service", "agent": "work"}[
            mode
        ]
        gaps = {"human": (20.0, 240.0), "service": (8.0, 90.0), "agent": (4.0, 45.0)}[mode]
        if as_customers:
            tz = float(rng.choice([-6, -5, 0, 1, 8, 9]))
        return timing.sessions(
            rng,
            n,
            mean_turns=profile.mean_turns,
            gap_s=gaps,
            t0=T0,
            start_day=d0,
            end_day=d1,
            tz_hours=tz,
            curve=curve,
            weekend=float(kw.get("weekend", 0.8)),
            first_weekday=first_weekday,
        )
    ones = np.ones(n, np.int64)
    if mode == "cron":
        return timing.cron(
            rng,
            n,
            t0=T0,
            start_day=d0,
            end_day=d1,
            tz_hours=tz,
            hour_from=int(kw["hour_from"]),
            hours=int(kw["hours"]),
            jitter_s=float(kw["jitter_s"]),
        ), ones
    if mode == "sweep":
        forced = tuple(kw.get("forced_days", ()))
        return timing.sweeps(
            rng,
            n,
            t0=T0,
            start_day=d0,
            end_day=d1,
            sweep_size=int(kw["sweep_size"]),
            spacing_s=tuple(kw["spacing_s"]),
            forced_days=forced,
        ), ones
    # campaign traffic: sessions of back-to-back steps when multi-turn
    k_sessions = n if profile.mean_turns <= 1 else max(1, int(n / profile.mean_turns))
    if mode == "waves":
        wrng = np.random.default_rng([seed, zlib.crc32(str(acct.campaign_id).encode())])
        period = 6 * 3600
        starts = T0 + np.arange(0, WINDOW_DAYS * DAY, period) + wrng.uniform(0, 1800)
        base = timing.waves(
            rng, k_sessions, wave_starts=starts, wave_len_s=2400, t_from=acct.t_from, t_to=acct.t_to
        )
    elif mode == "shift":
        base = timing.diurnal(
            rng,
            k_sessions,
            t0=T0,
            start_day=d0,
            end_day=d1,
            tz_hours=tz,
            curve="shift",
            weekend=0.9,
            first_weekday=first_weekday,
        )
    else:
        base = timing.flat(rng, k_sessions, t_from=acct.t_from, t_to=acct.t_to)
    if k_sessions == n:
        return base, ones
    lengths = np.full(k_sessions, n // k_sessions)
    lengths[: n - int(lengths.sum())] += 1
    times = np.repeat(base, lengths)
    turns = np.concatenate([np.arange(1, k + 1) for k in lengths])
    offsets = np.concatenate([np.cumsum(np.r_[0, rng.uniform(2, 12, k - 1)]) for k in lengths])
    times = times + (offsets * US).astype(np.int64)
    order = np.argsort(times, kind="stable")
    return times[order], turns[order]


def _tz(country: str) -> float:
    from distillguard.sim.infra import TZ_OFFSET

    return TZ_OFFSET.get(country, 0.0)


def _model(
    rng: np.random.Generator, ts_us: np.ndarray, profile: Profile, acct: Account
) -> np.ndarray:
    days = (ts_us / US - T0) / DAY
    since = days - RELEASE_DAY - profile.adopt_lag_days
    p_new = np.where(
        since > 0,
        profile.adopt_final * np.minimum(1.0, since / max(profile.adopt_ramp_days, 1e-3)),
        0.0,
    )
    u = rng.random(len(ts_us))
    mini = rng.random(len(ts_us)) < profile.mini_share
    out = np.where(mini, MODELS[1], MODELS[0]).astype(object)
    out[u < p_new] = NEW_MODEL
    if acct.custom_model is not None:  # a fine-tuned model takes over from its first day
        model_id, since_s = acct.custom_model
        out[(ts_us >= since_s * US) & (rng.random(len(ts_us)) < 0.9)] = model_id
    return out


_TOOL_COUNTS: dict[str, int] = {}


def _count_tools(tools_json: str | None) -> int:
    if tools_json is None:
        return 0
    count = _TOOL_COUNTS.get(tools_json)
    if count is None:
        count = len(json.loads(tools_json))
        if len(_TOOL_COUNTS) < 100_000:
            _TOOL_COUNTS[tools_json] = count
    return count


def _clip(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def exchanges(
    acct: Account, pools: TextPools, rng: np.random.Generator, *, seed: int
) -> Iterator[tuple[dict[str, list[Any]], list[str | None]]]:
    """``acct``'s exchanges as column lists, in chunks of at most ``CHUNK`` rows, each with
    its rows' campaign attribution (for accounts mixing a reseller's customers with a campaign).
    Memory: the account's time array plus one chunk."""
    n_customer = round(acct.n * acct.mixed_share) if acct.mixed is not None else 0
    n_main = acct.n - n_customer
    t_main, turns_main = _times(acct, rng, n_main, acct.profile, seed=seed)
    parts = [(t_main, turns_main, acct.profile, acct.campaign_id)]
    if n_customer and acct.mixed is not None:
        t_c, turns_c = _times(acct, rng, n_customer, acct.mixed, seed=seed, as_customers=True)
        in_life = (t_c >= acct.t_from * US) & (t_c < acct.t_to * US)
        t_c = np.where(
            in_life, t_c, (rng.uniform(acct.t_from, acct.t_to, len(t_c)) * US).astype(np.int64)
        )
        parts.append((t_c, turns_c, acct.mixed, None))
    lo_us, hi_us = T0 * US, (T0 + WINDOW_DAYS * DAY) * US
    for t_raw, turns, prof, cid in parts:
        # the window is in UTC: a local time that falls outside it moves by a day
        t = np.where(
            t_raw < lo_us, t_raw + DAY * US, np.where(t_raw >= hi_us, t_raw - DAY * US, t_raw)
        )
        for lo in range(0, len(t), CHUNK):
            block = _rows(acct, pools, rng, t[lo : lo + CHUNK], turns[lo : lo + CHUNK], prof, lo)
            yield block, [cid] * len(block["request_id"])


def _task_text(
    acct: Account, pools: TextPools, task: str, lang: str, pick: int
) -> tuple[str, str | None]:
    """The task text (and its tool definitions) for one request."""
    if task == "tool":
        j = pick % len(pools.tool_requests)
        return pools.tool_requests[j], pools.tool_defs[j]
    if task in ("mgsm", "mgsm_cot", "native"):
        source = pools.multilingual_cot if task == "mgsm_cot" else pools.multilingual
        items = source.get(lang) if task != "native" else None
        if items:
            return items[pick % len(items)], None
        r = random.Random(pick)
        question = native_question(r, lang if lang in NATIVE_LANGUAGES else "en")
        return (stepwise(r, question, lang) if task == "mgsm_cot" else question), None
    pool: tuple[str, ...] = getattr(pools, task)
    index = pick % len(pool)
    if acct.pool_slice is not None:  # the account's own part of a pool split between accounts
        k, parts = acct.pool_slice
        index = ((pick % max(len(pool) // parts, 1)) * parts + k) % len(pool)
    return pool[index], None


def _rows(
    acct: Account,
    pools: TextPools,
    rng: np.random.Generator,
    ts: np.ndarray,
    turns: np.ndarray,
    prof: Profile,
    first: int = 0,
) -> dict[str, list[Any]]:
    n = len(ts)
    task_names = list(prof.tasks)
    weights = np.array([prof.tasks[k] for k in task_names], float)
    task_idx = rng.choice(len(task_names), size=n, p=weights / weights.sum())
    endpoints = rng.choice(np.array(prof.endpoints, dtype=object), size=n)
    models = _model(rng, ts, prof, acct)
    sweep = prof.sweep_models
    if sweep:  # one pass over the items, each sent to every model in turn
        order = np.arange(first, first + n)
        models = np.array(sweep, dtype=object)[order % len(sweep)]
    thinking = rng.random(n) < prof.thinking
    max_tok = [prof.max_tokens[int(i)] for i in rng.integers(len(prof.max_tokens), size=n)]
    temps = [prof.temperature[int(i)] for i in rng.integers(len(prof.temperature), size=n)]
    wrap = (
        rng.random(n) < prof.wrap_prob if (prof.wrappers or prof.composers) else np.zeros(n, bool)
    )
    resp_idx = rng.integers(len(pools.responses), size=n)
    pick = rng.integers(1 << 30, size=(n, 3))
    ip_idx = (
        rng.integers(len(acct.ip_pool), size=n)
        if acct.rotate_ips
        else np.where(rng.random(n) < 0.7, 0, rng.integers(len(acct.ip_pool), size=n))
    )
    status = np.where(rng.random(n) < 0.004, 500, 200)
    status = np.where((rng.random(n) < 0.003) & (status == 200), 400, status)
    if acct.label == "attack":
        status = np.where((rng.random(n) < 0.01) & (status == 200), 429, status)
    noise = rng.lognormal(0.0, 0.3, n)
    think_tokens = rng.lognormal(7.0, 0.7, n)
    req_ids = rng.integers(0, 1 << 62, n)
    customer_systems = T.RESELLER_CUSTOMER_SYSTEMS
    out: dict[str, list[Any]] = {k: [] for k in EXCHANGES.names}
    key_id = "key_" + acct.account_id[-8:]
    prev_prompt = ""
    own = prof is acct.profile  # a reseller's customers write in their own languages
    langs = acct.languages if own else ("en",)
    followups = prof.followups or TOOL_RESULTS
    for i in range(n):
        task = task_names[int(task_idx[i])]
        p0, p1, p2 = (int(x) for x in pick[i])
        lang = langs[p2 % len(langs)]
        item = (first + i) // len(sweep) if sweep else p0
        text, tools_json = _task_text(acct, pools, task, lang, item)
        turn = int(turns[i])
        if prof.agent_tools:
            tools_json = acct.tools or AGENT_TOOLS
            if turn > 1:
                text = followups[p1 % len(followups)]
        elif own and acct.tools is not None:
            tools_json = acct.tools
        if wrap[i] and not (prof.agent_tools and turn > 1):
            answer = _clip(pools.responses[p2 % len(pools.responses)], 600)
            composer = prof.composers.get(task)
            if composer is not None:
                text = COMPOSERS[composer](random.Random(p1 ^ (p2 << 30)), text, lang, answer)
            elif prof.wrappers:
                w = prof.wrappers[p1 % len(prof.wrappers)]
                text = w.format(
                    task=text,
                    answer=answer,
                    answer_b=_clip(pools.responses[p0 % len(pools.responses)], 600),
                    topic=T.POLITICAL_TOPICS[p2 % len(T.POLITICAL_TOPICS)],
                )
        system = acct.system
        if acct.mixed is not None and prof is acct.mixed:
            system = customer_systems[p2 % len(customer_systems)]
        endpoint = str(endpoints[i])
        n_msgs = 2 * turn - 1 + (1 if system and endpoint != "messages" else 0)
        messages = None
        if turn > 1:
            hist = [
                {"role": "user", "content": _clip(prev_prompt or text)},
                {"role": "assistant", "content": _clip(pools.responses[p1 % len(pools.responses)])},
            ]
            messages = json.dumps(
                [*hist, {"role": "user", "content": _clip(text, 2000)}], ensure_ascii=False
            )
        prev_prompt = text
        ok = status[i] == 200
        response = pools.responses[int(resp_idx[i])] if ok else None
        cap = max_tok[i]
        out_tokens = int(len(response) / 4 * noise[i] * prof.verbose_answers) + 1 if response else 0
        reasoning = int(think_tokens[i]) if (thinking[i] and ok) else None
        total_out = out_tokens + (reasoning or 0)
        stop = STOP[endpoint]
        stop_reason = stop[0]
        if cap is not None and total_out > cap:
            total_out, stop_reason = cap, stop[1]
        if tools_json is not None and ok and (p2 % 10) < 6:
            stop_reason = stop[2]
        ip, asn = acct.ip_pool[int(ip_idx[i]) % len(acct.ip_pool)]
        in_tokens = (
            (len(text) + len(system or "") + (len(messages) if messages else 0)) // 4
            + 5
            + (len(tools_json) // 5 if tools_json else 0)
        )
        out["request_id"].append(f"req_{int(req_ids[i]):016x}")
        out["ts"].append(int(ts[i]))
        out["account_id"].append(acct.account_id)
        out["org_id"].append(acct.org_id)
        out["api_key_id"].append(key_id)
        out["ip"].append(ip)
        out["asn"].append(asn.number)
        out["asn_org"].append(asn.org)
        out["country"].append(asn.country)
        out["user_agent"].append(acct.user_agents[0])
        out["client_fp"].append(acct.client_fp)
        out["endpoint"].append(endpoint)
        out["model"].append(str(models[i]))
        out["system"].append(system)
        out["prompt"].append(text)
        out["messages"].append(messages)
        out["n_messages"].append(n_msgs)
        out["tools"].append(tools_json)
        out["n_tools"].append(_count_tools(tools_json))
        out["thinking"].append(bool(thinking[i]))
        out["temperature"].append(temps[i])
        out["max_tokens"].append(cap)
        # a refused or failed request never reached the model: no usage is billed
        out["input_tokens"].append(in_tokens if ok else None)
        out["output_tokens"].append(total_out if ok else None)
        out["reasoning_tokens"].append(reasoning)
        out["response"].append(response)
        out["stop_reason"].append(stop_reason if ok else None)
        out["status"].append(int(status[i]))
        out["latency_ms"].append(round(250 + total_out * 12 * float(noise[i]), 1))
    return out
