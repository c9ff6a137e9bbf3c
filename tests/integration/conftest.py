"""Run the collection's playbooks against the emulator and read their results.

Playbooks run as a subprocess, exactly as a user runs them, with the JSON
stdout callback so that tests read recap stats and per-task results instead
of scraping text.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pytest

from emulator.client import EmulatorClient
from tests.support import module_costs, shared_platform
from tests.support.account import create_lock_table

ROOT = Path(__file__).resolve().parents[2]
CLUSTER = "llm-analytics-hub-prod-eks"
# What check mode shows for a value AWS assigns when it creates the resource (module_utils/common.py).
KNOWN_AFTER_APPLY = "(known after apply)"
MUTATING_PREFIXES = ("Create", "Delete", "Modify", "Allocate", "Release", "Associate", "Disassociate", "Attach",
                     "Detach", "Put", "Replace", "Update", "Authorize", "Revoke", "Tag", "Untag", "Enable", "Disable",
                     "Cancel", "Schedule", "Add", "Remove", "Set", "Start", "Stop", "Register", "Deregister", "Rotate",
                     "Restore")


@dataclass
class PlaybookRun:
    """Outcome of one ansible-playbook run."""

    rc: int
    stdout: str
    stderr: str
    report: dict[str, Any] = field(default_factory=dict)

    @property
    def stats(self) -> dict[str, int]:
        return self.report.get("stats", {}).get(CLUSTER, {})

    @property
    def changed(self) -> int:
        return self.stats.get("changed", 0)

    def task_results(self) -> dict[str, dict[str, Any]]:
        """Task name -> the cluster host's result, for every task that ran."""
        results = {}
        for play in self.report.get("plays", []):
            for task in play.get("tasks", []):
                host_result = task.get("hosts", {}).get(CLUSTER)
                if host_result is not None:
                    results[task["task"]["name"].split(" : ", 1)[-1]] = host_result
        return results

    def changed_tasks(self) -> list[str]:
        return [name for name, result in self.task_results().items() if result.get("changed")]

    def failure_messages(self) -> str:
        failed = [r.get("msg", "") for r in self.task_results().values() if r.get("failed")]
        return "\n".join(str(m) for m in failed) + self.stderr


def playbook_environment(url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "AWS_ENDPOINT_URL": url,
        "LLMHUB_EMULATOR_URL": url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",  # noqa: S105 - fake credentials of the emulator
        "AWS_DEFAULT_REGION": "us-east-1",
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
        # the set_stats artifacts (what AWX hands to a workflow's next node) in the report's global_custom_stats
        "ANSIBLE_SHOW_CUSTOM_STATS": "true",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_LOCAL_TEMP": str(ROOT / ".artifacts" / "ansible-tmp"),
        # one kubeconfig per emulator: test workers run side by side, each with its own clusters
        "LLMHUB_KUBECONFIG": str(ROOT / ".artifacts" / f"kubeconfig-{urllib.parse.urlsplit(url).port}"),
    })
    return env


def playbook_command(playbook: str, *args: str) -> list[str]:
    ansible_playbook = str(Path(sys.executable).with_name("ansible-playbook"))
    return [ansible_playbook, str(ROOT / "playbooks" / playbook), "-i", str(ROOT / "inventories" / "local"), *args]


def parse_report(stdout: str) -> dict[str, Any]:
    """The JSON callback's report (other callbacks, e.g. profile_tasks, print around it)."""
    start = stdout.find("\n{") + 1 if not stdout.startswith("{") else 0
    if start <= 0 and not stdout.startswith("{"):
        return {}
    try:
        report, _end = json.JSONDecoder().raw_decode(stdout[start:])
    except json.JSONDecodeError:
        return {}
    return report


@pytest.fixture(scope="session")
def run_playbook(emulator_server) -> Callable[..., PlaybookRun]:
    """``run_playbook("site.yml", "--check", ...)`` against the session's emulator (``env=`` adds to its environment)."""

    def run(playbook: str, *args: str, timeout: float = 600, env: dict[str, str] | None = None) -> PlaybookRun:
        proc = subprocess.run(playbook_command(playbook, *args), cwd=ROOT,
                              env={**playbook_environment(emulator_server.url), **(env or {})},
                              capture_output=True, text=True, timeout=timeout, check=False)
        return PlaybookRun(proc.returncode, proc.stdout, proc.stderr, parse_report(proc.stdout))

    return run


@pytest.fixture(scope="session")
def start_playbook(emulator_server) -> Callable[..., subprocess.Popen]:
    """Start a playbook in the background (for interruption tests)."""

    def start(playbook: str, *args: str) -> subprocess.Popen:
        return subprocess.Popen(playbook_command(playbook, *args), cwd=ROOT,
                                env=playbook_environment(emulator_server.url), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, start_new_session=True)

    return start


def kill_process_group(process: subprocess.Popen) -> None:
    """Kill a playbook and its module processes as a power cut would."""
    os.killpg(process.pid, signal.SIGKILL)
    process.communicate(timeout=30)


