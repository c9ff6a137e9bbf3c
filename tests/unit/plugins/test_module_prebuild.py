"""The llmhub.eks.module_prebuild callback: a play's module payloads built ahead of its tasks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / ".collections"))

from ansible_collections.llmhub.eks.plugins.callback import module_prebuild  # noqa: E402

# The playbook loaded as ansible-playbook loads it (its command line parsed, then the inventory and the plays), and
# the modules the callback would build for each play.
PLAYS_PROBE = """
import json, sys
from ansible.cli.playbook import PlaybookCLI
from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader
from ansible.playbook import Playbook
from ansible.plugins.loader import init_plugin_loader
from ansible.vars.manager import VariableManager

cli = PlaybookCLI(["ansible-playbook", *sys.argv[1:]])
cli.parse()
init_plugin_loader()
from ansible_collections.llmhub.eks.plugins.callback import module_prebuild
loader = DataLoader()
inventory = InventoryManager(loader=loader, sources=["inventories/local"])
variables = VariableManager(loader=loader, inventory=inventory)
playbook = Playbook.load(sys.argv[1], variable_manager=variables, loader=loader)
print(json.dumps([[name for name, _ in module_prebuild.module_paths(play)] for play in playbook.get_plays()]))
"""


def plays_modules(*args):
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")}
    result = subprocess.run([sys.executable, "-c", PLAYS_PROBE, *args], cwd=ROOT, env=env, capture_output=True,
                            text=True, check=True)
    return json.loads(result.stdout.splitlines()[-1])


def test_the_aws_layers_modules_in_the_order_their_tasks_come():
    deploy, summary = plays_modules("playbooks/site.yml", "--tags", "iam,vpc,eks,nodegroups")
    assert deploy[:3] == ["llmhub.eks.eks_preflight_info", "llmhub.eks.deploy_lock", "llmhub.eks.iam_roles"]
    for layer_module in ("llmhub.eks.kms_key", "llmhub.eks.ec2_vpc", "llmhub.eks.ec2_vpc_subnets",
                         "llmhub.eks.eks_cluster", "llmhub.eks.ec2_launch_templates", "llmhub.eks.eks_nodegroups",
                         "llmhub.eks.irsa_role", "llmhub.eks.eks_access_entries", "llmhub.eks.eks_addon"):
        assert layer_module in deploy
    assert len(deploy) == len(set(deploy)), "each module once"
    # the tags leave out the other layers' modules, and ansible-core's actions are never built ahead
    assert "llmhub.eks.guardduty_detector" not in deploy
    assert "kubernetes.core.k8s" not in deploy
    assert not [name for name in deploy if name.startswith("ansible.")]
    assert summary == []  # the summary play runs no module


def test_the_tags_choose_the_modules():
    deploy, _ = plays_modules("playbooks/site.yml", "--tags", "iam")
    assert "llmhub.eks.iam_roles" in deploy and "llmhub.eks.kms_key" in deploy
    assert "llmhub.eks.ec2_vpc" not in deploy
    everything, _ = plays_modules("playbooks/site.yml")
    assert "llmhub.eks.guardduty_detector" in everything and "kubernetes.core.k8s" in everything
    skipped, _ = plays_modules("playbooks/site.yml", "--skip-tags", "hardening")
    assert "llmhub.eks.guardduty_detector" not in skipped


class Task:
    """A task whose tags need the host's variables: selected without templating them."""

    tags = ["{{ layer_tag }}"]

    def evaluate_tags(self, *args, **kwargs):
        raise AssertionError("templated tags are not evaluated ahead of the run")


def test_templated_tags_count_as_selected():
    assert module_prebuild.selected_by_tags(Task(), play=None) is True


# A play whose first task gives the builder a second, then runs a module of this collection (its arguments are
# refused before any AWS call); ansible-core's debug log says whether the task process built the payload or found it.
PLAYBOOK = """
- hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  tasks:
    - name: Leave the builder a moment
      ansible.builtin.wait_for:
        timeout: 2
    - name: A module of this collection
      llmhub.eks.kms_key:
        alias: ""
      ignore_errors: true
"""


def run_playbook(tmp_path, **environment):
    playbook = tmp_path / "play.yml"
    playbook.write_text(textwrap.dedent(PLAYBOOK))
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_DEBUG": "1",
           "ANSIBLE_LOCAL_TEMP": str(tmp_path / "tmp"), **environment}
    result = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", str(playbook)],
                            cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout + result.stderr


def worker_lines(output, module="kms_key"):
    """ansible-core's own debug lines about the module's payload, from the task process that ran it."""
    return [line for line in output.splitlines() if "ANSIBALLZ" in line and module in line]


def test_the_task_process_finds_the_payload_built(tmp_path):
    output = run_playbook(tmp_path)
    assert any("using cached module" in line for line in worker_lines(output)), output[-4000:]


def test_it_can_be_turned_off(tmp_path):
    output = run_playbook(tmp_path, LLMHUB_MODULE_PREBUILD="false")
    assert not any("using cached module" in line for line in worker_lines(output))


def test_it_runs_only_when_enabled():
    assert module_prebuild.CallbackModule.CALLBACK_NEEDS_ENABLED is True
    assert module_prebuild.CallbackModule.CALLBACK_NAME == "llmhub.eks.module_prebuild"


def test_the_builder_is_stopped_and_reaped_at_the_end_of_the_run(monkeypatch):
    callback = module_prebuild.CallbackModule()
    callback.get_option = {"enabled": True}.get
    monkeypatch.setattr(module_prebuild, "module_paths", lambda play: [("sleeper", "/nonexistent.py")])
    monkeypatch.setattr(module_prebuild, "run_builder", lambda modules: (os.execv("/bin/sleep", ["sleep", "30"])))
    callback.v2_playbook_on_play_start(play=None)
    pid = callback.builder_pid
    assert pid
    callback.v2_playbook_on_stats(stats=None)
    assert callback.builder_pid is None
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass  # already reaped: no zombie left
    else:
        raise AssertionError("the builder was not reaped")


def test_a_play_without_collection_modules_forks_nothing(monkeypatch):
    callback = module_prebuild.CallbackModule()
    callback.get_option = {"enabled": True}.get
    monkeypatch.setattr(module_prebuild, "module_paths", lambda play: [])
    monkeypatch.setattr(module_prebuild.os, "fork", lambda: (_ for _ in ()).throw(AssertionError("forked")))
    callback.v2_playbook_on_play_start(play=None)
    assert callback.builder_pid is None


def test_a_fork_that_fails_leaves_the_builds_to_the_tasks(monkeypatch):
    callback = module_prebuild.CallbackModule()
    callback.get_option = {"enabled": True}.get
    monkeypatch.setattr(module_prebuild, "module_paths", lambda play: [("llmhub.eks.kms_key", "/x.py")])

    def no_fork():
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(module_prebuild.os, "fork", no_fork)
    callback.v2_playbook_on_play_start(play=None)
    assert callback.builder_pid is None
