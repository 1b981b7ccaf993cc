"""Linking accounts into clusters (campaigns) through what they share.

An account is described by tokens: payment methods, email stems, client fingerprints,
prompt templates, system prompts (strong kinds) and 2-minute burst windows, /24 subnets and
ASNs (weak kinds). The steps, in order:

1. A token links only if it is shared (by 2 to ``max_token_accounts`` accounts) and at
   least ``token_suspicion`` of its holders are somewhat suspicious on their own: a cloud
   ASN or a popular SDK's fingerprint is shared by thousands of benign accounts and links
   nobody; a reseller's gateway fingerprint is shared by accounts that each look a little
   wrong. Weight = kind weight, times rarity for weak kinds.
2. Modularity communities on the weighted account–token graph: Leiden (graspologic-native),
   seeded, over the tokens in sorted order, so the same tokens give the same communities.
3. Communities that share a strong token held by most of each one's accounts are merged:
   community detection splits a large, loosely knit hydra; its gateway fingerprint puts it
   back together.
4. An account is a member when the tokens it shares inside its community weigh at least
   ``min_attachment`` and include a strong one: infrastructure alone never links.
5. Each cluster is split into its connected components over strong tokens, so weak kinds
   never bridge two campaigns that rent the same proxy range or work the same hours.
6. A component of 20+ accounts is cut at thin bridges: communities of its strong tokens, then
   the merge rule of step 3 again, so a fingerprint that a few accounts of two campaigns
   share does not fuse them, while a hydra split in communities is put back together.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import graspologic_native
import numpy as np
import pyarrow as pa

from distillguard.rules import Linking

K = TypeVar("K", str, int)


class _DisjointSet(Generic[K]):
    """Union-find with path halving; the smaller element becomes the root (deterministic)."""

    def __init__(self, items: Iterable[K]) -> None:
        self.parent: dict[K, K] = {x: x for x in items}

    def find(self, x: K) -> K:
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: K, b: K) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            lo, hi = sorted((ra, rb))
            self.parent[hi] = lo


IDENTITY_KINDS = frozenset({"payment", "email_stem"})
"""Token kinds that say who an account is, not what it runs: they link even protected accounts."""

MIN_CUT = 20
"""Components smaller than this are not cut: community detection would split a five-account campaign
held together by a few payment methods (seen on 1M-exchange scenarios)."""


@dataclass
class Clusters:
    """Cluster membership and the evidence that links each cluster."""

    of_account: dict[str, str]  # account → cluster_id
    members: dict[str, list[str]]  # cluster_id → accounts
    tokens: dict[str, list[tuple[str, str, int]]] = field(default_factory=dict)
    """cluster_id → (kind, token, accounts sharing it), strongest first."""
    attachment: dict[str, float] = field(default_factory=dict)


Node = tuple[str, ...]
"""A graph node: ``("a", account_id)`` or ``("t", kind, token)``."""


def modularity_communities(
    edges: Iterable[tuple[Node, Node, float]], resolution: float, seed: int = 0
) -> list[set[Node]]:
    """Communities of the weighted graph ``edges`` (node, node, weight) that maximise
    modularity at ``resolution``: Leiden (graspologic-native), seeded, so the same edges in
    the same order give the same communities. Isolated nodes are not in the graph."""
    index: dict[Node, str] = {}
    named: list[tuple[str, str, float]] = []
    for u, v, w in edges:
        named.append(
            (index.setdefault(u, str(len(index))), index.setdefault(v, str(len(index))), w)
        )
    if not named:
        return []
    _, part = graspologic_native.leiden(
        edges=named, resolution=resolution, seed=seed, use_modularity=True
    )
    groups: dict[int, set[Node]] = defaultdict(set)
    for node, name in index.items():
        groups[part[name]].add(node)
    return [groups[c] for c in sorted(groups)]


def token_holders(
    tokens: pa.Table, kinds: frozenset[str], exclude: frozenset[str] = frozenset()
) -> dict[tuple[str, str], set[str]]:
    """(kind, token) → the accounts holding it, for the tokens of ``kinds`` in ``tokens``
    (account_id, kind, token); null tokens and ``exclude``'s accounts left out."""
    holders: dict[tuple[str, str], set[str]] = defaultdict(set)
    # in (kind, token) order, whatever order the engine returned the rows in: every later
    # step, community detection included, iterates the tokens in this order
    ordered = tokens.select(["account_id", "kind", "token"]).sort_by(
        [("kind", "ascending"), ("token", "ascending"), ("account_id", "ascending")]
    )
    for account, kind, token in zip(
        ordered.column("account_id").to_pylist(),
        ordered.column("kind").to_pylist(),
        ordered.column("token").to_pylist(),
        strict=True,
    ):
        if token is not None and kind in kinds and account not in exclude:
            holders[(kind, token)].add(account)
    return holders


