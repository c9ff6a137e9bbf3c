"""Day 2 (issue 17): the Kubernetes upgrade 1.33 -> 1.34 and the monthly AMI refresh, on one platform.

The platform is built at 1.33 by site.yml. Before any upgrade: a jump of two versions and an add-on pinned to a
version the target does not support are refused by the pre-checks with no mutating call, and ``--check`` shows the
plan. Then the upgrade by one minor version: control plane, add-ons and node groups follow (the emulator
replaces the nodes, draining them through the Eviction API), while the example application's Deployment stays
Available (watched all along through the cluster's Kubernetes API). Then AWS publishes a new AMI release and
ami_refresh.yml moves one node group to it, then the rest; a second run changes nothing.

One step is upgraded here: each step runs the same tasks (a second one, 1.34 -> 1.35, cost ~2.5 worker-minutes
of `make test` and asserted nothing new); the rules of a chain of steps are unit tests
(tests/unit/plugins/test_upgrade.py).
"""

from __future__ import annotations

import datetime
import json
import threading

import pytest

from tests.support.kubernetes import Kube

from .conftest import CLUSTER, empty_account, mutating_calls

pytestmark = pytest.mark.integration

APP = ("llm-analytics", "analytics-api")
GROUPS = ["application", "database", "system"]


@pytest.fixture(scope="module")
def platform_133(emulator_server, run_playbook, control):
    empty_account(control, emulator_server.url)
    control.configure(profile="instant", scale=1.0, fault_rate=0.0)
    built = run_playbook("site.yml", "-e", "eks_version=1.33")
    assert built.rc == 0, built.failure_messages() or built.stdout[-3000:]
    yield built
    control.clear_test_controls()


@pytest.fixture(scope="module")
def kube(platform_133, emulator_server, tmp_path_factory) -> Kube:
    kube, run = Kube.connect(emulator_server.url, tmp_path_factory.mktemp("kube"))
    assert run.returncode == 0, run.describe()
    return kube.with_token()


def nodegroups(boto) -> dict[str, dict]:
    eks = boto("eks")
    return {name: eks.describe_nodegroup(clusterName=CLUSTER, nodegroupName=name)["nodegroup"]
            for name in eks.list_nodegroups(clusterName=CLUSTER)["nodegroups"]}


def addon_versions(boto) -> dict[str, str]:
    eks = boto("eks")
    return {name: eks.describe_addon(clusterName=CLUSTER, addonName=name)["addon"]["addonVersion"]
            for name in eks.list_addons(clusterName=CLUSTER)["addons"]}


def latest_release(boto, version: str) -> str:
    name = f"/aws/service/eks/optimized-ami/{version}/amazon-linux-2023/x86_64/standard/recommended/release_version"
    return boto("ssm").get_parameter(Name=name)["Parameter"]["Value"]


def compatible(boto, addon: str, version: str) -> list[str]:
    answer = boto("eks").describe_addon_versions(addonName=addon, kubernetesVersion=version)
    return [v["addonVersion"] for a in answer["addons"] for v in a["addonVersions"]]


class AvailabilityWatch:
    """Polls the example Deployment's Available condition and the nodes' kubelet versions while a run goes on."""

    def __init__(self, kube: Kube):
        self.kube = kube
        self.samples: list[tuple[str, int, set[str]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self):
        while not self._stop.is_set():
            deployment = self.kube.kubectl("get", "deployment", APP[1], "-n", APP[0], "-o", "json")
            nodes = self.kube.kubectl("get", "nodes", "-o", "json")
            if deployment.returncode == 0 and nodes.returncode == 0:
                status = json.loads(deployment.stdout)["status"]
                available = next((c["status"] for c in status.get("conditions", []) if c["type"] == "Available"), "?")
                kubelets = {n["status"]["nodeInfo"]["kubeletVersion"] for n in json.loads(nodes.stdout)["items"]}
                self.samples.append((available, status.get("availableReplicas", 0), kubelets))
            self._stop.wait(0.5)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=30)


def test_a_jump_of_two_versions_is_refused_before_any_change(platform_133, run_playbook, control):
    control.clear_requests()
    run = run_playbook("upgrade.yml", "-e", "eks_version=1.35")
    assert run.rc != 0
    assert ("eks_version: the cluster runs Kubernetes 1.33; EKS upgrades one minor version at a time, so it cannot "
            "go to 1.35 directly. Upgrade to the next minor first: set eks_version to 1.34") in run.failure_messages()
    assert mutating_calls(control, lock=True) == []


def test_an_addon_pinned_to_a_version_the_target_does_not_support_is_caught_in_the_pre_checks(
        platform_133, run_playbook, control, boto):
    [pinned] = compatible(boto, "kube-proxy", "1.33")[:1]
    assert pinned not in compatible(boto, "kube-proxy", "1.34")
    overrides = {"eks_version": "1.34", "eks_addons_before_compute": [
        {"name": "vpc-cni", "version": "latest"}, {"name": "kube-proxy", "version": pinned}]}
    control.clear_requests()
    run = run_playbook("upgrade.yml", "-e", json.dumps(overrides))
    assert run.rc != 0
    assert f"eks_addons_before_compute[1].version: kube-proxy {pinned} is not compatible with Kubernetes 1.34" \
           in run.failure_messages()
    assert mutating_calls(control, lock=True) == []


