"""How fast the console's pages render, and (with --screenshots) pictures of each page.

    python benchmarks/console_pages.py --findings demo-output/findings \
        --db demo-output/distillguard.duckdb [--rounds 5] [--screenshots docs/console]

Times the queue, campaign pages (first view of each of up to ``--rounds`` campaigns, and a
repeat view) and an account page as a logged-in analyst would fetch them (the real
application, in process): median and worst.
Screenshots drive Debian's chromium (Playwright, ``executable_path``) against the console
served on loopback, at laptop size (1366×768 viewport, full page).
"""

from __future__ import annotations

import argparse
import re
import secrets
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path

from fastapi.testclient import TestClient

import distillguard as dg
from distillguard.console import ConsoleState, create_console_app

PASSWORD = secrets.token_urlsafe(16)  # a throwaway user in a throwaway state file


def _login(client: TestClient) -> None:
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text)
    assert token is not None
    r = client.post(
        "/login",
        data={"username": "bench", "password": PASSWORD, "csrf": token.group(1)},
        follow_redirects=False,
    )
    if r.status_code != 303 or r.headers.get("location") != "/":
        raise SystemExit(f"login failed: {r.status_code} {r.text[:300]}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--findings", type=Path, required=True)
    ap.add_argument("--db", type=Path, required=True)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--screenshots", type=Path, default=None)
    args = ap.parse_args()
    settings = dg.load_settings(db=args.db, progress=False)
    work = Path(tempfile.mkdtemp(prefix="dg-console-bench-"))
    state = work / "console.sqlite"
    ConsoleState(state).add_user("bench", "analyst", PASSWORD)
    app = create_console_app(settings, args.findings, state_path=state, warm=False)
    with dg.Store.open(args.db, read_only=True) as store:
        exchanges = store.count(dg.Kind.EXCHANGES)
    client = TestClient(app)
    _login(client)
    t0 = time.perf_counter()
    queue = client.get("/").text
    queue_first = (time.perf_counter() - t0) * 1000
    campaigns = list(dict.fromkeys(re.findall(r'href="/campaign/([^"]+)"', queue)))
    if not campaigns:
        raise SystemExit("the findings hold no campaign")
    t0 = time.perf_counter()
    first = client.get(f"/campaign/{campaigns[0]}").text
    top_first = (time.perf_counter() - t0) * 1000
    account = re.search(r'href="/account/([^"]+)"', first)
    if account is None:
        raise SystemExit("the campaign lists no account")
    paths = {
        "queue": "/",
        "campaign": f"/campaign/{campaigns[0]}",
        "account": f"/account/{account.group(1)}",
    }
    print(f"store: {args.db} ({exchanges:,} exchanges) · findings: {args.findings}")
    print("| page | median ms | worst ms | fetches |\n|---|---|---|---|")

    def timed(path: str) -> float:
        t0 = time.perf_counter()
        r = client.get(path)
        elapsed = (time.perf_counter() - t0) * 1000
        if r.status_code != 200:
            raise SystemExit(f"{path}: {r.status_code}")
        return elapsed

    rows = {
        "queue, first after a scan (reads the scan's daily counts)": [queue_first],
        "queue": [timed("/") for _ in range(args.rounds)],
        # a campaign page's model is built once per scan from the scan's campaign tables: its
        # first view is the cost, unless the console built it at start (it does, on a thread)
        "campaign, first view, not built at start": [
            top_first,
            *[timed(f"/campaign/{c}") for c in campaigns[1 : args.rounds]],
        ],
        "campaign, built": [timed(paths["campaign"]) for _ in range(args.rounds)],
        "campaign charts (daily traffic and creations: two PNGs, drawn per request)": [
            timed(f"/campaign/{c}/daily.png") + timed(f"/campaign/{c}/creations.png")
            for c in campaigns[: args.rounds]
        ],
        "account": [timed(paths["account"]) for _ in range(args.rounds)],
    }
    for name, times in rows.items():
        if times:
            print(f"| {name} | {statistics.median(times):.0f} | {max(times):.0f} | {len(times)} |")
    t0 = time.perf_counter()
    fresh = create_console_app(settings, args.findings, state_path=state, warm=False)
    fresh.state.console_data.warm()
    print(f"building every campaign's page at start: {time.perf_counter() - t0:.1f} s "
          f"({len(campaigns)} in the queue)")  # fmt: skip
    if args.screenshots:
        _screenshots(app, paths, args.screenshots)


def _screenshots(app: object, paths: dict[str, str], out: Path) -> None:
    import uvicorn
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "screenshots need Debian's chromium"
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))  # type: ignore[arg-type]
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1366, "height": 768})
        page.goto(base + "/login")
        page.screenshot(path=str(out / "login.png"))
        page.fill("input[name=username]", "bench")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(base + "/")
        for name, path in paths.items():
            page.goto(base + path)
            if name == "campaign":
                page.wait_for_timeout(800)  # the graph's layout
            page.screenshot(path=str(out / f"{name}.png"), full_page=True)
            print(f"screenshot: {out / (name + '.png')}")
        # an analyst's work, for the audit log's picture (a throwaway state file)
        page.goto(base + paths["campaign"])
        page.select_option("select[name=status]", "in review")
        page.click("form[action='/status'] button")
        page.select_option("select[name=label]", "attack")
        page.fill("form[action='/label'] input[name=note]", "confirmed by the daily review")
        page.click("form[action='/label'] button")
        page.goto(base + "/audit")
        page.screenshot(path=str(out / "audit.png"), full_page=True)
        print(f"screenshot: {out / 'audit.png'}")
        browser.close()
    server.should_exit = True
    thread.join(5)


if __name__ == "__main__":
    main()
