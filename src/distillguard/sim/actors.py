"""What every simulated account is made of: the window and models, :class:`Profile` (what its
requests look like), :class:`Account` (its row, truth and behaviour), :class:`Group` (a
persona or campaign) and the id and volume helpers. The builders live in ``personas`` and
``campaigns``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from distillguard.sim import infra

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
    composers: dict[str, str] = field(default_factory=dict)
    """Task pool → prompt composer (``sim.adversarial.COMPOSERS``) used instead of ``wrappers``
    when a request is wrapped: a fresh phrasing per request, in the account's languages."""
    sweep_models: tuple[str, ...] = ()
    """Evaluation sweeps: items in pool order, each sent once to every model listed."""
    followups: tuple[str, ...] = ()
    """Later turns of tool-use sessions (tool output or the user's next ask); default: the
    coding agent's tool results."""


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
    languages: tuple[str, ...] = ("en",)  # languages its own prompts are written in
    pool_slice: tuple[int, int] | None = None  # (k, K): sweeps items k, k+K, k+2K… of a pool
    rotate_ips: bool = False  # every request from any address of its pool (proxy rotation)
    tools: str | None = None  # tool definitions (JSON) sent with every request
    custom_model: tuple[str, float] | None = None  # (model id, from epoch s): a fine-tuned model
    evasion: str | None = None  # the campaign's evasion knobs, comma-separated (truth only)


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


def volumes(rng: np.random.Generator, total: int, count: int, sigma: float) -> np.ndarray:
    """Heavy-tailed per-account volumes summing to ``total`` (each at least 1)."""
    count = max(1, min(count, total))
    w = rng.lognormal(0.0, sigma, count)
    sizes = np.floor(w / w.sum() * (total - count)).astype(np.int64) + 1
    sizes[int(np.argmax(w))] += total - int(sizes.sum())
    out: np.ndarray = sizes
    return out


def ips(
    rng: np.random.Generator, asns: tuple[infra.Asn, ...], k: int
) -> tuple[tuple[str, infra.Asn], ...]:
    out = []
    for _ in range(k):
        asn = asns[int(rng.integers(len(asns)))]
        out.append((asn.ip(rng), asn))
    return tuple(out)


def groups() -> dict[str, Group]:
    """Every persona and campaign, by name (both scenario families)."""
    from distillguard.sim.adversarial import ADVERSARIAL_GROUPS
    from distillguard.sim.campaigns import CAMPAIGNS, campaign
    from distillguard.sim.personas import LEGIT

    out: dict[str, Group] = {}
    for name, (build, desc) in LEGIT.items():
        out[name] = Group(name, "legit", None, build, desc)
    for name, (cid, style, prof, mixed, share, desc) in CAMPAIGNS.items():
        out[name] = Group(name, "attack", cid, campaign(name, cid, style, prof, mixed, share), desc)
    out.update(ADVERSARIAL_GROUPS())
    return out
