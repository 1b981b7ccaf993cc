"""kill -9 under load: every exchange the gateway answered is in the log after a restart."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import httpx

from gateway_helpers import gateway_config, logged, mock_upstream, start_gateway

ASK = [{"role": "user", "content": "What is 17 * 23?"}]


def test_kill_9_under_load_loses_no_answered_exchange(tmp_path: Path) -> None:
    with mock_upstream(chunk_delay_ms=1) as upstream:
        # a long flush interval: everything answered before the kill is still in the spool
        cfg = gateway_config(tmp_path, upstream, log={"flush_interval_s": 60})
        g = start_gateway(tmp_path, cfg)
        key = g.account("acct_crash", tier="enterprise", verification="business")
        answered: list[str] = []
        lock = threading.Lock()
        stop = threading.Event()

        def client(i: int) -> None:
            with httpx.Client(timeout=10) as http:
                n = 0
                while not stop.is_set():
                    n += 1
                    stream = (i + n) % 2 == 0
                    try:
                        if i % 2:
                            body = {"model": "atlas-3", "messages": ASK, "stream": stream}
                            with http.stream("POST", g.url + "/v1/chat/completions", json=body,
                                             headers={"authorization": f"Bearer {key}"}) as r:  # fmt: skip
                                data = b"".join(r.iter_bytes())
                                ok = r.status_code == 200 and (
                                    not stream or data.endswith(b"[DONE]\n\n")
                                )
                        else:
                            body = {
                                "model": "atlas-3",
                                "messages": ASK,
                                "max_tokens": 50,
                                "stream": stream,
                            }
                            with http.stream("POST", g.url + "/v1/messages", json=body,
                                             headers={"x-api-key": key}) as r:  # fmt: skip
                                data = b"".join(r.iter_bytes())
                                ok = r.status_code == 200 and (
                                    not stream or b"message_stop" in data
                                )
                    except httpx.HTTPError:
                        continue  # cut off by the kill: not answered
                    if ok:
                        with lock:
                            answered.append(r.headers["x-distillguard-request-id"])

        threads = [threading.Thread(target=client, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        time.sleep(2.0)
        g.proc.send_signal(signal.SIGKILL)
        g.proc.wait()
        stop.set()
        for t in threads:
            t.join()
        if g.proc.stdout:
            g.proc.stdout.close()
        assert len(answered) > 50
        assert not list((tmp_path / "log" / "exchanges").rglob("*.parquet"))
        # restart on the same log directory: the dead process's segment is recovered
        cfg["log"]["flush_interval_s"] = 0.5
        g2 = start_gateway(tmp_path, cfg, name="gateway2.yaml")
        try:
            deadline = time.monotonic() + 20
            ids: set[str] = set()
            rows: list[dict[str, object]] = []
            while time.monotonic() < deadline:
                rows = logged(tmp_path / "log")
                ids = {str(r["request_id"]) for r in rows}
                if set(answered) <= ids:
                    break
                time.sleep(0.2)
            missing = set(answered) - ids
            assert not missing, f"{len(missing)} of {len(answered)} answered exchanges lost"
            assert len(rows) == len(ids)  # and none twice
        finally:
            g2.stop()
