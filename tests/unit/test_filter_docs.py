"""Every filter plugin is documented, as users read it with ansible-doc.

A file of plugins/filter/ defines several filters, so ansible-core reads the
documentation of each from plugins/filter/<filter name>.yml. A filter without
one is listed as UNDOCUMENTED; a YAML file that does not parse still lists
with its short description but fails ``ansible-doc -t filter <name>``, which
is why both are checked.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
FILTER_DIR = ROOT / "plugins" / "filter"
ENV = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")}


def _filter_names() -> list[str]:
    """Every name returned by FilterModule().filters() of plugins/filter/*.py."""
    names = []
    for path in sorted(FILTER_DIR.glob("*.py")):
        if path.stem == "__init__":
            continue
        spec = importlib.util.spec_from_file_location(f"llmhub_eks_filter_docs_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        names.extend(module.FilterModule().filters())
    return sorted(names)


FILTERS = _filter_names()


def _ansible_doc(*args: str) -> dict:
    ansible_doc = str(Path(sys.executable).with_name("ansible-doc"))
    result = subprocess.run([ansible_doc, "-t", "filter", "--json", *args], cwd=ROOT, env=ENV, capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_filters_are_found():
    assert len(FILTERS) == len(set(FILTERS)), "a filter name is defined twice"
    assert FILTERS, "no filter plugin found"


def test_every_filter_is_listed_with_a_short_description():
    listed = _ansible_doc("--list", "llmhub.eks")
    missing = [name for name in FILTERS if f"llmhub.eks.{name}" not in listed]
    assert not missing, f"not listed by ansible-doc: {missing}"
    undocumented = [name for name in FILTERS
                    if not str(listed[f"llmhub.eks.{name}"]).strip()
                    or str(listed[f"llmhub.eks.{name}"]).strip().upper() == "UNDOCUMENTED"]
    assert not undocumented, f"UNDOCUMENTED filters (add plugins/filter/<name>.yml): {undocumented}"


def test_every_filter_doc_renders_with_description_examples_and_return():
    names = [f"llmhub.eks.{name}" for name in FILTERS]
    docs = _ansible_doc(*names)
    assert sorted(docs) == names
    for name, entry in docs.items():
        doc = entry["doc"]
        short = name.rsplit(".", 1)[1]
        assert doc["name"] == short, name
        assert doc["short_description"].strip() and doc["short_description"] != "UNDOCUMENTED", name
        description = [doc["description"]] if isinstance(doc["description"], str) else doc["description"]
        assert description and all(line.strip() for line in description), name
        assert doc["version_added"], name
        assert doc["author"], name
        assert "_input" in doc["options"], name
        assert doc["options"]["_input"]["description"] and doc["options"]["_input"]["type"], name
        examples = entry["examples"]
        assert examples and examples.strip(), name
        assert f"llmhub.eks.{short}" in examples, f"{name}: the examples do not use the filter"
        assert isinstance(yaml.safe_load(examples), list), f"{name}: EXAMPLES is not a YAML task list"
        assert entry["return"]["_value"]["description"], name


def test_no_doc_file_without_its_filter():
    docs = sorted(path.stem for path in FILTER_DIR.glob("*.yml"))
    assert docs == FILTERS
