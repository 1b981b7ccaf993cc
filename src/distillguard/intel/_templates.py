"""Prompt-template signatures that can be shared without sharing prompts.

A campaign's template is what its prompts have in common — the wrapper around varying
content. We take the shingles (as in :mod:`distillguard.detection.neardup`) present in at least
``SKELETON_SHARE`` of a sample of the template's prompts (the *skeleton*), hash them with a
keyed hash (BLAKE2b under the consortium key) and keep the ``K`` smallest values: a bottom-k
MinHash sketch under consortium-secret hashing. A partner holding the key hashes the
shingles of each of its own prompts the same way; a prompt *contains* the template when it
holds at least ``CONTAINMENT`` of the sketch's values. Containment, not similarity: a prompt
that wraps a long pasted file in the campaign's instructions still matches, and a prompt
that merely shares the varying content (one public question the campaign also swept) does
not. Without the key, a signature cannot be tested against guessed text; no prompt text, and
no unkeyed hash of it, leaves the system.

Format: ``bk1:<k>:<hex of big-endian uint64 values, ascending>``.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np

from distillguard.detection.neardup import shingles

TEMPLATE_TEXT = (
    "CASE WHEN length(prompt) <= 1200 THEN prompt "
    "ELSE left(prompt, 600) || ' ' || right(prompt, 600) END"
)
"""SQL for the text a signature covers: a prompt's first and last 600 characters, where
wrappers and instructions sit (the same on both sides of the exchange)."""

PREFIX = "bk1"
K = 64
SKELETON_SHARE = 0.8
MIN_SKELETON = 8
CONTAINMENT = 0.8


def keyed_hashes(grams: Iterable[bytes], key: bytes) -> set[int]:
    derived = hashlib.blake2b(
        b"distillguard/template-sketch", key=key[:64], digest_size=32
    ).digest()
    return {
        int.from_bytes(hashlib.blake2b(g, key=derived, digest_size=8).digest(), "big")
        for g in grams
    }


def skeleton(texts: Sequence[str]) -> set[bytes]:
    """Shingles present in at least ``SKELETON_SHARE`` of ``texts``."""
    counts: Counter[bytes] = Counter()
    for t in texts:
        counts.update(set(shingles(t)))
    need = max(2, int(np.ceil(SKELETON_SHARE * len(texts))))
    return {g for g, n in counts.items() if n >= need}


def signature(texts: Sequence[str], key: bytes) -> str | None:
    """The template signature of a sample of one template's prompts; ``None`` when they share
    too little to be a template."""
    common = skeleton(texts)
    if len(common) < MIN_SKELETON:
        return None
    values = sorted(keyed_hashes(common, key))[:K]
    return f"{PREFIX}:{len(values)}:" + np.array(values, dtype=">u8").tobytes().hex()


def decode(text: str) -> frozenset[int] | None:
    """The values of a signature, or ``None`` if it is not one of ours (or is malformed)."""
    try:
        prefix, n, hexed = text.split(":", 2)
        count = int(n)
        if prefix != PREFIX or not 0 < count <= 4 * K or len(hexed) != count * 16:
            return None
        return frozenset(int(v) for v in np.frombuffer(bytes.fromhex(hexed), dtype=">u8"))
    except ValueError:
        return None


def contains(prompt_hashes: set[int], sketch: frozenset[int]) -> bool:
    return bool(sketch) and len(sketch & prompt_hashes) >= CONTAINMENT * len(sketch)
