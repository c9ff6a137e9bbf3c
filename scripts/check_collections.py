#!/usr/bin/env python3
"""Make sure the collections pinned in requirements.yml are available.

The pinned `ansible` package bundles them, so on a fresh machine nothing is
downloaded; a collection that is missing or at another version is installed
with ansible-galaxy into ./.collections (the first entry of
collections_path in ansible.cfg).

Usage: check_collections.py requirements.yml
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def installed() -> dict[str, str]:
    """Collection name -> version, as ansible-galaxy sees them (first path wins)."""
    galaxy = Path(sys.executable).with_name("ansible-galaxy")
    output = subprocess.run(
        [str(galaxy), "collection", "list", "--format", "json"],
        check=True, capture_output=True, text=True, cwd=ROOT,
    ).stdout
    found: dict[str, str] = {}
    for path_collections in json.loads(output).values():
        for name, info in path_collections.items():
            found.setdefault(name, info.get("version", "*"))
    return found


def main(requirements_file: str) -> int:
    wanted = yaml.safe_load(Path(requirements_file).read_text(encoding="utf-8"))["collections"]
    have = installed()
    missing = [c for c in wanted if have.get(c["name"]) != str(c["version"]).lstrip("=")]
    for collection in wanted:
        state = "ok" if collection not in missing else f"have {have.get(collection['name'], 'none')}"
        print(f"  {collection['name']} {collection['version']}: {state}")
    if not missing:
        return 0
    galaxy = Path(sys.executable).with_name("ansible-galaxy")
    specs = [f"{c['name']}:{str(c['version']).lstrip('=')}" for c in missing]
    print(f"installing {', '.join(specs)} into .collections", flush=True)
    return subprocess.call([str(galaxy), "collection", "install", "-p", str(ROOT / ".collections"), *specs],
                           cwd=ROOT)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "requirements.yml"))
