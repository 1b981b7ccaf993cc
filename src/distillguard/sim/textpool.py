"""Where simulated prompts, tools and answers come from: the public corpus
(``--corpus DIR``) or the project's own generator.

A corpus *split* keeps tuning and reporting apart: ``tune`` and ``eval`` each take a
deterministic half of every corpus file (by a hash of the record id); ``all`` takes all.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from distillguard.errors import CorpusError
from distillguard.sim import _generated

CORPUS_FILES = ("chat_prompts", "benchmark_prompts", "instruction_pool", "tool_use", "responses")
SPLITS = ("all", "tune", "eval")


@dataclass(frozen=True)
class TextPools:
    """Prompt and answer pools, by use. ``tools`` pairs a request text with its tool JSON."""

    chat: tuple[str, ...]
    math: tuple[str, ...]
    code: tuple[str, ...]
    general: tuple[str, ...]
    gsm8k: tuple[str, ...]
    humaneval: tuple[str, ...]
    tool_requests: tuple[str, ...]
    tool_defs: tuple[str, ...]
    responses: tuple[str, ...]
    source: str
    multilingual: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Language → questions as people write them in it (MGSM, or the generator's)."""
    multilingual_cot: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Language → the same questions as native step-by-step prompts."""

    def __post_init__(self) -> None:
        for name in _POOLS:
            if name != "tool_defs" and not getattr(self, name):  # tool_defs pair tool_requests
                raise CorpusError(
                    f"{self.source}: no {name} prompts after the split; use --split all"
                )


_POOLS = tuple(
    f.name
    for f in fields(TextPools)
    if f.name not in ("source", "multilingual", "multilingual_cot")
)
MULTILINGUAL_FILE = "multilingual_benchmark"
"""Optional corpus file: read when present (older corpora lack it)."""


def _records(path: Path) -> Iterator[dict[str, Any]]:
    try:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except ValueError as exc:
                    raise CorpusError(f"{path}: line {number}: not valid JSON: {exc}") from exc
                if not isinstance(record, dict) or not isinstance(record.get("text"), str):
                    raise CorpusError(
                        f"{path}: line {number}: expected an object with a text field"
                    )
                yield record
    except OSError as exc:
        raise CorpusError(f"{path}: cannot read: {exc}") from exc


def _in_split(record_id: str, split: str) -> bool:
    if split == "all":
        return True
    bit = hashlib.sha256(record_id.encode()).digest()[0] & 1
    return bit == (0 if split == "tune" else 1)


def load_corpus(directory: str | Path, split: str = "all") -> TextPools:
    """Load the public corpus from ``directory`` (see its README)."""
    root = Path(directory)
    if split not in SPLITS:
        raise CorpusError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    missing = [f for f in CORPUS_FILES if not (root / f"{f}.jsonl.gz").is_file()]
    if missing:
        raise CorpusError(
            f"{root}: missing corpus file(s): {', '.join(m + '.jsonl.gz' for m in missing)}"
        )
    pools: dict[str, list[str]] = {k: [] for k in _POOLS}
    for name in CORPUS_FILES:
        for rec in _records(root / f"{name}.jsonl.gz"):
            if not _in_split(str(rec.get("id", rec["text"])), split):
                continue
            text, category = rec["text"], str(rec.get("category", ""))
            if name == "chat_prompts":
                pools["chat"].append(text)
            elif name == "benchmark_prompts":
                (pools["humaneval"] if category == "coding" else pools["gsm8k"]).append(text)
            elif name == "instruction_pool":
                if category == "math":
                    pools["math"].append(text)
                elif category == "coding":
                    pools["code"].append(text)
                else:
                    pools["general"].append(text)
            elif name == "tool_use":
                tools = rec.get("tools")
                if isinstance(tools, list) and tools:
                    pools["tool_requests"].append(text)
                    pools["tool_defs"].append(json.dumps(tools, ensure_ascii=False))
            else:
                pools["responses"].append(text)
    questions: dict[str, list[str]] = {}
    cot: dict[str, list[str]] = {}
    extra = root / f"{MULTILINGUAL_FILE}.jsonl.gz"
    if extra.is_file():
        for rec in _records(extra):
            lang = rec.get("lang")
            if not isinstance(lang, str) or not _in_split(str(rec.get("id", rec["text"])), split):
                continue
            questions.setdefault(lang, []).append(rec["text"])
            if isinstance(rec.get("cot_prompt"), str):
                cot.setdefault(lang, []).append(rec["cot_prompt"])
    return TextPools(
        **{k: tuple(v) for k, v in pools.items()},
        source=str(root),
        multilingual={k: tuple(v) for k, v in questions.items()},
        multilingual_cot={k: tuple(v) for k, v in cot.items()},
    )


def generated_pools(seed: int, size: int = 1500) -> TextPools:
    """Pools from the project's own generator (no corpus needed)."""
    rng = np.random.default_rng([seed, 0x5EED])
    tool_pairs = [_generated.tool_request(rng) for _ in range(size // 2)]
    return TextPools(
        chat=tuple(_generated.chat_prompt(rng) for _ in range(size)),
        math=tuple(_generated.math_problem(rng) for _ in range(size)),
        code=tuple(_generated.code_task(rng) for _ in range(size)),
        general=tuple(_generated.general_instruction(rng) for _ in range(size)),
        gsm8k=tuple(_generated.math_problem(rng) for _ in range(size // 2)),
        humaneval=tuple(_generated.function_stub(rng) for _ in range(160)),
        tool_requests=tuple(t for t, _ in tool_pairs),
        tool_defs=tuple(d for _, d in tool_pairs),
        responses=tuple(_generated.answer(rng) for _ in range(size)),
        source="generator",
    )
