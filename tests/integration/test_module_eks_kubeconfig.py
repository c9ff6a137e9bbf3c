"""llmhub.eks.eks_kubeconfig against a platform built by site.yml (workflow step 6).

The module writes a kubeconfig that the real kubectl v1.35 uses with both token commands: ``aws eks get-token``
and the collection's own (with no ``aws`` on PATH). Re-runs and check mode change nothing, other entries of the
file survive, the file is 0600, and no EKS token shows in any output, ``-vvv`` included
(``tests/support/kubernetes.py``: ``assert_no_token``).
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
import yaml

from tests.support.kubernetes import BIN, CLUSTER, CLUSTER_ARN, Kube, assert_no_token

from .conftest import playbook_environment

pytestmark = pytest.mark.integration
# Reads the platform the other sharing modules read (tests/support/shared_platform.py).
SHARES_PLATFORM = True

# A PATH without the AWS CLI (the venv's bin and pyenv's shims have one; /usr/bin and /bin do not).
NO_AWS_PATH = "/usr/bin:/bin"
OTHER_CONTEXT = {
    "clusters": [{"name": "kind-dev", "cluster": {"server": "https://127.0.0.1:6443"}}],
    "users": [{"name": "kind-dev", "user": {"username": "dev"}}],
    "contexts": [{"name": "kind-dev", "context": {"cluster": "kind-dev", "user": "kind-dev"}}],
}
AWS_CLI_ARGS = ["--region", "us-east-1", "eks", "get-token", "--cluster-name", CLUSTER, "--output", "json"]


def kubeconfig_task(path, name="Kubeconfig", **options):
    return {"name": name, "llmhub.eks.eks_kubeconfig": {"name": CLUSTER, "path": str(path), **options},
            "register": "kubeconfig_result"}


def result_of(run, name="Kubeconfig"):
    return run.task_results()[name]


def assert_clean(run):
    """No token anywhere: ansible-playbook's output (results, diff, -vvv invocation) and its JSON report."""
    assert_no_token(run.stdout, run.stderr, json.dumps(run.report), where="ansible-playbook")


def with_other_context(path, mode=0o644):
    """A kubeconfig of someone else's cluster, current, mode ``mode``."""
    config = {"apiVersion": "v1", "kind": "Config", "preferences": {}, **OTHER_CONTEXT, "current-context": "kind-dev"}
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    path.chmod(mode)


def mode_of(path):
    return stat.S_IMODE(Path(path).stat().st_mode)


@pytest.fixture(scope="module")
def platform(built_platform, boto):
    """(cluster as described, expected Ready nodes by node group) of the module's platform."""
    eks = boto("eks")
    cluster = eks.describe_cluster(name=CLUSTER)["cluster"]
    sizes = {name: eks.describe_nodegroup(clusterName=CLUSTER, nodegroupName=name)["nodegroup"]["scalingConfig"][
        "desiredSize"] for name in eks.list_nodegroups(clusterName=CLUSTER)["nodegroups"]}
    return cluster, sizes


