"""When simulated requests happen. Each sampler returns sorted UTC times in microseconds.

Human traffic follows a diurnal curve in the account's own time zone and a weekly cycle;
batch jobs run on a schedule; benchmark runners sweep in bursts; campaigns are flat
(load-balanced around the clock) or synchronised in waves shared by their accounts.
"""

from __future__ import annotations

import numpy as np

US = 1_000_000
DAY = 86_400

# relative activity by local hour (0..23)
WORK_DAY = np.array(
    [1, 1, 1, 1, 1, 2, 4, 8, 14, 18, 19, 18, 15, 17, 19, 18, 15, 11, 8, 6, 5, 4, 2, 1], float
)
EVENING = np.array(
    [4, 2, 1, 1, 1, 1, 2, 3, 4, 5, 6, 7, 8, 8, 8, 9, 10, 12, 15, 18, 20, 19, 14, 8], float
)
SERVICE = np.array(
    [5, 4, 3, 3, 3, 4, 6, 9, 12, 14, 15, 15, 15, 15, 15, 15, 14, 13, 13, 13, 12, 10, 8, 6], float
)
SHIFT = np.array(
    [3, 2, 2, 2, 2, 3, 5, 9, 12, 13, 13, 12, 10, 12, 13, 13, 12, 11, 10, 9, 8, 6, 5, 4], float
)

CURVES = {"work": WORK_DAY, "evening": EVENING, "service": SERVICE, "shift": SHIFT}


def _days(
    rng: np.random.Generator,
    n: int,
    start_day: int,
    end_day: int,
    weekend: float,
    first_weekday: int,
) -> np.ndarray:
    days = np.arange(start_day, max(end_day, start_day + 1))
    weekday = (first_weekday + days) % 7
    w = np.where(weekday >= 5, weekend, 1.0)
    return rng.choice(days, size=n, p=w / w.sum())


def diurnal(
    rng: np.random.Generator,
    n: int,
    *,
    t0: int,
    start_day: int,
    end_day: int,
    tz_hours: float,
    curve: str,
    weekend: float,
    first_weekday: int,
) -> np.ndarray:
    """``n`` independent request times shaped by a local-time curve (seconds → µs)."""
    if n <= 0:
        return np.zeros(0, np.int64)
    day = _days(rng, n, start_day, end_day, weekend, first_weekday)
    p = CURVES[curve] / CURVES[curve].sum()
    hour = rng.choice(24, size=n, p=p)
    local = day * DAY + hour * 3600 + rng.integers(0, 3600, n)
    utc = local - int(tz_hours * 3600)
    # keep the window: a local time that falls outside it in UTC moves by a day
    utc = np.where(utc < start_day * DAY, utc + DAY, utc)
    utc = np.where(utc >= max(end_day, start_day + 1) * DAY, utc - DAY, utc)
    return np.sort((t0 + utc) * US + rng.integers(0, US, n))


def sessions(
    rng: np.random.Generator,
    n: int,
    *,
    mean_turns: float,
    gap_s: tuple[float, float],
    **day_kw: object,
) -> tuple[np.ndarray, np.ndarray]:
    """Times grouped in multi-turn sessions, and each request's turn number (1-based)."""
    if n <= 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    lengths: list[int] = []
    total = 0
    while total < n:
        k = int(min(n - total, 1 + rng.geometric(1.0 / max(mean_turns, 1.0)) - 1 or 1))
        lengths.append(k)
        total += k
    starts = diurnal(rng, len(lengths), **day_kw)  # type: ignore[arg-type]
    times = np.empty(n, np.int64)
    turns = np.empty(n, np.int64)
    pos = 0
    for start, k in zip(starts, lengths, strict=True):
        gaps = rng.uniform(gap_s[0], gap_s[1], k) * US
        gaps[0] = 0
        times[pos : pos + k] = start + np.cumsum(gaps).astype(np.int64)
        turns[pos : pos + k] = np.arange(1, k + 1)
        pos += k
    order = np.argsort(times, kind="stable")
    return times[order], turns[order]


def cron(
    rng: np.random.Generator,
    n: int,
    *,
    t0: int,
    start_day: int,
    end_day: int,
    tz_hours: float,
    hour_from: int,
    hours: int,
    jitter_s: float,
) -> np.ndarray:
    """A nightly job: the same number of requests each day, evenly spaced in a window."""
    if n <= 0:
        return np.zeros(0, np.int64)
    days = max(end_day - start_day, 1)
    per_day = int(np.ceil(n / days))
    step = hours * 3600 / per_day
    out = []
    for d in range(start_day, start_day + days):
        base = t0 + d * DAY + hour_from * 3600 - int(tz_hours * 3600)
        offs = base + np.arange(per_day) * step + rng.normal(0, jitter_s, per_day)
        out.append(offs)
    times = np.concatenate(out)[:n]
    return np.sort((times * US).astype(np.int64))


def sweeps(
    rng: np.random.Generator,
    n: int,
    *,
    t0: int,
    start_day: int,
    end_day: int,
    sweep_size: int,
    spacing_s: tuple[float, float],
    forced_days: tuple[float, ...] = (),
) -> np.ndarray:
    """Benchmark sweeps: bursts of ``sweep_size`` requests at steady spacing."""
    if n <= 0:
        return np.zeros(0, np.int64)
    k = int(np.ceil(n / sweep_size))
    starts = list(forced_days[:k])
    starts += list(rng.uniform(start_day, end_day, k - len(starts)))
    out = []
    for i, s in enumerate(sorted(starts)):
        m = min(sweep_size, n - i * sweep_size)
        gaps = rng.uniform(spacing_s[0], spacing_s[1], m)
        out.append(t0 + s * DAY + np.cumsum(gaps))
    return np.sort((np.concatenate(out) * US).astype(np.int64))


def flat(rng: np.random.Generator, n: int, *, t_from: float, t_to: float) -> np.ndarray:
    """Load-balanced traffic: uniform over the active span, round the clock."""
    if n <= 0:
        return np.zeros(0, np.int64)
    return np.sort((rng.uniform(t_from, max(t_to, t_from + 60), n) * US).astype(np.int64))


def waves(
    rng: np.random.Generator,
    n: int,
    *,
    wave_starts: np.ndarray,
    wave_len_s: float,
    t_from: float,
    t_to: float,
) -> np.ndarray:
    """Synchronised traffic: requests fall inside the campaign's shared waves."""
    if n <= 0:
        return np.zeros(0, np.int64)
    live = wave_starts[(wave_starts >= t_from) & (wave_starts < t_to)]
    if live.size == 0:
        return flat(rng, n, t_from=t_from, t_to=t_to)
    chosen = rng.choice(live, size=n)
    return np.sort(((chosen + rng.uniform(0, wave_len_s, n)) * US).astype(np.int64))
