"""The offline MiniLM encoder and the PRADA / MMD baselines built on it."""

from __future__ import annotations

import numpy as np
import pytest

from distillguard.evaluate import embedding_baselines as eb
from distillguard.evaluate.embed import MiniLM

CHAT = [
    "What are some good books about the history of Rome?",
    "How do I get my toddler to sleep?",
    "Can you suggest a vegetarian dinner for six people?",
    "Why is the sky blue?",
    "What should I pack for a week in Iceland?",
    "How do I fix a squeaky door hinge?",
    "Tips for a first job interview at a bank?",
    "Explain how vaccines train the immune system.",
    "What is the difference between a latte and a cappuccino?",
    "How can I improve my handwriting?",
    "Recommend a podcast about space exploration.",
    "What are the rules of cricket?",
]
TEMPLATED = [
    f"Imagine and articulate the internal reasoning behind a completed response to task {i}: "
    f"compute {i} * {i + 7}, and write it out step by step."
    for i in range(12)
]


@pytest.fixture(scope="module")
def model() -> MiniLM:
    return MiniLM()


def test_encoder_gives_unit_vectors_that_capture_meaning(model: MiniLM) -> None:
    v = model.encode(
        [
            "How do I bake sourdough bread?",
            "Give me a sourdough recipe.",
            "The stock market fell today.",
        ]
    )
    assert v.shape == (3, 384) and np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert v[0] @ v[1] > 0.5 > v[0] @ v[2]
    assert np.array_equal(
        model.encode(["Give me a sourdough recipe."]), model.encode(["Give me a sourdough recipe."])
    )
    assert model.encode([]).shape == (0, 384)


def test_encoding_does_not_depend_on_batching_padding_or_duplicates(model: MiniLM) -> None:
    texts = [*CHAT, TEMPLATED[0], "", CHAT[0], "x" * 5000]
    alone = np.stack([model.encode([t])[0] for t in texts])
    seen: list[int] = []
    together = model.encode(texts, batch=4, progress=seen.append)
    assert np.allclose(alone, together, atol=1e-5)
    assert np.array_equal(together[0], together[len(CHAT) + 2])  # the duplicate
    assert sum(seen) == len(set(texts))  # each distinct text embedded once


def test_mmd_flags_a_templated_window_not_a_benign_one(model: MiniLM) -> None:
    reference = model.encode(CHAT * 3)
    embedded = {"templated": model.encode(TEMPLATED[:8]), "benign": model.encode(CHAT[4:12])}
    flagged = eb.mmd(embedded, reference, trials=200)
    assert "templated" in flagged and "benign" not in flagged


def test_prada_runs_on_time_ordered_windows(model: MiniLM) -> None:
    embedded = {"templated": model.encode(TEMPLATED), "benign": model.encode(CHAT)}
    flagged = eb.prada(embedded)
    assert flagged <= {"templated", "benign"}
    assert eb.prada({"short": model.encode(CHAT[:3])}) == set()  # too few distances to test
