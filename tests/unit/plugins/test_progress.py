"""Progress of long waits: the modules' progress files and the llmhub.eks.progress callback's lines."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / ".collections"))

from ansible_collections.llmhub.eks.plugins.callback import progress as callback  # noqa: E402
from ansible_collections.llmhub.eks.plugins.module_utils import common, progress  # noqa: E402


def test_elapsed_reads_like_terraform():
    assert [callback.elapsed(s) for s in (0, 9.9, 60, 90, 754)] == ["0s", "9s", "1m0s", "1m30s", "12m34s"]


def test_a_wait_reports_every_round_and_removes_its_file_at_the_end(tmp_path, monkeypatch):
    monkeypatch.setenv(progress.ENVIRONMENT_VARIABLE, str(tmp_path))
    seen_during_wait = []
    rounds = iter([
        {"system": {"status": "CREATING"}},
        {"system": {"status": "CREATING"}, "database": {"status": "ACTIVE"}},
        {"system": {"status": "ACTIVE"}, "database": {"status": "ACTIVE"}},
    ])

    def sleep(_seconds):
        seen_during_wait.extend(json.loads(p.read_text()) for p in tmp_path.glob("*.json"))

    final = common.wait_for_set(lambda ids: next(rounds), ["system", "database"], lambda r: r["status"] == "ACTIVE",
                                lambda r: None, 60, "node groups of hub", sleep=sleep)
    assert set(final) == {"system", "database"}
    assert [r["states"] for r in seen_during_wait] == [
        {"system": "CREATING", "database": "not found yet"},
        {"system": "CREATING", "database": "ACTIVE"},
    ]
    assert {r["description"] for r in seen_during_wait} == {"node groups of hub"}
    assert list(tmp_path.iterdir()) == []  # the file goes with the wait


def test_a_failed_wait_also_removes_its_file(tmp_path, monkeypatch):
    monkeypatch.setenv(progress.ENVIRONMENT_VARIABLE, str(tmp_path))
    clock = iter(range(0, 1000, 50))
    try:
        common.wait_for_set(lambda ids: {}, ["gw"], lambda r: True, lambda r: None, 60, "NAT gateways",
                            sleep=lambda s: None, clock=lambda: next(clock))
    except Exception as error:  # noqa: BLE001 - AnsibleAWSError
        assert "still not ready after 60s" in str(error)
    assert list(tmp_path.iterdir()) == []


def test_without_the_callback_nothing_is_written(tmp_path, monkeypatch):
    monkeypatch.delenv(progress.ENVIRONMENT_VARIABLE, raising=False)
    monkeypatch.chdir(tmp_path)
    progress.report("x", {"a": "CREATING"}, time.time())
    progress.finish()
    assert list(tmp_path.iterdir()) == []


def test_the_callback_prints_what_is_waited_for_with_states_and_elapsed_time(tmp_path):
    now = time.time()
    (tmp_path / "11.json").write_text(json.dumps({
        "description": "node groups of hub", "states": {"system": "CREATING", "application": "ACTIVE"},
        "started": now - 95, "updated": now - 2}))
    (tmp_path / "12.json").write_text(json.dumps({  # a module that died long ago
        "description": "old", "states": {}, "started": now - 900, "updated": now - 600}))
    (tmp_path / "13.json.tmp").write_text("{partial")
    lines = [callback.progress_line(r, now) for r in callback.read_records(str(tmp_path), now)]
    assert lines == ["Still waiting [1m35s elapsed]: node groups of hub: application ACTIVE, system CREATING"]
