"""Hard negatives: legitimate customers whose traffic shares a surface with harvesting.

Each builder has the signature of every persona builder: ``(rng, total, scale, ids) →
accounts``, ``total`` being the exchanges the persona must produce in all.
"""

from __future__ import annotations

import numpy as np

from distillguard.sim import infra
from distillguard.sim.actors import (
    MODELS,
    NEW_MODEL,
    RELEASE_DAY,
    T0,
    WINDOW_DAYS,
    Account,
    Ids,
    Profile,
    ips,
    volumes,
)
from distillguard.sim.adversarial import benign_text as B
from distillguard.sim.personas import _legit_account
from distillguard.sim.timing import DAY

# language → the countries its speakers write from (traffic and billing)
LANG_COUNTRIES: dict[str, tuple[str, ...]] = {
    "zh": ("CN", "SG", "HK"),
    "ja": ("JP",),
    "ko": ("KR",),
    "ru": ("RU",),
    "es": ("ES", "MX"),
    "fr": ("FR",),
    "de": ("DE",),
    "pt": ("BR",),
    "it": ("IT",),
    "tr": ("TR",),
    "ar": ("SA", "EG"),
    "vi": ("VN",),
    "id": ("ID",),
    "hi": ("IN",),
    "bn": ("BD",),
    "sw": ("KE",),
    "te": ("IN",),
    "th": ("TH",),
    "en": ("US", "GB", "AU", "NG", "IN"),
}


def _lang_and_country(rng: np.random.Generator, languages: tuple[str, ...]) -> tuple[str, str]:
    lang = str(languages[int(rng.integers(len(languages)))])
    countries = LANG_COUNTRIES.get(lang, ("US",))
    return lang, countries[int(rng.integers(len(countries)))]