def link(
    tokens: pa.Table,
    own_risk: dict[str, float],
    config: Linking,
    *,
    cohorts: dict[tuple[str, str], float] | None = None,
    admit: float = 1.0,
    protected: frozenset[str] = frozenset(),
    exclude: frozenset[str] = frozenset(),
    seed: int = 0,
) -> Clusters:
    """Cluster accounts from ``tokens`` (account_id, kind, token) and their own risk.

    ``cohorts`` holds the (kind, token) pairs whose holders, scored together, passed the
    cohort gate, with the cohort's risk: they link whatever their holders' own risk, and a
    strong kind's cohort at or above ``admit`` weighs ``min_attachment`` (holding it is
    enough to join the cluster: the cohort has already been judged). ``protected`` accounts
    (strong exculpatory context of their own: a verified research account on its
    institution's network, an evaluation harness) are not linked through a cohort's token,
    only through identity kinds (payment, sequential e-mails). ``exclude`` (allowlisted
    accounts) never link: a contract makes their volume legitimate, and their public prompt
    templates must not tie strangers together."""
    gated = cohorts or {}
    rarity_kinds = frozenset(config.rarity_kinds)
    holders = token_holders(tokens, frozenset(config.kinds), exclude)
    population = max(len(set().union(*holders.values())), 2)
    weights: dict[tuple[str, str], float] = {}
    suspicious_accounts = {a for a, r in own_risk.items() if r >= config.suspicious_risk}
    for key, accounts in holders.items():
        df = len(accounts)
        if not 2 <= df <= config.max_token_accounts:
            continue
        suspicious_share = len(accounts & suspicious_accounts) / df
        if suspicious_share < config.token_suspicion and key not in gated:
            continue
        if key[0] not in IDENTITY_KINDS and accounts & protected:
            # guilt by association stops at accounts with verified context of their own
            accounts -= protected
            if len(accounts) < 2:
                continue
        weight = config.kinds[key[0]]
        if weight >= config.merge_min_weight and gated.get(key, 0.0) >= admit:
            weight = max(weight, config.min_attachment)
        elif key[0] in rarity_kinds:  # a big network says little; a small proxy range says much
            weight *= float(
                np.clip(np.log(population / df) / np.log(population / 2), config.min_rarity, 1.0)
            )
        weights[key] = weight
    _keep_rarest_weak_tokens(holders, weights, config)
    communities = modularity_communities(
        ((("a", a), ("t", *key), w) for key, w in weights.items() for a in sorted(holders[key])),
        config.resolution,
        seed,
    )
    tokens_of: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for key in weights:
        for a in sorted(holders[key]):
            tokens_of[a].append(key)

    def counts_in(group: Iterable[str]) -> Counter[tuple[str, str]]:
        """How many accounts of ``group`` hold each linking token (linear in the group)."""
        return Counter(k for a in group for k in tokens_of[a])

    def is_strong(key: tuple[str, str]) -> bool:
        return config.kinds[key[0]] >= config.merge_min_weight

    def suspicious(a: str) -> bool:
        return own_risk.get(a, 0.0) >= config.weak_member_risk

    def candidates(group: list[str]) -> list[str]:
        """Accounts sharing at least one strong token with another account of ``group`` (or,
        for an account suspicious on its own, any token)."""
        counts = counts_in(group)
        return sorted(
            a
            for a in group
            if any(counts[k] >= 2 and (is_strong(k) or suspicious(a)) for k in tokens_of[a])
        )

    raw = [candidates([n[1] for n in c if n[0] == "a"]) for c in communities]
    merged = _merge_on_strong_tokens([r for r in raw if len(r) >= 2], tokens_of, config)
    groups: list[list[str]] = []
    linking_tokens: dict[int, list[tuple[str, str]]] = {}
    attachment: dict[str, float] = {}
    for community in merged:
        counts = counts_in(community)
        members = []
        for a in community:
            mine = [k for k in tokens_of[a] if counts[k] >= 2]
            strength = sum(weights[k] for k in mine)
            attachment[a] = strength
            # infrastructure alone never links an account that looks ordinary on its own
            if strength >= config.min_attachment and (
                any(is_strong(k) for k in mine) or suspicious(a)
            ):
                members.append(a)
        if len(members) >= 2:
            member_counts = counts_in(members)
            linking_tokens[len(groups)] = sorted(k for k, n in member_counts.items() if n >= 2)
            groups.append(members)
    groups, linking_tokens = _split_on_strong_tokens(groups, linking_tokens, holders, config, seed)
    groups, linking_tokens = _remerge(groups, linking_tokens, tokens_of, config)
    if groups:
        groups = _rescue(
            groups,
            tokens_of,
            holders,
            weights,
            {k for k in weights if is_strong(k)},
            {a for a in tokens_of if suspicious(a)},
            config,
        )
        for g, members in enumerate(groups):
            counts = counts_in(members)
            linking_tokens[g] = sorted(k for k, n in counts.items() if n >= 2)
    order = sorted(range(len(groups)), key=lambda g: (-len(groups[g]), groups[g][0]))
    members_by_id: dict[str, list[str]] = {}
    of_account: dict[str, str] = {}
    cluster_tokens: dict[str, list[tuple[str, str, int]]] = {}
    for rank, g in enumerate(order, start=1):
        cid = f"cluster-{rank:04d}"
        members_by_id[cid] = groups[g]
        for a in groups[g]:
            of_account[a] = cid
        inside = set(groups[g])
        shared = [(k, t, len(holders[(k, t)] & inside)) for k, t in linking_tokens[g]]
        cluster_tokens[cid] = sorted(
            (s for s in shared if s[2] >= 2),
            key=lambda s: (-weights[(s[0], s[1])] * s[2], s[0], s[1]),
        )
    return Clusters(of_account, members_by_id, cluster_tokens, attachment)