def wait_for(predicate: Callable[[], Any], timeout: float = 120, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


# The deploy lock's own writes (taken and released by every site.yml, destroy.yml,
# backup.yml and restore.yml run): not changes of the platform.
LOCK_CALLS = ("dynamodb:PutItem", "dynamodb:DeleteItem")


def mutating_calls(client: EmulatorClient, lock: bool = False) -> list[str]:
    """The mutating AWS calls of the request log, without the deploy lock's unless ``lock``."""
    calls = [f"{e['service']}:{e['operation']}" for e in client.requests() if e["operation"].startswith(MUTATING_PREFIXES)]
    return calls if lock else [call for call in calls if call not in LOCK_CALLS]


def empty_account(client: EmulatorClient, url: str) -> None:
    """An empty account with what setup.yml makes once per account (the deploy lock table), empty request log."""
    client.reset()
    shared_platform.forget()
    create_lock_table(url)
    client.clear_requests()


@pytest.fixture(scope="module")
def built_platform(request, emulator_server, run_playbook):
    """A fresh account with site.yml applied once (shared by a module's tests).

    A module with ``SHARES_PLATFORM = True`` takes the platform of the sharing module that ran before it in this
    process when the account was not emptied or changed since (tests/support/shared_platform.py); a module with
    tests marked ``mutates_platform`` (they run last in it) leaves none to share.
    """
    shares = getattr(request.module, "SHARES_PLATFORM", False)
    if shares and shared_platform.remembered() is not None:
        yield shared_platform.remembered()
    else:
        client = EmulatorClient(emulator_server.url)
        empty_account(client, emulator_server.url)
        client.configure(profile="instant", scale=1.0, fault_rate=0.0)
        first = run_playbook("site.yml")
        assert first.rc == 0, first.failure_messages() or first.stdout[-3000:]
        if shares:
            shared_platform.remember(first)
        yield first
    if not shares or any(item.get_closest_marker("mutates_platform") for item in request.session.items
                         if item.module is request.module):
        shared_platform.forget()


def pytest_collection_modifyitems(config, items):
    """The integration modules costliest first, and in a module that shares the platform, the tests marked
    ``mutates_platform`` after the others.

    (With ``--dist loadfile --no-loadscope-reorder`` every module runs whole on one worker, in this order, and the
    modules are handed to the workers in this order: tests/support/module_costs.py. xdist's ``loadgroup`` cannot
    keep the sharing modules together under pytest 9: its group suffix on node ids no longer takes.)
    """
    order: dict[str, int] = {}
    tests: dict[str, int] = {}
    for item in items:
        path = item.nodeid.split("::", 1)[0]
        order.setdefault(path, len(order))
        tests[path] = tests.get(path, 0) + 1

    def module_key(path: str) -> tuple:
        if "tests/integration/" not in path:
            return (0, 0, 0, order[path])
        return (1, -module_costs.cost(path), -tests[path], order[path])

    items.sort(key=lambda item: (module_key(item.nodeid.split("::", 1)[0]),
                                 getattr(getattr(item, "module", None), "SHARES_PLATFORM", False)
                                 and item.get_closest_marker("mutates_platform") is not None))


@pytest.fixture(scope="session")
def boto(emulator_server):
    """``boto("ec2")`` -> a boto3 client on the session's emulator (no reset)."""
    import boto3

    session = boto3.session.Session(region_name="us-east-1")

    def client(service: str):
        return session.client(service, endpoint_url=emulator_server.url)

    return client


@pytest.fixture(scope="session")
def control(emulator_server) -> EmulatorClient:
    return EmulatorClient(emulator_server.url)


@pytest.fixture
def fresh_account(control, emulator_server):
    """An empty account (with the deploy lock table of setup.yml), default settings and an empty request log."""
    empty_account(control, emulator_server.url)
    control.configure(profile="instant", scale=1.0, fault_rate=0.0, faults=["throttle", "5xx"], seed=None)
    yield control
    control.configure(profile="instant", scale=1.0, fault_rate=0.0)


@pytest.fixture(scope="session")
def run_tasks(emulator_server, tmp_path_factory) -> Callable[..., PlaybookRun]:
    """Run a list of tasks (dicts, as in a playbook) on localhost against the emulator.

    ``run_tasks([{"name": "x", "llmhub.eks.iam_roles": {...}}], "--check", "--diff", env={...})``;
    the result's ``task_results()`` is keyed by task name. Every AWS module
    of amazon.aws and llmhub.eks gets the emulator's endpoint and region
    through ``module_defaults``.
    """
    import yaml

    directory = tmp_path_factory.mktemp("tasks")
    counter = iter(range(1_000_000))

    def run(tasks: list[dict[str, Any]], *args: str, timeout: float = 600,
            env: dict[str, str] | None = None) -> PlaybookRun:
        play = [{
            "name": "Module test",
            "hosts": CLUSTER,
            "gather_facts": False,
            "module_defaults": {"group/llmhub.eks.aws": {"region": "us-east-1", "endpoint_url": emulator_server.url}},
            "tasks": tasks,
        }]
        path = directory / f"play_{next(counter)}.yml"
        path.write_text(yaml.safe_dump(play, sort_keys=False), encoding="utf-8")
        ansible_playbook = str(Path(sys.executable).with_name("ansible-playbook"))
        command = [ansible_playbook, str(path), "-i", str(ROOT / "inventories" / "local"), *args]
        proc = subprocess.run(command, cwd=ROOT, env={**playbook_environment(emulator_server.url), **(env or {})},
                              capture_output=True, text=True, timeout=timeout, check=False)
        return PlaybookRun(proc.returncode, proc.stdout, proc.stderr, parse_report(proc.stdout))

    return run