def native_stepwise(rng: np.random.Generator, total: int, scale: float, ids: Ids) -> list[Account]:
    """People and students writing in their own language and asking for worked solutions the
    way their schools phrase it (MGSM's native step-by-step prompts among them)."""
    languages = tuple(lang for lang in LANG_COUNTRIES if lang != "en")
    out = []
    for n in volumes(rng, total, max(3, total // 120), 1.1):
        lang, country = _lang_and_country(rng, languages)
        student = rng.random() < 0.4
        prof = Profile(
            {"mgsm_cot": 0.3, "mgsm": 0.3, "native": 0.4},
            composers={"mgsm": "stepwise", "native": "stepwise"},
            wrap_prob=0.5,
            mean_turns=2.0,
            thinking=0.05,
            temperature=(None, 0.7),
            mini_share=0.6,
            endpoints=("chat.completions", "messages"),
        )
        acct = _legit_account(
            rng,
            ids,
            persona="native_stepwise",
            n=int(n),
            country=country,
            asn_kind=str(rng.choice(["residential", "mobile", "academic"], p=[0.6, 0.3, 0.1])),
            ua=infra.BROWSER_AGENTS + infra.SDK_AGENTS[:2],
            profile=prof,
            timing="human",
            tier="free" if student or rng.random() < 0.5 else "build",
            verification=str(rng.choice(["email", "phone"])),
            program="education" if student else "none",
            curve="evening",
            weekend=1.2,
            age_days=(-20, 600),
        )
        acct.languages = (lang,) if rng.random() < 0.8 else (lang, "en")
        out.append(acct)
    return out


def campus_class(rng: np.random.Generator, total: int, scale: float, ids: Ids) -> list[Account]:
    """Classes of students on one campus network: the same homework sets, one e-mail domain,
    accounts opened together at the start of term, evenings before each deadline."""
    out: list[Account] = []
    classes = max(1, total // 9_000)
    campuses = (
        ("US", "en", "uni-boulder.edu"),
        ("DE", "de", "tu-example.de"),
        ("FR", "fr", "univ-exemple.fr"),
        ("JP", "ja", "example-u.ac.jp"),
        ("BR", "pt", "usp-exemplo.br"),
        ("ES", "es", "ucm-ejemplo.es"),
        ("KR", "ko", "snu-example.ac.kr"),
        ("IT", "it", "unimi-esempio.it"),
    )
    for c, budget in enumerate(volumes(rng, total, classes, 0.3)):
        country, lang, domain = campuses[(c + int(rng.integers(len(campuses)))) % len(campuses)]
        campus = infra.asn_in(rng, "academic", country)
        size = int(np.clip(budget // 120, 12, 90))
        term_start = T0 - rng.uniform(5, 40) * DAY
        homework = int(rng.integers(1 << 30))  # the course's shared set of exercises
        for n in volumes(rng, int(budget), size, 0.6):
            prof = Profile(
                {"math": 0.5, "code": 0.3, "mgsm": 0.2},
                composers={"math": "stepwise", "mgsm": "stepwise", "code": "stepwise"},
                wrap_prob=0.6,
                mean_turns=3.0,
                thinking=0.05,
                mini_share=0.7,
                adopt_lag_days=6,
            )
            acct = _legit_account(
                rng,
                ids,
                persona="campus_class",
                n=int(n),
                country=country,
                asn_kind="academic",
                ua=infra.BROWSER_AGENTS,
                profile=prof,
                timing="human",
                tier="free",
                verification="email",
                program="education",
                domain=domain,
                curve="evening",
                weekend=1.3,
            )
            acct.created_at = term_start + rng.uniform(0, 0.5) * DAY
            acct.asns = (campus,)
            acct.ip_pool = ips(rng, (campus,), int(rng.integers(1, 4)))
            acct.languages = (lang,)
            # the class works through the same 40 exercises: slice 0 of 40 parts, all students
            acct.pool_slice = (homework % 40, 40)
            out.append(acct)
    return out


def judge_labs(rng: np.random.Generator, total: int, scale: float, ids: Ids) -> list[Account]:
    """Evaluation labs grading other models' answers with MT-Bench, Arena-Hard and AlpacaEval
    judge prompts: verified research accounts on their university's network."""
    out = []
    labs = (
        ("US", "cs.example-university.edu"),
        ("GB", "eng.example.ac.uk"),
        ("DE", "informatik.example-uni.de"),
        ("CN", "example-university.edu.cn"),
        ("JP", "example.ac.jp"),
        ("KR", "example.ac.kr"),
    )
    for n in volumes(rng, total, max(2, total // 6_000), 0.6):
        country, domain = labs[int(rng.integers(len(labs)))]
        pairwise = rng.random() < 0.6
        prof = Profile(
            {"chat": 1.0},
            wrappers=(B.JUDGE_PAIR, B.ARENA_PAIR, B.LEADERBOARD) if pairwise else (B.JUDGE_SINGLE,),
            wrap_prob=1.0,
            max_tokens=(1024, 2048),
            temperature=(0.0,),
            mini_share=0.0,
            adopt_lag_days=0.2,
            adopt_final=0.6,
            adopt_ramp_days=0.5,
        )
        acct = _legit_account(
            rng,
            ids,
            persona="judge_lab",
            n=int(n),
            country=country,
            asn_kind="academic",
            ua=("OpenAI/Python 1.82.0", "python-httpx/0.27.2", "anthropic-python/0.49.0"),
            profile=prof,
            timing="sweep",
            tier="build",
            verification="id",
            program="research",
            domain=domain,
            system=B.JUDGE_PAIR_SYSTEM if pairwise else "You are a helpful assistant.",
            sweep_size=int(rng.choice([80, 500, 805])),
            spacing_s=(0.5, 4.0),
            forced_days=(RELEASE_DAY + rng.uniform(0.1, 1.5),),
        )
        out.append(acct)
    return out


def release_evals(rng: np.random.Generator, total: int, scale: float, ids: Ids) -> list[Account]:
    """Evaluation harnesses (an independent benchmarking company, a lab's eval team) sweeping
    public benchmarks on release day: temperature 0, answer-extraction formats, every item sent
    to the new model and to the ones it is compared with."""
    out = []
    for n in volumes(rng, total, max(2, total // 8_000), 0.5):
        math_run = rng.random() < 0.6
        prof = Profile(
            {"gsm8k": 0.6, "mgsm_cot": 0.4} if math_run else {"humaneval": 1.0},
            wrappers=B.HARNESS_FORMATS[:4] if math_run else B.HARNESS_FORMATS[4:],
            wrap_prob=0.9,
            max_tokens=(1024, 2048),
            temperature=(0.0,),
            sweep_models=(NEW_MODEL, MODELS[0], MODELS[1]),
            verbose_answers=1.2,
        )
        acct = _legit_account(
            rng,
            ids,
            persona="release_eval",
            n=int(n),
            country=str(rng.choice(["US", "GB", "DE"])),
            asn_kind="cloud",
            ua=("python-httpx/0.27.2", "OpenAI/Python 1.82.0", "aiohttp/3.10.10"),
            profile=prof,
            timing="sweep",
            tier="scale",
            verification="business",
            domain=str(rng.choice(["evalbench-labs.com", "modelscore.ai", "benchmarkhub.io"])),
            sweep_size=int(rng.choice([250, 1319, 164])),
            spacing_s=(0.05, 0.6),
            forced_days=(RELEASE_DAY + rng.uniform(0.02, 0.4), RELEASE_DAY + rng.uniform(0.5, 1)),
        )
        acct.languages = ("de", "fr", "es", "zh", "ja", "ru", "th", "sw", "bn", "te", "en")
        out.append(acct)
    return out


def agent_product_users(
    rng: np.random.Generator, total: int, scale: float, ids: Ids
) -> list[Account]:
    """Users of one newly launched agent product who bring their own key: the product's system
    prompt, tools and client stack on every account, most accounts opened in the weeks since
    launch."""
    launch = T0 + 3 * DAY
    product_ua = "patchwright/1.4.2 (electron 31; node 20)"
    out = []
    for n in volumes(rng, total, max(4, total // 400), 1.0):
        prof = Profile(
            {"code": 0.6, "tool": 0.4},
            mean_turns=12,
            thinking=0.5,
            max_tokens=(8192, 16000),
            endpoints=("messages",),
            agent_tools=True,
            followups=B.PRODUCT_TURNS,
            adopt_lag_days=1,
            adopt_final=0.5,
            adopt_ramp_days=3,
            mini_share=0.1,
        )
        acct = _legit_account(
            rng,
            ids,
            persona="agent_product_user",
            n=int(n),
            country=str(rng.choice(["US", "GB", "DE", "FR", "IN", "BR", "JP", "PL", "CA"])),
            asn_kind=str(rng.choice(["residential", "corporate", "mobile"], p=[0.6, 0.3, 0.1])),
            ua=(product_ua,),
            profile=prof,
            timing="agent",
            tier="build",
            verification=str(rng.choice(["email", "phone"])),
            system=B.PRODUCT_SYSTEM,
            curve="work",
            weekend=0.4,
        )
        acct.created_at = launch + rng.uniform(-2, 30) * DAY
        acct.t_from = max(acct.created_at + rng.uniform(0.01, 1) * DAY, T0)
        acct.tools = B.PRODUCT_TOOLS
        out.append(acct)
    return out


def finetune_customers(
    rng: np.random.Generator, total: int, scale: float, ids: Ids
) -> list[Account]:
    """App backends that move their traffic to their own fine-tuned model id mid-window."""
    out = []
    for n in volumes(rng, total, max(2, total // 15_000), 0.7):
        prof = Profile(
            {"chat": 0.6, "general": 0.4},
            mean_turns=2.5,
            max_tokens=(512, 1024),
            temperature=(0.3, 0.7),
            mini_share=0.8,
            adopt_lag_days=30,
            adopt_final=0.05,
        )
        company = str(rng.choice(["helpdeskly", "shopmate", "legalbrief", "medinote", "tutorly"]))
        acct = _legit_account(
            rng,
            ids,
            persona="finetune_customer",
            n=int(n),
            country=str(rng.choice(["US", "DE", "GB", "JP"])),
            asn_kind="cloud",
            ua=infra.SDK_AGENTS[:3],
            profile=prof,
            timing="service",
            tier="scale",
            verification="business",
            system=f"You are the {company} assistant. Answer in the customer's language.",
            domain=f"{company}.com",
        )
        switch = T0 + rng.uniform(5, WINDOW_DAYS - 5) * DAY
        base = str(rng.choice([MODELS[1], MODELS[0]]))
        tag = "".join(f"{int(b):02x}" for b in rng.integers(0, 256, 4))
        acct.custom_model = (
            f"ft:{base}:{company}:support-v{int(rng.integers(1, 9))}:{tag}",
            switch,
        )
        out.append(acct)
    return out


def org_fleets(rng: np.random.Generator, total: int, scale: float, ids: Ids) -> list[Account]:
    """Companies whose teams hold many accounts on one corporate card: one org id, one e-mail
    domain, one office network, ordinary mixed work in office hours."""
    out: list[Account] = []
    orgs = max(1, total // 20_000)
    for o, budget in enumerate(volumes(rng, total, orgs, 0.4)):
        country = str(rng.choice(["US", "DE", "GB", "JP", "FR", "IN"]))
        domain = (
            f"{rng.choice(['northwind', 'contoso', 'fabrikam', 'tailspin', 'wingtip'])}-{o}.com"
        )
        org_id = ids.new("org_")
        card = infra.payment_fp(rng)
        office = infra.asn_in(rng, "corporate", country)
        stack = str(rng.choice(infra.SDK_AGENTS[:4]))
        size = int(np.clip(budget // 1500, 6, 40))
        for n in volumes(rng, int(budget), size, 0.8):
            prof = Profile(
                {"code": 0.4, "chat": 0.3, "general": 0.2, "tool": 0.1},
                mean_turns=3.0,
                thinking=0.2,
                max_tokens=(None, 4096),
                mini_share=0.4,
                endpoints=("chat.completions", "messages"),
            )
            acct = _legit_account(
                rng,
                ids,
                persona="org_fleet",
                n=int(n),
                country=country,
                asn_kind="corporate",
                ua=(stack,),
                profile=prof,
                timing="human",
                tier="scale",
                verification=str(rng.choice(["business", "email"], p=[0.3, 0.7])),
                domain=domain,
                org=org_id,
                curve="work",
                weekend=0.2,
            )
            acct.payment_fp = card
            acct.asns = (office,)
            acct.ip_pool = ips(rng, (office,), int(rng.integers(1, 4)))
            out.append(acct)
    return out


HARD_NEGATIVES = {
    "native_stepwise": (
        native_stepwise,
        "Non-English users and students asking for worked solutions in their own words and MGSM's native step-by-step prompts.",
    ),
    "campus_class": (
        campus_class,
        "Classes of students on one campus network: the same homework, one domain, accounts opened together.",
    ),
    "judge_lab": (
        judge_labs,
        "Research labs grading other models' answers with the public MT-Bench/Arena-Hard/AlpacaEval judge prompts.",
    ),
    "release_eval": (
        release_evals,
        "Evaluation harnesses sweeping benchmarks on release day, every item to several models, temperature 0.",
    ),
    "agent_product_user": (
        agent_product_users,
        "Users of one new agent product (bring-your-own-key): one system prompt, tool set and client on young accounts.",
    ),
    "finetune_customer": (
        finetune_customers,
        "App backends moving their traffic to their own fine-tuned model id mid-window.",
    ),
    "org_fleet": (
        org_fleets,
        "Companies with many team accounts on one corporate card, one domain, one office network.",
    ),
}
