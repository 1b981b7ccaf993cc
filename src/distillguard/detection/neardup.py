"""Near-duplicate prompts across accounts: MinHash signatures with LSH banding.

A campaign's prompt template is not always a fixed start or end (the ``template`` token
catches those): paraphrasing generators, shuffled instructions and varied fills leave
prompts that are merely *similar*. Here each sampled prompt gets a MinHash signature
(``datasketch``) over word 3-shingles of its normalised text (character 5-grams for short or
unspaced text: Chinese, Japanese); prompts whose signatures agree on a whole LSH band are
near-duplicates, and near-duplicates are joined transitively into groups.

An account holds a ``neardup`` token for a group when the group is a real habit of the
account — at least ``min_share`` of its sampled prompts (and two of them) fall in it — and
the prompts differ: a fixed structure around varying content. A benchmark runner sending
each public question once, or a user pasting the same popular prompt twice, holds none.
Linking then decides, as for every token, whether the accounts sharing it are suspicious.

Pure: takes rows, returns rows. Cost is linear in the number of samples (``scan`` samples
about one prompt in 32 and at most ``per_account`` per account).
"""

from __future__ import annotations

import re
import zlib
from collections import defaultdict
from collections.abc import Sequence

import numpy as np
import pyarrow as pa

NUM_PERM = 64
THRESHOLD = 0.6
"""Estimated Jaccard similarity (of shingle sets) at which two prompts are near-duplicates."""

_DIGITS = re.compile(r"[0-9]+")
_SPACE = re.compile(r"\s+")


def shingles(text: str) -> list[bytes]:
    """Word 3-shingles of the normalised text (lower case, numbers folded, spaces collapsed);
    character 5-grams when the text has fewer than eight words (short or unspaced scripts)."""
    norm = _SPACE.sub(" ", _DIGITS.sub("0", text.lower())).strip()
    words = norm.split(" ")
    if len(words) >= 8:
        grams = {" ".join(words[i : i + 3]) for i in range(len(words) - 2)}
    else:
        grams = {norm[i : i + 5] for i in range(max(len(norm) - 4, 1))}
    return [g.encode("utf-8", "replace") for g in grams if g]


def _crc32(data: bytes) -> int:
    # Fast, deterministic across processes (Python's hash() is salted per process).
    return zlib.crc32(data)


def _band_params(threshold: float, num_perm: int) -> tuple[int, int]:
    from datasketch import MinHashLSH

    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    return int(lsh.b), int(lsh.r)


def signatures(texts: Sequence[str], num_perm: int = NUM_PERM) -> np.ndarray:
    """(len(texts), num_perm) MinHash signatures; the same seed every run (deterministic)."""
    from datasketch import MinHash

    out = np.zeros((len(texts), num_perm), dtype=np.uint64)
    for i, m in enumerate(
        MinHash.generator((shingles(t) for t in texts), num_perm=num_perm, hashfunc=_crc32)
    ):
        out[i] = m.hashvalues
    return out


def groups(
    texts: Sequence[str], *, threshold: float = THRESHOLD, num_perm: int = NUM_PERM
) -> list[int]:
    """Group id per text: texts that share an LSH band with each other, transitively.
    A text with no near-duplicate is its own group. Ids are the index of the group's first text."""
    from distillguard.detection.linking import _DisjointSet

    if not texts:
        return []
    sig = signatures(texts, num_perm)
    bands, rows = _band_params(threshold, num_perm)
    sets = _DisjointSet(range(len(texts)))
    for b in range(bands):
        first: dict[bytes, int] = {}
        block = np.ascontiguousarray(sig[:, b * rows : (b + 1) * rows])
        for i in range(len(texts)):
            key = block[i].tobytes()
            j = first.setdefault(key, i)
            if j != i:
                sets.union(j, i)
    return [sets.find(i) for i in range(len(texts))]


def neardup_tokens(
    samples: pa.Table,
    *,
    min_share: float = 0.25,
    threshold: float = THRESHOLD,
) -> pa.Table:
    """(account_id, kind='neardup', token) from ``samples`` (account_id, text): one token per
    near-duplicate group that is a habit of the account (see the module docstring)."""
    accounts = samples.column("account_id").to_pylist()
    texts = [t or "" for t in samples.column("text").to_pylist()]
    gid = groups(texts, threshold=threshold)
    per_account: dict[str, int] = defaultdict(int)
    in_group: dict[tuple[str, int], set[str]] = defaultdict(set)
    hits: dict[tuple[str, int], int] = defaultdict(int)
    for account, text, g in zip(accounts, texts, gid, strict=True):
        per_account[account] += 1
        hits[(account, g)] += 1
        in_group[(account, g)].add(text)
    rows = sorted(
        (account, f"group:{g}")
        for (account, g), n in hits.items()
        if n >= max(2, min_share * per_account[account]) and len(in_group[(account, g)]) >= 2
    )
    return pa.table(
        {
            "account_id": pa.array([r[0] for r in rows], pa.string()),
            "kind": pa.array(["neardup"] * len(rows), pa.string()),
            "token": pa.array([r[1] for r in rows], pa.string()),
        }
    )
