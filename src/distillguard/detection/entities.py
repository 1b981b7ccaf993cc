"""Groups of accounts scored as one entity: their rows summed into one.

A cohort (accounts sharing an artefact) and a cluster (a linked campaign) are judged on their
members' traffic taken together, so that accounts too light to say anything alone say it
together. Account features are counts (:data:`.features.COUNTS`), so a group's
row is the sum of its members' rows, with shares and ratios recomputed from the sums, the
members' hour-of-day entropy averaged, and identity facts averaged (or, for shared payment,
the largest).

``member_exchanges`` bounds what one member can contribute: each member's counts are scaled
down to at most that many exchanges (its shares unchanged), so that a group's verdict is about
its typical member and not about its heaviest ones. Without it, a few campaign accounts would
colour every popular token they hold, and a legitimate holder of that token would be judged
by them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pyarrow as pa

from distillguard.detection.evidence import column
from distillguard.detection.features import COUNTS, HOURS, SHARES

RHYTHM_EXCHANGES = 300
"""A member's hour-of-day entropy weighs by its exchanges up to this many."""

MEAN_OF_MEMBERS = (
    "weak_verification",
    "email_pattern",
    "billing_mismatch",
    "established_business",
)
"""Identity facts of a group: the share of its members that have them."""


def hour_entropy(hours: np.ndarray) -> np.ndarray:
    """Normalised entropy of each row's 24 hour-of-day counts: 0 = one hour, 1 = round the clock."""
    total = hours.sum(axis=1, keepdims=True)
    p = np.divide(hours, total, out=np.zeros_like(hours, dtype=float), where=total > 0)
    logs = np.log(p, out=np.zeros_like(p), where=p > 0)
    out: np.ndarray = -(p * logs).sum(axis=1) / np.log(24)
    return out


def with_derived(table: pa.Table) -> pa.Table:
    """Add ``hour_entropy`` (from the hour counts) to an account table."""
    hours = np.column_stack([column(table, h) for h in HOURS])
    values = pa.array(hour_entropy(hours), pa.float64())
    if "hour_entropy" in table.column_names:
        return table.set_column(table.column_names.index("hour_entropy"), "hour_entropy", values)
    return table.append_column("hour_entropy", values)


TYPICAL = (
    *SHARES,
    "pathway_share",
    "output_input_ratio",
    "release_share",
    "multi_model_share",
    "hour_entropy",
    "volume_per_day",
    "shared_payment",
    *MEAN_OF_MEMBERS,
)
"""The columns a ``typical`` group takes from its median member."""


