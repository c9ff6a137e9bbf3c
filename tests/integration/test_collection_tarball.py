"""The built collection is the product: build the Galaxy tarball, check what it
holds, install it into an empty collections path and run setup.yml from it, as
a user does, outside this checkout (no ansible.cfg, no .collections, a bare
HOME). test_awx_runner.py deploys the whole platform from an installed copy.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

from emulator.__main__ import emulator_environment

from .conftest import ROOT

pytestmark = pytest.mark.integration

CLUSTER = "tarball-test-eks"
BIN = Path(sys.executable).parent
# What a user needs, and nothing else at the top of the tarball.
TOP_LEVEL = {"CHANGELOG.md", "FILES.json", "LICENSE", "MANIFEST.json", "README.md", "inventories", "meta",
             "playbooks", "plugins", "roles"}
REQUIRED = {"roles", "plugins", "playbooks", "playbooks/site.yml", "meta/runtime.yml", "README.md", "LICENSE",
            "CHANGELOG.md", "inventories/example/hosts.yml", "roles/iam/tasks/main.yml", "plugins/modules/eks_cluster.py"}
FORBIDDEN = ("tests", "benchmarks", "emulator", "Makefile", "pytest.ini", "ansible.cfg", "scripts", ".ci",
             ".collections", ".venv", "inventories/local", "requirements.txt")


def venv_site_packages() -> str:
    """Where the venv's bundled collections (amazon.aws, ...) live."""
    code = "import ansible_collections, os; print(os.path.dirname(list(ansible_collections.__path__)[0]))"
    return subprocess.run([sys.executable, "-c", code], cwd="/", capture_output=True, text=True, check=True,
                          timeout=60).stdout.strip()


def user_environment(home: Path, collections: Path, url: str) -> dict[str, str]:
    """A user's shell: no ANSIBLE_* of the checkout (ANSIBLE_CONFIG, ...), the emulator's AWS settings."""
    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("ANSIBLE_", "PROFILE_TASKS_")) and k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env = emulator_environment(url, base)
    env.update({
        "HOME": str(home),
        "ANSIBLE_COLLECTIONS_PATH": os.pathsep.join([str(collections), venv_site_packages()]),
        "ANSIBLE_NOCOLOR": "1",
    })
    return env


def run(command: list[str], cwd: Path, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def build(dist: Path) -> Path:
    proc = subprocess.run([str(BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(dist)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [tarball] = dist.glob("llmhub-eks-*.tar.gz")
    return tarball


def test_tarball_installs_and_runs_outside_the_checkout(tmp_path, emulator, aws):
    assert not tmp_path.resolve().is_relative_to(ROOT.resolve())
    tarball = build(tmp_path / "dist")

    # --- what the tarball holds ---------------------------------------------------------------------
    with tarfile.open(tarball) as archive:
        names = {name.rstrip("/") for name in archive.getnames()}
        manifest = json.load(archive.extractfile("FILES.json"))
    # FILES.json (what ansible-galaxy verifies on install) lists exactly what the tarball holds.
    assert {f["name"] for f in manifest["files"] if f["name"] != "."} | {"FILES.json", "MANIFEST.json"} == names
    assert REQUIRED <= names, REQUIRED - names
    assert {n.split("/", 1)[0] for n in names} <= TOP_LEVEL, "unexpected top-level entries"
    leaked = sorted(n for n in names for bad in FORBIDDEN if n == bad or n.startswith(bad + "/"))
    assert not leaked, f"development files in the tarball: {leaked}"
    assert not [n for n in names if "__pycache__" in n or n.endswith((".pyc", ".tar.gz"))]

    # --- install into an empty collections path, as a user does --------------------------------------
    home, work, collections = tmp_path / "home", tmp_path / "work", tmp_path / "collections"
    home.mkdir()
    work.mkdir()
    env = user_environment(home, collections, emulator.url)
    install = run([str(BIN / "ansible-galaxy"), "collection", "install", "--no-deps", "--offline",
                   "-p", str(collections), str(tarball)], work, env)
    assert install.returncode == 0, install.stdout + install.stderr
    installed = collections / "ansible_collections" / "llmhub" / "eks"
    assert (installed / "playbooks" / "site.yml").is_file()
    assert not (installed / "ansible.cfg").exists()
    assert [p.name for p in (collections / "ansible_collections").iterdir()] == ["llmhub"]

    listing = run([str(BIN / "ansible-galaxy"), "collection", "list", "llmhub.eks", "--format", "json"], work, env)
    assert listing.returncode == 0, listing.stdout + listing.stderr
    locations = {path for path, found in json.loads(listing.stdout).items() if "llmhub.eks" in found}
    assert locations == {str(collections / "ansible_collections")}

    # --- setup.yml from the installed copy ---------------------------------------------------
    inventory = work / "inventory.yml"
    inventory.write_text(yaml.safe_dump({"all": {"children": {"eks_clusters": {"hosts": {CLUSTER: {
        # the collection's own connection plugin, loaded from the installed copy (pipelining on by default)
        "ansible_connection": "llmhub.eks.forkserver",
        "ansible_python_interpreter": sys.executable,
        "llmhub_aws_region": "us-east-1",
        "llmhub_aws_endpoint_url": "{{ lookup('ansible.builtin.env', 'AWS_ENDPOINT_URL') }}",
        "eks_public_access_cidrs": ["203.0.113.0/24"],
    }}}}}}), encoding="utf-8")
    # workflow step 2 from the installed copy: the artifacts bucket and the deploy lock table
    setup = run([str(BIN / "ansible-playbook"), "llmhub.eks.setup", "-i", str(inventory), "-v"], work, env)
    output = setup.stdout + setup.stderr
    assert setup.returncode == 0, output[-4000:]
    assert "No config file found; using defaults" in output
    assert aws("dynamodb").describe_table(TableName="llmhub-deploy-locks")["Table"]["TableStatus"] == "ACTIVE"
    # the whole site.yml from an installed copy, as AWX runs it: test_awx_runner.py
