"""Harvesting operations written from the operator's side, with a knob for each evasion.

An operation has a *target* (what it harvests: reasoning, agentic tool use, or graded
critiques for a reward model) and a set of *knobs*. Without knobs it is the plain version a
hurried operator runs: fresh accounts opened the day they are used, a few prepaid cards
shared between them, datacenter and rented proxy addresses, a script looping round the clock
at a few hundred requests a day per account, and three fixed English request templates.
Every knob removes one of those tells:

| knob | what the operator does |
|---|---|
| ``paraphrase`` | composes every request afresh, in several languages, from interchangeable parts: no fixed template |
| ``jitter`` | paces each account like a person: sessions of a few requests in the daytime of its claimed country, weekly rhythm |
| ``residential`` | sends every request through a different residential proxy exit in the account's billing country |
| ``aged`` | buys old accounts (months to years) with phone or ID verification |
| ``volume`` | keeps each account at an ordinary developer's volume (8–60 requests a day) and uses more accounts |
| ``payment`` | gives every account its own card |
| ``mixed`` | resells access: half of each account's traffic is real customers' chat |
| ``rotate_stack`` | gives each account a popular SDK's client stack and its own ordinary parameters, no system prompt |

What the knobs leave, because the operation needs it: the content (the requests are still
for reasoning, critiques or agent traces), a split of the same public prompt pools between
the accounts (each account sweeps its own part), and, without ``rotate_stack``, the harness
(one client stack, one parameter set, one system prompt).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from distillguard.sim import infra
from distillguard.sim.actors import T0, WINDOW_DAYS, Account, Ids, Profile, ips
from distillguard.sim.adversarial.phrasing import (
    LANGUAGES,
    coding_request,
    grading_request,
    reasoning_request,
)
from distillguard.sim.campaigns import RESELLER_CUSTOMERS
from distillguard.sim.timing import DAY

KNOBS: dict[str, str] = {
    "paraphrase": "every request composed afresh in several languages; no fixed template",
    "jitter": "human pacing: short daytime sessions in the claimed country's time zone, weekly rhythm",
    "residential": "each request through another residential proxy exit in the billing country",
    "aged": "bought old accounts (months to years) with phone or ID verification",
    "volume": "ordinary volumes (8-60 requests a day per account), more accounts",
    "payment": "one card per account",
    "mixed": "resold access: half of each account's traffic is real customers' chat",
    "rotate_stack": "a popular SDK's client stack and ordinary parameters per account, no system prompt",
}
LOW_AND_SLOW = frozenset(
    ("paraphrase", "jitter", "residential", "aged", "volume", "payment", "mixed")
)
"""Every evasion the public reports describe at once: accounts unremarkable one by one."""

_HARNESS_UA = (
    "python-requests/2.32.3",
    "aiohttp/3.9.5",
    "Go-http-client/1.1",
    "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)",
    "python-httpx/0.27.0",
)
_OPERATOR = (
    ("CN", ("US", "SG", "HK", "GB")),
    ("RU", ("DE", "US", "TR")),
    ("HK", ("US", "CA", "AU")),
)
_AGENT_TOOLS = json.dumps(
    [
        {
            "name": "exec_python",
            "description": "Execute Python code in a sandbox and return stdout/stderr.",
            "parameters": {"type": "object", "properties": {"code": {"type": "string"}}},
        },
        {
            "name": "fetch_url",
            "description": "Fetch a URL and return the text content.",
            "parameters": {"type": "object", "properties": {"url": {"type": "string"}}},
        },
        {
            "name": "write_file",
            "description": "Write content to a path in the workspace.",
            "parameters": {
                "type": "object",
                "properties": {"path": {"type": "string"}, "content": {"type": "string"}},
            },
        },
        {
            "name": "shell",
            "description": "Run a shell command.",
            "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}},
        },
    ]
)
_AGENT_FOLLOWUPS = (
    "[exec_python] stdout:\n[1, 1, 2, 3, 5, 8]\nreturn code 0",
    "[shell] $ make test\n12 passed, 1 failed: test_edge_case",
    "[fetch_url] 200 OK, 14.2 KB of HTML; title: 'API reference'",
    "[write_file] wrote 2,311 bytes to solution/main.py",
    "[exec_python] Traceback (most recent call last): IndexError: list index out of range",
)


@dataclass(frozen=True)
class Operation:
    """One harvesting operation: what it takes and how it hides."""

    campaign_id: str
    target: str  # reasoning | agentic | grading
    knobs: frozenset[str]

    @property
    def evasion(self) -> str:
        return ",".join(sorted(self.knobs)) or "none"


_FORMATS = (
    "Use Markdown headings.",
    "Plain text only.",
    "Number every line.",
    "Write in English.",
    "Use LaTeX for math.",
    "No bullet points.",
    "Keep code in fenced blocks.",
    "Bold the final result.",
)
_OPENINGS = (
    "Read carefully.",
    "Here is the next item.",
    "New task below.",
    "Please handle this one.",
    "Another one for you.",
    "Work on the following.",
    "Next question.",
    "Input follows.",
)
_AUDIENCE = (
    "Assume an expert reader.",
    "Write for a student.",
    "Be rigorous.",
    "Be precise.",
    "Stay on topic.",
    "Think carefully.",
)
_LENGTHS = (
    "Be exhaustive.",
    "Length is not a concern.",
    "Aim for at least 800 words.",
    "Longer is better.",
    "Do not truncate.",
    "Take as much space as you need.",
)


def _fixed_templates(r: random.Random, target: str) -> tuple[str, ...]:
    """The three or four request templates a hurried operator writes once and reuses, each
    ending with the operator's own formatting line."""
    opening = f"{r.choice(_OPENINGS)} {r.choice(_AUDIENCE)}\n"
    closing = f"\n\n{r.choice(_FORMATS)} {r.choice(_LENGTHS)}"
    if target == "grading":
        shapes = [grading_request(r, "{task}", "en", "{answer}") for _ in range(3)]
    else:
        shapes = [reasoning_request(r, "{task}", "en", "{answer}") for _ in range(3)]
        shapes.append(coding_request(r, "{task}", "en"))
    return tuple(opening + shape + closing for shape in shapes)


