"""Inventories of several clusters against the emulator, for tests and benchmarks of runs that deploy them together."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def fleet_inventory(directory: Path, clusters: int) -> Path:
    """An inventory of N clusters against the emulator (a copy of inventories/local with N hosts).

    The hosts are ``llm-analytics-hub-prod-eks`` then ``llm-analytics-hub-fleet-01``, ``-02``...
    """
    inventory = directory / f"fleet-{clusters}"
    (inventory / "group_vars" / "all").mkdir(parents=True, exist_ok=True)
    base = (ROOT / "inventories" / "local" / "group_vars" / "all" / "main.yml").read_text(encoding="utf-8")
    (inventory / "group_vars" / "all" / "main.yml").write_text(base, encoding="utf-8")
    names = ["llm-analytics-hub-prod-eks"] + [f"llm-analytics-hub-fleet-{i:02d}" for i in range(1, clusters)]
    hosts = "\n".join(f"        {name}:" for name in names)
    (inventory / "hosts.yml").write_text(
        f"---\nall:\n  children:\n    eks_clusters:\n      hosts:\n{hosts}\n", encoding="utf-8")
    return inventory
