"""Every module's documentation renders with ansible-doc (as users read it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MODULES = sorted(p.stem for p in (ROOT / "plugins" / "modules").glob("*.py") if p.stem != "__init__")


def test_ansible_doc_renders_every_module():
    ansible_doc = str(Path(sys.executable).with_name("ansible-doc"))
    names = [f"llmhub.eks.{name}" for name in MODULES]
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")}
    output = subprocess.run([ansible_doc, "--json", *names], cwd=ROOT, env=env, capture_output=True, text=True,
                            check=True).stdout
    docs = json.loads(output)
    assert sorted(docs) == names
    for name, doc in docs.items():
        assert doc["doc"]["short_description"], name
        assert doc["examples"].strip(), name
        assert doc["return"], name
        assert doc["doc"]["options"], name


def test_every_module_is_in_the_aws_action_group():
    import yaml

    group = yaml.safe_load((ROOT / "meta" / "runtime.yml").read_text())["action_groups"]["aws"]
    assert sorted(entry for entry in group if isinstance(entry, str)) == MODULES


def test_ansible_doc_renders_every_lookup():
    ansible_doc = str(Path(sys.executable).with_name("ansible-doc"))
    names = [f"llmhub.eks.{p.stem}" for p in sorted((ROOT / "plugins" / "lookup").glob("*.py"))]
    assert names, "no lookup plugin found"
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")}
    output = subprocess.run([ansible_doc, "-t", "lookup", "--json", *names], cwd=ROOT, env=env,
                            capture_output=True, text=True, check=True).stdout
    docs = json.loads(output)
    assert sorted(docs) == names
    for name, doc in docs.items():
        assert doc["doc"]["short_description"] and doc["examples"].strip() and doc["return"], name
