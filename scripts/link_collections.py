#!/usr/bin/env python3
"""Link this collection's dependencies next to a copy of it for ansible-test.

ansible-test finds other collections only in the ansible_collections tree
that holds the collection under test. Links every dependency of galaxy.yml
from wherever ansible finds it into ``<root>/<namespace>/<name>``.

Usage: link_collections.py <root>/ansible_collections
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

import ansible_collections

ROOT = Path(__file__).resolve().parents[1]


def main(target: str) -> int:
    galaxy = yaml.safe_load((ROOT / "galaxy.yml").read_text(encoding="utf-8"))
    search = [ROOT / ".collections" / "ansible_collections", *map(Path, ansible_collections.__path__)]
    for name in galaxy.get("dependencies", {}):
        namespace, collection = name.split(".")
        source = next((base / namespace / collection for base in search
                       if (base / namespace / collection / "MANIFEST.json").exists()), None)
        if source is None:
            print(f"dependency {name} not found in {', '.join(map(str, search))}", file=sys.stderr)
            return 1
        link = Path(target) / namespace / collection
        link.parent.mkdir(parents=True, exist_ok=True)
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(source.resolve())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
