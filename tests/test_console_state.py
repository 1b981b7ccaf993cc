"""The console's state file: logins, labels (the latest wins, all kept), statuses, audit."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

import distillguard as dg
from distillguard.console import ConsoleState, User, read_console_labels
from distillguard.console._state import check_password, hash_password
from distillguard.detection.labels import read_labels


def test_passwords_are_stored_hashed_and_checked(tmp_path: Path) -> None:
    state = ConsoleState(tmp_path / "console.sqlite")
    state.add_user("ana", "analyst", "twelve chars!")
    assert state.authenticate("ana", "twelve chars!") == User("ana", "analyst")
    assert state.authenticate("ana", "twelve chars?") is None
    assert state.authenticate("nobody", "twelve chars!") is None
    raw = (tmp_path / "console.sqlite").read_bytes()
    assert b"twelve chars!" not in raw and b"scrypt$" in raw
    assert stat.S_IMODE((tmp_path / "console.sqlite").stat().st_mode) == 0o600
    stored = hash_password("x" * 12)
    assert stored != hash_password("x" * 12)  # salted
    assert check_password("x" * 12, stored) and not check_password("y" * 12, stored)
    assert not check_password("x" * 12, "md5$abc") and not check_password("x", "garbage")


@pytest.mark.parametrize(
    ("name", "role", "password", "message"),
    [
        ("ana", "admin", "twelve chars!", "role must be one of"),
        ("", "viewer", "twelve chars!", "a user name"),
        ("a\nb", "viewer", "twelve chars!", "a user name"),
        ("ana", "viewer", "short", "at least 12"),
    ],
)
def test_bad_users_are_refused(
    tmp_path: Path, name: str, role: str, password: str, message: str
) -> None:
    with pytest.raises(dg.InputError, match=message):
        ConsoleState(tmp_path / "c.sqlite").add_user(name, role, password)


def test_labels_keep_history_and_the_latest_is_what_scan_learns(tmp_path: Path) -> None:
    path = tmp_path / "console.sqlite"
    state = ConsoleState(path)
    ana = User("ana", "analyst")
    state.label(["a1", "a2"], "attack", "campaign members", ana, campaign="cluster-0001")
    state.label(["a2"], "legit", "a reseller's own customer", ana)
    assert state.labels() == {"a1": "attack", "a2": "legit"}
    history = state.label_history("a2")
    assert [h["label"] for h in history] == ["legit", "attack"]
    assert history[1]["campaign"] == "cluster-0001" and history[0]["by"] == "ana"
    assert read_console_labels(path) == {"a1": True, "a2": False}
    assert read_labels(path) == {"a1": True, "a2": False}  # scan --labels console.sqlite
    with pytest.raises(dg.InputError, match="label must be one of"):
        state.label(["a1"], "maybe", "", ana)
    actions = [(e["action"], e["target"]) for e in state.audit_log()]
    assert actions == [("label", "a2"), ("label", "cluster-0001")]


def test_statuses_and_the_audit_log(tmp_path: Path) -> None:
    state = ConsoleState(tmp_path / "console.sqlite")
    ana = User("ana", "analyst")
    state.set_status("cluster-0002", "in review", ana)
    state.set_status("cluster-0002", "confirmed", ana)
    assert state.statuses() == {"cluster-0002": "confirmed"}
    with pytest.raises(dg.InputError, match="status must be one of"):
        state.set_status("cluster-0002", "<b>done</b>", ana)
    log = state.audit_log("cluster-0002")
    assert [e["detail"]["status"] for e in log] == ["confirmed", "in review"]
    assert all(e["user"] == "ana" for e in log)
