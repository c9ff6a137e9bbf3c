"""The benchmark harness runs end to end (tiny profile, one layer); no timing is asserted."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from .conftest import ROOT

pytestmark = pytest.mark.integration


def test_benchmark_harness_reports_every_measure(tmp_path):
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "run.py"), "--profile", "instant", "--fleet", "1",
                    "--tags", "vpc", "--out", str(tmp_path), "--no-readme"], cwd=ROOT, check=True,
                   capture_output=True, text=True, timeout=600)
    [report] = [json.loads(p.read_text()) for p in tmp_path.glob("*.json")]
    assert set(report) >= {"critical_path", "full_deploy", "noop_rerun", "fleet", "ratios"}
    assert report["full_deploy"]["calls"]["by_operation"]["ec2:CreateSubnet"] == 9
    assert report["noop_rerun"]["calls"]["mutating"] == 0
    assert report["noop_rerun"]["changed"] == 0
    assert report["full_deploy"]["slowest_tasks"]
    # With only the vpc tag there is no cluster: the timeline has the first call and the end, in that order.
    marks = report["full_deploy"]["milestones"]
    assert 0 < marks["first AWS call"] < marks["run ends"] == report["full_deploy"]["wall_seconds"]
    assert "cluster requested" not in marks
    assert "| full deploy / critical path |" in (tmp_path / "latest.md").read_text()
