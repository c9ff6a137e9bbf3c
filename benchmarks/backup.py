#!/usr/bin/env python3
"""Backup benchmark: backup.yml of a cluster with 1,000 ConfigMaps over 20 namespaces, measured, not asserted.

In one run against the emulator (instant profile): site.yml builds the platform; backup.yml backs up the platform as
built (baseline); 1,000 ConfigMaps (1 KiB of data each) are created in 20 namespaces; backup.yml backs up again;
the 20 namespaces are deleted and restore.yml restores them into the live cluster. Prints the wall times, the set's
files and size, and writes benchmarks/results/<stamp>-backup.json.

Usage: python benchmarks/backup.py [--namespaces 20] [--per-namespace 50]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from emulator.server import EmulatorServer  # noqa: E402

CLUSTER = "llm-analytics-hub-prod-eks"


def playbook(url: str, kubeconfig: str, name: str, *args: str) -> tuple[float, dict]:
    env = dict(os.environ)
    env.update({"AWS_ENDPOINT_URL": url, "LLMHUB_EMULATOR_URL": url, "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",  # noqa: S105
                "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
                "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json", "LLMHUB_KUBECONFIG": kubeconfig})
    command = [str(Path(sys.executable).with_name("ansible-playbook")), str(ROOT / "playbooks" / name),
               "-i", str(ROOT / "inventories" / "local"), *args]
    started = time.monotonic()
    proc = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    wall = time.monotonic() - started
    if proc.returncode != 0:
        raise SystemExit(f"{name} failed (rc {proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-2000:]}")
    start = proc.stdout.find("{")
    report, _end = json.JSONDecoder().raw_decode(proc.stdout[start:])
    results = {}
    for play in report.get("plays", []):
        for task in play.get("tasks", []):
            host = task.get("hosts", {}).get(CLUSTER)
            if host is not None:
                results[task["task"]["name"]] = host
    return round(wall, 2), results


def task(results: dict, suffix: str) -> dict:
    return next(value for name, value in results.items() if name.endswith(suffix))


def fill(kubeconfig: str, namespaces: int, per_namespace: int) -> float:
    import kubernetes

    api = kubernetes.client.CoreV1Api(kubernetes.config.new_client_from_config(kubeconfig))
    started = time.monotonic()
    names = [f"bench-{i:02d}" for i in range(namespaces)]
    for name in names:
        api.create_namespace({"metadata": {"name": name}})

    def create(item):
        namespace, index = item
        api.create_namespaced_config_map(namespace, {"metadata": {"name": f"settings-{index:03d}"},
                                                     "data": {"value": "x" * 1024}})

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(create, [(n, i) for n in names for i in range(per_namespace)]))
    return round(time.monotonic() - started, 2)


def delete_namespaces(kubeconfig: str, namespaces: int) -> None:
    import kubernetes

    api = kubernetes.client.CoreV1Api(kubernetes.config.new_client_from_config(kubeconfig))
    names = [f"bench-{i:02d}" for i in range(namespaces)]
    for name in names:
        api.delete_namespace(name)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        left = {ns.metadata.name for ns in api.list_namespace().items} & set(names)
        if not left:
            return
        time.sleep(0.5)
    raise SystemExit(f"namespaces still terminating: {sorted(left)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--namespaces", type=int, default=20)
    parser.add_argument("--per-namespace", type=int, default=50)
    args = parser.parse_args(argv)
    os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
    # the kubeconfig's exec plugin runs `aws eks get-token` from the virtualenv
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    results: dict = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                     "namespaces": args.namespaces, "config_maps": args.namespaces * args.per_namespace}
    with tempfile.TemporaryDirectory() as scratch, EmulatorServer(profile="instant") as server:
        kubeconfig = str(Path(scratch) / "kubeconfig")
        # the in-process Kubernetes client's exec plugin (aws eks get-token) signs with the emulator's credentials
        os.environ.update({"AWS_ENDPOINT_URL": server.url, "AWS_ACCESS_KEY_ID": "testing",
                           "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"})  # noqa: S105
        playbook(server.url, kubeconfig, "setup.yml")
        results["site_seconds"], _ = playbook(server.url, kubeconfig, "site.yml")
        wall, out = playbook(server.url, kubeconfig, "backup.yml", "-e", "backup_id=baseline")
        backup = task(out, "checksums)")["backup"]
        results["baseline"] = {"seconds": wall, "files": backup["files"], "bytes": backup["size"],
                               "objects": sum(backup["objects"].values())}
        results["fill_seconds"] = fill(kubeconfig, args.namespaces, args.per_namespace)
        wall, out = playbook(server.url, kubeconfig, "backup.yml", "-e", "backup_id=filled")
        backup = task(out, "checksums)")["backup"]
        results["filled"] = {"seconds": wall, "files": backup["files"], "bytes": backup["size"],
                             "objects": sum(backup["objects"].values())}
        delete_namespaces(kubeconfig, args.namespaces)
        restored = json.dumps({"backup_restore_namespaces": [f"bench-{i:02d}" for i in range(args.namespaces)]})
        wall, out = playbook(server.url, kubeconfig, "restore.yml", "-e", "backup_id=filled", "-e", f"confirm_restore={CLUSTER}", "-e", restored)
        counts = task(out, "snapshots")["restored_counts"]
        results["restore_namespaces"] = {"seconds": wall, "created": sum(counts.values())}
    results["filled_over_baseline"] = round(results["filled"]["seconds"] / results["baseline"]["seconds"], 2)
    out_dir = ROOT / "benchmarks" / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S")
    (out_dir / f"{stamp}-backup.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