def aggregate(
    attrs: pa.Table,
    groups: Mapping[str, Sequence[str]],
    *,
    member_exchanges: float | None = None,
    with_days: bool = True,
    typical: bool = False,
) -> pa.Table:
    """One row per group of ``groups`` (group id → member account ids), with the group id as
    ``account_id``: counts summed (each member's scaled to at most ``member_exchanges``),
    shares, ratios and entropy recomputed, identity averaged. ``with_days`` counts the
    distinct active days of the group (else: its most active member's). ``typical`` takes the
    shares, ratios, rates and identity facts of the group's *median member* instead (weighted
    by its exchanges up to ``member_exchanges``), keeping the pooled trials behind them: a
    group judged by what most of its members do, so that a minority of campaign accounts
    cannot colour a token thousands of customers hold. Members missing from ``attrs`` are
    ignored; a group with none is left out."""
    index = {a: i for i, a in enumerate(attrs.column("account_id").to_pylist())}
    ids: list[str] = []
    members: list[np.ndarray] = []
    for gid, accounts in groups.items():
        rows = np.unique(np.fromiter((index[a] for a in accounts if a in index), np.int64))
        if rows.size:
            ids.append(gid)
            members.append(rows)
    if not ids:
        return pa.table({"account_id": pa.array([], pa.string())})
    flat = np.concatenate(members)
    sizes = np.array([len(m) for m in members], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    exchanges = column(attrs, "exchanges")
    scale = (
        np.ones_like(exchanges)
        if member_exchanges is None
        else np.minimum(1.0, member_exchanges / np.maximum(exchanges, 1.0))
    )

    def total(name: str, scaled: bool = True) -> np.ndarray:
        values = column(attrs, name) * (scale if scaled else 1.0)
        out: np.ndarray = np.add.reduceat(values[flat], starts)
        return out

    out: dict[str, object] = {"account_id": ids, "accounts": sizes}
    sums = {name: total(name) for name in COUNTS if name in attrs.column_names}
    out.update(sums)
    out["exchanges_total"] = total("exchanges", scaled=False)
    n = np.maximum(sums["exchanges"], 1e-9)
    for share, count in SHARES.items():
        if count in sums:
            out[share] = sums[count] / n
    if "pathway_n" in attrs.column_names:
        out["pathway_n"] = total("pathway_n")
        out["pathway_share"] = out["pathway_n"] / n
    out["output_input_ratio"] = sums["output_tokens"] / np.maximum(sums["input_tokens"], 1)
    out["release_share"] = sums["release_n"] / np.maximum(sums["release_window_n"], 1e-9)
    out["multi_model_share"] = sums["multi_model_items"] / np.maximum(sums["items"], 1e-9)
    # each member's own rhythm, not the pooled histogram's: people in many time zones pooled
    # look round the clock, a fleet of scripts is round the clock member by member
    rhythm_weight = np.minimum(exchanges, RHYTHM_EXCHANGES)
    weight_sum = np.maximum(np.add.reduceat(rhythm_weight[flat], starts), 1e-9)
    out["hour_entropy"] = (
        np.add.reduceat((column(attrs, "hour_entropy") * rhythm_weight)[flat], starts) / weight_sum
    )
    out["rhythm_alignment"] = _alignment(attrs, flat, starts, rhythm_weight, weight_sum)
    for name in MEAN_OF_MEMBERS:
        if name in attrs.column_names:
            out[name] = np.add.reduceat(column(attrs, name)[flat], starts) / sizes
    out["shared_payment"] = np.maximum.reduceat(column(attrs, "shared_payment")[flat], starts)
    out["first_seen"] = _reduce_time(attrs, "first_seen", flat, starts, np.minimum)
    out["last_seen"] = _reduce_time(attrs, "last_seen", flat, starts, np.maximum)
    if with_days and "days" in attrs.column_names:
        days = attrs.column("days").to_pylist()
        active = np.array(
            [max(len({d for r in rows for d in (days[r] or [])}), 1) for rows in members],
            dtype=np.int64,
        )
    else:
        active = np.maximum.reduceat(column(attrs, "active_days")[flat], starts).astype(np.int64)
    out["active_days"] = np.maximum(active, 1)
    out["volume_per_day"] = out["exchanges_total"] / out["active_days"]  # type: ignore[operator]
    if typical:
        weight = exchanges * scale
        for name in TYPICAL:
            if name in attrs.column_names:
                out[name] = _weighted_median(column(attrs, name)[flat], weight[flat], starts, sizes)
    return pa.table(out)


def _weighted_median(
    values: np.ndarray, weights: np.ndarray, starts: np.ndarray, sizes: np.ndarray
) -> np.ndarray:
    """Per group (consecutive blocks of ``sizes``), the lowest value at which the group's
    cumulative weight reaches half its total."""
    group = np.repeat(np.arange(len(sizes)), sizes)
    order = np.lexsort((values, group))
    v, w = values[order], np.maximum(weights[order], 1e-12)
    cum = np.cumsum(w)
    before = np.repeat(np.concatenate([[0.0], cum[np.cumsum(sizes)[:-1] - 1]]), sizes)
    within = cum - before
    half = np.repeat(np.add.reduceat(w, starts) / 2, sizes)
    index = np.where(within >= half - 1e-9, np.arange(len(v)), len(v))
    first: np.ndarray = v[np.minimum.reduceat(index, starts)]
    return first


def _alignment(
    attrs: pa.Table,
    flat: np.ndarray,
    starts: np.ndarray,
    weight: np.ndarray,
    weight_sum: np.ndarray,
) -> np.ndarray:
    """How alike the members' hour-of-day profiles are: 1 − the weighted mean Jensen-Shannon
    divergence (in bits) between each member's profile and the group's mean profile. Accounts
    driven by one scheduler share a rhythm whatever countries they claim; the users of one
    product in many time zones do not."""
    hours = np.column_stack([column(attrs, h) for h in HOURS])[flat]
    totals = hours.sum(axis=1, keepdims=True)
    p = np.divide(hours, totals, out=np.zeros_like(hours), where=totals > 0)
    w = weight[flat]
    sizes = np.diff(np.append(starts, len(flat)))
    mean = np.add.reduceat(p * w[:, None], starts, axis=0) / weight_sum[:, None]
    m = (p + np.repeat(mean, sizes, axis=0)) / 2
    q = np.repeat(mean, sizes, axis=0)

    def kl(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        ratio = np.divide(a, b, out=np.ones_like(a), where=(a > 0) & (b > 0))
        out: np.ndarray = (a * np.log2(ratio)).sum(axis=1)
        return out

    js = 0.5 * kl(p, m) + 0.5 * kl(q, m)
    out: np.ndarray = 1.0 - np.add.reduceat(js * w, starts) / weight_sum
    return out


def _reduce_time(
    attrs: pa.Table, name: str, flat: np.ndarray, starts: np.ndarray, op: np.ufunc
) -> pa.Array:
    kind = attrs.schema.field(name).type
    values = attrs.column(name).cast(pa.int64()).fill_null(0).to_numpy()
    return pa.array(op.reduceat(values[flat], starts), pa.int64()).cast(kind)
