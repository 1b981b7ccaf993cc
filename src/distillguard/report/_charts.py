"""Report charts as PNG files (matplotlib, Agg backend: no display needed), sized and
coloured to read in print: daily exchanges with model releases marked, account creations,
capability mix, and the cluster's account graph."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

INK, ACCENT, MUTED = "#1f2933", "#c0392b", "#7b8794"
KIND_COLOURS = {
    "payment": "#c0392b",
    "email_stem": "#d35400",
    "client_fp": "#2c7fb8",
    "template": "#41ab5d",
    "neardup": "#74c476",
    "system_prompt": "#807dba",
    "sync": "#969696",
    "signup": "#bdbdbd",
    "subnet": "#fdae6b",
    "asn": "#fdd0a2",
}


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update(
        {
            "font.size": 9,
            "axes.edgecolor": MUTED,
            "axes.labelcolor": INK,
            "xtick.color": INK,
            "ytick.color": INK,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "svg.hashsalt": "distillguard",
        }
    )
    return plt


def _save(fig: Any, path: Path) -> str:
    fig.tight_layout()
    fig.savefig(path, dpi=150, metadata={"Software": "distillguard"})
    _plt().close(fig)
    path.chmod(0o600)  # beside the report it belongs to: owner-only
    return path.name


def _dates(values: list[str]) -> list[datetime]:
    return [datetime.fromisoformat(v[:10]) for v in values]


def daily(report: dict[str, Any], path: Path) -> str:
    """Exchanges per day stacked by model (the four largest, the rest as "other"), so a
    pivot to a newly released model shows as a change of colour at the dashed line."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7.5, 3.0))
    rows = report["timeline"]["daily_by_model"]
    top = [m["model"] for m in report["models"][:4]]
    days = sorted({r["date"] for r in rows})
    series: dict[str, dict[str, int]] = {m: {} for m in [*top, "other"]}
    for r in rows:
        name = r["model"] if r["model"] in top else "other"
        series[name][r["date"]] = series[name].get(r["date"], 0) + r["exchanges"]
    x = _dates(days)
    bottom = [0] * len(days)
    palette = [INK, ACCENT, "#2c7fb8", "#41ab5d", MUTED]
    for (name, per_day), colour in zip(series.items(), palette, strict=False):
        if not per_day:
            continue
        heights = [per_day.get(d, 0) for d in days]
        ax.bar(x, heights, bottom=bottom, color=colour, width=0.9, label=name)
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    peak = max(bottom, default=1) or 1
    for rel in report["timeline"]["releases"]:
        when = datetime.fromisoformat(rel["released"][:10])
        ax.axvline(when, color=ACCENT, linestyle="--", linewidth=1)
        ax.annotate(
            f"{rel['model']} released",
            (when, peak * 1.02),
            color=ACCENT,
            fontsize=8,
            ha="center",
            va="bottom",
            annotation_clip=False,
        )
    ax.set_ylim(0, peak * 1.12)
    ax.set_ylabel("exchanges per day")
    ax.set_title(
        "Daily exchanges by model (dashed: model releases)", loc="left", fontsize=10, pad=14
    )
    if days:
        ax.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.autofmt_xdate()
    return _save(fig, path)


def creations(report: dict[str, Any], path: Path) -> str:
    """Accounts created over time, cumulative: a burst of sign-ups is a steep step."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7.5, 2.4))
    rows = report["timeline"]["creations"]
    if rows:
        total, xs, ys = 0, [], []
        for r in rows:
            total += r["accounts"]
            xs.append(datetime.fromisoformat(r["date"]))
            ys.append(total)
        ax.step(xs, ys, where="post", color="#2c7fb8")
        ax.plot(xs, ys, "o", color="#2c7fb8", markersize=3)
    ax.set_ylabel("accounts (cumulative)")
    ax.set_ylim(bottom=0)
    ax.set_title("Account creations over time", loc="left", fontsize=10)
    fig.autofmt_xdate()
    return _save(fig, path)


def capabilities(report: dict[str, Any], path: Path) -> str:
    plt = _plt()
    caps = sorted(report["cluster"]["capabilities"].items(), key=lambda kv: kv[1])
    fig, ax = plt.subplots(figsize=(7.5, 0.35 * max(len(caps), 3) + 0.8))
    ax.barh([k.replace("_", " ") for k, _ in caps], [v for _, v in caps], color="#41ab5d")
    for i, (_, v) in enumerate(caps):
        ax.text(v + 0.01, i, f"{v:.0%}", va="center", fontsize=8)
    ax.set_xlim(0, 1.1)
    ax.set_xlabel("share of the campaign's exchanges")
    ax.set_title("Capability mix", loc="left", fontsize=10)
    return _save(fig, path)


def graph(report: dict[str, Any], path: Path, max_nodes: int) -> str:
    """Accounts (dots, red = act) and the tokens that link them (squares by kind), as
    recomputed in the report model. A large cluster is drawn from its highest-risk accounts."""
    import networkx as nx

    plt = _plt()
    verdict = {a["account_id"]: a["verdict"] for a in report["accounts"]}
    drawn = report["graph"]["accounts"][:max_nodes]
    g: nx.Graph[str] = nx.Graph()
    for a in drawn:
        g.add_node("a:" + a, kind="account", verdict=verdict.get(a, "ok"))
    for account, kind, token in report["graph"]["edges"]:
        if "a:" + account in g:
            node = f"t:{kind}:{token}"
            g.add_node(node, kind=kind)
            g.add_edge(node, "a:" + account)
    fig, ax = plt.subplots(figsize=(7.5, 5.2))
    if g.number_of_nodes():
        pos = nx.spring_layout(g, seed=7, k=0.9 / max(g.number_of_nodes(), 1) ** 0.5)
        acc_nodes = [n for n, d in g.nodes(data=True) if d["kind"] == "account"]
        nx.draw_networkx_edges(g, pos, ax=ax, edge_color="#cbd2d9", width=0.5)
        nx.draw_networkx_nodes(
            g,
            pos,
            nodelist=acc_nodes,
            node_size=18,
            ax=ax,
            node_color=[ACCENT if g.nodes[n]["verdict"] == "act" else "#f0b429" for n in acc_nodes],
        )
        for kind, colour in KIND_COLOURS.items():
            nodes = [n for n, d in g.nodes(data=True) if d["kind"] == kind]
            if nodes:
                nx.draw_networkx_nodes(
                    g,
                    pos,
                    nodelist=nodes,
                    node_shape="s",
                    node_size=90,
                    node_color=colour,
                    ax=ax,
                    label=kind,
                )
        ax.legend(loc="lower left", fontsize=7, frameon=False, markerscale=0.6)
    total = report["cluster"]["accounts"]
    ax.set_title(
        f"Account graph: {len(drawn):,} of {total:,} accounts (dots; red = act)\n"
        "and the shared tokens that link them (squares, by kind)",
        loc="left",
        fontsize=10,
    )
    ax.axis("off")
    return _save(fig, path)


def all_charts(report: dict[str, Any], out: Path, max_nodes: int) -> dict[str, str]:
    img = out / "img"
    img.mkdir(mode=0o700, parents=True, exist_ok=True)
    return {
        "daily": "img/" + daily(report, img / "daily.png"),
        "creations": "img/" + creations(report, img / "creations.png"),
        "capabilities": "img/" + capabilities(report, img / "capabilities.png"),
        "graph": "img/" + graph(report, img / "graph.png", max_nodes),
    }
