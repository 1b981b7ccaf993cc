"""Baselines over sentence embeddings of each account's prompts.

Both read a sample of ``per_account`` prompts per account (a deterministic hash sample,
kept in time order) and embed them once with :class:`~distillguard.evaluate.embed.MiniLM`.

- ``prada``: PRADA (Juuti et al., 2019) per account: for each query, the smallest L2
  distance to the account's earlier queries; an account whose distances fail the
  Shapiro-Wilk normality test (W < ``delta``) is flagged.
- ``mmd``: the MMD traffic-window test against benign reference traffic (the 2026
  "embarrassingly simple" detector): squared MMD (RBF kernel, median-distance bandwidth)
  between an account's window and the reference; the threshold is the (1 - ``fpr``) quantile
  of MMD between random reference windows of the same size, i.e. calibrated to a benign FPR.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from distillguard.detection.engine import Executor
from distillguard.evaluate.embed import MiniLM


def sample_prompts(
    store: Executor, signals: str, per_account: int = 16, min_prompts: int = 4
) -> dict[str, list[str]]:
    """Up to ``per_account`` prompts of each account, in time order (deterministic sample)."""
    rows = store.query(f"""
        SELECT e.account_id, e.ts, e.prompt FROM exchanges e
        WHERE e.request_id IN (SELECT request_id FROM {signals})
        QUALIFY row_number() OVER (PARTITION BY e.account_id ORDER BY dg_fingerprint(e.request_id)) <= {per_account}
        ORDER BY e.account_id, e.ts""").to_pylist()
    out: dict[str, list[str]] = {}
    for r in rows:
        out.setdefault(r["account_id"], []).append(r["prompt"] or "")
    return {a: p for a, p in out.items() if len(p) >= min_prompts}


def embed_samples(
    samples: dict[str, list[str]],
    model: MiniLM,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, np.ndarray]:
    accounts = sorted(samples)
    flat = [p for a in accounts for p in samples[a]]
    total, done = len(set(flat)), 0

    def step(n: int) -> None:
        nonlocal done
        done += n
        if progress:
            progress(done, total)

    vectors = model.encode(flat, progress=step)
    out, pos = {}, 0
    for a in accounts:
        n = len(samples[a])
        out[a] = vectors[pos : pos + n]
        pos += n
    return out


def prada(embedded: dict[str, np.ndarray], *, delta: float = 0.96) -> set[str]:
    from scipy.stats import shapiro

    flagged = set()
    for account, x in embedded.items():
        dists = [float(np.min(np.linalg.norm(x[:i] - x[i], axis=1))) for i in range(1, len(x))]
        if len(dists) >= 3 and np.ptp(dists) > 0 and shapiro(dists).statistic < delta:
            flagged.add(account)
    return flagged


def _mmd2(x: np.ndarray, y: np.ndarray, gamma: float) -> float:
    def k(a: np.ndarray, b: np.ndarray) -> float:
        d = np.maximum((a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T, 0.0)
        return float(np.exp(-gamma * d).mean())

    return k(x, x) + k(y, y) - 2 * k(x, y)


def mmd(
    embedded: dict[str, np.ndarray],
    reference: np.ndarray,
    *,
    fpr: float = 0.003,
    trials: int = 400,
    seed: int = 0,
) -> set[str]:
    rng = np.random.default_rng(seed)
    sample = reference[rng.choice(len(reference), size=min(len(reference), 500), replace=False)]
    d = np.sqrt(
        np.maximum(
            (sample * sample).sum(1)[:, None]
            + (sample * sample).sum(1)[None, :]
            - 2 * sample @ sample.T,
            0,
        )
    )
    gamma = 1.0 / (2 * float(np.median(d[d > 0])) ** 2)
    thresholds: dict[int, float] = {}
    flagged = set()
    for account, x in embedded.items():
        n = len(x)
        if n not in thresholds:
            null = []
            for _ in range(trials):
                idx = rng.choice(len(reference), size=2 * n, replace=len(reference) < 2 * n)
                null.append(_mmd2(reference[idx[:n]], reference[idx[n:]], gamma))
            thresholds[n] = float(np.quantile(null, 1 - fpr))
        if (
            _mmd2(
                x,
                reference[rng.choice(len(reference), size=min(len(reference), 200), replace=False)],
                gamma,
            )
            > thresholds[n]
        ):
            flagged.add(account)
    return flagged


def reference_prompts(corpus: str | None, size: int = 1000) -> Sequence[str]:
    """Benign reference traffic: the public chat prompts when the corpus is at hand, else the
    project's generator (for users without the corpus)."""
    if corpus:
        from distillguard.sim.textpool import load_corpus

        pools = load_corpus(corpus, "all")
        texts = list(pools.chat) + list(pools.general)
    else:
        from distillguard.sim.textpool import generated_pools

        texts = list(generated_pools(0).chat)
    return texts[:size]