def _keep_rarest_weak_tokens(
    holders: dict[tuple[str, str], set[str]],
    weights: dict[tuple[str, str], float],
    config: Linking,
) -> None:
    """Each account keeps at most ``max_weak_tokens`` weak linking tokens per kind, the
    rarest (heaviest) first. An account behind a rotating proxy pool holds hundreds of /24
    subnets; counted all, they outweigh everything else and steer the communities towards
    whoever rents the same pool. Modifies ``holders`` and ``weights`` in place."""
    per_account: dict[tuple[str, str], list[tuple[float, str]]] = defaultdict(list)
    for key, w in weights.items():
        if w < config.merge_min_weight:
            for a in holders[key]:
                per_account[(a, key[0])].append((-w, key[1]))
    for (account, kind), held in per_account.items():
        if len(held) > config.max_weak_tokens:
            for _, token in sorted(held)[config.max_weak_tokens :]:
                holders[(kind, token)].discard(account)
    for key in [k for k in weights if len(holders[k]) < 2]:
        del weights[key]


def _remerge(
    groups: list[list[str]],
    tokens: dict[int, list[tuple[str, str]]],
    tokens_of: dict[str, list[tuple[str, str]]],
    config: Linking,
) -> tuple[list[list[str]], dict[int, list[tuple[str, str]]]]:
    """The merge rule once more over the final groups: a piece of a campaign that community
    detection put in another community (one crowded by accounts renting the same proxy pool)
    is split off there and rejoins the campaign whose strong token most of both hold."""
    merged = _merge_on_strong_tokens(groups, tokens_of, config)
    if len(merged) == len(groups):
        return groups, tokens
    out_tokens: dict[int, list[tuple[str, str]]] = {}
    for i, members in enumerate(merged):
        counts = Counter(k for a in members for k in tokens_of[a])
        out_tokens[i] = sorted(k for k, n in counts.items() if n >= 2)
    return merged, out_tokens


def _merge_on_strong_tokens(
    groups: list[list[str]],
    tokens_of: dict[str, list[tuple[str, str]]],
    config: Linking,
) -> list[list[str]]:
    """Merge communities that share a strong token held by most members of each.

    Community detection splits a very large, loosely knit campaign such as a hydra cluster
    into sub-communities; the reseller's gateway fingerprint, held by most accounts of every
    sub-community, puts it back together. Weak kinds (ASN, subnet, sync) never merge."""
    ds: _DisjointSet[int] = _DisjointSet(range(len(groups)))
    first_with: dict[tuple[str, str], int] = {}
    for i, members in enumerate(groups):
        counts = Counter(k for a in members for k in tokens_of[a])
        for key, n in counts.items():
            if (
                config.kinds.get(key[0], 0.0) >= config.merge_min_weight
                and n >= 2
                and n >= config.merge_share * len(members)
            ):
                if key in first_with:
                    ds.union(first_with[key], i)
                else:
                    first_with[key] = i
    merged: dict[int, list[str]] = defaultdict(list)
    for i, g in enumerate(groups):
        merged[ds.find(i)].extend(g)
    return [sorted(merged[r]) for r in sorted(merged)]


