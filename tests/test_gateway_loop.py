"""Closing the loop: findings → policy → decisions at the gateway (`decide`), and `watch`
rescanning the gateway's own log and acting without a person, reviewably."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pyarrow.parquet as pq
import pytest

from distillguard.gateway import load_gateway_config, load_policy
from distillguard.gateway._loop import AdminClient, parse_duration, plan, watch_once
from gateway_helpers import ADMIN_TOKEN, GatewayProc, gateway_config, mock_upstream, start_gateway
from helpers import Campaigns, run_cli

ASK = [{"role": "user", "content": "What is 17 * 23?"}]
POLICY = """
expires_hours: 48
rules:
  - name: block acted-on campaigns
    when: {verdict: act, scope: cluster}
    action: block
  - name: shape reviewed accounts
    when: {verdict: [review, act]}
    action: shape
    params: {thinking: redact, max_tokens: 1024}
"""


@pytest.fixture
def gw(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[GatewayProc]:
    monkeypatch.setenv("DISTILLGUARD_GATEWAY_ADMIN_TOKEN", ADMIN_TOKEN)
    with mock_upstream() as upstream:
        g = start_gateway(tmp_path / "gw", gateway_config(tmp_path / "gw", upstream))
        yield g
        g.stop()


def _register(gw: GatewayProc, sim: Path) -> list[dict[str, Any]]:
    accounts = pq.read_table(sim / "accounts.parquet").to_pylist()
    with httpx.Client(headers={"authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=10) as http:
        for a in accounts:
            body = {k: a[k] for k in ("org_id", "tier", "verification", "program", "email",
                                      "payment_fp", "billing_country", "allowlisted")}  # fmt: skip
            body["created_at"] = a["created_at"].isoformat()
            r = http.put(f"{gw.url}/admin/accounts/{a['account_id']}", json=body)
            assert r.status_code == 200, r.text
    return accounts


def _campaign(campaigns: Campaigns) -> tuple[str, list[str], str]:
    """An acted-on cluster, its members, and an account that is certainly legitimate."""
    import json

    doc = json.loads((campaigns.findings / "findings.json").read_text())
    cluster = max(
        (c for c in doc["clusters"] if c["verdict"] == "act"), key=lambda c: c["accounts"]
    )
    truth = campaigns.truth()
    legit = next(a for a, t in sorted(truth.items()) if t["label"] == "legit")
    return cluster["cluster_id"], cluster["account_ids"], legit


def _post(gw: GatewayProc, key: str) -> httpx.Response:
    return httpx.post(gw.url + "/v1/chat/completions", json={"model": "atlas-3", "messages": ASK},
                      headers={"authorization": f"Bearer {key}"}, timeout=10)  # fmt: skip


def test_decide_loads_findings_through_the_policy(
    gw: GatewayProc, campaigns: Campaigns, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cluster_id, members, legit = _campaign(campaigns)
    _register(gw, campaigns.sim)
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    code, text = run_cli(capsys, "decide", "--findings", str(campaigns.findings), "--policy",
                         str(policy), "--gateway", gw.url, "--dry-run")  # fmt: skip
    assert code == 0 and "block cluster" in text and f"cluster {cluster_id}" in text
    code, text = run_cli(capsys, "decide", "--findings", str(campaigns.findings), "--policy",
                         str(policy), "--gateway", gw.url)  # fmt: skip
    assert code == 0, text
    member_key = gw.admin("POST", f"/admin/accounts/{members[0]}/keys").json()["api_key"]
    legit_key = gw.admin("POST", f"/admin/accounts/{legit}/keys").json()["api_key"]
    r = _post(gw, member_key)
    assert r.status_code == 403 and r.json()["error"]["code"] == "account_blocked"
    assert _post(gw, legit_key).status_code == 200
    state = gw.admin("GET", f"/admin/accounts/{members[0]}").json()
    assert state["account"]["cluster_id"] == cluster_id
    assert (
        state["decisions"][0]["source"] == "policy"
        and "block acted-on" in state["decisions"][0]["reason"]
    )
    # loading the same findings again changes nothing
    code, text = run_cli(capsys, "decide", "--findings", str(campaigns.findings), "--policy",
                         str(policy), "--gateway", gw.url)  # fmt: skip
    assert code == 0 and "0 created" in text


def test_decide_errors_are_clear(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                 monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "rules:\n  - when: {verdict: act}\n    action: throttle\n    params: {rpz: 1}\n"
    )
    (tmp_path / "f").mkdir()
    (tmp_path / "f" / "findings.json").write_text('{"clusters": [], "accounts": []}')
    code, text = run_cli(
        capsys, "decide", "--findings", str(tmp_path / "f"), "--policy", str(policy)
    )
    assert code == 3 and "policy.yaml" in text and "rpz" in text
    policy.write_text(POLICY)
    code, text = run_cli(
        capsys, "decide", "--findings", str(tmp_path / "nope"), "--policy", str(policy)
    )
    assert code == 4 and "findings.json" in text
    monkeypatch.setenv("DISTILLGUARD_GATEWAY_ADMIN_TOKEN", "x")
    code, text = run_cli(capsys, "decide", "--findings", str(tmp_path / "f"), "--policy",
                         str(policy), "--gateway", "http://127.0.0.1:9")  # fmt: skip
    assert code == 9 and "cannot reach the gateway" in text
    with pytest.raises(Exception, match="not a duration"):
        parse_duration("five minutes", "--interval")
    assert parse_duration("5m", "--interval") == 300


def test_watch_rescans_the_gateway_log_and_acts_reviewably(
    gw: GatewayProc, campaigns: Campaigns, tmp_path: Path
) -> None:
    cluster_id, members, legit = _campaign(campaigns)
    _register(gw, campaigns.sim)
    # the simulated traffic stands in for what the gateway logged (same contract, same files)
    parts = gw.config_path.parent / "log" / "exchanges" / "date=sim"
    parts.mkdir(parents=True)
    for p in (campaigns.sim / "exchanges").glob("*.parquet"):
        shutil.copy(p, parts / p.name)
    cfg = load_gateway_config(gw.config_path)
    client = AdminClient(gw.url, ADMIN_TOKEN)
    policy = load_policy(_write(tmp_path / "policy.yaml", POLICY))
    said: list[str] = []
    answer = watch_once(cfg, client, policy, db=tmp_path / "watch.duckdb", out=tmp_path / "watch",
                        window_s=parse_duration("3650d", "--window"), say=said.append)  # fmt: skip
    assert answer["created"], said
    pending = gw.admin(
        "GET", "/admin/decisions", params={"source": "watch", "review": "pending"}
    ).json()
    blocks = [d for d in pending if d["action"] == "block"]
    assert [d["target"] for d in blocks].count(cluster_id) == 1
    member_key = gw.admin("POST", f"/admin/accounts/{members[0]}/keys").json()["api_key"]
    assert _post(gw, member_key).status_code == 403
    legit_key = gw.admin("POST", f"/admin/accounts/{legit}/keys").json()["api_key"]
    assert _post(gw, legit_key).status_code == 200
    # an analyst reverses the automatic block; the next round does not re-impose it
    block = next(d for d in blocks if d["target"] == cluster_id)
    gw.admin("POST", f"/admin/decisions/{block['id']}/revoke", json={"suppress_hours": 24})
    assert _post(gw, member_key).status_code == 200
    again = watch_once(cfg, client, policy, db=tmp_path / "watch.duckdb", out=tmp_path / "watch",
                       window_s=parse_duration("3650d", "--window"), say=said.append)  # fmt: skip
    assert again["suppressed"] >= 1 and _post(gw, member_key).status_code == 200
    assert (tmp_path / "watch" / "findings" / "decisions.jsonl").is_file()
    assert any("decisions created" in s for s in said)


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_plan_maps_verdicts_and_reasons(campaigns: Campaigns) -> None:
    from distillguard.gateway import Policy

    policy = Policy.model_validate({"rules": [
        {"when": {"reason": "trace_share"}, "action": "throttle", "params": {"rpm": 5}},
        {"when": {"verdict": "act", "min_risk": 0.99, "scope": "account"}, "action": "verify",
         "params": {"level": "business"}}]})  # fmt: skip
    batch = plan(policy, campaigns.findings)
    actions = {d["action"] for d in batch["decisions"]}
    assert actions <= {"throttle", "verify"} and batch["decisions"]
    assert all(d["expires_in_hours"] and d["source"] == "policy" for d in batch["decisions"])
