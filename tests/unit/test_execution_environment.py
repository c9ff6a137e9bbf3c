"""The execution environment AWX runs the collection in (execution-environment.yml).

Building the image needs a container runtime these machines lack, so the test
does what `make ee-context` does in a scratch copy: build the collection's
tarball, run `ansible-builder create` (which validates the file against the v3
schema and writes the build context), then check the context installs what the
tests run with, and run the context's own introspection script on the
installed collection, as the image build does, to see the requirements that
meta/execution-environment.yml declares for execution environments of
dependants.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
EE_FILE = ROOT / "execution-environment.yml"


def pins(path: Path) -> dict[str, str]:
    """name (lower case) -> pinned version of a requirements file's ``name==version`` lines."""
    found = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-\[\]]+)==([^\s;#]+)", line.strip())
        if match:
            found[re.sub(r"\[.*\]", "", match.group(1)).lower()] = match.group(2)
    return found


def names(path: Path) -> set[str]:
    """The package names of a requirements file (any specifier)."""
    return {re.split(r"[<>=!~\[ ;]", line.strip(), maxsplit=1)[0].lower()
            for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.lstrip().startswith("#")}


def run(command: list[str], cwd: Path) -> subprocess.CompletedProcess:
    # as in an image build: no ansible.cfg of this checkout (make exports ANSIBLE_CONFIG, whose collections
    # path holds llmhub.eks already, and ansible-galaxy would then install nothing into -p)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    proc = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


@pytest.fixture(scope="module")
def build_context(tmp_path_factory) -> Path:
    """`make ee-context` in a scratch copy of the files the EE definition names."""
    work = tmp_path_factory.mktemp("ee")
    for name in ("execution-environment.yml", "requirements.yml", "scripts/install_k8s_clients.py"):
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, work / name)
    run([str(BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(work / ".artifacts" / "ee"),
         str(ROOT)], work)
    run([str(BIN / "ansible-builder"), "create", "-f", "execution-environment.yml", "-c", "context",
         "--output-filename", "Containerfile"], work)
    return work / "context"


def test_the_definition_is_version_3_with_a_pinned_ansible_core_and_runner():
    definition = yaml.safe_load(EE_FILE.read_text(encoding="utf-8"))
    assert definition["version"] == 3
    tested = pins(ROOT / "requirements.txt")
    dependencies = definition["dependencies"]
    assert dependencies["ansible_core"]["package_pip"] == f"ansible-core=={tested['ansible-core']}"
    assert dependencies["ansible_runner"]["package_pip"] == f"ansible-runner=={tested['ansible-runner']}"
    # the collections the tests run with, from the same file
    assert dependencies["galaxy"] == "requirements.yml"


def test_the_python_packages_are_the_tested_versions_of_what_the_collection_declares():
    definition = yaml.safe_load(EE_FILE.read_text(encoding="utf-8"))
    in_image = {re.sub(r"==.*", "", p).lower(): p.split("==")[1] for p in definition["dependencies"]["python"]}
    tested = pins(ROOT / "requirements.txt")
    declared = names(ROOT / "meta" / "ee-requirements.txt")
    assert set(in_image) == declared
    # pyyaml and cryptography come with ansible-core: the versions of the tested venv
    from importlib.metadata import version
    for name, pinned in in_image.items():
        assert pinned == tested.get(name, version(name)), name


def test_create_writes_a_build_context_with_the_collection_and_the_clients(build_context):
    containerfile = (build_context / "Containerfile").read_text(encoding="utf-8")
    assert 'ARG EE_BASE_IMAGE="registry.access.redhat.com/ubi9/ubi:9.6"' in containerfile
    assert "ansible-core==2.21.5 ansible-runner==2.4.3" in containerfile
    # the collection is installed beside its dependencies, before the introspection reads them
    galaxy_stage = containerfile.split("FROM base AS galaxy", 1)[1].split("FROM base AS builder", 1)[0]
    assert "/build/collection/llmhub-eks-*.tar.gz" in galaxy_stage
    [tarball] = (build_context / "_build" / "collection").glob("llmhub-eks-*.tar.gz")
    assert tarball.stat().st_size > 0
    final_stage = containerfile.split("FROM base AS final", 1)[1]
    assert "install_k8s_clients.py --bin-dir /usr/local/bin" in final_stage
    copied = build_context / "_build" / "llmhub" / "install_k8s_clients.py"
    assert copied.read_bytes() == (ROOT / "scripts" / "install_k8s_clients.py").read_bytes()
    assert (build_context / "_build" / "requirements.yml").read_text(encoding="utf-8") == \
        (ROOT / "requirements.yml").read_text(encoding="utf-8")
    assert "git-core [platform:rpm]" in (build_context / "_build" / "bindep.txt").read_text(encoding="utf-8")


def test_the_introspection_of_the_image_build_finds_the_collections_requirements(build_context, tmp_path):
    [tarball] = (build_context / "_build" / "collection").glob("llmhub-eks-*.tar.gz")
    collections = tmp_path / "collections"
    run([str(BIN / "ansible-galaxy"), "collection", "install", "--no-deps", "--offline", "-p", str(collections),
         str(tarball)], tmp_path)
    proc = run([sys.executable, str(build_context / "_build" / "scripts" / "introspect.py"), "introspect",
                str(collections)], tmp_path)
    report = yaml.safe_load(proc.stdout)
    from_us = {re.split(r"[<>=!~ ]", line, maxsplit=1)[0].lower()
               for line in report["python"] if line.endswith("# from collection llmhub.eks")}
    # the introspection leaves out what every image has (PyYAML comes with ansible-core)
    assert from_us == names(ROOT / "meta" / "ee-requirements.txt") - {"pyyaml"}