def test_aws_cli_kubeconfig_used_by_kubectl_idempotent_check_mode_no_token(platform, run_tasks, emulator_server,
                                                                          tmp_path):
    cluster, sizes = platform
    path = tmp_path / "kubeconfig"
    with_other_context(path)
    task = kubeconfig_task(path, authenticator="aws-cli", aws_cli_path=str(BIN / "aws"),
                           wait_for_nodes=sum(sizes.values()))

    first = run_tasks([task], "-vvv", "--diff")
    assert first.rc == 0, first.failure_messages()
    assert_clean(first)
    result = result_of(first)
    assert result["changed"] is True
    assert result["kubeconfig"] == str(path)
    assert result["context"] == result["user"] == CLUSTER_ARN
    assert result["cluster"] == {"name": CLUSTER, "arn": CLUSTER_ARN, "endpoint": cluster["endpoint"],
                                 "version": cluster["version"], "status": "ACTIVE",
                                 "vpc_id": cluster["resourcesVpcConfig"]["vpcId"],
                                 "encryption_key_arn": cluster["encryptionConfig"][0]["provider"]["keyArn"]}
    assert result["authenticator"] == "aws-cli"
    assert result["token_script"] is None
    assert result["server_version"].startswith("v1.35.")
    assert result["nodes"] == {"total": sum(sizes.values()), "ready": sum(sizes.values()), "by_nodegroup": sizes}
    assert result["exec"] == {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": str(BIN / "aws"),
                              "args": AWS_CLI_ARGS,
                              "env": [{"name": "AWS_ENDPOINT_URL_STS", "value": emulator_server.url}]}
    assert result["diff"]["before"] == {"cluster": None, "user": None, "context": None,
                                        "current-context": "kind-dev", "mode": "0644"}
    assert result["diff"]["after"]["current-context"] == CLUSTER_ARN
    assert result["diff"]["after"]["mode"] == "0600"
    assert first.stdout.startswith("ansible-playbook [core")  # the run was verbose

    # the file: ours added as aws eks update-kubeconfig writes it, the other context kept, 0600
    assert mode_of(path) == 0o600
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert [c["name"] for c in config["contexts"]] == ["kind-dev", CLUSTER_ARN]
    assert config["clusters"][0] == OTHER_CONTEXT["clusters"][0] and config["users"][0] == OTHER_CONTEXT["users"][0]
    assert config["clusters"][1] == {"name": CLUSTER_ARN, "cluster": {
        "server": cluster["endpoint"], "certificate-authority-data": cluster["certificateAuthority"]["data"]}}
    assert config["current-context"] == CLUSTER_ARN
    assert list(config["users"][1]["user"]) == ["exec"]  # no token, no credentials: a command that mints one

    # the real kubectl, through the exec plugin (aws eks get-token)
    kube = Kube(emulator_server.url, tmp_path, path)
    nodes = kube.ok("get", "nodes", "-o", "name")
    assert len(nodes.lines) == sum(sizes.values())
    assert kube.ok("config", "current-context").lines == [CLUSTER_ARN]
    other = kube.kubectl("config", "get-contexts", "kind-dev", "-o", "name")
    assert other.lines == ["kind-dev"]

    before = path.read_bytes()
    again = run_tasks([task], "--diff")
    assert again.rc == 0, again.failure_messages()
    assert result_of(again)["changed"] is False
    assert result_of(again)["diff"]["before"] == result_of(again)["diff"]["after"]
    assert path.read_bytes() == before

    checked = run_tasks([task], "--check", "--diff")
    assert checked.rc == 0, checked.failure_messages()
    assert result_of(checked)["changed"] is False
    assert result_of(checked)["nodes"]["ready"] == sum(sizes.values())  # check mode still reads the API
    assert_clean(again)
    assert_clean(checked)


def test_collection_token_command_without_the_aws_cli(platform, run_tasks, emulator_server, tmp_path):
    _cluster, sizes = platform
    path = tmp_path / "kube" / "config"
    run = run_tasks([kubeconfig_task(path, alias="llmhub", user_alias="llmhub-admin")], "-vvv",
                    env={"PATH": NO_AWS_PATH})
    assert run.rc == 0, run.failure_messages()
    assert_clean(run)
    result = result_of(run)
    assert result["authenticator"] == "collection"  # auto: no aws on the module's PATH
    script = path.parent / "llmhub-eks-get-token.py"
    assert result["token_script"] == str(script)
    assert mode_of(script) == 0o700 and mode_of(path) == 0o600 and mode_of(path.parent) == 0o700
    assert script.read_text(encoding="utf-8") == (Path(__file__).resolve().parents[2] / "plugins" / "module_utils"
                                                  / "eks_token.py").read_text(encoding="utf-8")
    python = Path(result["exec"]["command"])  # the interpreter that ran the module (it has botocore)
    assert python.is_absolute() and python.name.startswith("python") and os.access(python, os.X_OK)
    cache = path.parent / "cache" / "llmhub-eks-tokens"  # token_cache: true (the default)
    assert result["exec"]["args"] == [str(script), "--region", "us-east-1", "--cluster-name", CLUSTER,
                                      "--cache-dir", str(cache)]
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert config["current-context"] == "llmhub"
    assert config["contexts"] == [{"name": "llmhub", "context": {"cluster": CLUSTER_ARN, "user": "llmhub-admin"}}]

    # kubectl with no aws anywhere on its PATH: the exec plugin is the collection's command
    kube = Kube(emulator_server.url, tmp_path, path)
    nodes = kube.run(BIN / "kubectl", "get", "nodes", "-o", "name", env={"PATH": NO_AWS_PATH})
    assert nodes.returncode == 0 and nodes.stderr == "", nodes.describe()
    assert len(nodes.lines) == sum(sizes.values())
    # the token is kept for the next calls (0600 in a 0700 directory), and a second kubectl call takes it
    [cached] = list(cache.iterdir())
    assert mode_of(cached) == 0o600 and mode_of(cache) == 0o700
    token = json.loads(cached.read_text(encoding="utf-8"))["token"]
    pods = kube.run(BIN / "kubectl", "get", "pods", "-A", "-o", "name", env={"PATH": NO_AWS_PATH})
    assert pods.returncode == 0 and pods.stderr == "", pods.describe()
    assert [cached] == list(cache.iterdir()) and json.loads(cached.read_text(encoding="utf-8"))["token"] == token
    del token

    # what a user sees: the default callback at -vvv prints the module's result (YAML), and no token
    again = run_tasks([kubeconfig_task(path, alias="llmhub", user_alias="llmhub-admin")], "-vvv", "--diff",
                      env={"PATH": NO_AWS_PATH, "ANSIBLE_STDOUT_CALLBACK": "default"})
    assert again.rc == 0, again.stdout[-3000:]
    assert_no_token(again.stdout, again.stderr, where="ansible-playbook -vvv, default callback")
    assert "changed=0" in again.stdout and "server_version: v1.35." in again.stdout

    # switching to the AWS CLI rewrites the user entry only
    switched = run_tasks([kubeconfig_task(path, alias="llmhub", user_alias="llmhub-admin", authenticator="aws-cli",
                                          aws_cli_path=str(BIN / "aws"), verify=False)], "--diff")
    assert switched.rc == 0, switched.failure_messages()
    diff = result_of(switched)["diff"]
    assert diff["before"]["user"]["user"]["exec"]["command"] == result["exec"]["command"]
    assert diff["after"]["user"]["user"]["exec"]["args"] == AWS_CLI_ARGS
    assert diff["before"]["cluster"] == diff["after"]["cluster"]
    assert result_of(switched)["server_version"] is None and result_of(switched)["nodes"] is None


