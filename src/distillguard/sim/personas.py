"""Legitimate personas: the heavy and odd users a careless detector would ban."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from distillguard.sim import infra
from distillguard.sim import templates as T
from distillguard.sim.actors import (
    RELEASE_DAY,
    T0,
    WINDOW_DAYS,
    Account,
    Ids,
    Profile,
    ips,
    volumes,
)
from distillguard.sim.timing import DAY


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
        ip_pool=ips(rng, asns, int(rng.integers(1, 6))),
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
    sizes = volumes(rng, total, max(3, total // 40), 1.3)
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
    sizes = volumes(rng, total, max(2, total // 25_000), 0.8)
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
    sizes = volumes(rng, total, max(2, total // 60_000), 0.6)
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
    sizes = volumes(rng, total, max(2, total // 4_000), 0.7)
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
    sizes = volumes(rng, total, max(3, total // 900), 1.0)
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
    sizes = volumes(rng, total, max(1, total // 200_000), 0.5)
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
    sizes = volumes(rng, total, max(3, total // 60), 1.0)
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
    sizes = volumes(rng, total, max(2, total // 500), 1.1)
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