def _profile(
    op: Operation, r: random.Random, max_tokens: int, temperature: float | None
) -> Profile:
    fixed = () if "paraphrase" in op.knobs else _fixed_templates(r, op.target)
    common = {
        "wrappers": fixed,
        "max_tokens": (max_tokens,),
        "temperature": (temperature,),
        "adopt_lag_days": 0.2,
        "adopt_final": 0.6,
        "adopt_ramp_days": 1.0,
        "mini_share": 0.0,
        "endpoints": ("chat.completions", "messages"),
    }
    if op.target == "grading":
        return Profile(
            {"chat": 0.5, "general": 0.3, "math": 0.2},
            composers={"chat": "grading", "general": "grading", "math": "grading"}
            if not fixed
            else {},
            wrap_prob=0.95,
            verbose_answers=1.5,
            **common,  # type: ignore[arg-type]
        )
    if op.target == "agentic":
        return Profile(
            {"tool": 0.6, "code": 0.4},
            composers={"code": "coding"} if not fixed else {},
            wrap_prob=0.6,
            mean_turns=5,
            thinking=0.6,
            agent_tools=True,
            followups=_AGENT_FOLLOWUPS,
            verbose_answers=2.0,
            **common,  # type: ignore[arg-type]
        )
    reasoning = {"math": "reasoning", "general": "reasoning", "chat": "reasoning"}
    return Profile(
        {"math": 0.35, "general": 0.2, "chat": 0.15, "code": 0.2, "tool": 0.1},
        composers={**reasoning, "code": "coding"} if not fixed else {},
        wrap_prob=0.85,
        mean_turns=1.4 if "jitter" in op.knobs else 1.0,
        thinking=0.6,
        verbose_answers=2.5,
        **common,  # type: ignore[arg-type]
    )