def test_check_mode_writes_nothing(platform, run_tasks, tmp_path):
    path = tmp_path / "kubeconfig"
    run = run_tasks([kubeconfig_task(path)], "--check", "--diff")
    assert run.rc == 0, run.failure_messages()
    assert result_of(run)["changed"] is True
    assert not path.exists() and list(tmp_path.iterdir()) == []

    with_other_context(path, mode=0o640)
    before = path.read_bytes()
    run = run_tasks([kubeconfig_task(path, authenticator="collection", verify=False)], "--check", "--diff")
    assert run.rc == 0, run.failure_messages()
    assert result_of(run)["changed"] is True
    assert result_of(run)["diff"]["before"]["token_script"] is None
    assert path.read_bytes() == before and mode_of(path) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kubeconfig"]


def test_a_wider_mode_alone_is_narrowed(platform, run_tasks, tmp_path):
    path = tmp_path / "kubeconfig"
    task = kubeconfig_task(path, authenticator="collection", verify=False)
    assert run_tasks([task]).rc == 0
    path.chmod(0o644)
    before = path.read_bytes()
    run = run_tasks([task], "--diff")
    assert run.rc == 0, run.failure_messages()
    assert result_of(run)["changed"] is True
    assert result_of(run)["diff"]["before"]["mode"] == "0644" and result_of(run)["diff"]["after"]["mode"] == "0600"
    assert mode_of(path) == 0o600 and path.read_bytes() == before


def test_absent_removes_only_ours(platform, run_tasks, tmp_path):
    path = tmp_path / "kubeconfig"
    with_other_context(path)
    assert run_tasks([kubeconfig_task(path, authenticator="collection", verify=False)]).rc == 0
    run = run_tasks([kubeconfig_task(path, state="absent")], "--diff")
    assert run.rc == 0, run.failure_messages()
    result = result_of(run)
    assert result["changed"] is True
    assert result["diff"]["after"] == {"cluster": None, "user": None, "context": None, "current-context": ""}
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert {key: config[key] for key in OTHER_CONTEXT} == OTHER_CONTEXT
    assert config["current-context"] == ""
    assert (tmp_path / "llmhub-eks-get-token.py").exists()  # another kubeconfig of the directory may use it
    again = run_tasks([kubeconfig_task(path, state="absent")])
    assert again.rc == 0 and result_of(again)["changed"] is False


def test_a_cluster_that_does_not_exist_names_the_tag_to_run(platform, run_tasks, tmp_path):
    path = tmp_path / "kubeconfig"
    task = {"name": "Kubeconfig", "llmhub.eks.eks_kubeconfig": {"name": "no-such-cluster", "path": str(path)}}
    run = run_tasks([task])
    assert run.rc != 0
    message = result_of(run)["msg"]
    assert "EKS cluster no-such-cluster does not exist in us-east-1" in message
    assert "ansible-playbook playbooks/site.yml --tags eks" in message and "--tags nodegroups" in message
    assert not path.exists()

    planned = run_tasks([task], "--check")
    assert planned.rc == 0, planned.failure_messages()
    result = result_of(planned)
    assert result["changed"] is True
    assert result["cluster"]["arn"] == "arn:aws:eks:us-east-1:123456789012:cluster/no-such-cluster"
    assert result["cluster"]["endpoint"] == "(known after apply)"
    assert any("does not exist (yet)" in w for w in result.get("warnings", []))
    assert not path.exists()


