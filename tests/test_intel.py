"""STIX 2.1 export, TAXII 2.1 round trip against a real medallion server, and matching a
partner's bundle against our traffic."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from pydantic import SecretStr
from stix2validator import ValidationOptions, validate_string

import distillguard as dg
from distillguard.detection.pipeline import scan
from distillguard.intel import apply_to_findings, export_bundle, indicators_of, match, pull, push
from distillguard.intel._indicators import KINDS, parse, pattern
from distillguard.rules import load_rules
from helpers import Campaigns, run_cli


@pytest.fixture(scope="module")
def pivot(campaigns: Campaigns) -> dict:
    """The campaign with the most exchanges (acted on)."""
    clusters = dg.load_findings(campaigns.findings).all_clusters()
    return max((c for c in clusters if c["verdict"] == "act"), key=lambda c: c["exchanges"])


@pytest.fixture(scope="module")
def bundle(campaigns: Campaigns, pivot: dict) -> dict:
    with dg.Store.open(campaigns.settings.db, read_only=True) as store:
        return export_bundle(
            store,
            dg.load_findings(campaigns.findings),
            pivot["cluster_id"],
            campaigns.settings,
            load_rules(),
        )


def test_bundle_is_valid_stix_with_every_part(bundle: dict) -> None:
    result = validate_string(json.dumps(bundle), ValidationOptions(strict=False))
    assert result.is_valid, result.as_dict()
    assert not result.warnings, "no validator warnings"
    types = {o["type"] for o in bundle["objects"]}
    assert {
        "identity",
        "extension-definition",
        "campaign",
        "infrastructure",
        "indicator",
        "relationship",
        "sighting",
        "marking-definition",
    } <= types
    kinds = {
        next(iter(o["extensions"].values()))["llm_indicator_type"]
        for o in bundle["objects"]
        if o["type"] == "indicator"
    }
    assert {
        "client-fingerprint",
        "email-pseudonym",
        "payment-pseudonym",
        "prompt-template",
        "asn",
    } <= kinds
    tlp = next(o for o in bundle["objects"] if o["type"] == "marking-definition")
    for o in bundle["objects"]:
        if o["type"] != "marking-definition":
            assert o["object_marking_refs"] == [tlp["id"]]
    for s in (o for o in bundle["objects"] if o["type"] == "sighting"):
        assert s["count"] >= 1 and s["first_seen"] <= s["last_seen"]


def test_no_raw_personal_data_or_prompt_text_in_the_bundle(
    campaigns: Campaigns, pivot: dict, bundle: dict
) -> None:
    text = json.dumps(bundle)
    members = set(pivot["account_ids"])
    accounts = [
        r
        for r in pq.read_table(campaigns.sim / "accounts.parquet").to_pylist()
        if r["account_id"] in members
    ]
    for r in accounts:
        for value in (r.get("email"), r.get("payment_fp")):
            if value:
                assert value not in text and value.split("@")[0] not in text
    with dg.Store.open(campaigns.settings.db, read_only=True) as store:
        prompts = (
            store.query(
                "SELECT prompt FROM exchanges WHERE account_id IN (SELECT unnest(?::VARCHAR[])) LIMIT 300",
                [sorted(members)],
            )
            .column("prompt")
            .to_pylist()
        )
    for p in prompts:
        for i in range(0, max(len(p) - 40, 1), 40):
            chunk = p[i : i + 40]
            if len(chunk) == 40:
                assert chunk not in text


def test_export_is_deterministic_and_needs_the_key(
    campaigns: Campaigns, pivot: dict, bundle: dict
) -> None:
    findings = dg.load_findings(campaigns.findings)
    with dg.Store.open(campaigns.settings.db, read_only=True) as store:
        again = export_bundle(
            store, findings, pivot["cluster_id"], campaigns.settings, load_rules()
        )
        assert sorted(o["id"] for o in again["objects"]) == sorted(
            o["id"] for o in bundle["objects"]
        )
        no_key = campaigns.settings.model_copy(
            update={"intel": campaigns.settings.intel.model_copy(update={"consortium_key": None})}
        )
        with pytest.raises(dg.ConfigError, match="consortium key"):
            export_bundle(store, findings, pivot["cluster_id"], no_key, load_rules())


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("ip", "203.0.113.7"),
        ("ip", "2001:db8::1"),
        ("subnet", "203.0.113.0/24"),
        ("asn", "64500"),
        ("user-agent", 'evil\'agent\\\\ "quoted" ]['),
        ("email-domain", "mailinator.com"),
        ("client-fingerprint", "t13d1911h2_2c8f6b6cd471"),
        ("email-pseudonym", "0" * 32),
        ("payment-pseudonym", "f" * 32),
        ("prompt-template", "bk1:1:" + "00" * 8),
    ],
)
def test_patterns_round_trip_even_with_hostile_values(kind: str, value: str) -> None:
    parsed = parse(pattern(kind, value))
    assert parsed is not None and (parsed.kind, parsed.value) == (kind, value)


def test_unknown_patterns_and_bad_bundles() -> None:
    assert parse("[file:hashes.'SHA-256' = 'abc']") is None
    assert {k for k in KINDS} >= {"ip", "prompt-template"}
    doc = {
        "type": "bundle",
        "objects": [
            {
                "type": "indicator",
                "id": "indicator--1",
                "pattern": "[file:name = 'x.exe']",
                "pattern_type": "stix",
            },
            {
                "type": "indicator",
                "id": "indicator--2",
                "pattern": "rule x {}",
                "pattern_type": "yara",
            },
            "not an object",
        ],
    }
    inds = indicators_of(doc)
    assert len(inds) == 1 and inds[0].kind == ""
    with pytest.raises(dg.InputError, match="not a STIX bundle"):
        indicators_of({"type": "indicator"})
    with pytest.raises(dg.InputError, match="not a STIX bundle"):
        indicators_of(["bundle"])


def test_a_partners_bundle_flags_the_campaign_on_its_first_requests(
    monkeypatch: pytest.MonkeyPatch,
    campaigns: Campaigns,
    pivot: dict,
    bundle: dict,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The partner (another lab) saw the whole campaign; we have only its first six hours."""
    until = pivot["first_seen"] + timedelta(hours=6)
    early = tmp_path / "early"
    with dg.Store.open(campaigns.settings.db, read_only=True) as store:
        scan(store, load_rules(), early, until=until)
    before = {r["account_id"]: r for r in pq.read_table(early / "accounts.parquet").to_pylist()}
    members = set(pivot["account_ids"]) & set(before)
    assert members, "some campaign accounts are active in the first hours"
    monkeypatch.setenv("DISTILLGUARD_INTEL__CONSORTIUM_KEY", "test-consortium-key-not-a-secret")
    partner = tmp_path / "partner.stix.json"
    partner.write_text(json.dumps(bundle))
    code, output = run_cli(
        capsys,
        "intel",
        "match",
        str(partner),
        "--findings",
        str(early),
        "--db",
        str(campaigns.settings.db),
    )
    assert code == 0, output
    after = {r["account_id"]: r for r in pq.read_table(early / "accounts.parquet").to_pylist()}
    truth = campaigns.truth()
    matched = {a for a, r in after.items() if "shared_indicator" in r["reasons"]}
    assert matched == members  # every campaign account seen so far, and nobody else
    assert all(truth[a]["label"] == "attack" for a in matched)
    for a in matched:
        reason = json.loads(after[a]["reasons"])[0]
        assert reason["text"].startswith("matches indicators shared by Test Lab on ")
        assert after[a]["verdict"] == "act"
    findings_doc = json.loads((early / "findings.json").read_text())
    assert {r["account_id"] for r in findings_doc["accounts"]} >= matched
    assert json.loads((early / "intel_matches.json").read_text())["accounts"].keys() == matched