def operation(
    name: str, op: Operation
) -> Callable[[np.random.Generator, int, float, Ids], list[Account]]:
    """The account builder of one operation (the simulator's group-builder signature)."""
    k = op.knobs

    def build(rng: np.random.Generator, total: int, scale: float, ids: Ids) -> list[Account]:
        r = random.Random(int(rng.integers(1 << 62)))
        per_day = (8.0, 60.0) if "volume" in k else (80.0, 250.0)
        span = (20.0, 36.0) if ("aged" in k or "volume" in k) else (6.0, 14.0)
        count = int(np.clip(round(total / (np.mean(per_day) * np.mean(span))), 3, 20_000))
        count = max(1, min(count, total))
        operator, billing = _OPERATOR[int(rng.integers(len(_OPERATOR)))]
        # the harness: one client, one parameter set, one system prompt for every account
        ua = r.choice(_HARNESS_UA)
        fp = infra.client_fp(f"{op.campaign_id}/{ua}/{r.random()}")
        max_tokens = r.choice((8000, 12000, 16000, 20000, 24000, 30000))
        temperature = r.choice((None, 0.6, 0.7, 1.0))
        system = (
            r.choice(
                (
                    "You are an expert problem solver. Be thorough and precise.",
                    "You are a world-class tutor. Leave nothing out.",
                    "Act as a senior researcher. Give complete, rigorous answers.",
                )
            )
            + f" [{r.choice(('job', 'batch', 'run'))}-{r.randrange(10_000):04d}]"
        )
        profile = _profile(op, r, max_tokens, temperature)
        operator_langs = tuple(
            ["en", *r.sample([lang for lang in LANGUAGES if lang != "en"], r.randint(3, 6))]
        )
        rented = tuple(
            infra.BY_KIND["proxy"][int(i)]
            for i in rng.choice(len(infra.BY_KIND["proxy"]), size=2, replace=False)
        )
        clouds = tuple(infra.asn_in(rng, "cloud") for _ in range(2))
        cards = [infra.payment_fp(rng) for _ in range(max(1, count // 3))]
        window = (T0 + 2 * DAY, T0 + (WINDOW_DAYS - 1) * DAY)
        sizes = rng.lognormal(0.0, 0.5, count)
        spans = rng.uniform(*span, count) * DAY
        rates = rng.uniform(*per_day, count)
        want = rates * spans / DAY * sizes
        n_each = np.floor(want / want.sum() * (total - count)).astype(np.int64) + 1
        n_each[int(np.argmax(want))] += total - int(n_each.sum())
        accounts = []
        for i in range(count):
            start = rng.uniform(window[0], max(window[0] + 1, window[1] - spans[i]))
            end = min(start + spans[i], window[1])
            country = billing[int(rng.integers(len(billing)))]
            if "residential" in k:
                homes = tuple(a for a in infra.BY_KIND["residential"] if a.country == country)
                asns = homes + tuple(a for a in infra.BY_KIND["mobile"] if a.country == country)
                pool = ips(rng, asns or infra.BY_KIND["residential"], 120)
                traffic_country = country
            else:
                asns = (rented[int(rng.integers(2))], clouds[int(rng.integers(2))])
                pool = ips(rng, asns, int(rng.integers(2, 7)))
                traffic_country = country if "jitter" in k else operator
            if "aged" in k:
                created = T0 - rng.uniform(100, 1500) * DAY
                verification = "phone" if rng.random() < 0.6 else "id"
                tier = "build" if rng.random() < 0.7 else "scale"
            else:
                created = start - rng.uniform(0.05, 3.0) * DAY
                verification = "email" if rng.random() < 0.8 else "none"
                tier = "build" if rng.random() < 0.7 else "free"
            if "rotate_stack" in k:
                agent = r.choice(infra.SDK_AGENTS)
                acct_ua, acct_fp = agent, infra.client_fp(agent + str(r.randrange(3)))
                acct_system = None
                acct_profile = _profile(
                    op, r, r.choice((4096, 8192, 16000, 32000)), r.choice((None, 0.7, 1.0))
                )
            else:
                acct_ua, acct_fp, acct_system, acct_profile = ua, fp, system, profile
            domain = (
                infra.DISPOSABLE[int(rng.integers(len(infra.DISPOSABLE)))]
                if rng.random() < 0.15 and "aged" not in k
                else None
            )
            acct = Account(
                account_id=ids.new("acct_"),
                org_id=ids.new("org_") if rng.random() < 0.5 else None,
                created_at=created,
                email=infra.person_email(rng, domain),
                payment_fp=infra.payment_fp(rng)
                if "payment" in k
                else cards[int(rng.integers(len(cards)))],
                billing_country=country,
                signup_ip=pool[0][0],
                verification=verification,
                tier=tier,
                program="none",
                allowlisted=False,
                label="attack",
                persona=name,
                campaign_id=op.campaign_id,
                n=int(n_each[i]),
                t_from=start,
                t_to=end,
                country=traffic_country,
                asns=tuple(a for _, a in pool[:2]),
                ip_pool=pool,
                user_agents=(acct_ua,),
                client_fp=acct_fp,
                profile=acct_profile,
                timing="human" if "jitter" in k else "flat",
                system=acct_system,
                mixed=RESELLER_CUSTOMERS if "mixed" in k else None,
                mixed_share=0.5 if "mixed" in k else 0.0,
                timing_kw={"curve": r.choice(("work", "evening")), "weekend": 0.7}
                if "jitter" in k
                else {},
                languages=tuple(r.sample(operator_langs, min(2, len(operator_langs))))
                if "paraphrase" in k
                else ("en",),
                pool_slice=(i, count),
                rotate_ips="residential" in k,
                tools=_AGENT_TOOLS if op.target == "agentic" else None,
                evasion=op.evasion,
            )
            accounts.append(acct)
        return accounts

    return build


def _op(cid: str, target: str, *knobs: str) -> Operation:
    return Operation(cid, target, frozenset(knobs))


OPERATIONS: dict[str, tuple[Operation, str]] = {
    "adv_base": (
        _op("adv-base", "reasoning"),
        "Reasoning harvest as a hurried operator runs it: fresh accounts, shared cards, proxies, fixed templates.",
    ),
    **{
        f"adv_{knob}": (
            _op(f"adv-{knob.replace('_', '-')}", "reasoning", knob),
            f"Reasoning harvest with one evasion: {text}.",
        )
        for knob, text in KNOBS.items()
    },
    "adv_low_and_slow": (
        Operation("adv-low-and-slow", "reasoning", LOW_AND_SLOW),
        "Reasoning harvest with every evasion at once: aged verified accounts at ordinary volumes, residential, paraphrased, mixed with customers.",
    ),
    "adv_agentic": (
        _op("adv-agentic", "agentic"),
        "Agentic harvest: young accounts running one agent harness (system prompt, tools, client) over public tool-use tasks.",
    ),
    "adv_grader": (
        Operation(
            "adv-grader",
            "grading",
            frozenset(("aged", "volume", "payment", "jitter", "residential")),
        ),
        "Reward-model harvest (graded critiques) from aged, verified, single-card accounts at ordinary volumes.",
    ),
}
