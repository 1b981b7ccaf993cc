"""Simulated accounts: who they are (the accounts table), how much and when they send,
and what their traffic looks like (a :class:`Profile`). One builder per legitimate persona
and per campaign; shares and sizes come from the scenario.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from distillguard.sim import infra
from distillguard.sim import templates as T
from distillguard.sim.timing import DAY

WINDOW_START = datetime(2026, 4, 22, tzinfo=UTC)
WINDOW_DAYS = 42
RELEASE_DAY = 20.375  # the new model ships on day 20 at 09:00 UTC
MODELS = ("atlas-3.5", "atlas-3.5-mini", "atlas-4")
NEW_MODEL = "atlas-4"


@dataclass(frozen=True)
class Profile:
    """What an account's requests look like."""

    tasks: dict[str, float]  # pool name → weight
    wrappers: tuple[str, ...] = ()  # prompt wrappers ({task}, maybe {answer}/{topic})
    wrap_prob: float = 0.0
    mean_turns: float = 1.0
    thinking: float = 0.0  # probability extended thinking is requested
    max_tokens: tuple[int | None, ...] = (None,)
    temperature: tuple[float | None, ...] = (None,)
    endpoints: tuple[str, ...] = ("chat.completions",)
    adopt_lag_days: float = 3.0  # delay before the new model is used at all
    adopt_final: float = 0.35  # final share of traffic on the new model
    adopt_ramp_days: float = 10.0
    mini_share: float = 0.35
    agent_tools: bool = False  # fixed coding-agent tool set
    verbose_answers: float = 1.0  # output length multiplier (elicited reasoning)


@dataclass
class Account:
    """One simulated account: its row in the accounts table, its truth and its behaviour."""

    account_id: str
    org_id: str | None
    created_at: float  # epoch seconds
    email: str
    payment_fp: str | None
    billing_country: str
    signup_ip: str
    verification: str
    tier: str
    program: str
    allowlisted: bool
    label: str
    persona: str
    campaign_id: str | None
    n: int
    t_from: float
    t_to: float
    country: str  # where its traffic comes from (time zone)
    asns: tuple[infra.Asn, ...]
    ip_pool: tuple[tuple[str, infra.Asn], ...]
    user_agents: tuple[str, ...]
    client_fp: str
    profile: Profile
    timing: str  # human | service | cron | sweep | agent | flat | waves
    system: str | None = None
    mixed: Profile | None = None  # a reseller's customers' traffic
    mixed_share: float = 0.0  # share of the account's traffic that is customers'
    timing_kw: dict[str, object] = field(default_factory=dict)


@dataclass
class Group:
    """A persona or campaign: its name, its truth label and how it makes accounts."""

    name: str
    label: str
    campaign_id: str | None
    build: Callable[[np.random.Generator, int, float, Ids], list[Account]]
    description: str


class Ids:
    """Opaque, seed-determined ids: nothing in an id tells a persona or a campaign."""

    def __init__(self, rng: np.random.Generator) -> None:
        self._rng = rng
        self._seen: set[str] = set()

    def new(self, prefix: str) -> str:
        while True:
            value = prefix + "".join(f"{int(b):02x}" for b in self._rng.integers(0, 256, 6))
            if value not in self._seen:
                self._seen.add(value)
                return value


T0 = int(WINDOW_START.timestamp())


def _sizes(rng: np.random.Generator, total: int, count: int, sigma: float) -> np.ndarray:
    """Heavy-tailed per-account volumes summing to ``total`` (each at least 1)."""
    count = max(1, min(count, total))
    w = rng.lognormal(0.0, sigma, count)
    sizes = np.floor(w / w.sum() * (total - count)).astype(np.int64) + 1
    sizes[int(np.argmax(w))] += total - int(sizes.sum())
    out: np.ndarray = sizes
    return out


def _ips(
    rng: np.random.Generator, asns: tuple[infra.Asn, ...], k: int
) -> tuple[tuple[str, infra.Asn], ...]:
    out = []
    for _ in range(k):
        asn = asns[int(rng.integers(len(asns)))]
        out.append((asn.ip(rng), asn))
    return tuple(out)