def test_wait_for_nodes_times_out_naming_what_to_check(platform, run_tasks, tmp_path):
    _cluster, sizes = platform
    run = run_tasks([kubeconfig_task(tmp_path / "kubeconfig", authenticator="collection",
                                     wait_for_nodes=sum(sizes.values()) + 1, verify_timeout=2)])
    assert run.rc != 0
    result = result_of(run)
    assert result["msg"].startswith(f"wait_for_nodes: {sum(sizes.values())} of the {sum(sizes.values()) + 1} "
                                    f"expected Ready nodes of {CLUSTER} after 2s")
    assert "--tags nodegroups" in result["msg"]
    assert result["nodes"]["by_nodegroup"] == sizes
    assert_clean(run)


@pytest.mark.mutates_platform
def test_role_arn_signs_the_tokens_and_a_principal_without_access_entry_is_told(platform, run_tasks, boto,
                                                                               emulator_server, tmp_path):
    iam, eks = boto("iam"), boto("eks")
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "sts:AssumeRole"}]})
    admins = iam.create_role(RoleName="kubeconfig-admins", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    outsiders = iam.create_role(RoleName="kubeconfig-outsiders", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    eks.create_access_entry(clusterName=CLUSTER, principalArn=admins, type="STANDARD")
    eks.associate_access_policy(clusterName=CLUSTER, principalArn=admins, accessScope={"type": "cluster"},
                                policyArn="arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy")

    path = tmp_path / "kubeconfig"
    run = run_tasks([kubeconfig_task(path, role_arn=admins, authenticator="aws-cli", aws_cli_path=str(BIN / "aws"))],
                    "-vvv")
    assert run.rc == 0, run.failure_messages()
    assert_clean(run)
    assert result_of(run)["exec"]["args"] == [*AWS_CLI_ARGS, "--role-arn", admins]
    whoami = Kube(emulator_server.url, tmp_path, path).ok("auth", "whoami", "-o", "json").json()
    assert whoami["status"]["userInfo"]["extra"]["arn"] == [
        "arn:aws:sts::123456789012:assumed-role/kubeconfig-admins/EKSGetTokenAuth"]

    refused = run_tasks([kubeconfig_task(tmp_path / "other", role_arn=outsiders, authenticator="collection",
                                         verify_timeout=3)], "-vvv")
    assert refused.rc != 0
    assert_clean(refused)
    message = result_of(refused)["msg"]
    assert "refused the token of arn:aws:sts::123456789012:assumed-role/kubeconfig-outsiders/EKSGetTokenAuth" in message
    assert "(401 Unauthorized)" in message and "eks_access_entries" in message
    assert os.path.exists(tmp_path / "other")  # written before the check: the entry itself is right
    assert result_of(refused)["changed"] is True and result_of(refused)["context"] == CLUSTER_ARN


def test_playbook_kubeconfig_writes_into_the_checkout_artifacts_and_publishes_outputs(platform, run_playbook,
                                                                                       emulator_server):
    _cluster, sizes = platform
    # inventories/local: never ~/.kube/config, a file in the checkout's .artifacts/ (the tests give each emulator
    # its own through LLMHUB_KUBECONFIG)
    expected = Path(playbook_environment(emulator_server.url)["LLMHUB_KUBECONFIG"])
    assert expected.parent == Path(__file__).resolve().parents[2] / ".artifacts"
    run = run_playbook("kubeconfig.yml")
    assert run.rc == 0, run.failure_messages()
    assert_clean(run)
    written = run.task_results()["Write the kubeconfig entry of the cluster and check access to its API"]
    assert written["kubeconfig"] == str(expected)
    assert mode_of(written["kubeconfig"]) == 0o600
    shown = run.task_results()["Show how to reach the cluster"]["msg"]
    assert shown[0] == f"kubectl --kubeconfig {expected} --context {CLUSTER_ARN}"
    assert shown[1].startswith("Kubernetes v1.35.")
    assert shown[2] == f"Ready nodes by node group: {dict(sorted(sizes.items()))}"
    again = run_playbook("kubeconfig.yml")
    assert again.rc == 0 and again.changed == 0, again.failure_messages()