def _split_on_strong_tokens(
    groups: list[list[str]],
    tokens: dict[int, list[tuple[str, str]]],
    holders: dict[tuple[str, str], set[str]],
    config: Linking,
    seed: int = 0,
) -> tuple[list[list[str]], dict[int, list[tuple[str, str]]]]:
    """Split each community into its connected components over strong tokens only, then cut
    thin bridges inside each component (:func:`_cut_thin_bridges`).

    Weak kinds (ASN, subnet, synchronised bursts) add weight inside a campaign but must not
    bridge two campaigns that merely rent the same proxy range or work the same hours."""
    out_groups: list[list[str]] = []
    out_tokens: dict[int, list[tuple[str, str]]] = {}
    for i, members in enumerate(groups):
        member_set = set(members)
        ds: _DisjointSet[str] = _DisjointSet(members)
        by_token: dict[tuple[str, str], list[str]] = defaultdict(list)
        for key in tokens[i]:
            if config.kinds.get(key[0], 0.0) >= config.merge_min_weight:
                by_token[key] = sorted(holders[key] & member_set)  # set & walks the smaller set
        for shared in by_token.values():
            for other in shared[1:]:
                ds.union(shared[0], other)
        parts: dict[str, list[str]] = defaultdict(list)
        for a in members:
            parts[ds.find(a)].append(a)
        pieces = [
            piece
            for part in parts.values()
            for piece in _cut_thin_bridges(part, by_token, config, seed)
        ]
        for part in pieces:
            if len(part) >= 2:
                part_set = set(part)
                out_tokens[len(out_groups)] = [
                    k for k in tokens[i] if len(holders[k] & part_set) >= 2
                ]
                out_groups.append(sorted(part))
    return out_groups, out_tokens


def _rescue(
    groups: list[list[str]],
    tokens_of: dict[str, list[tuple[str, str]]],
    holders: dict[tuple[str, str], set[str]],
    weights: dict[tuple[str, str], float],
    strong: set[tuple[str, str]],
    suspicious: set[str],
    config: Linking,
) -> list[list[str]]:
    """Accounts that the community steps left out (community detection put them beside
    accounts of another campaign, or they link by infrastructure alone) join the final group
    they share the most weight with, when it reaches ``min_attachment`` and includes a strong
    token, or the account is suspicious on its own."""
    where = {a: g for g, members in enumerate(groups) for a in members}
    key_groups: dict[tuple[str, str], set[int]] = {}
    for key in weights:
        placed = {where[b] for b in holders[key] if b in where}
        if placed:
            key_groups[key] = placed
    out = [list(m) for m in groups]
    for a in sorted(set(tokens_of) - set(where)):
        shared: dict[int, float] = defaultdict(float)
        via_strong: dict[int, bool] = defaultdict(bool)
        for key in tokens_of[a]:
            for g in key_groups.get(key, ()):
                shared[g] += weights[key]
                via_strong[g] = via_strong[g] or key in strong
        if not shared:
            continue
        best = max(sorted(shared), key=lambda g: shared[g])
        if shared[best] >= config.min_attachment and (via_strong[best] or a in suspicious):
            out[best].append(a)
    return [sorted(m) for m in out]


def _cut_thin_bridges(
    part: list[str],
    by_token: dict[tuple[str, str], list[str]],
    config: Linking,
    seed: int,
) -> list[list[str]]:
    """Two campaigns joined only by a strong token that a few accounts of each hold (two
    agentic accounts running the same open-source harness build as eighteen accounts of
    another campaign, seen at 30M exchanges) are one connected component but two campaigns.
    Communities of the component's strong-token graph separate them; sub-communities are then
    merged back on a strong token held by most members of each, exactly as in the first pass,
    so a large campaign split in communities (a hydra) is put together again."""
    if len(part) < MIN_CUT:
        return [part]
    part_set = set(part)
    edges: list[tuple[Node, Node, float]] = []
    tokens_of: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for key, shared in by_token.items():
        inside = [a for a in shared if a in part_set]
        if len(inside) < 2:
            continue
        for a in inside:
            edges.append((("a", a), ("t", *key), config.kinds[key[0]]))
            tokens_of[a].append(key)
    communities = modularity_communities(edges, config.resolution, seed)
    pieces = [sorted(n[1] for n in c if n[0] == "a") for c in communities]
    return _merge_on_strong_tokens([p for p in pieces if p], tokens_of, config)