def _legit_account(
    rng: np.random.Generator,
    ids: Ids,
    *,
    persona: str,
    n: int,
    country: str,
    asn_kind: str,
    ua: tuple[str, ...],
    profile: Profile,
    timing: str,
    tier: str,
    verification: str,
    program: str = "none",
    domain: str | None = None,
    org: str | None = None,
    allowlisted: bool = False,
    system: str | None = None,
    age_days: tuple[float, float] = (30, 900),
    **kw: object,
) -> Account:
    asn = infra.asn_in(rng, asn_kind, country)
    asns = (asn,) if rng.random() < 0.8 else (asn, infra.asn_in(rng, "mobile", country))
    created = T0 - rng.uniform(*age_days) * DAY
    billing = country if rng.random() > 0.05 else str(rng.choice(["US", "GB", "DE", "SG"]))
    email = infra.person_email(rng, domain)
    if rng.random() < 0.01:  # some honest people use throwaway addresses
        email = infra.person_email(rng, infra.DISPOSABLE[int(rng.integers(len(infra.DISPOSABLE)))])
    stack = ua[int(rng.integers(len(ua)))]
    return Account(
        account_id=ids.new("acct_"),
        org_id=org or ids.new("org_"),
        created_at=created,
        email=email,
        payment_fp=infra.payment_fp(rng) if tier != "free" else None,
        billing_country=billing,
        signup_ip=asn.ip(rng),
        verification=verification,
        tier=tier,
        program=program,
        allowlisted=allowlisted,
        label="legit",
        persona=persona,
        campaign_id=None,
        n=n,
        t_from=T0,
        t_to=T0 + WINDOW_DAYS * DAY,
        country=country,
        asns=asns,
        ip_pool=_ips(rng, asns, int(rng.integers(1, 6))),
        user_agents=(stack,),
        client_fp=infra.client_fp(stack + str(rng.integers(3))),
        profile=profile,
        timing=timing,
        system=system,
        timing_kw=dict(kw),
    )


HOME = (
    "US",
    "US",
    "US",
    "GB",
    "DE",
    "FR",
    "IN",
    "BR",
    "JP",
    "KR",
    "CA",
    "AU",
    "CN",
    "VN",
    "NG",
    "SG",
)


def _country(rng: np.random.Generator) -> str:
    return HOME[int(rng.integers(len(HOME)))]


# --- legitimate personas -------------------------------------------------------------------


