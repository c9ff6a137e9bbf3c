"""The plan role's cost estimate end to end: roles/plan tasks/cost.yml with the inventories' defaults.

No AWS call is made (the roles' validate entry points and the estimate are controller-side), so no emulator is
started; the endpoint below is never contacted.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.integration.conftest import ROOT, PlaybookRun, parse_report, playbook_environment

PLAYBOOK = ROOT / "tests" / "integration" / "playbooks" / "plan_cost.yml"
NO_ENDPOINT = "http://127.0.0.1:9"


def run(playbook: Path, inventory: str, *args: str) -> PlaybookRun:
    command = [str(Path(sys.executable).with_name("ansible-playbook")), str(playbook), "-i",
               str(ROOT / "inventories" / inventory), *args]
    proc = subprocess.run(command, cwd=ROOT, env=playbook_environment(NO_ENDPOINT), capture_output=True, text=True,
                          timeout=300, check=False)
    return PlaybookRun(proc.returncode, proc.stdout, proc.stderr, parse_report(proc.stdout))


@pytest.mark.parametrize("inventory", ["local", "example"])
def test_default_inventories_get_the_estimate_with_the_overview_comparison(inventory):
    result = run(PLAYBOOK, inventory)
    assert result.rc == 0, result.failure_messages() or result.stderr[-2000:]
    shown = result.task_results()["Show the estimate"]["msg"]
    estimate = shown["estimate"]
    assert estimate["region"] == "us-east-1"
    assert estimate["total"] == pytest.approx(3108.31, abs=0.01)
    lines = {line["key"]: line["monthly"] for line in estimate["lines"]}
    assert lines["eks_control_plane"] == 73.0 and lines["nat_gateways"] == 98.55
    assert lines["nodes_system"] == 420.48 and lines["nodes_application"] == 420.48
    assert lines["nodes_database"] == 1471.68 and lines["data_transfer"] == 100.0
    overview = estimate["overview"]
    assert overview["subtotal"] == pytest.approx(2584.19, abs=0.01) and overview["overview_total"] == 2022
    assert all(line["explanation"] for line in overview["lines"] + overview["extra_lines"])
    assert estimate["prices"]["file"].endswith("roles/plan/files/prices/us-east-1.yml")
    assert shown["markdown"].startswith("## Estimated monthly cost (us-east-1, USD, 730 h/month)")
    assert "| **Total** | | **$3,108.31** | |" in shown["markdown"]
    json.dumps(estimate)   # the plan report writes it as JSON


def test_inventory_overrides_reach_the_estimate():
    extra = {"plan_prices": {"instance_hour": {"r5.2xlarge": 0.40}}, "plan_spot_discount": 0.5,
             "vpc_single_nat_gateway": True}
    result = run(PLAYBOOK, "local", "-e", json.dumps(extra))
    assert result.rc == 0, result.failure_messages() or result.stderr[-2000:]
    estimate = result.task_results()["Show the estimate"]["msg"]["estimate"]
    lines = {line["key"]: line["monthly"] for line in estimate["lines"]}
    assert lines["nodes_database"] == pytest.approx(4 * 0.40 * 730, abs=0.01)
    assert lines["nodes_application"] == pytest.approx(5 * 0.384 * 730 * 0.5, abs=0.01)
    assert lines["nat_gateways"] == pytest.approx(0.045 * 730, abs=0.01)
    assert estimate["prices"]["overridden"] == ["instance_hour"]


def test_a_region_without_prices_fails_naming_plan_prices_and_the_file():
    result = run(PLAYBOOK, "local", "-e", "plan_region=ap-south-2")
    assert result.rc != 0
    message = result.failure_messages()
    assert "plan_prices: no prices for region 'ap-south-2'" in message
    assert "roles/plan/files/prices/ap-south-2.yml does not exist" in message


def test_the_estimate_without_the_roles_defaults_says_to_run_the_preflight_first(tmp_path):
    play = yaml.safe_load(PLAYBOOK.read_text())
    play[0]["tasks"] = [task for task in play[0]["tasks"]
                        if task.get("ansible.builtin.import_role", {}).get("name") == "llmhub.eks.plan"]
    playbook = tmp_path / "plan_cost_alone.yml"
    playbook.write_text(yaml.safe_dump(play, sort_keys=False))
    result = run(playbook, "local")
    assert result.rc != 0
    message = result.failure_messages()
    assert "nodegroups_definitions" in message and "llmhub.eks.preflight" in message
