#!/usr/bin/env python3
"""Deploy benchmark: site.yml against the emulator's latency profile.

Measures, in one run (machines here are noisy, so only ratios measured
side by side mean anything):
  * the full deploy's wall time and the critical path the same profile
    implies (cluster create + slowest node group + add-on create: what no
    amount of overlapping can remove), and their ratio;
  * AWS API calls by service and operation (the emulator's request log);
  * a no-op re-run: wall time, calls, mutating calls (must be 0);
  * fleets of N clusters (one inventory host each, forks = N) against one;
  * the slowest tasks (profile_tasks).
Writes benchmarks/results/<stamp>.json and latest.md, and the table of the
README between its markers.

Usage: python benchmarks/run.py [--profile demo] [--fleet 1,3,10] [--tags TAGS] [--out DIR]
"""

from __future__ import annotations

import argparse
import collections
import datetime
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from emulator.client import EmulatorClient  # noqa: E402
from emulator.profiles import load_profile  # noqa: E402
from emulator.server import EmulatorServer  # noqa: E402
from tests.support.account import create_lock_table  # noqa: E402
from tests.support.inventory import fleet_inventory  # noqa: E402

MUTATING = re.compile(r"^(Create|Delete|Modify|Allocate|Release|Associate|Disassociate|Attach|Detach|Put|Replace|"
                      r"Update|Authorize|Revoke|Tag|Untag|Enable|Disable|Schedule|Cancel|Register|Deregister|"
                      r"Add|Remove|Set|Start|Stop)")
TASK_LINE = re.compile(r"^(?P<name>.+?) -{2,} (?P<seconds>\d+\.\d+)s$")
MARK_BEGIN, MARK_END = "<!-- bench:begin -->", "<!-- bench:end -->"


def critical_path_seconds(profile_name: str, scale: float = 1.0) -> dict[str, float]:
    """What cannot overlap: cluster create, then the slowest node group, then an add-on."""
    profile = load_profile(profile_name)
    parts = {kind: profile.seconds(kind) * scale
             for kind in ("eks_cluster_create", "eks_nodegroup_create", "eks_addon_create")}
    return {**parts, "total": round(sum(parts.values()), 3)}


def run_playbook(url: str, inventory: Path, forks: int, tags: str | None) -> dict:
    env = dict(os.environ)
    env.update({"AWS_ENDPOINT_URL": url, "LLMHUB_EMULATOR_URL": url, "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",  # noqa: S105
                "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
                "ANSIBLE_FORKS": str(forks), "PROFILE_TASKS_TASK_OUTPUT_LIMIT": "all",
                "PROFILE_TASKS_SORT_ORDER": "descending"})
    command = [str(Path(sys.executable).with_name("ansible-playbook")), str(ROOT / "playbooks" / "site.yml"),
               "-i", str(inventory)]
    if tags:
        command += ["--tags", tags]
    started, started_at = time.monotonic(), time.time()
    proc = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    wall = time.monotonic() - started
    if proc.returncode != 0:
        # the failures themselves, not only the (long) timing recap that ends the output
        failures = [line for line in proc.stdout.splitlines() if line.startswith(("fatal:", "[ERROR]", "failed:"))]
        raise SystemExit(f"site.yml failed (rc {proc.returncode}):\n" + "\n".join(failures[:20])
                         + f"\n{proc.stdout.split('PLAY RECAP', 1)[-1][:3000]}\n{proc.stderr[-2000:]}")
    recap = proc.stdout.split("TASKS RECAP", 1)[-1]
    tasks = [(m["name"].strip(), float(m["seconds"])) for m in map(TASK_LINE.match, recap.splitlines()) if m]
    changed = sum(int(n) for n in re.findall(r"changed=(\d+)", proc.stdout.split("PLAY RECAP", 1)[-1]))
    return {"wall_seconds": round(wall, 2), "changed": changed, "started_at": started_at,
            "slowest_tasks": sorted(tasks, key=lambda t: -t[1])[:10]}


# What the critical path waits on, in order: (label, operation, first or last call of it).
MILESTONES = (
    ("first AWS call", None, "first"),
    ("cluster requested", "CreateCluster", "first"),
    ("node groups requested", "CreateNodegroup", "first"),
    ("node groups seen ACTIVE (last DescribeNodegroup)", "DescribeNodegroup", "last"),
    ("add-ons seen ACTIVE (last DescribeAddon)", "DescribeAddon", "last"),
)


def milestones(entries: list[dict], started_at: float, wall: float) -> dict[str, float]:
    """Seconds from the start of ansible-playbook to each milestone of the critical path (request log times)."""
    marks = {}
    for label, operation, which in MILESTONES:
        times = [e["ts"] for e in entries if operation is None or e["operation"] == operation]
        if times:
            marks[label] = round((times[0] if which == "first" else times[-1]) - started_at, 2)
    marks["run ends"] = round(wall, 2)
    return marks


def calls_summary(entries: list[dict]) -> dict:
    by_operation = collections.Counter(f"{e['service']}:{e['operation']}" for e in entries)
    # the deploy lock's PutItem/DeleteItem (every run takes and releases it) are not changes of the platform
    mutating = collections.Counter(f"{e['service']}:{e['operation']}" for e in entries
                                   if MUTATING.match(e["operation"]) and e["service"] != "dynamodb")
    return {"total": len(entries), "mutating": sum(mutating.values()),
            "by_operation": dict(by_operation.most_common()), "mutating_by_operation": dict(mutating.most_common())}


