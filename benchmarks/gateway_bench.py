"""Gateway latency and throughput benchmark (a benchmark, not a test; see docs/benchmarks.md).

Starts a local mock upstream, then measures in the same run, at fixed request rates (open
loop: latency counts from each request's scheduled time, so a stall is never hidden):

* direct       — the upstream itself (the reference)
* distillguard — the gateway with logging on and a policy loaded
* bare         — a bare pass-through proxy on the same framework (benchmarks/bare_proxy.py)
* bare-gc      — the same, with the gateway's garbage-collector settings (throughput only)
* litellm      — the LiteLLM proxy, from its own virtual environment (``--litellm``)

Added latency = a proxy's percentile − the direct percentile at the same rate, and each
server's CPU time per request sent. LiteLLM is measured at the rates in
``--litellm-rates`` (loads one LiteLLM process can sustain on a small machine), not at
``--rates``: past its saturation point latency is queueing delay, not per-request cost. Then
the highest throughput of each proxy (closed loop, 64 connections), in interleaved rounds
(``--throughput-rounds``; the median is reported, as a shared machine drifts): LiteLLM's is its
saturation point. Every load run is bounded by a timeout (``--run-timeout``).

    python benchmarks/gateway_bench.py --rates 100,500,1000 --litellm-rates 25,50,75 \\
        --seconds 10 --litellm /tmp/litellm-venv/bin/litellm --out gateway-bench.json
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import importlib.metadata
import json
import multiprocessing as mp
import os
import platform
import queue
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from gateway_helpers import free_port, wait_http  # noqa: E402

ADMIN_TOKEN = "bench-admin-token-not-a-secret"  # noqa: S105 - a throwaway local token
LITELLM_KEY = "sk-bench-" + "0" * 32
IDLE_SECONDS = 10.0
"""How long each server's idle CPU use is measured before the load runs."""
REQUEST_TIMEOUT_S = 60.0
"""A request unanswered this long counts as an error."""
BODY = json.dumps(
    {
        "model": "atlas-3",
        "messages": [{"role": "user", "content": "What is 17 * 23? Explain briefly."}],
        "max_tokens": 64,
    }
).encode()


# -- load generation (in a child process, so it shares nothing with the servers) ------------------
def _open_loop(url: str, headers: dict[str, str], rate: float, seconds: float, warmup: float,
               q: Any) -> None:  # fmt: skip
    import aiohttp
    import uvloop

    async def run() -> dict[str, Any]:
        lat: list[float] = []
        errors = 0
        timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
        async with aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0), timeout=timeout
        ) as s:
            # loop.time() is millisecond-grained under uvloop: schedule and measure with
            # perf_counter instead
            start = time.perf_counter() + 0.2
            n = int(rate * (seconds + warmup))

            async def one(i: int) -> None:
                nonlocal errors
                t_sched = start + i / rate
                await asyncio.sleep(max(0.0, t_sched - time.perf_counter()))
                try:
                    async with s.post(url, data=BODY, headers=headers) as r:
                        await r.read()
                        ok = r.status == 200
                except (aiohttp.ClientError, TimeoutError):
                    ok = False
                if i >= rate * warmup:
                    if ok:
                        lat.append((time.perf_counter() - t_sched) * 1000)
                    else:
                        errors += 1

            t0 = time.perf_counter()
            await asyncio.gather(*(one(i) for i in range(n)))
            wall = time.perf_counter() - t0
        return {"lat": lat, "errors": errors, "wall": wall}

    q.put(uvloop.run(run()))


