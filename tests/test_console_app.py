"""The console's HTTP behaviour without a browser: sessions, CSRF, redirects, SSO headers,
bad input."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

import distillguard as dg
from distillguard.detection.pipeline import scan
from distillguard.rules import load_rules

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient

from distillguard.console import ConsoleState, create_console_app
from distillguard.console._data import Filters

PASSWORD = "twelve or more characters"


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> tuple[dg.Settings, Path]:
    tmp = tmp_path_factory.mktemp("console-app")
    settings = dg.load_settings(db=tmp / "dg.duckdb", progress=False)
    dg.simulate("mixed", 5_000, 3, tmp / "sim")
    with dg.Store.open(settings.db) as store:
        dg.ingest_files([tmp / "sim"], "native", store, settings)
        scan(store, load_rules(), tmp / "findings")
    return settings, tmp


def _client(settings: dg.Settings, tmp: Path, name: str) -> tuple[TestClient, ConsoleState]:
    state = ConsoleState(tmp / f"{name}.sqlite")
    state.add_user("ana", "analyst", PASSWORD)
    app = create_console_app(
        settings, tmp / "findings", state_path=tmp / f"{name}.sqlite", warm=False
    )
    return TestClient(app, follow_redirects=False), state


def _token(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def _login(client: TestClient) -> str:
    token = _token(client.get("/login").text)
    r = client.post("/login", data={"username": "ana", "password": PASSWORD, "csrf": token})
    assert (r.status_code, r.headers["location"]) == (303, "/")
    return _token(client.get("/").text)


def test_login_needs_the_form_token_and_sets_a_strict_cookie(
    scanned: tuple[dg.Settings, Path],
) -> None:
    settings, tmp = scanned
    client, _ = _client(settings, tmp, "a")
    client.get("/login")
    r = client.post("/login", data={"username": "ana", "password": PASSWORD, "csrf": "x"})
    assert r.status_code == 403
    token = _token(client.get("/login").text)
    r = client.post("/login", data={"username": "ana", "password": PASSWORD, "csrf": token})
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    # a new session after login: the login page's token no longer works
    assert _token(page.text) != token


def test_htmx_requests_send_the_token_as_a_header_and_redirects_stay_on_site(
    scanned: tuple[dg.Settings, Path],
) -> None:
    settings, tmp = scanned
    client, state = _client(settings, tmp, "b")
    token = _login(client)
    account = next(iter(state.labels()), None) or "acct_x"
    r = client.post(
        "/label",
        data={"target": account, "label": "legit", "back": "//evil.example/steal"},
        headers={"x-csrf-token": token},
    )
    assert (r.status_code, r.headers["location"]) == (303, "/")
    for back in ("/\\evil.example", "https://evil.example/", "/campaign/x"):
        r = client.post(
            "/label", data={"target": account, "label": "legit", "back": back, "csrf": token}
        )
        assert r.headers["location"] == ("/campaign/x" if back == "/campaign/x" else "/")
    assert state.labels() == {account: "legit"}
    r = client.post("/label", data={"target": account, "label": "maybe", "csrf": token})
    assert r.status_code == 400 and "label must be one of" in r.text
    r = client.get("/account/" + "<img src=x onerror=alert(1)>")
    assert r.status_code == 400 and "no account" in r.text
    assert "<img src=x" not in r.text and "&lt;img src=x" in r.text
    r = client.get("/", params={"q": "\u202e<b>x</b>" * 50, "verdict": "act" * 30})
    assert r.status_code == 200 and "<b>x</b>" not in r.text
    r = client.post("/gateway/decide", data={"action": "block", "target": account, "csrf": token})
    assert r.status_code == 400 and "no gateway configured" in r.text


def test_behind_an_sso_proxy_the_trusted_header_names_the_user(
    scanned: tuple[dg.Settings, Path],
) -> None:
    settings, tmp = scanned
    sso = settings.model_copy(deep=True)
    sso.console.trusted_user_header = "X-Forwarded-User"
    sso.console.trusted_role_header = "X-Forwarded-Role"
    app = create_console_app(sso, tmp / "findings", state_path=tmp / "sso.sqlite")
    client = TestClient(app, follow_redirects=False)
    assert client.get("/").status_code == 401
    page = client.get("/", headers={"x-forwarded-user": "sam"})
    assert page.status_code == 200 and "sam · viewer" in page.text
    token = _token(page.text)
    r = client.post("/status", data={"cluster_id": "cluster-0001", "status": "confirmed",
                                      "csrf": token}, headers={"x-forwarded-user": "sam"})  # fmt: skip
    assert r.status_code == 403 and "viewer" in r.text
    r = client.post("/status", data={"cluster_id": "cluster-0001", "status": "confirmed",
                                      "csrf": token},
                    headers={"x-forwarded-user": "sam", "x-forwarded-role": "analyst"})  # fmt: skip
    assert r.status_code == 303
    assert ConsoleState(tmp / "sso.sqlite").statuses() == {"cluster-0001": "confirmed"}


def test_repeated_failed_logins_lock_the_user_name_out(scanned: tuple[dg.Settings, Path]) -> None:
    settings, tmp = scanned
    client, _ = _client(settings, tmp, "c")
    token = _token(client.get("/login").text)
    for _ in range(5):
        r = client.post(
            "/login", data={"username": "ana", "password": "wrong guess!", "csrf": token}
        )
        assert "Unknown user or wrong password." in r.text
    r = client.post("/login", data={"username": "ana", "password": PASSWORD, "csrf": token})
    assert r.status_code == 200 and "Too many failed logins" in r.text


def test_warming_builds_every_campaign_once_per_scan(scanned: tuple[dg.Settings, Path]) -> None:
    settings, tmp = scanned
    app = create_console_app(settings, tmp / "findings", state_path=tmp / "w.sqlite", warm=False)
    data = app.state.console_data
    data.warm()
    loaded = data.findings()
    assert set(loaded.reports) == {c["cluster_id"] for c in loaded.clusters}
    assert loaded.days is not None and all(loaded.days.values())
    first = loaded.reports[loaded.clusters[0]["cluster_id"]]
    assert data.report(loaded.clusters[0]["cluster_id"]) is first  # not rebuilt
    stamp = (tmp / "findings" / "findings.json").stat().st_mtime + 5  # a new scan's files
    os.utime(tmp / "findings" / "findings.json", (stamp, stamp))
    assert data.findings() is not loaded and data.findings().reports == {}


def test_an_account_page_sets_its_features_against_the_population(
    scanned: tuple[dg.Settings, Path],
) -> None:
    settings, tmp = scanned
    client, _ = _client(settings, tmp, "f")
    _login(client)
    app_data = client.app.state.console_data  # type: ignore[attr-defined]
    loaded = app_data.findings()
    member = loaded.clusters[0]["account_ids"][0]
    rows = app_data.features(member)
    names = [r["name"] for r in rows]
    assert "exchanges" in names and "trace_share" in names
    for r in rows:
        assert 0 <= r["percentile"] < 1  # the share of accounts strictly below it
    exchanges = next(r for r in rows if r["name"] == "exchanges")
    assert exchanges["value"] == loaded.by_account[member]["exchanges"]
    page = client.get(f"/account/{member}").text
    assert "Features against the population" in page and "of accounts" in page
    campaign = client.get(f"/campaign/{loaded.clusters[0]['cluster_id']}").text
    assert "strongest reason" in campaign


def test_a_campaign_page_lists_its_highest_risk_members_and_draws_charts_once(
    scanned: tuple[dg.Settings, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from distillguard.console import _app

    settings, tmp = scanned
    monkeypatch.setattr(_app, "MEMBER_ROWS", 2)
    client, _ = _client(settings, tmp, "m")
    _login(client)
    loaded = client.app.state.console_data.findings()  # type: ignore[attr-defined]
    cluster = max(loaded.clusters, key=lambda c: c["accounts"])
    assert cluster["accounts"] > 2
    page = client.get(f"/campaign/{cluster['cluster_id']}").text
    listed = re.findall(r'<tr><td><a href="/account/([^"]+)">', page)
    ranked = sorted(cluster["account_ids"], key=lambda a: (-loaded.by_account[a]["risk"], a))
    assert listed == ranked[:2]
    assert f"The 2 highest-risk of {cluster['accounts']:,} members" in page
    first = client.get(f"/campaign/{cluster['cluster_id']}/daily.png")
    assert first.status_code == 200 and first.content[:8] == b"\x89PNG\r\n\x1a\n"
    again = client.get(f"/campaign/{cluster['cluster_id']}/daily.png")
    assert again.content == first.content
    assert client.get(f"/campaign/{cluster['cluster_id']}/other.png").status_code == 404


def test_the_queue_sparkline_sums_the_scans_daily_counts(
    scanned: tuple[dg.Settings, Path],
) -> None:
    import pyarrow.parquet as pq

    settings, tmp = scanned
    app = create_console_app(settings, tmp / "findings", state_path=tmp / "s.sqlite", warm=False)
    data = app.state.console_data
    items = data.queue(Filters(kind="campaign"), {})
    daily = pq.read_table(tmp / "findings" / "account_daily.parquet").to_pylist()
    for item in items:
        own = [r for r in daily if r["cluster_id"] == item["id"]]
        last = max(r["date"] for r in own)
        in_30_days = sum(r["exchanges"] for r in own if (last - r["date"]).days < 30)
        assert sum(item["spark"]) == in_30_days and len(item["spark"]) == 30
        assert item["spark"][-1] == sum(r["exchanges"] for r in own if r["date"] == last)