def hobbyists(rng: np.random.Generator, total: int, scale: float, ids: Ids) -> list[Account]:
    sizes = _sizes(rng, total, max(3, total // 40), 1.3)
    prof = Profile(
        {"chat": 0.6, "general": 0.25, "code": 0.1, "math": 0.05},
        mean_turns=2.5,
        thinking=0.05,
        temperature=(None, None, 0.7, 1.0),
        mini_share=0.5,
        endpoints=("chat.completions", "messages"),
    )
    out = []
    for n in sizes:
        tier = "free" if rng.random() < 0.6 else "build"
        out.append(
            _legit_account(
                rng,
                ids,
                persona="hobbyist",
                n=int(n),
                country=_country(rng),
                asn_kind="residential" if rng.random() < 0.8 else "mobile",
                ua=infra.BROWSER_AGENTS + infra.SDK_AGENTS[:4],
                profile=prof,
                timing="human",
                tier=tier,
                verification=str(rng.choice(["email", "phone"], p=[0.7, 0.3])),
                curve=str(rng.choice(["evening", "work"])),
                weekend=1.3,
                age_days=(-30, 700),
            )
        )
    return out


def app_backends(rng: np.random.Generator, total: int, scale: float, ids: Ids) -> list[Account]:
    sizes = _sizes(rng, total, max(2, total // 25_000), 0.8)
    out = []
    for n in sizes:
        prof = Profile(
            {"chat": 0.7, "general": 0.3},
            mean_turns=3.0,
            thinking=0.0,
            max_tokens=(512, 1024),
            temperature=(0.7,),
            mini_share=0.7,
            adopt_lag_days=7,
            adopt_final=0.2,
        )
        out.append(
            _legit_account(
                rng,
                ids,
                persona="app_backend",
                n=int(n),
                country=str(rng.choice(["US", "DE", "GB", "IN"])),
                asn_kind="cloud",
                ua=infra.SDK_AGENTS,
                profile=prof,
                timing="service",
                tier="scale",
                verification="business",
                system=T.pick(rng, T.APP_SYSTEMS),
                domain=f"{T.pick(rng, ('recipebox', 'northwind', 'studybuddy', 'fintrack', 'docupad', 'tripwise'))}.io",
            )
        )
    return out


def enterprise_batch(rng: np.random.Generator, total: int, scale: float, ids: Ids) -> list[Account]:
    sizes = _sizes(rng, total, max(2, total // 60_000), 0.6)
    out = []
    for n in sizes:
        template = T.pick(rng, T.BATCH_TEMPLATES)
        prof = Profile(
            {"chat": 0.4, "general": 0.6},
            wrappers=(template,),
            wrap_prob=1.0,
            max_tokens=(64,) if "label only" in template or "digit only" in template else (400,),
            temperature=(0.0,),
            mini_share=0.9,
            adopt_lag_days=25,
            adopt_final=0.1,
        )
        out.append(
            _legit_account(
                rng,
                ids,
                persona="enterprise_batch",
                n=int(n),
                country=str(rng.choice(["US", "DE", "JP"])),
                asn_kind="cloud",
                ua=("OpenAI/Python 1.54.3", "Go-http-client/2.0"),
                profile=prof,
                timing="cron",
                tier="enterprise",
                verification="business",
                domain=f"{T.pick(rng, ('acme-logistics', 'globex', 'initech', 'umbrella-retail'))}.com",
                hour_from=int(rng.integers(0, 4)),
                hours=int(rng.integers(3, 7)),
                jitter_s=2.0,
            )
        )
    return out


def benchmark_runners(
    rng: np.random.Generator, total: int, scale: float, ids: Ids
) -> list[Account]:
    sizes = _sizes(rng, total, max(2, total // 4_000), 0.7)
    out = []
    for n in sizes:
        math_run = rng.random() < 0.6
        prof = Profile(
            {"gsm8k": 1.0} if math_run else {"humaneval": 1.0},
            wrappers=(T.pick(rng, T.BENCHMARK_COT),) if math_run else (T.pick(rng, T.HUMANEVAL),),
            wrap_prob=1.0,
            max_tokens=(512,) if math_run else (1024,),
            temperature=(0.0,),
            adopt_lag_days=0.1,
            adopt_final=0.5,
            adopt_ramp_days=0.5,
            mini_share=0.3,
            verbose_answers=1.5 if math_run else 1.0,
        )
        lab = T.pick(
            rng,
            ("mit.edu", "stanford.edu", "cam.ac.uk", "tum.de", "tsinghua.edu.cn", "u-tokyo.ac.jp"),
        )
        country = {
            "mit.edu": "US",
            "stanford.edu": "US",
            "cam.ac.uk": "GB",
            "tum.de": "DE",
            "tsinghua.edu.cn": "CN",
            "u-tokyo.ac.jp": "JP",
        }[lab]
        out.append(
            _legit_account(
                rng,
                ids,
                persona="benchmark_runner",
                n=int(n),
                country=country,
                asn_kind="academic" if rng.random() < 0.6 else "cloud",
                ua=("python-httpx/0.27.2", "OpenAI/Python 1.82.0"),
                profile=prof,
                timing="sweep",
                tier="build",
                verification="id",
                program="research",
                domain=lab,
                sweep_size=1319 if math_run else 164,
                spacing_s=(0.3, 2.0),
                forced_days=(RELEASE_DAY + rng.uniform(0.05, 0.6),),
            )
        )
    return out


def coding_agents(rng: np.random.Generator, total: int, scale: float, ids: Ids) -> list[Account]:
    sizes = _sizes(rng, total, max(3, total // 900), 1.0)
    prof = Profile(
        {"code": 0.7, "tool": 0.3},
        mean_turns=25,
        thinking=0.6,
        max_tokens=(8192, 16000, 32000),
        endpoints=("messages", "chat.completions"),
        agent_tools=True,
        adopt_lag_days=0.5,
        adopt_final=0.6,
        adopt_ramp_days=3,
        mini_share=0.1,
    )
    out = []
    for n in sizes:
        out.append(
            _legit_account(
                rng,
                ids,
                persona="coding_agent",
                n=int(n),
                country=_country(rng),
                asn_kind=str(
                    rng.choice(["residential", "corporate", "cloud"], p=[0.6, 0.25, 0.15])
                ),
                ua=infra.AGENT_CLIS,
                profile=prof,
                timing="agent",
                tier=str(rng.choice(["build", "scale"])),
                verification=str(rng.choice(["phone", "id"])),
                system=T.AGENT_SYSTEM,
                curve="work",
                weekend=0.3,
            )
        )
    return out


def licensed_distillers(
    rng: np.random.Generator, total: int, scale: float, ids: Ids
) -> list[Account]:
    sizes = _sizes(rng, total, max(1, total // 200_000), 0.5)
    prof = Profile(
        {"math": 0.3, "code": 0.3, "general": 0.2, "chat": 0.2},
        wrappers=T.REASONING_EN[:3],
        wrap_prob=0.7,
        thinking=0.5,
        max_tokens=(8192, 16000),
        temperature=(1.0,),
        verbose_answers=2.5,
        adopt_lag_days=1,
        adopt_final=0.5,
        adopt_ramp_days=2,
        mini_share=0.0,
    )
    out = []
    for n in sizes:
        acct = _legit_account(
            rng,
            ids,
            persona="licensed_distiller",
            n=int(n),
            country=str(rng.choice(["US", "GB", "FR"])),
            asn_kind="cloud",
            ua=("python-httpx/0.27.2",),
            profile=prof,
            timing="flat",
            tier="enterprise",
            verification="business",
            allowlisted=True,
            system=T.LICENSED_SYSTEM[0],
            domain="synthdata-partners.com",
        )
        out.append(acct)
    return out


def students(rng: np.random.Generator, total: int, scale: float, ids: Ids) -> list[Account]:
    sizes = _sizes(rng, total, max(3, total // 60), 1.0)
    prof = Profile(
        {"math": 0.45, "code": 0.35, "chat": 0.2},
        wrappers=T.STUDENT,
        wrap_prob=0.6,
        mean_turns=3,
        thinking=0.1,
        mini_share=0.6,
        adopt_lag_days=5,
    )
    out = []
    for n in sizes:
        uni = T.pick(
            rng,
            (
                "berkeley.edu",
                "umich.edu",
                "ox.ac.uk",
                "ethz.ch",
                "iitb.ac.in",
                "usp.br",
                "snu.ac.kr",
            ),
        )
        out.append(
            _legit_account(
                rng,
                ids,
                persona="student",
                n=int(n),
                country=_country(rng),
                asn_kind=str(rng.choice(["academic", "residential", "mobile"], p=[0.4, 0.4, 0.2])),
                ua=(*infra.BROWSER_AGENTS, "OpenAI/Python 1.54.3"),
                profile=prof,
                timing="human",
                tier="free",
                verification="email",
                program="education",
                domain=uni,
                curve="evening",
                weekend=1.1,
                age_days=(-20, 400),
            )
        )
    return out


def startup_builders(rng: np.random.Generator, total: int, scale: float, ids: Ids) -> list[Account]:
    sizes = _sizes(rng, total, max(2, total // 500), 1.1)
    prof = Profile(
        {"code": 0.35, "tool": 0.35, "chat": 0.3},
        mean_turns=4,
        thinking=0.3,
        max_tokens=(None, 4096, 8192),
        endpoints=("chat.completions", "messages", "responses"),
        adopt_lag_days=1,
        adopt_final=0.5,
        adopt_ramp_days=4,
    )
    out = []
    for n in sizes:
        out.append(
            _legit_account(
                rng,
                ids,
                persona="startup_builder",
                n=int(n),
                country=_country(rng),
                asn_kind=str(rng.choice(["cloud", "residential"], p=[0.6, 0.4])),
                ua=infra.SDK_AGENTS,
                profile=prof,
                timing="human",
                tier="build",
                verification=str(rng.choice(["phone", "id"])),
                program="startup",
                curve="work",
                weekend=0.6,
                age_days=(10, 300),
            )
        )
    return out


# --- campaigns ---------------------------------------------------------------------------


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
            sizes = np.minimum(
                sizes,
                np.maximum(1, (durations / DAY * style.per_account_daily_cap).astype(np.int64)),
            )
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
                    ip_pool=_ips(rng, asns, int(rng.integers(2, 12))),
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

_PROXY_HEAVY = {"proxy": 0.5, "cloud": 0.3, "residential": 0.2}

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

LEGIT: dict[str, tuple[Callable[[np.random.Generator, int, float, Ids], list[Account]], str]] = {
    "hobbyist": (
        hobbyists,
        "Individuals chatting a few times a week, shallow multi-turn, evenings and weekends.",
    ),
    "app_backend": (
        app_backends,
        "An app serving many end users behind one account: one system prompt, diverse prompts, high volume.",
    ),
    "enterprise_batch": (
        enterprise_batch,
        "A nightly pipeline: one template, huge volume, clockwork timing.",
    ),
    "benchmark_runner": (
        benchmark_runners,
        "Academic GSM8K/HumanEval sweeps with step-by-step prompting, incl. on a new model's release day.",
    ),
    "coding_agent": (
        coding_agents,
        "Developers' coding agents: long tool-use sessions with thinking, working hours.",
    ),
    "licensed_distiller": (
        licensed_distillers,
        "A contracted customer allowed to generate training data (allowlisted).",
    ),
    "student": (
        students,
        "Students in an education program asking homework questions, often 'explain step by step'.",
    ),
    "startup_builder": (
        startup_builders,
        "Startup-program developers prototyping with tools and code.",
    ),
}


def groups() -> dict[str, Group]:
    out: dict[str, Group] = {}
    for name, (build, desc) in LEGIT.items():
        out[name] = Group(name, "legit", None, build, desc)
    for name, (cid, style, prof, mixed, share, desc) in CAMPAIGNS.items():
        out[name] = Group(name, "attack", cid, campaign(name, cid, style, prof, mixed, share), desc)
    return out