def _closed_loop(url: str, headers: dict[str, str], conns: int, seconds: float, q: Any) -> None:
    import aiohttp
    import uvloop

    async def run() -> dict[str, Any]:
        done = 0
        errors = 0
        timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
        async with aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=conns), timeout=timeout
        ) as s:
            end = time.perf_counter() + seconds

            async def worker() -> None:
                nonlocal done, errors
                while time.perf_counter() < end:
                    try:
                        async with s.post(url, data=BODY, headers=headers) as r:
                            await r.read()
                            if r.status == 200:
                                done += 1
                            else:
                                errors += 1
                    except (aiohttp.ClientError, TimeoutError):
                        errors += 1

            await asyncio.gather(*(worker() for _ in range(conns)))
        return {"rps": done / seconds, "errors": errors}

    q.put(uvloop.run(run()))


def _child(fn: Any, *args: Any, timeout: float) -> dict[str, Any]:
    """Run a load generator in its own process; a run that outlasts ``timeout`` is killed and
    reported as timed out."""
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=fn, args=(*args, q))
    p.start()
    try:
        out = dict(q.get(timeout=timeout))
    except queue.Empty:
        p.kill()
        out = {"timed_out": True, "lat": [], "errors": 0, "rps": 0.0}
    p.join()
    return out


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU time so far of a process and its descendants (the gateway's log
    flusher is a child process); Linux /proc, None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    total = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    for child in _children(pid):
        total += _cpu_seconds(child) or 0.0
    return total


def _idle_cpu(pids: dict[str, int], seconds: float) -> dict[str, float]:
    """Each server's CPU use with no load, as a share of a core (timers, log flushing)."""
    before = {name: _cpu_seconds(pid) for name, pid in pids.items()}
    time.sleep(seconds)
    out = {}
    for name, pid in pids.items():
        now, then = _cpu_seconds(pid), before[name]
        if now is not None and then is not None:
            out[name] = (now - then) / seconds
    return out


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):
                out += [int(c) for c in (task / "children").read_text().split()]
    except OSError:
        pass
    return out


def _pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


