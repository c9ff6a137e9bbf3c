"""The README's table of tags ("Tags are a contract") and the playbooks name the same tags."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def tags_of(node) -> set[str]:
    """Every tag set on a play, block, task or role import anywhere in a playbook's YAML."""
    found = set()
    if isinstance(node, dict):
        tags = node.get("tags")
        if isinstance(tags, str):
            found.add(tags)
        elif isinstance(tags, list):
            found.update(tags)
        for value in node.values():
            found |= tags_of(value)
    elif isinstance(node, list):
        for item in node:
            found |= tags_of(item)
    return found


def readme_table() -> dict[str, list[str]]:
    """Tag -> the other cells of its row in the README's contract table."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("### Tags are a contract", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        match = re.match(r"^\| `([a-z_]+)` \|(.*)\|$", line)
        if match:
            rows[match.group(1)] = [cell.strip() for cell in match.group(2).split("|")]
    return rows


def playbook_tags(name: str) -> set[str]:
    return tags_of(yaml.safe_load((ROOT / "playbooks" / name).read_text(encoding="utf-8"))) - {"always"}


def test_the_table_lists_every_tag_of_site_and_destroy_and_no_other():
    assert set(readme_table()) == playbook_tags("site.yml") | playbook_tags("destroy.yml")


def test_every_layer_of_site_is_also_a_tag_of_destroy_where_it_removes_something():
    table = readme_table()
    for tag in playbook_tags("site.yml"):
        removes = table[tag][3]
        assert (tag in playbook_tags("destroy.yml")) == (not removes.startswith("–")), tag


def test_what_a_layer_needs_first_names_tags_of_the_table():
    table = readme_table()
    for tag, cells in table.items():
        for needed in re.findall(r"`([a-z_]+)`", cells[1]):
            assert needed in table, (tag, needed)


def test_the_integration_test_covers_every_layer():
    source = (ROOT / "tests" / "integration" / "test_tags_contract.py").read_text(encoding="utf-8")
    layers = re.search(r"^LAYERS = (\[.*\])$", source, re.M).group(1)
    assert set(yaml.safe_load(layers)) == playbook_tags("site.yml")
