"""Campaigns modelled on the published ones: how each provisions accounts and infrastructure,
and what its traffic looks like."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from distillguard.sim import infra
from distillguard.sim import templates as T
from distillguard.sim.actors import T0, Account, Ids, Profile, ips
from distillguard.sim.timing import DAY


@dataclass(frozen=True)
class CampaignStyle:
    """How a campaign provisions accounts and infrastructure."""

    accounts_per_k: float  # accounts per 1,000 exchanges
    min_accounts: int
    max_accounts: int
    active: tuple[float, float]  # active days within the window
    operator_country: str
    billing: tuple[str, ...]
    ip_kinds: dict[str, float]  # asn kind → weight
    proxy_asns: int  # how many small ranges the campaign rents
    payment_share: int  # accounts per shared payment method (1 = none shared)
    email_style: dict[str, float]  # sequential | disposable | person | edu
    verification: dict[str, float]
    tiers: dict[str, float]
    programs: dict[str, float]
    timing: str  # flat | waves | shift
    harness_agents: tuple[str, ...]
    lifetime_days: tuple[float, float] | None = None  # set: accounts are banned and replaced
    per_account_daily_cap: int | None = None
    aged_share: float = 0.05  # bought or compromised old accounts
    size_sigma: float = 0.6


def _within_caps(sizes: np.ndarray, caps: np.ndarray) -> np.ndarray:
    """Clip volumes to per-account caps and hand what was cut to accounts with headroom, so
    the campaign keeps its volume (a reseller spreads load under each account's limit)."""
    out: np.ndarray = np.minimum(sizes, caps)
    excess = int(sizes.sum() - out.sum())
    while excess > 0:
        room = caps - out
        open_ = np.flatnonzero(room > 0)
        if open_.size == 0:
            break  # every account is at its cap: the campaign is smaller than asked
        take = np.minimum(room[open_], max(1, excess // open_.size))
        before = np.cumsum(take) - take  # moved by the accounts ahead of each one
        take = np.clip(excess - before, 0, take)  # never move more than the excess
        out[open_] += take
        excess -= int(take.sum())
    return out


def _choice(rng: np.random.Generator, weights: dict[str, float]) -> str:
    keys = list(weights)
    p = np.array([weights[k] for k in keys], float)
    return keys[int(rng.choice(len(keys), p=p / p.sum()))]


def campaign(
    name: str,
    campaign_id: str,
    style: CampaignStyle,
    profile: Profile,
    mixed: Profile | None = None,
    mixed_share: float = 0.0,
) -> Callable[[np.random.Generator, int, float, Ids], list[Account]]:
    def build(rng: np.random.Generator, total: int, scale: float, ids: Ids) -> list[Account]:
        count = int(
            np.clip(
                round(total / 1000 * style.accounts_per_k), style.min_accounts, style.max_accounts
            )
        )
        count = max(1, min(count, total))
        rented = tuple(
            infra.BY_KIND["proxy"][int(i)]
            for i in rng.choice(len(infra.BY_KIND["proxy"]), size=style.proxy_asns, replace=False)
        )
        cloud = tuple(infra.asn_in(rng, "cloud") for _ in range(3))
        residential = tuple(infra.asn_in(rng, "residential") for _ in range(4))
        pools = {"proxy": rented, "cloud": cloud, "residential": residential}
        seq_base = str(rng.choice(["dev", "lab", "data", "ai", "team", "ops"])) + str(
            int(rng.integers(10, 99))
        )
        seq_domain = str(rng.choice(infra.FREEMAIL[:6]))
        payments = [
            infra.payment_fp(rng) for _ in range(max(1, count // max(style.payment_share, 1)))
        ]
        harness = style.harness_agents
        # each operation's harness stamps its own header on its agent system prompt
        system_prompt = (
            f"{T.pick(rng, T.AGENTIC_SYSTEMS)}\nRunner build {int(rng.integers(100, 999))}."
            f"{int(rng.integers(0, 99))}, workspace {''.join(T.pick(rng, tuple('abcdefghkmnpqrstuvwxyz')) for _ in range(6))}"
        )
        fp = infra.client_fp(name + str(rng.integers(1 << 30)))
        a0, a1 = style.active
        start, end = T0 + a0 * DAY, T0 + a1 * DAY
        # replacement chains: each slot is a sequence of accounts, the next created when one is banned
        slots: list[tuple[float, float]] = []
        if style.lifetime_days is not None:
            mean_life = sum(style.lifetime_days) / 2
            generations = max(1.0, (end - start) / DAY / mean_life)
            concurrent = max(1, round(count / generations))
            next_start = [start + rng.uniform(0, 1) * DAY for _ in range(concurrent)]
            while len(slots) < count and min(next_start) < end:
                for j in range(concurrent):
                    t = next_start[j]
                    if t >= end or len(slots) >= count:
                        continue
                    life = rng.uniform(*style.lifetime_days) * DAY
                    slots.append((t, min(t + life, end)))
                    next_start[j] = t + life + rng.uniform(0, 3600)  # banned → replaced
        else:
            for _ in range(count):
                s = start + rng.uniform(0, 0.15) * (end - start)
                e = end - rng.uniform(0, 0.15) * (end - start)
                slots.append((s, e))
        durations = np.array([max(e - s, 3600.0) for s, e in slots])
        weights = rng.lognormal(0, style.size_sigma, len(slots)) * durations
        sizes = np.floor(weights / weights.sum() * (total - len(slots))).astype(np.int64) + 1
        sizes[int(np.argmax(weights))] += total - int(sizes.sum())
        if style.per_account_daily_cap:
            caps = np.maximum(1, (durations / DAY * style.per_account_daily_cap).astype(np.int64))
            sizes = _within_caps(sizes, caps)
        accounts = []
        for i, ((s, e), n) in enumerate(zip(slots, sizes, strict=True)):
            kind = _choice(rng, style.ip_kinds)
            pool = pools.get(kind) or (infra.asn_in(rng, kind),)
            asns = tuple(
                pool[int(j)] for j in rng.choice(len(pool), size=min(len(pool), 2), replace=False)
            )
            style_e = _choice(rng, style.email_style)
            if style_e == "sequential":
                email = f"{seq_base}.{i + 1:04d}@{seq_domain}"
            elif style_e == "disposable":
                email = infra.person_email(
                    rng, infra.DISPOSABLE[int(rng.integers(len(infra.DISPOSABLE)))]
                )
            elif style_e == "edu":
                email = infra.person_email(
                    rng,
                    T.pick(
                        rng,
                        ("student.uni-example.edu", "mail.univ-sim.ac.cn", "alumni.polytech.edu"),
                    ),
                )
            else:
                email = infra.person_email(rng)
            aged = rng.random() < style.aged_share
            created = (
                (T0 - rng.uniform(60, 600) * DAY) if aged else (s - rng.uniform(0.02, 2.0) * DAY)
            )
            agent = harness[int(rng.integers(len(harness)))]
            program = _choice(rng, style.programs)
            accounts.append(
                Account(
                    account_id=ids.new("acct_"),
                    org_id=ids.new("org_") if rng.random() < 0.9 else None,
                    created_at=created,
                    email=email,
                    payment_fp=payments[int(rng.integers(len(payments)))]
                    if style.payment_share > 1
                    else infra.payment_fp(rng),
                    billing_country=T.pick(rng, style.billing),
                    signup_ip=asns[0].ip(rng),
                    verification=_choice(rng, style.verification),
                    tier=_choice(rng, style.tiers),
                    program=program,
                    allowlisted=False,
                    label="attack",
                    persona=name,
                    campaign_id=campaign_id,
                    n=int(n),
                    t_from=s,
                    t_to=e,
                    country=style.operator_country,
                    asns=asns,
                    ip_pool=ips(rng, asns, int(rng.integers(2, 12))),
                    user_agents=(agent,),
                    # the rest use a stock SDK stack: the same fingerprints as its ordinary users
                    client_fp=fp
                    if rng.random() < 0.85
                    else infra.client_fp(agent + str(rng.integers(3))),
                    profile=profile,
                    timing=style.timing,
                    system=system_prompt
                    if profile.agent_tools or "tool" in profile.tasks
                    else None,
                    mixed=mixed,
                    mixed_share=mixed_share,
                    timing_kw={"daily_cap": style.per_account_daily_cap}
                    if style.per_account_daily_cap
                    else {},
                )
            )
        return accounts

    return build


ELICIT = Profile(
    {"math": 0.35, "general": 0.25, "code": 0.25, "chat": 0.15},
    wrappers=(*T.REASONING_EN[:3], T.REASONING_ZH[0]),
    wrap_prob=0.92,
    thinking=0.4,
    max_tokens=(8192, 16000),
    temperature=(1.0, 0.7),
    verbose_answers=3.0,
    mini_share=0.0,
    adopt_lag_days=0.5,
    adopt_final=0.5,
    adopt_ramp_days=1,
)
AGENTIC = Profile(
    {"tool": 0.5, "code": 0.35, "general": 0.15},
    wrappers=(*T.CODING_WRAPPERS[:2], T.LONG_HORIZON[0]),
    wrap_prob=0.6,
    mean_turns=4,
    thinking=0.5,
    max_tokens=(16000, 32000),
    endpoints=("messages", "chat.completions"),
    agent_tools=True,
    verbose_answers=2.0,
    mini_share=0.0,
    adopt_lag_days=2,
    adopt_final=0.4,
)
PIVOT = Profile(
    {"code": 0.55, "tool": 0.35, "math": 0.1},
    wrappers=(*T.CODING_WRAPPERS[2:4], T.LONG_HORIZON[1]),
    wrap_prob=0.75,
    mean_turns=2,
    thinking=0.35,
    max_tokens=(16000, 32000, 64000),
    endpoints=("chat.completions", "messages"),
    verbose_answers=2.0,
    mini_share=0.0,
    adopt_lag_days=0.15,
    adopt_final=0.5,
    adopt_ramp_days=0.6,
)
HYDRA_DISTILL = Profile(
    {"code": 0.4, "math": 0.3, "general": 0.3},
    wrappers=(*T.REASONING_EN[3:], *T.REASONING_ZH[1:], T.CODING_WRAPPERS[4]),
    wrap_prob=0.8,
    thinking=0.3,
    max_tokens=(8192, 16000),
    verbose_answers=2.5,
    mini_share=0.0,
    adopt_lag_days=0.4,
    adopt_final=0.5,
    adopt_ramp_days=1,
)
RESELLER_CUSTOMERS = Profile(
    {"chat": 0.6, "general": 0.2, "code": 0.15, "math": 0.05},
    mean_turns=2.5,
    thinking=0.05,
    temperature=(None, 0.7, 1.0),
    mini_share=0.5,
    adopt_lag_days=4,
)
RUBRIC = Profile(
    {"chat": 0.5, "general": 0.3, "math": 0.2},
    wrappers=T.RUBRIC,
    wrap_prob=0.95,
    max_tokens=(1024, 2048),
    temperature=(0.0,),
    mini_share=0.0,
    adopt_lag_days=1,
)
CENSOR = Profile(
    {"chat": 1.0},
    wrappers=T.CENSORSHIP,
    wrap_prob=0.9,
    max_tokens=(2048,),
    temperature=(0.3,),
    mini_share=0.2,
    adopt_lag_days=3,
)
MULTILINGUAL = Profile(
    {"math": 0.4, "general": 0.3, "code": 0.3},
    wrappers=T.reasoning_wrappers(("zh", "ru", "ko", "ja", "es", "ar", "vi", "id", "de")),
    wrap_prob=0.95,
    thinking=0.5,
    max_tokens=(8192, 16000),
    verbose_answers=3.0,
    mini_share=0.0,
    adopt_lag_days=1,
    adopt_final=0.5,
)


CAMPAIGNS: dict[str, tuple[str, CampaignStyle, Profile, Profile | None, float, str]] = {
    "reasoning_extraction": (
        "camp-reasoning",
        CampaignStyle(
            accounts_per_k=0.25,
            min_accounts=6,
            max_accounts=400,
            active=(2, 30),
            operator_country="CN",
            billing=("US", "SG", "HK"),
            ip_kinds={"cloud": 0.6, "proxy": 0.4},
            proxy_asns=2,
            payment_share=4,
            email_style={"sequential": 0.6, "person": 0.4},
            verification={"email": 0.7, "phone": 0.3},
            tiers={"build": 0.8, "scale": 0.2},
            programs={"none": 1.0},
            timing="waves",
            harness_agents=("python-httpx/0.27.2", "OpenAI/Python 1.54.3"),
        ),
        ELICIT,
        None,
        0.0,
        "Reasoning-trace extraction: synchronised, load-balanced accounts sharing payment methods.",
    ),
    "agentic_harvest": (
        "camp-agentic",
        CampaignStyle(
            accounts_per_k=0.12,
            min_accounts=8,
            max_accounts=900,
            active=(0, 42),
            operator_country="CN",
            billing=("US", "SG", "MY", "HK", "GB"),
            ip_kinds={"residential": 0.4, "proxy": 0.3, "cloud": 0.3},
            proxy_asns=3,
            payment_share=1,
            email_style={"person": 0.5, "edu": 0.2, "disposable": 0.15, "sequential": 0.15},
            verification={"email": 0.5, "phone": 0.4, "id": 0.1},
            tiers={"free": 0.2, "build": 0.6, "scale": 0.2},
            programs={"none": 0.4, "education": 0.2, "research": 0.2, "startup": 0.2},
            timing="shift",
            harness_agents=infra.AGENT_CLIS + infra.SDK_AGENTS[:3],
        ),
        AGENTIC,
        None,
        0.0,
        "Agentic and coding harvest across hundreds of accounts of varied types and pathways.",
    ),
    "model_pivot": (
        "camp-pivot",
        CampaignStyle(
            accounts_per_k=0.06,
            min_accounts=8,
            max_accounts=1200,
            active=(0, 42),
            operator_country="CN",
            billing=("US", "SG", "JP", "DE"),
            ip_kinds={"cloud": 0.6, "proxy": 0.25, "residential": 0.15},
            proxy_asns=3,
            payment_share=3,
            email_style={"disposable": 0.35, "sequential": 0.35, "person": 0.3},
            verification={"email": 0.6, "phone": 0.4},
            tiers={"build": 0.5, "scale": 0.5},
            programs={"none": 0.8, "startup": 0.2},
            timing="flat",
            harness_agents=("OpenAI/Python 1.82.0", "anthropic-python/0.49.0"),
        ),
        PIVOT,
        None,
        0.0,
        "Large coding and tool-orchestration campaign that moves half its traffic to a new model within 24 hours.",
    ),
    "hydra_reseller": (
        "camp-hydra",
        CampaignStyle(
            accounts_per_k=11.0,
            min_accounts=10,
            max_accounts=20_000,
            active=(0, 42),
            operator_country="HK",
            billing=("US", "GB", "CA", "AU", "SG"),
            ip_kinds={"proxy": 0.6, "residential": 0.4},
            proxy_asns=2,
            payment_share=1,
            email_style={"person": 0.55, "disposable": 0.25, "sequential": 0.2},
            verification={"email": 0.8, "phone": 0.2},
            tiers={"free": 0.3, "build": 0.7},
            programs={"none": 0.85, "education": 0.1, "startup": 0.05},
            timing="flat",
            harness_agents=("OpenAI/Python 1.54.3",),
            lifetime_days=(2, 9),
            per_account_daily_cap=150,
            aged_share=0.1,
        ),
        HYDRA_DISTILL,
        RESELLER_CUSTOMERS,
        0.4,
        "Proxy-reseller hydra cluster: thousands of light accounts, replaced when banned, mixing customers' traffic.",
    ),
    "rubric_grading": (
        "camp-rubric",
        CampaignStyle(
            accounts_per_k=0.3,
            min_accounts=4,
            max_accounts=120,
            active=(10, 35),
            operator_country="SG",
            billing=("SG", "US"),
            ip_kinds={"cloud": 0.8, "proxy": 0.2},
            proxy_asns=1,
            payment_share=2,
            email_style={"person": 0.6, "sequential": 0.4},
            verification={"email": 0.5, "id": 0.5},
            tiers={"build": 1.0},
            programs={"research": 0.6, "none": 0.4},
            timing="waves",
            harness_agents=("python-httpx/0.27.2",),
        ),
        RUBRIC,
        None,
        0.0,
        "Rubric grading: the model used as a reward model.",
    ),
    "censorship_rewrite": (
        "camp-censor",
        CampaignStyle(
            accounts_per_k=0.3,
            min_accounts=4,
            max_accounts=120,
            active=(5, 25),
            operator_country="CN",
            billing=("HK", "SG", "US"),
            ip_kinds={"proxy": 0.5, "cloud": 0.5},
            proxy_asns=2,
            payment_share=3,
            email_style={"disposable": 0.4, "person": 0.6},
            verification={"email": 1.0},
            tiers={"free": 0.3, "build": 0.7},
            programs={"none": 1.0},
            timing="shift",
            harness_agents=("OpenAI/Python 1.54.3",),
        ),
        CENSOR,
        None,
        0.0,
        "Censorship-safe rewrites of politically sensitive answers.",
    ),
    "multilingual_coercion": (
        "camp-multilingual",
        CampaignStyle(
            accounts_per_k=0.2,
            min_accounts=5,
            max_accounts=300,
            active=(15, 42),
            operator_country="RU",
            billing=("US", "DE", "TR", "AE"),
            ip_kinds={"proxy": 0.4, "cloud": 0.4, "residential": 0.2},
            proxy_asns=2,
            payment_share=2,
            email_style={"person": 0.5, "sequential": 0.3, "disposable": 0.2},
            verification={"email": 0.8, "phone": 0.2},
            tiers={"build": 1.0},
            programs={"none": 1.0},
            timing="flat",
            harness_agents=("python-httpx/0.27.2", "axios/1.7.9"),
        ),
        MULTILINGUAL,
        None,
        0.0,
        "Reasoning-trace coercion in non-English languages.",
    ),
}
