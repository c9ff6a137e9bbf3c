"""site.yml run the way AWX / Automation Controller runs it.

AWX runs a job with ansible-runner inside its execution environment: a private
data directory holding the project (read-only for the job), the inventory it
wrote, `env/extravars` (the job's and the survey's variables, with `awx_job_id`
and `awx_user_name`) and `env/envvars` (the AWS credential injected as
environment variables); collections come from the image, not from a checkout,
HOME is elsewhere, and there is no virtualenv of ours. This test builds the
collection's tarball, installs it into such a layout, runs the whole of
`site.yml` through ansible-runner's Python API with a clean environment, and
reads what AWX reads: the job events and the artifacts.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support.account import create_lock_table

from .conftest import CLUSTER, ROOT
from .test_collection_tarball import build, user_environment, venv_site_packages

pytestmark = pytest.mark.integration

BIN = Path(sys.executable).parent
RUNNER = """
import json, sys
import ansible_runner
result = ansible_runner.run(private_data_dir=sys.argv[1], playbook="site.yml", ident="1", quiet=True)
print(json.dumps({"status": result.status, "rc": result.rc}))
"""


def tree_state(directory: Path) -> dict[str, tuple[int, int]]:
    """path -> (size, mtime_ns) of every file and directory under ``directory``."""
    return {str(p.relative_to(directory)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in [directory, *directory.rglob("*")]}


@pytest.fixture
def awx_credential(aws) -> dict[str, str]:
    """The controller's "Amazon Web Services" credential: an IAM user's access key, as environment variables."""
    iam = aws("iam")
    iam.create_user(UserName="awx-deployer")
    iam.attach_user_policy(UserName="awx-deployer", PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    key = iam.create_access_key(UserName="awx-deployer")["AccessKey"]
    return {"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}


def test_site_runs_through_ansible_runner_from_the_installed_collection(tmp_path, emulator, aws, awx_credential):
    create_lock_table(emulator.url)  # `make setup` (the setup job template) ran once for the account

    # --- the execution environment: the collection from its tarball, beside the image's others ----------
    tarball = build(tmp_path / "dist")
    image_collections = tmp_path / "image" / "usr" / "share" / "ansible" / "collections"
    home = tmp_path / "runner-home"
    home.mkdir()
    # as the image build does: none of this checkout's settings (under `make`, ANSIBLE_CONFIG names the
    # checkout's ansible.cfg, whose collections path already holds llmhub.eks: galaxy would install nothing)
    install = subprocess.run([str(BIN / "ansible-galaxy"), "collection", "install", "--no-deps", "--offline",
                              "-p", str(image_collections), str(tarball)],
                             cwd=tmp_path, env=user_environment(home, image_collections, emulator.url),
                             capture_output=True, text=True, timeout=120, check=False)
    assert install.returncode == 0, install.stdout + install.stderr
    assert (image_collections / "ansible_collections" / "llmhub" / "eks" / "playbooks" / "site.yml").is_file(), \
        install.stdout

    # --- the private data directory AWX writes for the job -------------------------------------------
    private = tmp_path / "runner"
    project = private / "project"
    project.mkdir(parents=True)
    # an AWX project of an EE with the collection: a playbook of the collection, no checkout of it
    (project / "site.yml").write_text("---\n- name: The platform\n  ansible.builtin.import_playbook: llmhub.eks.site\n",
                                      encoding="utf-8")
    # the inventory AWX synced from the project's inventory source (inventories/local: the emulator)
    shutil.copytree(ROOT / "inventories" / "local", private / "inventory")
    (private / "env").mkdir()
    (private / "env" / "extravars").write_text(yaml.safe_dump({
        "awx_job_id": 4242, "awx_user_name": "platform-admin", "awx_job_template_name": "llmhub-eks apply",
        "kubeconfig_path": str(home / ".kube" / "config"),
    }), encoding="utf-8")
    envvars = {
        **awx_credential,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": emulator.url,
        "ANSIBLE_COLLECTIONS_PATH": os.pathsep.join([str(image_collections), venv_site_packages()]),
        "ANSIBLE_FORCE_COLOR": "0",
    }
    (private / "env" / "envvars").write_text(yaml.safe_dump(envvars), encoding="utf-8")
    for path in [project, *project.rglob("*")]:
        path.chmod(0o555 if path.is_dir() else 0o444)
    project_before = tree_state(project)

    # --- run it as AWX's worker does: ansible-runner in the image's environment ------------------------
    environment = {"HOME": str(home), "PATH": os.pathsep.join([str(BIN), "/usr/bin", "/bin"]), "LANG": "C.UTF-8",
                   "MOTO_IAM_LOAD_MANAGED_POLICIES": "true"}
    proc = subprocess.run([sys.executable, "-c", RUNNER, str(private)], cwd=private, env=environment,
                          capture_output=True, text=True, timeout=900, check=False)
    artifacts = private / "artifacts" / "1"
    stdout = (artifacts / "stdout").read_text(encoding="utf-8") if (artifacts / "stdout").exists() else ""
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {"status": "successful", "rc": 0}, stdout[-4000:]

    # --- what AWX reads: the job events -------------------------------------------------------------
    events = [json.loads(p.read_text(encoding="utf-8")) for p in sorted((artifacts / "job_events").glob("*.json"))]
    for event in events:  # verbose and stdout-only events carry no event_data
        event.setdefault("event_data", {})
    [stats] = [e for e in events if e["event"] == "playbook_on_stats"]
    assert CLUSTER in stats["event_data"]["ok"]
    assert not stats["event_data"]["failures"] and not stats["event_data"]["dark"]
    assert not [e for e in events if e["event"] == "runner_on_failed" and not e["event_data"].get("ignore_errors")]
    # the summary is a workflow artifact (set_stats): the next node of an AWX workflow gets it as a variable
    summary = stats["event_data"]["artifact_data"]["llmhub_site_summaries"][CLUSTER]
    assert summary["run"] == "built"
    assert summary["eks"]["cluster_name"] == CLUSTER
    # every module ran in the collection's fork server (no fallback warning) and every task from the installed copy
    assert "llmhub.eks.forkserver:" not in stdout
    # every task ran from the installed collection
    task_paths = {e["event_data"]["task_path"].rsplit(":", 1)[0] for e in events if e["event_data"].get("task_path")}
    installed = image_collections / "ansible_collections" / "llmhub" / "eks"
    assert task_paths and all(p.startswith(str(installed) + "/") for p in task_paths), sorted(task_paths)
    # the deploy lock names the AWX job
    lock_events = [e for e in events if e["event"] == "runner_on_ok"
                   and e["event_data"].get("task", "").startswith("Take the cluster's deploy lock")]
    assert lock_events, "no deploy lock event"
    assert "awx job 4242 (platform-admin)" in json.dumps(lock_events[0]["event_data"]["res"])

    # --- no secret in what AWX keeps: the events, the stdout, every artifact of the run ---------------
    # (ansible-runner itself records the job's environment in artifacts/<ident>/command, readable by its
    # owner only; AWX does not keep that file: it is the runner's, not the playbook's output)
    assert (artifacts / "command").stat().st_mode & 0o077 == 0
    secret = awx_credential["AWS_SECRET_ACCESS_KEY"]
    leaked = [str(p.relative_to(private)) for p in (private / "artifacts").rglob("*")
              if p.is_file() and p != artifacts / "command"
              and secret in p.read_text(encoding="utf-8", errors="replace")]
    assert not leaked, f"the credential's secret is in {leaked}"
    assert secret not in proc.stdout + proc.stderr

    # --- nothing written into the project, nor a checkout assumed ------------------------------------
    assert tree_state(project) == project_before
    assert not (project / ".venv").exists() and not (project / ".collections").exists()

    # --- what it built ---------------------------------------------------------------------------------
    cluster = aws("eks").describe_cluster(name=CLUSTER)["cluster"]
    assert cluster["status"] == "ACTIVE"
    assert sorted(aws("eks").list_nodegroups(clusterName=CLUSTER)["nodegroups"]) == ["application", "database", "system"]