def test_check_mode_shows_the_plan_and_changes_nothing(platform_133, run_playbook, control):
    control.clear_requests()
    run = run_playbook("upgrade.yml", "-e", "eks_version=1.34", "--check", "--diff")
    assert run.rc == 0, run.failure_messages()
    plan = run.task_results()["Pre-check the upgrade (versions, node group skew, add-on compatibility; nothing "
                              "changes here)"]["upgrade"]
    assert plan["control_plane"] == {"from": "1.33", "to": "1.34"}
    assert sorted(g["name"] for g in plan["nodegroups"] if g["changes"]) == GROUPS
    assert "kube-proxy" in [a["name"] for a in plan["addons"] if a["changes"]]
    assert "Status: check mode: what upgrade.yml would do." in run.stdout
    assert mutating_calls(control, lock=True) == []


@pytest.mark.parametrize("source,target", [("1.33", "1.34")])
def test_upgrade_moves_control_plane_addons_and_node_groups_with_the_app_available(
        platform_133, kube, run_playbook, boto, source, target):
    assert boto("eks").describe_cluster(name=CLUSTER)["cluster"]["version"] == source
    before_groups = nodegroups(boto)
    assert {g["version"] for g in before_groups.values()} == {source}
    with AvailabilityWatch(kube) as watch:
        run = run_playbook("upgrade.yml", "-e", f"eks_version={target}")
    assert run.rc == 0, run.failure_messages() or run.stdout[-3000:]

    assert boto("eks").describe_cluster(name=CLUSTER)["cluster"]["version"] == target
    after_groups = nodegroups(boto)
    release = latest_release(boto, target)
    assert {name: (g["version"], g["releaseVersion"], g["status"]) for name, g in after_groups.items()} == {
        name: (target, release, "ACTIVE") for name in GROUPS}
    for addon, version in addon_versions(boto).items():
        assert version in compatible(boto, addon, target), (addon, version)
    assert addon_versions(boto)["kube-proxy"].startswith(f"v{target}.")
    # The nodes were replaced: every node runs the new kubelet, and the application never stopped being Available.
    kubelets = {n["status"]["nodeInfo"]["kubeletVersion"] for n in kube.get_json("nodes")["items"]}
    assert kubelets and all(k.startswith(f"v{target}.") for k in kubelets), kubelets
    # The PodDisruptionBudget (minAvailable 2 of 3) held: never fewer than 2 pods serving while nodes were drained
    # (the Deployment's own Available condition may blink: its strategy allows no unavailable pod), Available after.
    assert watch.samples, "the watch read nothing"
    assert min(replicas for _available, replicas, _kubelets in watch.samples) >= 2
    assert watch.samples[-1][0] == "True"
    assert any(any(k.startswith(f"v{source}.") for k in s[2]) and any(k.startswith(f"v{target}.") for k in s[2])
               for s in watch.samples) or len(watch.samples) < 3, "no sample saw old and new nodes side by side"
    # The report: before, planned and after, per component.
    assert f"| control plane | {source} | {target} | {target} |" in run.stdout
    # Once done, a second run changes nothing.
    again = run_playbook("upgrade.yml", "-e", f"eks_version={target}")
    assert again.rc == 0 and again.changed == 0, again.changed_tasks()


def test_ami_refresh_moves_only_the_named_group_then_the_rest(platform_133, run_playbook, control, boto):
    version = boto("eks").describe_cluster(name=CLUSTER)["cluster"]["version"]
    current = latest_release(boto, version)
    patch, _, date = current.rpartition("-")
    later = datetime.datetime.strptime(date, "%Y%m%d") + datetime.timedelta(days=14)
    newer = f"{patch}-{later:%Y%m%d}"  # two weeks later, the same format
    control.set_test_controls(eks_ami_releases={version: newer})
    assert latest_release(boto, version) == newer

    check = run_playbook("ami_refresh.yml", "-e", "nodegroups_only=system", "--check", "--diff")
    assert check.rc == 0, check.failure_messages()
    assert {g["releaseVersion"] for g in nodegroups(boto).values()} == {current}

    run = run_playbook("ami_refresh.yml", "-e", "nodegroups_only=system")
    assert run.rc == 0, run.failure_messages()
    releases = {name: g["releaseVersion"] for name, g in nodegroups(boto).items()}
    assert releases == {"application": current, "database": current, "system": newer}

    run = run_playbook("ami_refresh.yml")
    assert run.rc == 0, run.failure_messages()
    assert {g["releaseVersion"] for g in nodegroups(boto).values()} == {newer}
    again = run_playbook("ami_refresh.yml")
    assert again.rc == 0 and again.changed == 0, again.changed_tasks()


def test_a_misspelled_group_is_refused_naming_the_closest(platform_133, run_playbook, control):
    control.clear_requests()
    run = run_playbook("ami_refresh.yml", "-e", "nodegroups_only=sytem")
    assert run.rc != 0
    assert "nodegroups_only: 'sytem' is not a node group of nodegroups_definitions; did you mean 'system'?" \
           in run.failure_messages()
    assert mutating_calls(control, lock=True) == []
