#!/usr/bin/env python3
"""Make sure the collections pinned in requirements.yml are available.

The pinned `ansible` package bundles them, so on a fresh machine nothing is
downloaded; a collection that is missing or at another version is installed
with ansible-galaxy into ./.collections (the first entry of
collections_path in ansible.cfg).

A collection that ``wheels.yml`` beside the requirements file names
(``kubernetes.core: ansible==13.8.0``) and that is not at its version is taken
from that ``ansible`` wheel instead, into this venv only.

Usage: check_collections.py requirements.yml
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
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


def from_wheel(collection: dict) -> None:
    """Put a collection into this venv's bundled ``ansible_collections``, taken from another ``ansible`` release's
    wheel (PyPI; kept in ~/.cache/llmhub-eks): how the oldest-release test gets a collection newer than the one
    its ``ansible`` bundles, without touching ./.collections (which every venv reads first)."""
    namespace, name = collection["name"].split(".")
    cache = Path.home() / ".cache" / "llmhub-eks" / "wheels"
    cache.mkdir(parents=True, exist_ok=True)
    wheel_spec = collection["wheel"]  # set by main() from wheels.yml
    wheel_name = f"{wheel_spec.replace('==', '-')}-py3-none-any.whl"
    if not (cache / wheel_name).is_file():
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--no-deps",
                        "-d", str(cache), wheel_spec], check=True)
    site = Path(next(p for p in sys.path if p.endswith("site-packages")))
    target = site / "ansible_collections" / namespace / name
    prefix = f"ansible_collections/{namespace}/{name}/"
    with zipfile.ZipFile(cache / wheel_name) as wheel:
        members = [m for m in wheel.namelist() if m.startswith(prefix)]
        if not members:
            raise SystemExit(f"{wheel_name} holds no {collection['name']}")
        shutil.rmtree(target, ignore_errors=True)
        wheel.extractall(site, members)
    print(f"  {collection['name']} {collection['version']}: taken from {wheel_name}", flush=True)


def main(requirements_file: str) -> int:
    wanted = yaml.safe_load(Path(requirements_file).read_text(encoding="utf-8"))["collections"]
    wheels_file = Path(requirements_file).with_name("wheels.yml")
    wheels = yaml.safe_load(wheels_file.read_text(encoding="utf-8")) if wheels_file.is_file() else {}
    for collection in wanted:
        if collection["name"] in (wheels or {}):
            collection["wheel"] = wheels[collection["name"]]
    have = installed()
    missing = [c for c in wanted if have.get(c["name"]) != str(c["version"]).lstrip("=")]
    for collection in [c for c in missing if c.get("wheel")]:
        from_wheel(collection)
    if any(c.get("wheel") for c in missing):
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
