"""Turbo mode (plugins/module_utils/turbo.py): modules handed to a warm worker behave as in their own process.

Each test uses its own worker directory (LLMHUB_TURBO_DIR), so it sees only its
own worker: the first module run starts it, the next ones are served by it,
which its log (one line per run) shows.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .conftest import wait_for

pytestmark = pytest.mark.integration

UNREACHABLE = "http://127.0.0.1:9"


def nodegroups_of_missing_cluster(name: str, environment: dict[str, str] | None = None) -> dict:
    """With ``environment``, the endpoint comes from it (AWS_ENDPOINT_URL) instead of module_defaults."""
    args = {"cluster_name": "no-such-cluster", "nodegroups": []}
    task = {"name": name, "llmhub.eks.eks_nodegroups": args, "ignore_errors": True}
    if environment:
        args["endpoint_url"] = "{{ omit }}"
        task["environment"] = environment
    return task


def role_plan() -> dict:
    """A role planned in check mode with a diff: a successful run with a structured result."""
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                     "Principal": {"Service": "ec2.amazonaws.com"}}]}
    return {"name": "plan role", "llmhub.eks.iam_roles": {"roles": [{"name": "turbo-plan", "assume_role_policy": trust,
                                                                     "managed_policies": []}]},
            "check_mode": True, "diff": True}


def tasks() -> list[dict]:
    return [
        role_plan(),
        # The worker applies each run's own environment: this endpoint cannot be reached...
        nodegroups_of_missing_cluster("elsewhere", {"AWS_ENDPOINT_URL": UNREACHABLE, "AWS_MAX_ATTEMPTS": "1"}),
        # ...and this one (module_defaults) is the emulator.
        nodegroups_of_missing_cluster("missing cluster"),
    ]


def served(directory: Path) -> list[str]:
    """Module names of the runs the worker served, from its log."""
    lines = "".join(path.read_text(encoding="utf-8") for path in directory.glob("*.log"))
    return re.findall(r" ran (\S+) in process \d+: exit (\d+)", lines)


def comparable(result: dict) -> dict:
    return {key: value for key, value in result.items() if key not in ("invocation", "_ansible_no_log")}


def warm_up(run_tasks, env: dict[str, str], directory: Path) -> None:
    """One run starts the worker; wait until it listens."""
    run = run_tasks([nodegroups_of_missing_cluster("warm up")], env=env)
    assert run.rc == 0, run.failure_messages()
    wait_for(lambda: list(directory.glob("*.sock")), timeout=60)


def test_worker_runs_modules_with_their_own_arguments_environment_and_output(fresh_account, run_tasks, tmp_path):
    directory = tmp_path / "turbo"
    env = {"LLMHUB_TURBO_DIR": str(directory), "LLMHUB_TURBO_IDLE": "60"}
    warm_up(run_tasks, env, directory)

    warm = run_tasks(tasks(), env=env)
    assert warm.rc == 0, warm.stderr
    assert served(directory) == [("ansible_collections.llmhub.eks.plugins.modules.iam_roles", "0"),
                                 ("ansible_collections.llmhub.eks.plugins.modules.eks_nodegroups", "1"),
                                 ("ansible_collections.llmhub.eks.plugins.modules.eks_nodegroups", "1")]
    results = warm.task_results()
    assert results["plan role"]["changed"] and results["plan role"]["created"] == ["turbo-plan"]
    assert results["plan role"]["diff"]["after"]["turbo-plan"]["assume_role_policy"]
    assert "Could not connect to the endpoint URL" in results["elsewhere"]["msg"]
    assert UNREACHABLE in results["elsewhere"]["msg"]
    assert results["missing cluster"]["msg"].startswith("cluster_name: there is no EKS cluster 'no-such-cluster'")

    # The same tasks in their own processes give the same results.
    cold = run_tasks(tasks(), env={**env, "LLMHUB_TURBO": "0"})
    assert cold.rc == 0, cold.stderr
    assert len(served(directory)) == 3, "LLMHUB_TURBO=0 must not use the worker"
    for name, result in cold.task_results().items():
        assert comparable(result) == comparable(results[name]), name
    assert "CreateRole" not in [entry["operation"] for entry in fresh_account.requests()], "check mode created"


def test_turbo_off_starts_no_worker(run_tasks, tmp_path):
    directory = tmp_path / "turbo"
    run = run_tasks([nodegroups_of_missing_cluster("missing cluster")],
                    env={"LLMHUB_TURBO_DIR": str(directory), "LLMHUB_TURBO": "0"})
    assert run.rc == 0, run.failure_messages()
    assert not directory.exists() or not list(directory.iterdir())


def test_idle_worker_stops_and_cleans_up(run_tasks, tmp_path):
    directory = tmp_path / "turbo"
    env = {"LLMHUB_TURBO_DIR": str(directory), "LLMHUB_TURBO_IDLE": "1"}
    warm_up(run_tasks, env, directory)
    wait_for(lambda: not list(directory.glob("*.sock")) and not list(directory.glob("*.zip")), timeout=30)
    assert "idle, stopped" in "".join(path.read_text(encoding="utf-8") for path in directory.glob("*.log"))
