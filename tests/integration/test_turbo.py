"""Turbo mode (plugins/module_utils/turbo.py, plugins/action/turbo.py): modules handed to a warm worker
behave as in their own process.

Each test uses its own worker directory (LLMHUB_TURBO_DIR), so it sees only its
own worker: the first module run starts it, the next ones are served by it,
which its log (one line per run, saying who handed the run over: the
controller's action plugin or an AnsiballZ process) shows.
"""

from __future__ import annotations

import re
import sys
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


CONTROLLER, ANSIBALLZ = "the controller", "AnsiballZ"
IAM_ROLES = "ansible_collections.llmhub.eks.plugins.modules.iam_roles"
EKS_NODEGROUPS = "ansible_collections.llmhub.eks.plugins.modules.eks_nodegroups"


def served(directory: Path) -> list[tuple[str, str, str]]:
    """(module, who handed it over, exit status) of the runs the worker served, from its log."""
    lines = "".join(path.read_text(encoding="utf-8") for path in directory.glob("*.log"))
    return re.findall(r" ran (\S+) for (the controller|AnsiballZ) in process \d+: exit (\d+)", lines)


def comparable(result: dict) -> dict:
    return {key: value for key, value in result.items() if key not in ("invocation", "_ansible_no_log")}


def warm_up(run_tasks, env: dict[str, str], directory: Path) -> None:
    """The first run of the collection's modules starts the worker (from the controller) and is served by it."""
    run = run_tasks([nodegroups_of_missing_cluster("warm up")], env=env)
    assert run.rc == 0, run.failure_messages()
    assert served(directory) == [(EKS_NODEGROUPS, CONTROLLER, "1")]
    assert list(directory.glob("*.sock")) and not list(directory.glob("*.zip"))


def test_worker_runs_modules_with_their_own_arguments_environment_and_output(fresh_account, run_tasks, tmp_path):
    directory = tmp_path / "turbo"
    env = {"LLMHUB_TURBO_DIR": str(directory), "LLMHUB_TURBO_IDLE": "60"}
    warm_up(run_tasks, env, directory)

    warm = run_tasks(tasks(), env=env)
    assert warm.rc == 0, warm.stderr
    # With the local connection and the controller's Python, the controller hands the runs over itself.
    assert served(directory)[1:] == [(IAM_ROLES, CONTROLLER, "0"), (EKS_NODEGROUPS, CONTROLLER, "1"),
                                     (EKS_NODEGROUPS, CONTROLLER, "1")]
    results = warm.task_results()
    assert results["plan role"]["changed"] and results["plan role"]["created"] == ["turbo-plan"]
    assert results["plan role"]["diff"]["after"]["turbo-plan"]["assume_role_policy"]
    assert "Could not connect to the endpoint URL" in results["elsewhere"]["msg"]
    assert UNREACHABLE in results["elsewhere"]["msg"]
    assert results["missing cluster"]["msg"].startswith("cluster_name: there is no EKS cluster 'no-such-cluster'")

    # The same tasks in their own processes give the same results.
    cold = run_tasks(tasks(), env={**env, "LLMHUB_TURBO": "0"})
    assert cold.rc == 0, cold.stderr
    assert len(served(directory)) == 4, "LLMHUB_TURBO=0 must not use the worker"
    for name, result in cold.task_results().items():
        assert comparable(result) == comparable(results[name]), name
    assert "CreateRole" not in [entry["operation"] for entry in fresh_account.requests()], "check mode created"


def test_another_interpreter_hands_runs_over_from_its_ansiballz_process(run_tasks, tmp_path):
    """The controller hands a run over only for its own interpreter: another path to Python is another worker."""
    other = next((str(path) for path in (Path(sys.executable).with_name(name) for name in ("python3", "python"))
                  if path.exists() and str(path) != sys.executable), None)
    if other is None:
        pytest.skip("no second path to this Python in its bin directory")
    directory = tmp_path / "turbo"
    env = {"LLMHUB_TURBO_DIR": str(directory), "LLMHUB_TURBO_IDLE": "60"}
    interpreter = ("-e", f"ansible_python_interpreter={other}")
    run = run_tasks([nodegroups_of_missing_cluster("warm up")], *interpreter, env=env)
    assert run.rc == 0, run.failure_messages()
    assert not served(directory), "the first AnsiballZ run starts a worker and runs in its own process"
    wait_for(lambda: list(directory.glob("*.sock")), timeout=60)

    run = run_tasks([nodegroups_of_missing_cluster("missing cluster"), role_plan()], *interpreter, env=env)
    assert run.rc == 0, run.stderr
    assert served(directory) == [(EKS_NODEGROUPS, ANSIBALLZ, "1"), (IAM_ROLES, ANSIBALLZ, "0")]
    assert run.task_results()["plan role"]["created"] == ["turbo-plan"]


def caller_lookup() -> dict:
    return {"name": "caller", "ansible.builtin.set_fact": {
        "caller": "{{ lookup('llmhub.eks.aws_caller_identity', endpoint_url=llmhub_aws_endpoint_url) }}"}}


def test_the_caller_lookup_starts_the_worker_for_the_modules_that_follow(run_tasks, tmp_path):
    directory = tmp_path / "turbo"
    run = run_tasks([caller_lookup()], env={"LLMHUB_TURBO_DIR": str(directory), "LLMHUB_TURBO_IDLE": "60"})
    assert run.rc == 0, run.failure_messages()
    wait_for(lambda: list(directory.glob("*.sock")), timeout=60)
    assert not served(directory)

    off = tmp_path / "off"
    run = run_tasks([caller_lookup()], env={"LLMHUB_TURBO_DIR": str(off), "LLMHUB_TURBO": "0"})
    assert run.rc == 0, run.failure_messages()
    assert not off.exists() or not list(off.iterdir())


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