def test_without_the_consortium_key_pseudonyms_and_templates_do_not_match(
    campaigns: Campaigns, bundle: dict
) -> None:
    other = campaigns.settings.model_copy(
        update={
            "intel": campaigns.settings.intel.model_copy(
                update={"consortium_key": SecretStr("another-group-key-123456")}
            )
        }
    )
    with dg.Store.open(campaigns.settings.db, read_only=True) as store:
        result = match(store, dg.load_findings(campaigns.findings), indicators_of(bundle), other)
    kinds = {i.kind for inds in result.matches.values() for i in inds}
    assert not kinds & {"email-pseudonym", "payment-pseudonym", "prompt-template"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def taxii(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A real medallion TAXII 2.1 server on loopback (memory backend)."""
    exe = shutil.which("medallion", path=str(Path(sys.executable).parent)) or shutil.which(
        "medallion"
    )
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("medallion must be installed on CI (it is a dev dependency)")
        pytest.skip("medallion not installed")
    work = tmp_path_factory.mktemp("taxii")
    port = _free_port()
    root = f"http://127.0.0.1:{port}/api1/"
    collection = str(uuid.uuid4())
    data = {
        "/discovery": {"title": "test", "default": root, "api_roots": [root]},
        "api1": {
            "information": {
                "title": "api1",
                "versions": ["application/taxii+json;version=2.1"],
                "max_content_length": 104857600,
            },
            "status": [],
            "collections": [
                {
                    "id": collection,
                    "title": "labs",
                    "can_read": True,
                    "can_write": True,
                    "media_types": ["application/stix+json;version=2.1"],
                    "objects": [],
                    "manifest": [],
                }
            ],
        },
    }
    (work / "data.json").write_text(json.dumps(data))
    (work / "config.json").write_text(
        json.dumps(
            {
                "backend": {
                    "module": "medallion.backends.memory_backend",
                    "module_class": "MemoryBackend",
                    "filename": str(work / "data.json"),
                },
                "users": {"lab": "lab-password"},
                "taxii": {"max_page_size": 50},
            }
        )
    )
    log = (work / "medallion.log").open("w")
    proc = subprocess.Popen(
        [exe, "--host", "127.0.0.1", "--port", str(port), str(work / "config.json")],
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("medallion did not start: " + (work / "medallion.log").read_text())
        yield root, collection
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


def test_taxii_round_trip_then_match(
    campaigns: Campaigns, bundle: dict, taxii: tuple[str, str]
) -> None:
    root, collection = taxii
    settings = campaigns.settings.model_copy(
        update={
            "intel": campaigns.settings.intel.model_copy(
                update={"taxii_user": "lab", "taxii_password": SecretStr("lab-password")}
            )
        }
    )
    # medallion 3.0.0 cannot serve extension-definition objects (see intel.taxii.push)
    status = push(bundle, root, collection, settings, include_definitions=False)
    sent = [o for o in bundle["objects"] if o["type"] != "extension-definition"]
    assert status["success"] == status["total"] == len(sent)
    pulled = pull(root, collection, settings)  # several pages: the server's page size is 50
    assert sorted(o["id"] for o in pulled["objects"]) == sorted(o["id"] for o in sent)
    assert {json.dumps(o, sort_keys=True) for o in pulled["objects"]} == {
        json.dumps(o, sort_keys=True) for o in sent
    }
    with dg.Store.open(settings.db, read_only=True) as store:
        result = match(store, dg.load_findings(campaigns.findings), indicators_of(pulled), settings)
    assert result.matches


def test_taxii_errors_are_clear(campaigns: Campaigns, bundle: dict, taxii: tuple[str, str]) -> None:
    root, collection = taxii
    wrong = campaigns.settings.model_copy(
        update={
            "intel": campaigns.settings.intel.model_copy(
                update={"taxii_user": "lab", "taxii_password": SecretStr("nope")}
            )
        }
    )
    with pytest.raises(dg.SharingError, match="TAXII"):
        push(bundle, root, collection, wrong)
    with pytest.raises(dg.InputError, match="http"):
        pull("ftp://x", collection, wrong)
    with pytest.raises(dg.SharingError):
        pull(f"http://127.0.0.1:{_free_port()}/api1/", collection, wrong)


def test_apply_is_idempotent(campaigns: Campaigns, bundle: dict, tmp_path: Path) -> None:
    target = tmp_path / "f"
    shutil.copytree(campaigns.findings, target)
    findings = dg.load_findings(target)
    with dg.Store.open(campaigns.settings.db, read_only=True) as store:
        result = match(store, findings, indicators_of(bundle), campaigns.settings)
    first = apply_to_findings(findings, result, campaigns.settings, load_rules())
    again = apply_to_findings(dg.load_findings(target), result, campaigns.settings, load_rules())
    assert first == again > 0
    rows = pq.read_table(target / "accounts.parquet").to_pylist()
    assert all(r["reasons"].count("shared_indicator") <= 1 for r in rows)


def test_the_commands_end_to_end(
    campaigns: Campaigns,
    pivot: dict,
    taxii: tuple[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root, collection = taxii
    monkeypatch.setenv("DISTILLGUARD_INTEL__CONSORTIUM_KEY", "test-consortium-key-not-a-secret")
    monkeypatch.setenv("DISTILLGUARD_INTEL__TAXII_USER", "lab")
    monkeypatch.setenv("DISTILLGUARD_INTEL__TAXII_PASSWORD", "lab-password")
    db, findings = str(campaigns.settings.db), str(campaigns.findings)
    out = tmp_path / "c.stix.json"
    code, output = run_cli(
        capsys,
        "intel",
        "export",
        pivot["cluster_id"],
        "--findings",
        findings,
        "--db",
        db,
        "--out",
        str(out),
    )
    assert code == 0 and "indicator" in output, output
    code, output = run_cli(
        capsys,
        "intel",
        "push",
        str(out),
        "--server",
        root,
        "--collection",
        collection,
        "--no-definitions",
    )
    assert code == 0 and "pushed" in output, output
    pulled = tmp_path / "pulled.json"
    code, output = run_cli(
        capsys, "intel", "pull", "--server", root, "--collection", collection, "--out", str(pulled)
    )
    assert code == 0 and json.loads(pulled.read_text())["objects"], output
    code, output = run_cli(
        capsys,
        "intel",
        "export",
        pivot["cluster_id"],
        "--format",
        "csv",
        "--findings",
        findings,
        "--db",
        db,
    )
    assert code == 2
    code, output = run_cli(
        capsys, "intel", "match", str(tmp_path / "missing.json"), "--findings", findings, "--db", db
    )
    assert code == 4 and "missing.json" in output
    monkeypatch.setenv("DISTILLGUARD_INTEL__CONSORTIUM_KEY", "short")
    code, output = run_cli(
        capsys, "intel", "export", pivot["cluster_id"], "--findings", findings, "--db", db
    )
    assert code == 3 and "at least 16 characters" in output
