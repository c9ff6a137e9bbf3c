# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The plan and drift reports: what a check-mode run would add, change and destroy, per layer and in total."""

from __future__ import annotations

import json

from ansible.errors import AnsibleFilterError

from ansible_collections.llmhub.eks.plugins.plugin_utils.plan_changes import summarize

SIGNS = {"add": "+", "change": "~", "destroy": "-"}


def _short(value, limit=80):
    text = json.dumps(value, default=str, sort_keys=True) if not isinstance(value, str) else value
    return text if len(text) <= limit else text[:limit - 1] + "…"


def plan_report(changes, host, cost=None, mode="plan"):
    """The report of ``host`` from the ``llmhub.eks.plan_report`` callback's record (``changes``, its JSON file
    read), with the cost estimate (``plan_cost_estimate``) when given. ``mode``: plan or drift."""
    if mode not in ("plan", "drift"):
        raise AnsibleFilterError(f"plan_report: mode must be plan or drift, got {mode!r}")
    if isinstance(changes, str):
        try:
            changes = json.loads(changes) if changes.strip() else {}
        except ValueError as e:
            raise AnsibleFilterError(f"plan_report: the callback's record is not JSON: {e}") from None
    if not isinstance(changes, dict) or "hosts" not in changes:
        raise AnsibleFilterError("plan_report: no record of the run's changes: enable the llmhub.eks.plan_report "
                                 "callback (callbacks_enabled in ansible.cfg, or "
                                 "ANSIBLE_CALLBACKS_ENABLED=llmhub.eks.plan_report) and run with --check")
    summary = summarize(changes["hosts"].get(host, []))
    totals = summary["totals"]
    report = {"cluster": host, "mode": mode, "layers": summary["layers"], "totals": totals,
              "changes": sum(totals.values())}
    if mode == "drift":
        report["drift"] = report["changes"] > 0
    if cost:
        report["monthly_cost"] = {"total": cost.get("total"), "currency": cost.get("currency", "USD"),
                                  "lines": [{k: line.get(k) for k in ("component", "configuration", "monthly")}
                                            for line in cost.get("lines", [])]}
    report["markdown"] = _markdown(report, cost)
    return report


def _markdown(report, cost):
    totals = report["totals"]
    title = "Plan" if report["mode"] == "plan" else "Drift"
    lines = [f"# {title}: {report['cluster']}", ""]
    if report["mode"] == "plan":
        lines.append(f"**Plan: {totals['add']} to add, {totals['change']} to change, {totals['destroy']} to destroy.**")
    elif report["changes"]:
        lines.append(f"**Drift: {report['changes']} differences between AWS and the inventory "
                     f"({totals['add']} missing, {totals['change']} changed, {totals['destroy']} extra).** "
                     "`make apply` puts the inventory's values back.")
    else:
        lines.append("**No drift: AWS and the cluster match the inventory.**")
    lines.append("")
    if report["layers"]:
        lines += ["| layer | to add | to change | to destroy |", "|---|---:|---:|---:|"]
        for name, layer in report["layers"].items():
            lines.append(f"| {name} | {len(layer['add'])} | {len(layer['change'])} | {len(layer['destroy'])} |")
        lines.append(f"| **total** | **{totals['add']}** | **{totals['change']}** | **{totals['destroy']}** |")
        lines.append("")
        for name, layer in report["layers"].items():
            lines.append(f"## {name}")
            for action in ("add", "change", "destroy"):
                for resource in layer[action]:
                    lines.append(f"    {SIGNS[action]} {resource}")
            for detail in layer["details"]:
                for field, values in (detail.get("fields") or {}).items():
                    lines.append(f"        {detail['address']} {field}: {_short(values.get('before'))} -> "
                                 f"{_short(values.get('after'))}")
                if detail.get("replace") and detail["action"] == "add":
                    lines.append(f"        {detail['address']}: must be replaced")
            lines.append("")
    if cost:
        lines.append(f"Estimated monthly cost: ${cost.get('total', 0):,.2f} (table below).")
    return "\n".join(lines).rstrip() + "\n"


class FilterModule:
    """The plan and drift reports."""

    def filters(self):
        return {"plan_report": plan_report}
