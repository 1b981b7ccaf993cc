"""Near-duplicate prompts (MinHash/LSH) and the tokens they give accounts."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from distillguard.detection.linking import link
from distillguard.detection.neardup import groups, neardup_tokens, shingles
from distillguard.rules import load_rules
from distillguard.sim.textpool import load_corpus

SUBJECTS = [
    "a binary heap",
    "Dijkstra's algorithm",
    "a B-tree",
    "quicksort",
    "a trie",
    "an LRU cache",
]
AUDIENCES = ["a new engineer", "a student", "a reviewer", "an interviewer"]


def paraphrased(i: int) -> str:
    """A campaign generator: the same long instruction, a varying task, and a shuffled
    opening, so neither the first nor the last characters are fixed."""
    opening = ["Please", "Kindly", "Now", "Next"][i % 4]
    return (
        f"{opening} consider problem {i}: implement {SUBJECTS[i % 6]} for {AUDIENCES[i % 4]}. "
        "Before the final answer, write out the complete internal reasoning you would follow, "
        "every intermediate step and every rejected alternative, in full detail, then give the "
        f"final code and its complexity. Variant {i * 7}."
    )


def samples(rows: list[tuple[str, str]]) -> pa.Table:
    return pa.table({"account_id": [a for a, _ in rows], "text": [t for _, t in rows]})


def test_paraphrases_group_and_unrelated_prompts_do_not() -> None:
    texts = [paraphrased(i) for i in range(12)] + [
        "How do I get my toddler to sleep through the night?",
        "What are the rules of cricket, explained for an American?",
        "Recommend three podcasts about the history of space exploration.",
    ]
    gid = groups(texts)
    assert len(set(gid[:12])) == 1
    assert len(set(gid[12:])) == 3 and not set(gid[12:]) & set(gid[:12])
    assert groups(texts) == gid  # deterministic
    assert groups([]) == []


def test_public_questions_do_not_chain_into_groups(corpus: Path) -> None:
    pools = load_corpus(corpus, "all")
    texts = [t[:600] for t in list(pools.chat)[:400] + list(pools.math)[:400]]
    gid = groups(texts)
    members: dict[int, list[str]] = {}
    for g, t in zip(gid, texts, strict=True):
        members.setdefault(g, []).append(t)
    grouped = [m for m in members.values() if len(m) > 1]
    # AlpacaEval really holds one template ("I like to host guests ... recipes for <dish>"),
    # and it is found; nothing else groups, and a group never mixes different openings.
    assert sum(map(len, grouped)) <= 0.05 * len(texts)
    assert all(len({t[:40] for t in m}) == 1 for m in grouped)


def test_tokens_need_a_habit_of_varied_prompts() -> None:
    rows = [(f"camp{a}", paraphrased(a * 10 + i)) for a in range(3) for i in range(6)]
    # a benchmark runner: distinct public questions, each once
    rows += [
        ("bench", t)
        for t in (
            "Natalia sold clips to 48 of her friends in April, and then half as many in May.",
            "Weng earns $12 an hour for babysitting. Yesterday she did 50 minutes of babysitting.",
            "Define entropy.",
            "Who wrote Hamlet?",
            "What is a prime?",
        )
    ]
    # a user who sent the very same prompt twice among others
    rows += [("user", "Write a haiku about autumn leaves falling slowly on a pond.")] * 2
    rows += [("user", t) for t in ("What is 2+2?", "Plan a trip to Rome.", "Fix my SQL join.")]
    out = neardup_tokens(samples(rows))
    holders: dict[str, set[str]] = {}
    for a, kind, token in zip(*(out.column(c).to_pylist() for c in out.column_names), strict=True):
        assert kind == "neardup"
        holders.setdefault(token, set()).add(a)
    assert {"camp0", "camp1", "camp2"} in holders.values()
    assert not any("user" in h or "bench" in h for h in holders.values())


def test_neardup_completes_a_membership_but_never_links_alone() -> None:
    """A paraphrasing campaign whose accounts share one harness fingerprint: the fingerprint
    alone is not enough attachment, the near-duplicate prompts complete it. Near-duplicates
    alone (or with timing) link nobody: two campaigns sweeping the same public pool share
    them too (seen at 30M exchanges)."""
    rows = [(f"camp{a}", paraphrased(a * 10 + i)) for a in range(8) for i in range(6)]
    near = neardup_tokens(samples(rows))
    risk = {f"camp{a}": 0.3 for a in range(8)} | {f"user{j}": 0.02 for j in range(200)}
    harness = [(f"camp{a}", "client_fp", "t13d_harness") for a in range(8)]
    harness += [(f"user{j}", "asn", "7922") for j in range(200)]
    rules = load_rules().linking
    assert link(tokens_table(harness), risk, rules).members == {}  # 1.5 < min_attachment
    assert link(near, risk, rules).members == {}
    clusters = link(pa.concat_tables([near, tokens_table(harness)]), risk, rules)
    assert list(clusters.members.values()) == [[f"camp{a}" for a in range(8)]]
    [(cid, _)] = clusters.members.items()
    assert "neardup" in {k for k, _, _ in clusters.tokens[cid]}


def tokens_table(rows: list[tuple[str, str, str]]) -> pa.Table:
    return pa.table(
        {
            "account_id": pa.array([r[0] for r in rows], pa.string()),
            "kind": pa.array([r[1] for r in rows], pa.string()),
            "token": pa.array([r[2] for r in rows], pa.string()),
        }
    )


@pytest.mark.parametrize(
    "text",
    ["", " ", "\x00\x01", "研究推理过程" * 3, "x" * 100_000, "'; DROP TABLE x; --"],
)
def test_hostile_or_odd_texts_are_handled(text: str) -> None:
    assert isinstance(shingles(text), list)
    out = neardup_tokens(samples([("a", text), ("a", text + " 1"), ("b", text)]))
    assert out.column_names == ["account_id", "kind", "token"]


def test_lone_surrogates_do_not_crash_shingling() -> None:
    # Arrow strings cannot hold them, but a caller may pass Python strings directly
    assert shingles("\ud800 broken surrogate text with enough words to shingle it") != []


def test_none_text_is_treated_as_empty() -> None:
    table = pa.table({"account_id": ["a", "a"], "text": pa.array([None, None], pa.string())})
    assert neardup_tokens(table).num_rows == 0
