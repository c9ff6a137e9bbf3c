"""Pure logic of eks_kubeconfig (module_utils/kubeconfig.py): the entries, the merge into a file with other
clusters, removal of ours only, the atomic 0600 write, node counts."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / ".collections"))

from ansible_collections.llmhub.eks.plugins.module_utils import kubeconfig as kc  # noqa: E402

CLUSTER = "llm-analytics-hub-prod-eks"
ARN = f"arn:aws:eks:us-east-1:123456789012:cluster/{CLUSTER}"
ENDPOINT = "https://0123456789ABCDEF.gr7.us-east-1.eks.amazonaws.com"
CA = "LS0tLS1CRUdJTi=="

OTHER = {
    "apiVersion": "v1",
    "kind": "Config",
    "preferences": {"colors": True},
    "clusters": [{"name": "kind-dev",
                  "cluster": {"server": "https://127.0.0.1:6443", "insecure-skip-tls-verify": True}}],
    "users": [{"name": "kind-dev", "user": {"client-certificate-data": "Y2VydA==", "client-key-data": "a2V5"}}],
    "contexts": [{"name": "kind-dev", "context": {"cluster": "kind-dev", "user": "kind-dev", "namespace": "web"}}],
    "current-context": "kind-dev",
}


def ours(context=ARN, user=ARN, exec_config=None, endpoint=ENDPOINT):
    return kc.cluster_entries(ARN, endpoint, CA, context, user,
                              exec_config or kc.aws_cli_exec(CLUSTER, "us-east-1"))


class TestEntries:
    def test_aws_cli_exec_is_what_aws_eks_update_kubeconfig_writes(self):
        assert kc.aws_cli_exec(CLUSTER, "us-east-1") == {
            "apiVersion": "client.authentication.k8s.io/v1beta1", "command": "aws",
            "args": ["--region", "us-east-1", "eks", "get-token", "--cluster-name", CLUSTER, "--output", "json"]}

    def test_role_arn_and_env(self):
        entry = kc.aws_cli_exec(CLUSTER, "eu-west-1", "arn:aws:iam::1:role/admins", "/opt/aws",
                                {"AWS_PROFILE": "prod", "AWS_ENDPOINT_URL_STS": "http://127.0.0.1:1"})
        assert entry["command"] == "/opt/aws"
        assert entry["args"][-2:] == ["--role-arn", "arn:aws:iam::1:role/admins"]
        assert entry["env"] == [{"name": "AWS_ENDPOINT_URL_STS", "value": "http://127.0.0.1:1"},
                                {"name": "AWS_PROFILE", "value": "prod"}]

    def test_collection_exec_runs_the_script_with_the_module_python(self):
        entry = kc.collection_exec(CLUSTER, "us-east-1", "/venv/bin/python", "/home/u/.kube/llmhub-eks-get-token.py",
                                   role_arn="arn:aws:iam::1:role/r")
        assert entry == {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": "/venv/bin/python",
                         "args": ["/home/u/.kube/llmhub-eks-get-token.py", "--region", "us-east-1", "--cluster-name",
                                  CLUSTER, "--role-arn", "arn:aws:iam::1:role/r"]}

    def test_collection_exec_with_its_token_cache_next_to_the_kubeconfig(self):
        cache = kc.token_cache_dir("/home/u/.kube/config")
        assert cache == "/home/u/.kube/cache/llmhub-eks-tokens"
        entry = kc.collection_exec(CLUSTER, "us-east-1", "/py", "/home/u/.kube/llmhub-eks-get-token.py",
                                   cache_dir=cache)
        assert entry["args"][-2:] == ["--cache-dir", cache]

    def test_cluster_user_context_named_by_arn_as_the_aws_cli(self):
        cluster, user, context = ours()
        assert cluster == {"name": ARN, "cluster": {"server": ENDPOINT, "certificate-authority-data": CA}}
        assert user["name"] == ARN and user["user"]["exec"]["command"] == "aws"
        assert context == {"name": ARN, "context": {"cluster": ARN, "user": ARN}}
        _cluster, user, context = ours(context="prod", user="prod-admin")
        assert context == {"name": "prod", "context": {"cluster": ARN, "user": "prod-admin"}}
        assert user["name"] == "prod-admin"


class TestMerge:
    def test_into_nothing(self):
        config = kc.merge(None, *ours())
        assert config["apiVersion"] == "v1" and config["kind"] == "Config"
        assert [e["name"] for e in config["clusters"]] == [ARN]
        assert config["current-context"] == ARN

    def test_other_clusters_users_contexts_and_settings_are_kept(self):
        config = kc.merge(OTHER, *ours())
        for section in ("clusters", "users", "contexts"):
            assert config[section][0] == OTHER[section][0]
            assert [e["name"] for e in config[section]] == ["kind-dev", ARN]
        assert config["preferences"] == {"colors": True}
        assert config["current-context"] == ARN
        assert OTHER["current-context"] == "kind-dev" and len(OTHER["clusters"]) == 1  # the input is not modified

    def test_without_set_current_context_the_current_one_stays(self):
        assert kc.merge(OTHER, *ours(), set_current_context=False)["current-context"] == "kind-dev"
        assert kc.merge(None, *ours(), set_current_context=False)["current-context"] == ARN  # none was set

    def test_same_input_twice_is_unchanged(self):
        once = kc.merge(OTHER, *ours())
        twice = kc.merge(once, *ours())
        assert twice == once
        assert kc.plan_file(once, 0o600, twice) is None
        assert kc.parse(kc.dump(once)) == once

    def test_an_entry_of_the_same_name_is_replaced_in_place(self):
        once = kc.merge(OTHER, *ours())
        moved = kc.merge(once, *ours(endpoint="https://new.example"))
        assert [e["name"] for e in moved["clusters"]] == ["kind-dev", ARN]
        assert moved["clusters"][1]["cluster"]["server"] == "https://new.example"
        assert kc.plan_file(once, 0o600, moved) == "write"

    def test_null_sections_as_kubectl_writes_them(self):
        config = kc.merge({"apiVersion": "v1", "kind": "Config", "clusters": None, "users": None, "contexts": None},
                          *ours())
        assert len(config["clusters"]) == len(config["users"]) == len(config["contexts"]) == 1

    def test_plan_file(self):
        wanted = kc.merge(None, *ours())
        assert kc.plan_file(None, None, wanted) == "write"
        assert kc.plan_file(wanted, 0o644, wanted) == "chmod"
        assert kc.plan_file(wanted, 0o600, wanted) is None


class TestRemove:
    def test_only_ours_go(self):
        merged = kc.merge(OTHER, *ours(context="prod", user="prod"))
        removed = kc.remove(merged, ARN, "prod", "prod")
        assert removed == {**OTHER, "current-context": ""}  # it was ours

    def test_current_context_of_someone_else_stays(self):
        merged = kc.merge(OTHER, *ours(), set_current_context=False)
        assert kc.remove(merged, ARN, ARN, ARN) == OTHER

    def test_nothing_of_ours_is_no_change(self):
        assert kc.remove(OTHER, ARN, ARN, ARN) == kc.normalise(OTHER)

    def test_entries_view_for_the_diff(self):
        merged = kc.merge(OTHER, *ours())
        view = kc.entries_view(merged, ARN, ARN, ARN)
        assert view["cluster"]["cluster"]["server"] == ENDPOINT
        assert view["user"]["user"]["exec"]["command"] == "aws"
        assert view["current-context"] == ARN
        assert kc.entries_view(OTHER, ARN, ARN, ARN) == {"cluster": None, "user": None, "context": None,
                                                          "current-context": "kind-dev"}

    def test_token_script_users(self):
        script = "/k/llmhub-eks-get-token.py"
        merged = kc.merge(OTHER, *ours(exec_config=kc.collection_exec(CLUSTER, "us-east-1", "/py", script)))
        assert kc.token_script_users(merged, script) == [ARN]
        assert kc.token_script_users(OTHER, script) == []


class TestFile:
    def test_write_is_atomic_with_mode_0600_and_keeps_other_entries(self, tmp_path):
        path = tmp_path / "kube" / "config"
        kc.write_atomic(str(path), kc.dump(OTHER))
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        config, mode = kc.read(str(path))
        assert (config, mode) == (OTHER, 0o600)
        kc.write_atomic(str(path), kc.dump(kc.merge(config, *ours())))
        config, _mode = kc.read(str(path))
        assert [e["name"] for e in config["contexts"]] == ["kind-dev", ARN]
        assert sorted(os.listdir(path.parent)) == ["config"]  # no temporary file left

    def test_a_wider_mode_is_planned_as_chmod_and_the_rewrite_narrows_it(self, tmp_path):
        path = tmp_path / "config"
        path.write_text(kc.dump(kc.merge(None, *ours())))
        path.chmod(0o644)
        config, mode = kc.read(str(path))
        assert kc.plan_file(config, mode, kc.merge(config, *ours())) == "chmod"
        kc.write_atomic(str(path), kc.dump(config))
        assert stat.S_IMODE(path.stat().st_mode) == 0o600

    def test_a_symlink_is_followed(self, tmp_path):
        target = tmp_path / "real"
        target.write_text("")
        link = tmp_path / "config"
        link.symlink_to(target)
        kc.write_atomic(str(link), kc.dump(OTHER))
        assert link.is_symlink() and kc.read(str(target))[0] == OTHER

    def test_dump_sorts_keys_as_kubectl(self):
        assert list(yaml.safe_load(kc.dump(kc.merge(None, *ours())))) == [
            "apiVersion", "clusters", "contexts", "current-context", "kind", "preferences", "users"]

    def test_missing_and_empty_files(self, tmp_path):
        assert kc.read(str(tmp_path / "none")) == (None, None)
        (tmp_path / "empty").write_text("")
        assert kc.read(str(tmp_path / "empty"))[0] == kc.empty_config()

    @pytest.mark.parametrize("text, message", [
        ("clusters: [\n", "is not valid YAML"),
        ("- a\n- b\n", "is not a kubeconfig"),
        ("kind: Deployment\n", "is not a kubeconfig"),
        ("kind: Config\nclusters: {a: 1}\n", "clusters must be a list"),
    ])
    def test_not_a_kubeconfig_says_what_to_do(self, tmp_path, text, message):
        path = tmp_path / "config"
        path.write_text(text)
        with pytest.raises(kc.KubeconfigError, match=message) as error:
            kc.read(str(path))
        assert str(path) in str(error.value)

    def test_default_path_is_kubeconfig_first_entry_else_home(self, monkeypatch):
        monkeypatch.setenv("HOME", "/home/u")
        assert kc.default_path({}) == "/home/u/.kube/config"
        assert kc.default_path({"KUBECONFIG": ""}) == "/home/u/.kube/config"
        assert kc.default_path({"KUBECONFIG": f"/a/one{os.pathsep}/b/two"}) == "/a/one"
        assert kc.default_path({"KUBECONFIG": f"{os.pathsep}~/x"}) == "/home/u/x"
        assert kc.token_script_path("/a/one") == "/a/llmhub-eks-get-token.py"


def node(name, group=None, ready=True):
    labels = {"kubernetes.io/hostname": name}
    if group:
        labels[kc.NODEGROUP_LABEL] = group
    return {"metadata": {"name": name, "labels": labels},
            "status": {"conditions": [{"type": "MemoryPressure", "status": "False"},
                                      {"type": "Ready", "status": "True" if ready else "False"}]}}


def test_node_counts_ready_by_nodegroup():
    nodes = [node("a", "system"), node("b", "system", ready=False), node("c", "database"), node("d"),
             node("e", "application", ready=False)]
    assert kc.node_counts(nodes) == {"total": 5, "ready": 3,
                                     "by_nodegroup": {"application": 0, "database": 1, "system": 1}}
    assert kc.node_counts([]) == {"total": 0, "ready": 0, "by_nodegroup": {}}