# -- servers -------------------------------------------------------------------------------------------
def _spawn(args: list[str], url: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    # a session of its own: stopping it stops its children too (the gateway's log flusher)
    proc = subprocess.Popen(
        args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, env=env, start_new_session=True
    )
    wait_http(url, proc, timeout=120)
    return proc


def _versions(litellm: str | None) -> dict[str, str]:
    out = {
        "python": platform.python_version(),
        "distillguard": importlib.metadata.version("distillguard"),
    }
    if litellm:
        python = Path(litellm).with_name("python")
        found = subprocess.run(  # the version installed beside the executable
            [str(python), "-c", "import importlib.metadata as m; print(m.version('litellm'))"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        out["litellm"] = found.stdout.strip() or "unknown"
    return out


def _start_gateway(
    tmp: Path, upstream: str, accounts: int
) -> tuple[subprocess.Popen[bytes], str, str]:
    port = free_port()
    cfg = {
        "port": port,
        "upstream": {"openai": {"base_url": upstream + "/v1"}, "anthropic": {"base_url": upstream}},
        "models": [{"id": "atlas-3"}],
        "state": {"path": str(tmp / "state.sqlite")},
        "log": {"dir": str(tmp / "log"), "content": "full", "flush_interval_s": 2.0},
        "admin": {"token_sha256": hashlib.sha256(ADMIN_TOKEN.encode()).hexdigest()},
    }
    (tmp / "gateway.yaml").write_text(yaml.safe_dump(cfg))
    url = f"http://127.0.0.1:{port}"
    proc = _spawn([sys.executable, "-m", "distillguard.cli", "gateway", "--config",
                   str(tmp / "gateway.yaml")], url + "/healthz")  # fmt: skip
    admin = {"authorization": f"Bearer {ADMIN_TOKEN}"}
    with httpx.Client(base_url=url, headers=admin, timeout=30) as c:
        # a policy's worth of state: many accounts, cluster decisions, and the bench account
        # inside a throttled cluster (its bucket is checked on every request)
        c.put("/admin/accounts/acct_bench", json={"tier": "enterprise", "verification": "business",
                                                  "created_at": "2025-01-01T00:00:00Z"})  # fmt: skip
        key = c.post("/admin/accounts/acct_bench/keys").json()["api_key"]
        batch: dict[str, Any] = {"decisions": [], "clusters": {"acct_bench": "cl-bench"}}
        for i in range(accounts):
            c.put(f"/admin/accounts/acct_{i:05d}", json={"tier": "build"})
            batch["clusters"][f"acct_{i:05d}"] = f"cl-{i % 50}"
        for i in range(50):
            batch["decisions"].append({"action": "shape", "scope": "cluster", "target": f"cl-{i}",
                                       "params": {"thinking": "redact"}, "reason": "bench policy",
                                       "source": "policy"})  # fmt: skip
        batch["decisions"].append({"action": "throttle", "scope": "cluster", "target": "cl-bench",
                                   "params": {"rpm": 10_000_000, "tpm": 10_000_000_000},
                                   "reason": "bench: a cluster budget checked on every request",
                                   "source": "policy"})  # fmt: skip
        r = c.post("/admin/decisions/batch", json=batch)
        r.raise_for_status()
    return proc, url, key


def _start_litellm(binary: str, tmp: Path, upstream: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    cfg = {
        "model_list": [{"model_name": "atlas-3", "litellm_params": {
            "model": "openai/atlas-3", "api_base": upstream + "/v1", "api_key": "mock"}}],
        "litellm_settings": {"telemetry": False, "drop_params": True},
        # LiteLLM refuses to start without a master key; it then authenticates each request
        "general_settings": {"master_key": LITELLM_KEY},
    }  # fmt: skip
    (tmp / "litellm.yaml").write_text(yaml.safe_dump(cfg))
    env = {**os.environ, "LITELLM_LOG": "ERROR", "LITELLM_TELEMETRY": "False"}
    url = f"http://127.0.0.1:{port}"
    proc = _spawn([binary, "--config", str(tmp / "litellm.yaml"), "--port", str(port),
                   "--host", "127.0.0.1", "--num_workers", "1"], url + "/health/liveliness", env)  # fmt: skip
    return proc, url


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--rates", default="100,500,1000", help="rates without LiteLLM")
    ap.add_argument("--litellm-rates", default="25,50,75",
                    help="rates at which every proxy, LiteLLM included, is measured")  # fmt: skip
    ap.add_argument("--run-timeout", type=float, default=120.0,
                    help="seconds a load run may take beyond its own length")  # fmt: skip
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--accounts", type=int, default=2_000, help="accounts in the loaded policy")
    ap.add_argument("--litellm", help="path of the `litellm` executable in its own venv")
    ap.add_argument("--throughput-seconds", type=float, default=5.0)
    ap.add_argument("--throughput-rounds", type=int, default=3)
    ap.add_argument("--out", type=Path, default=Path("gateway-bench.json"))
    args = ap.parse_args()
    rates = [float(r) for r in args.rates.split(",") if r.strip()]
    ll_rates = (
        [float(r) for r in args.litellm_rates.split(",") if r.strip()] if args.litellm else []
    )
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as d:
        tmp = Path(d)
        try:
            up_port = free_port()
            upstream = f"http://127.0.0.1:{up_port}"
            procs.append(_spawn([sys.executable, "-m", "distillguard.cli", "mock-upstream",
                                 "--port", str(up_port)], upstream + "/v1/models"))  # fmt: skip
            pids = {"direct": procs[-1].pid}
            gw, gw_url, key = _start_gateway(tmp, upstream, args.accounts)
            procs.append(gw)
            pids["distillguard"] = gw.pid
            bare_port = free_port()
            bare_url = f"http://127.0.0.1:{bare_port}"
            procs.append(_spawn([sys.executable, str(ROOT / "benchmarks" / "bare_proxy.py"),
                                 "--port", str(bare_port), "--upstream", upstream],
                                bare_url + "/docs"))  # fmt: skip
            pids["bare"] = procs[-1].pid
            baregc_port = free_port()
            baregc_url = f"http://127.0.0.1:{baregc_port}"
            procs.append(_spawn([sys.executable, str(ROOT / "benchmarks" / "bare_proxy.py"),
                                 "--port", str(baregc_port), "--upstream", upstream,
                                 "--gc-threshold", "20000"], baregc_url + "/docs"))  # fmt: skip
            pids["bare-gc"] = procs[-1].pid
            targets: dict[str, tuple[str, dict[str, str]]] = {
                "direct": (upstream + "/v1/chat/completions", {"content-type": "application/json"}),
                "bare": (bare_url + "/v1/chat/completions", {"content-type": "application/json"}),
                "distillguard": (gw_url + "/v1/chat/completions",
                                 {"content-type": "application/json", "authorization": f"Bearer {key}"}),
            }  # fmt: skip
            if args.litellm:
                ll, ll_url = _start_litellm(args.litellm, tmp, upstream)
                procs.append(ll)
                pids["litellm"] = ll.pid
                targets["litellm"] = (ll_url + "/v1/chat/completions",
                                      {"content-type": "application/json", "authorization": f"Bearer {LITELLM_KEY}"})  # fmt: skip
            results: dict[str, Any] = {
                "rates": {}, "throughput": {}, "machine": os.cpu_count(),
                "versions": _versions(args.litellm),
                "workers": {"distillguard": 1, "bare": 1, "litellm": 1, "upstream": 1},
            }  # fmt: skip
            idle = _idle_cpu(pids, IDLE_SECONDS)
            results["idle_cpu_core_share"] = idle
            print("idle CPU (share of a core): "
                  + ", ".join(f"{k} {v:.1%}" for k, v in idle.items()), flush=True)  # fmt: skip
            plan = [(r, [n for n in targets if n != "litellm"]) for r in rates if r not in ll_rates]
            plan += [(r, list(targets)) for r in ll_rates]
            for rate, names in sorted(plan):
                row = {}
                for name in names:
                    url, headers = targets[name]
                    cpu0, t0 = _cpu_seconds(pids[name]), time.perf_counter()
                    r = _child(_open_loop, url, headers, rate, args.seconds, args.warmup,
                               timeout=args.seconds + args.warmup + args.run_timeout)  # fmt: skip
                    cpu1, elapsed = _cpu_seconds(pids[name]), time.perf_counter() - t0
                    lat = r["lat"]
                    sent = int(rate * (args.seconds + args.warmup))
                    row[name] = {"p50": _pct(lat, 50), "p90": _pct(lat, 90), "p99": _pct(lat, 99),
                                 "ok": len(lat), "errors": r["errors"],
                                 "timed_out": bool(r.get("timed_out")),
                                 "achieved_rps": (len(lat) + r["errors"]) / args.seconds}  # fmt: skip
                    if cpu0 is not None and cpu1 is not None and not r.get("timed_out"):
                        # warm-up requests included: the server did that work too;
                        # what the requests cost: the server's CPU over the run (load
                        # generator start-up included) less its idle CPU over that time
                        busy = cpu1 - cpu0 - idle.get(name, 0.0) * elapsed
                        row[name]["cpu_us"] = max(busy, 0.0) / sent * 1e6
                        row[name]["cpu_core_share"] = (cpu1 - cpu0) / elapsed
                    print(f"{rate:>6.0f} rps  {name:13} p50 {row[name]['p50']:9.2f} ms  "
                          f"p99 {row[name]['p99']:9.2f} ms  ok {len(lat)}  errors {r['errors']}  "
                          f"server CPU {row[name].get('cpu_us', float('nan')):7.1f} us/request "
                          f"({row[name].get('cpu_core_share', float('nan')):.0%} of a core)"
                          + ("  TIMED OUT" if r.get("timed_out") else ""), flush=True)  # fmt: skip
                for name in names:
                    if name != "direct":
                        row[name]["added_p50"] = row[name]["p50"] - row["direct"]["p50"]
                        row[name]["added_p99"] = row[name]["p99"] - row["direct"]["p99"]
                results["rates"][str(int(rate))] = row
            closed = {**targets, "bare-gc": (baregc_url + "/v1/chat/completions",
                                             {"content-type": "application/json"})}  # fmt: skip
            runs: dict[str, list[dict[str, Any]]] = {name: [] for name in closed}
            for i in range(args.throughput_rounds):
                for name, (url, headers) in closed.items():
                    if name == "litellm" and i > 0:
                        continue  # two orders of magnitude slower: one round says enough
                    cpu0 = _cpu_seconds(pids[name])
                    r = _child(_closed_loop, url, headers, 64, args.throughput_seconds,
                               timeout=args.throughput_seconds + args.run_timeout)  # fmt: skip
                    cpu1 = _cpu_seconds(pids[name])
                    done = r["rps"] * args.throughput_seconds
                    # the server's own CPU per answered request: steadier than req/s when
                    # the machine's other tenants come and go
                    if cpu0 is not None and cpu1 is not None and done:
                        r["cpu_us"] = (cpu1 - cpu0) / done * 1e6
                    runs[name].append(r)
                    print(f"throughput round {i + 1} {name:13} {r['rps']:8.0f} req/s  "
                          f"server CPU {r.get('cpu_us', float('nan')):6.1f} us/request  "
                          f"errors {r['errors']}", flush=True)  # fmt: skip
            for name, rs in runs.items():
                rps = sorted(r["rps"] for r in rs)
                cpu = sorted(r["cpu_us"] for r in rs if "cpu_us" in r)
                results["throughput"][name] = {"rps": rps[len(rps) // 2], "rounds": rps,
                                               "cpu_us": cpu[len(cpu) // 2] if cpu else None,
                                               "cpu_rounds": cpu,
                                               "errors": sum(r["errors"] for r in rs)}  # fmt: skip
            logged = sum(1 for _ in (tmp / "log").rglob("*.parquet"))
            results["gateway_log_parts"] = logged
        finally:
            for p in procs:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGKILL)
                p.wait()
    args.out.write_text(json.dumps(results, indent=2))
    print(f"\nversions: {results['versions']}; one worker process each")
    print("\n| rate | proxy | p50 (ms) | p99 (ms) | added p50 (ms) | added p99 (ms) "
          "| server CPU (µs/request) | server CPU (share of a core) | errors |")  # fmt: skip
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for rate, row in results["rates"].items():
        for name, v in row.items():
            cpu = f"{v['cpu_us']:.0f} | {v['cpu_core_share']:.0%}" if "cpu_us" in v else "? | ?"
            added = (f"{v['added_p50']:.2f} | {v['added_p99']:.2f}" if name != "direct"
                     else "– | –")  # fmt: skip
            print(f"| {rate}/s | {name} | {v['p50']:.2f} | {v['p99']:.2f} | {added} | {cpu} "
                  f"| {v['errors']}{' (timed out)' if v['timed_out'] else ''} |")  # fmt: skip
    t = results["throughput"]
    print()
    for name, v in t.items():
        cpu = f"{v['cpu_us']:.0f}" if v["cpu_us"] is not None else "?"
        print(f"throughput {name:13} median {v['rps']:8.0f} req/s  rounds "
              f"{[round(x) for x in v['rounds']]}  server CPU median {cpu} us/request")  # fmt: skip
    for base in ("bare", "bare-gc"):
        if base in t and "distillguard" in t:
            print(f"throughput: distillguard {t['distillguard']['rps']:.0f} req/s = "
                  f"{t['distillguard']['rps'] / t[base]['rps']:.0%} of {base} {t[base]['rps']:.0f}")  # fmt: skip


if __name__ == "__main__":
    main()