def measure(profile: str, fleet: list[int], tags: str | None, scale: float = 1.0) -> dict:
    results: dict = {"profile": profile, "scale": scale, "tags": tags,
                     "critical_path": critical_path_seconds(profile, scale),
                     "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
    with tempfile.TemporaryDirectory() as scratch, EmulatorServer(profile=profile, scale=scale) as server:
        client = EmulatorClient(server.url)
        single = fleet_inventory(Path(scratch), 1)
        client.reset()
        create_lock_table(server.url)  # what setup.yml makes once per account
        client.clear_requests()
        full = run_playbook(server.url, single, 1, tags)
        entries = client.requests()
        full["calls"] = calls_summary(entries)
        full["milestones"] = milestones(entries, full.pop("started_at"), full["wall_seconds"])
        client.clear_requests()
        noop = run_playbook(server.url, single, 1, tags)
        noop.pop("started_at")
        noop["calls"] = calls_summary(client.requests())
        results["full_deploy"] = full
        results["noop_rerun"] = noop
        results["fleet"] = {}
        for size in fleet:
            if size == 1:
                results["fleet"]["1"] = full["wall_seconds"]
                continue
            client.reset()
            create_lock_table(server.url)  # what setup.yml makes once per account
            client.clear_requests()
            results["fleet"][str(size)] = run_playbook(server.url, fleet_inventory(Path(scratch), size), size,
                                                       tags)["wall_seconds"]
    critical = results["critical_path"]["total"]
    one = results["full_deploy"]["wall_seconds"]
    results["ratios"] = {
        "full_over_critical_path": round(one / critical, 2) if critical else None,
        "noop_over_full": round(results["noop_rerun"]["wall_seconds"] / one, 2),
        **{f"fleet_{n}_over_1": round(seconds / one, 2) for n, seconds in results["fleet"].items() if n != "1"},
    }
    return results


def markdown(results: dict) -> str:
    full, noop, ratios = results["full_deploy"], results["noop_rerun"], results["ratios"]
    critical = results["critical_path"]
    lines = [
        f"Measured {results['date']}, profile `{results['profile']}`"
        + (f" x {results['scale']}" if results.get("scale", 1.0) != 1.0 else "")
        + (f", tags `{results['tags']}`" if results["tags"] else "") + ", one run.",
        "",
        "| measure | value | target |",
        "|---|---|---|",
        f"| full deploy wall time | {full['wall_seconds']} s | |",
        f"| critical path (cluster {critical['eks_cluster_create']:.1f} s + node group "
        f"{critical['eks_nodegroup_create']:.1f} s + add-on {critical['eks_addon_create']:.1f} s) | {critical['total']} s | |",
        f"| full deploy / critical path | {ratios['full_over_critical_path']} | <= 1.10 |",
        f"| AWS API calls (mutating) | {full['calls']['total']} ({full['calls']['mutating']}) | |",
        f"| no-op re-run wall time | {noop['wall_seconds']} s | |",
        f"| no-op re-run / full deploy | {ratios['noop_over_full']} | <= 0.15 |",
        f"| no-op re-run API calls (mutating) | {noop['calls']['total']} ({noop['calls']['mutating']}) | 0 mutating |",
    ]
    for size, seconds in results["fleet"].items():
        if size != "1":
            lines.append(f"| fleet of {size} clusters | {seconds} s, {ratios[f'fleet_{size}_over_1']} x one cluster"
                         f" | {'<= 1.3' if size == '10' else ''} |")
    if full.get("milestones"):
        critical_marks = (f"cluster ACTIVE after {critical['eks_cluster_create']:.1f} s, node groups after "
                          f"{critical['eks_nodegroup_create']:.1f} s, add-ons after {critical['eks_addon_create']:.1f} s")
        lines += ["", f"Timeline of the full deploy (seconds from the start; {critical_marks}):", ""]
        lines += [f"- {seconds:.2f} s {label}" for label, seconds in full["milestones"].items()]
    lines += ["", "Slowest tasks of the full deploy:", ""]
    lines += [f"- {seconds:.2f} s {name}" for name, seconds in full["slowest_tasks"]]
    lines += ["", "API calls of the full deploy by operation:", ""]
    lines += [f"- {operation}: {count}" for operation, count in full["calls"]["by_operation"].items()]
    return "\n".join(lines) + "\n"


def update_readme(table: str) -> None:
    readme = ROOT / "benchmarks" / "README.md"
    text = readme.read_text(encoding="utf-8")
    if MARK_BEGIN in text and MARK_END in text:
        head, rest = text.split(MARK_BEGIN, 1)
        tail = rest.split(MARK_END, 1)[1]
        readme.write_text(f"{head}{MARK_BEGIN}\n{table}{MARK_END}{tail}", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--profile", default="demo")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every profile duration")
    parser.add_argument("--fleet", default="1,3,10", help="fleet sizes, comma-separated")
    parser.add_argument("--tags", default=None, help="only these site.yml tags")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--no-readme", action="store_true", help="do not update benchmarks/README.md")
    args = parser.parse_args(argv)
    fleet = sorted({int(n) for n in args.fleet.split(",") if n} | {1})
    results = measure(args.profile, fleet, args.tags, args.scale)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = results["date"].replace(":", "").replace("-", "")[:15]
    (args.out / f"{stamp}-{args.profile}-x{args.scale:g}.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    table = markdown(results)
    (args.out / "latest.md").write_text(table, encoding="utf-8")
    if not args.no_readme:
        update_readme(table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
