"""The analyst console in a real browser (Debian's chromium driven by Playwright) against a
real console process, a real gateway process and a scanned demo scenario; plus the parts a
browser does not show (CSRF, roles, unauthenticated access) checked over HTTP."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

import distillguard as dg
from distillguard.console import ConsoleState, read_console_labels
from distillguard.detection.pipeline import scan
from distillguard.rules import load_rules
from gateway_helpers import (
    ADMIN_TOKEN,
    free_port,
    gateway_config,
    mock_upstream,
    start_gateway,
    wait_http,
)

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if not os.environ.get("CI"):  # installed by `make test` when missing: CI fails rather than skips
    pytest.importorskip("playwright.sync_api")
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed", allow_module_level=True)

PASSWORD = "a long console password"
HOSTILE = '<img src=x onerror="window.__pwned=1">"><script>window.__pwned=2</script>'


@dataclass
class Console:
    url: str
    gateway: str
    state: Path
    findings: Path
    campaign: str
    member: str
    proc: subprocess.Popen[bytes]


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    tmp = tmp_path_factory.mktemp("console")
    settings = dg.load_settings(db=tmp / "dg.duckdb", progress=False)
    sim = tmp / "sim"
    dg.simulate("mixed", 20_000, 7, sim)
    with dg.Store.open(settings.db) as store:
        dg.ingest_files([sim], "native", store, settings)
        found = scan(store, load_rules(), tmp / "findings")
    campaigns = [c for c in found.clusters.to_pylist() if c["verdict"] == "act"]
    assert campaigns, "the demo scenario has a campaign to act on"
    campaign = campaigns[0]["cluster_id"]
    member = campaigns[0]["account_ids"][0]
    # a prompt written to attack the page that shows it
    hostile = tmp / "hostile.jsonl"
    hostile.write_text(json.dumps({
        "request_id": "hostile-1", "ts": "2026-07-01T00:00:00Z", "account_id": member,
        "endpoint": "chat.completions", "model": "m", "prompt": HOSTILE,
        "input_tokens": 1, "output_tokens": 1}) + "\n")  # fmt: skip
    with dg.Store.open(settings.db) as store:
        dg.ingest_files([hostile], "native", store, settings)
    state = tmp / "console.sqlite"
    users = ConsoleState(state)
    users.add_user("ana", "analyst", PASSWORD)
    users.add_user("vic", "viewer", PASSWORD)
    with mock_upstream() as upstream:
        gw = start_gateway(tmp / "gw", gateway_config(tmp / "gw", upstream))
        port = free_port()
        env = {**os.environ, "DISTILLGUARD_GATEWAY_ADMIN_TOKEN": ADMIN_TOKEN,
               "DISTILLGUARD_CONSOLE_SECRET": "test-secret-" + "x" * 32}  # fmt: skip
        proc = subprocess.Popen(
            [sys.executable, "-c", "from distillguard.cli import main; main()", "console",
             "--findings", str(tmp / "findings"), "--db", str(settings.db), "--state", str(state),
             "--gateway", gw.url, "--port", str(port)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        try:
            wait_http(url + "/healthz", proc)
            yield Console(url, gw.url, state, tmp / "findings", campaign, member, proc)
        finally:
            proc.terminate()
            proc.wait(10)
            if proc.stdout:
                proc.stdout.close()
            gw.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


def _login(page: Any, url: str, user: str) -> None:
    page.goto(url + "/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(url + "/")


def test_an_analyst_triages_a_campaign_end_to_end(console: Console, browser: Any) -> None:
    # the test's own probes are evaluated scripts, which the console's CSP forbids; with the
    # CSP set aside, an unescaped hostile string would run, so escaping alone is what is tested
    context = browser.new_context(
        viewport={"width": 1400, "height": 900}, accept_downloads=True, bypass_csp=True
    )
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    _login(page, console.url, "ana")
    # the queue, filtered in place (HTMX swaps the table)
    assert page.locator("table.queue tbody tr").count() > 1
    page.select_option("select[name=verdict]", "act")
    page.wait_for_url(re.compile(r".*verdict=act.*"))
    verdicts = page.locator("table.queue tbody tr td:nth-child(2)").all_inner_texts()
    assert verdicts and set(verdicts) == {"act"}
    # open the campaign
    page.click(f"a[href='/campaign/{console.campaign}']")
    page.wait_for_url(console.url + f"/campaign/{console.campaign}")
    assert page.locator("h1").inner_text().startswith(console.campaign)
    assert page.locator("table.reasons tbody tr").count() >= 1
    assert page.locator("img.chart").first.evaluate("i => i.complete && i.naturalWidth > 0")
    # open an account from the graph: click its node, then the panel's link
    page.wait_for_function("window.dgGraph && window.dgGraph.nodes().length > 0")
    # every image loaded first: a late one would move the graph under the pointer
    page.wait_for_function("Array.from(document.images).every(i => i.complete)")
    page.locator("#graph").scroll_into_view_if_needed()
    # bring one account to the middle, large, so the click cannot land on a neighbour; the
    # graph re-reads where its box is (the page moved since it was drawn)
    pos = page.evaluate(
        "() => { const cy = window.dgGraph; cy.resize();"
        " const n = cy.nodes(\"[kind = 'account']\")[0];"
        " cy.zoom(3); cy.center(n); const p = n.renderedPosition();"
        " return {x: p.x, y: p.y, id: n.data('account')}; }"
    )
    box = page.locator("#graph").bounding_box()
    page.mouse.click(box["x"] + pos["x"], box["y"] + pos["y"])
    page.wait_for_selector("#graph-open")
    page.click("#graph-open")
    page.wait_for_url(console.url + f"/account/{pos['id']}")
    # label it, with a hostile note
    page.select_option("select[name=label]", "attack")
    page.fill("input[name=note]", HOSTILE)
    page.click("form[action='/label'] button")
    page.wait_for_selector("td.label")
    assert page.locator("td.label").first.inner_text() == "attack"
    assert HOSTILE in page.locator("body").inner_text()  # shown as text, never run
    # impose a decision through the gateway, confirm it, revoke it
    page.select_option("select[name=action]", "throttle")
    page.fill("form[action='/gateway/decide'] input[name=reason]", "console test")
    page.click("form[action='/gateway/decide'] button")
    page.wait_for_selector("table.decisions form[action$='/confirm']")
    page.click("table.decisions form[action$='/confirm'] button")
    page.wait_for_selector("table.decisions td:text('confirmed')")
    page.click("table.decisions form[action$='/revoke'] button")
    page.wait_for_selector("table.decisions td:text-matches('revoked by')")
    # the gateway holds the same history
    held = httpx.get(
        console.gateway + "/admin/decisions",
        params={"target": pos["id"]},
        headers={"authorization": f"Bearer {ADMIN_TOKEN}"},
    ).json()
    assert [(d["action"], d["review"], d["active"]) for d in held] == [
        ("throttle", "confirmed", False)
    ]
    # a hostile prompt of this account renders as text
    page.goto(console.url + f"/account/{console.member}")
    assert "<script>window.__pwned=2</script>" in page.locator("table.prompts").inner_text()
    # download the incident report
    page.goto(console.url + f"/campaign/{console.campaign}")
    with page.expect_download() as download:
        page.click("a[href$='/report.json']")
    saved = download.value.path()
    assert json.loads(Path(saved).read_text())["cluster"]["cluster_id"] == console.campaign
    assert dialogs == [] and page.evaluate("window.__pwned") is None
    # the next scan learns from the label
    assert read_console_labels(console.state)[pos["id"]] is True
    context.close()


def test_no_anonymous_access_csrf_enforced_and_viewers_only_read(
    console: Console, browser: Any
) -> None:
    with httpx.Client(base_url=console.url, follow_redirects=False) as anon:
        for path in ("/", f"/campaign/{console.campaign}", f"/account/{console.member}",
                     "/labels.csv", "/audit", f"/campaign/{console.campaign}/report.json"):  # fmt: skip
            r = anon.get(path)
            assert r.status_code == 303 and r.headers["location"] == "/login", path
        assert anon.post(
            "/label", data={"target": console.member, "label": "legit"}
        ).status_code in (303, 403)
    context = browser.new_context()
    page = context.new_page()
    _login(page, console.url, "ana")
    # a form posted without the session's token is refused
    r = context.request.post(
        console.url + "/label",
        form={"target": console.member, "label": "legit", "csrf": "forged"},
        max_redirects=0,
    )
    assert r.status == 403 and "CSRF" in r.text()
    assert read_console_labels(console.state).get(console.member) is not False
    headers = page.goto(console.url + "/").headers
    assert "default-src 'self'" in headers["content-security-policy"]
    context.close()
    viewer = browser.new_context().new_page()
    _login(viewer, console.url, "vic")
    viewer.goto(console.url + f"/account/{console.member}")
    assert viewer.locator("form[action='/label']").count() == 0
    token = viewer.locator("input[name=csrf]").first.get_attribute("value")
    r = viewer.context.request.post(
        console.url + "/label", form={"target": console.member, "label": "legit", "csrf": token}
    )
    assert r.status == 403 and "viewer" in r.text()
    # a wrong password is refused without saying which part was wrong
    page = browser.new_context().new_page()
    page.goto(console.url + "/login")
    page.fill("input[name=username]", "ana")
    page.fill("input[name=password]", "not the password")
    page.click("button[type=submit]")
    assert page.locator("p.error").inner_text() == "Unknown user or wrong password."
