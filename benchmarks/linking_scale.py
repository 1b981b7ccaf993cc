"""How long ``link`` takes on a synthetic population of accounts, and where the time goes.

    python benchmarks/linking_scale.py [--accounts 1000000] [--seed 7] [--backend auto]

The population is written from how accounts share things, not from the simulator: ordinary
customers on a few thousand networks (a handful of clouds and carriers hold most of them), on
residential /24s that a few neighbours share, behind a few dozen popular SDK clients, some on
popular apps' system prompts and public prompt templates, active in scattered 2-minute
windows; and campaigns (3 % of accounts: one 20,000-account hydra reselling access, the rest
from 2 to 2,000 accounts) whose accounts share payment cards, numbered e-mail stems, their
harness's client fingerprint, templates, proxy subnets and a scheduler's windows. Own risk:
low for customers (2 % above the suspicion threshold), high for most campaign accounts.

Prints the token rows, the linking graph's size, the time of each phase and how many
campaign accounts end up in clusters with other campaign accounts of their own campaign.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import resource
import time

import numpy as np
import pyarrow as pa

from distillguard.detection.linking import link
from distillguard.rules import load_rules


def population(n: int, seed: int) -> tuple[pa.Table, dict[str, float], np.ndarray]:
    """Token rows (account_id, kind, token), own risk, and each account's campaign (-1: none)."""
    rng = np.random.default_rng(seed)
    ids = np.array([f"acct-{i:08d}" for i in range(n)], dtype=object)
    campaign = np.full(n, -1)
    n_attack = int(n * 0.03)
    hydra = min(20_000, n_attack // 2)
    sizes = [hydra]
    left = n_attack - hydra
    while left >= 2:
        size = int(min(left, max(2, rng.pareto(1.2) * 5 + 2), 2_000))
        sizes.append(size)
        left -= size
    attackers = rng.choice(n, size=sum(sizes), replace=False)
    start = 0
    for c, size in enumerate(sizes):
        campaign[attackers[start : start + size]] = c
        start += size
    risk = np.where(campaign >= 0, rng.beta(4, 3, n), rng.beta(1, 30, n))
    rows_a: list[np.ndarray] = []
    rows_k: list[str] = []
    rows_t: list[np.ndarray] = []

    def add(accounts: np.ndarray, kind: str, tokens: np.ndarray) -> None:
        rows_a.append(accounts)
        rows_k.extend([kind] * len(accounts))
        rows_t.append(tokens.astype(str))

    everyone = np.arange(n)
    benign = everyone[campaign < 0]
    # networks: Zipf over 3,000 ASNs; residential /24s shared by a few neighbours
    add(everyone, "asn", np.char.add("as", (rng.zipf(1.3, n) % 3000).astype(str)))
    add(benign, "subnet", np.char.add("net", rng.integers(0, n // 3, len(benign)).astype(str)))
    # clients: 80 % on 30 popular SDKs, the rest on rarer stacks
    popular = rng.random(len(benign)) < 0.8
    fp = np.where(
        popular,
        np.char.add("sdk", (rng.zipf(1.5, len(benign)) % 30).astype(str)),
        np.char.add("custom", rng.integers(0, n // 20, len(benign)).astype(str)),
    )
    add(benign, "client_fp", fp)
    apps = benign[rng.random(len(benign)) < 0.2]
    add(apps, "system_prompt", np.char.add("app", (rng.zipf(1.4, len(apps)) % 2000).astype(str)))
    tmpl = benign[rng.random(len(benign)) < 0.3]
    add(tmpl, "template", np.char.add("pub", (rng.zipf(1.4, len(tmpl)) % 500).astype(str)))
    add(benign, "params", np.char.add("p", (rng.zipf(1.6, len(benign)) % 200).astype(str)))
    windows = 42 * 720  # 2-minute windows in six weeks
    for _ in range(5):
        add(benign, "sync", np.char.add("w", rng.integers(0, windows, len(benign)).astype(str)))
    # campaigns
    for c in range(len(sizes)):
        members = np.flatnonzero(campaign == c)
        k = len(members)
        tag = f"c{c}-"
        add(members, "payment", np.char.add(tag + "card", (np.arange(k) // 8).astype(str)))
        add(members, "email_stem", np.char.add(tag + "stem", (np.arange(k) // 50).astype(str)))
        add(members, "client_fp", np.char.add(tag + "harness", rng.integers(0, 3, k).astype(str)))
        for _ in range(2):
            add(members, "template", np.char.add(tag + "t", rng.integers(0, 12, k).astype(str)))
        pool = max(2, k // 5)
        for _ in range(3):
            add(members, "subnet", np.char.add(tag + "proxy", rng.integers(0, pool, k).astype(str)))
        sched = rng.integers(0, windows, 50)
        for _ in range(5):
            add(members, "sync", np.char.add("w", rng.choice(sched, k).astype(str)))
    table = pa.table(
        {
            "account_id": pa.array(ids[np.concatenate(rows_a)], pa.string()),
            "kind": pa.array(rows_k, pa.string()),
            "token": pa.array(np.concatenate(rows_t), pa.string()),
        }
    )
    return table, dict(zip(ids.tolist(), risk.tolist(), strict=True)), campaign


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--accounts", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--profile", type=int, default=15, help="profile lines to print (0: none)")
    args = ap.parse_args()
    t0 = time.perf_counter()
    tokens, own_risk, campaign = population(args.accounts, args.seed)
    print(f"population: {args.accounts:,} accounts, {tokens.num_rows:,} token rows, "
          f"{int((campaign >= 0).sum()):,} campaign accounts in {int(campaign.max()) + 1} "
          f"campaigns ({time.perf_counter() - t0:.1f} s to generate)")  # fmt: skip
    rules = load_rules()
    profiler = cProfile.Profile()
    t0 = time.perf_counter()
    profiler.enable()
    clusters = link(tokens, own_risk, rules.linking)
    profiler.disable()
    elapsed = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    index = {f"acct-{i:08d}": c for i, c in enumerate(campaign.tolist())}
    clustered = list(clusters.of_account)
    attack_in = sum(index[a] >= 0 for a in clustered)
    print(f"link: {elapsed:.1f} s, peak RSS {peak:,.0f} MiB; {len(clusters.members):,} clusters, "
          f"{len(clustered):,} accounts clustered ({attack_in:,} of them campaign accounts, "
          f"{len(clustered) - attack_in:,} not)")  # fmt: skip
    if args.profile:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(args.profile)


if __name__ == "__main__":
    main()
