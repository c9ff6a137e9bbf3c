# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a task result of a check-mode run would change, as Terraform's plan counts it.

Read by the ``llmhub.eks.plan_report`` callback (which records every changed result of ``plan.yml``
and ``drift.yml``) and by the ``plan_report`` filter (which counts and renders them). Pure functions, no
Ansible object, so unit tests drive them with plain results.

A result says what it would do in one of three ways, tried in this order:

* the set modules of this collection return ``created``, ``updated``, ``deleted`` (and ``recreated``:
  destroyed then added, Terraform's "replace") lists of names;
* ``kubernetes.core.k8s`` returns ``method`` (create, update, patch, delete) and the object;
* any other module's ``diff`` (``before``/``after``): keyed by name (a dict of dicts), each key is a resource;
  otherwise an empty ``before`` means an add, an empty ``after`` a destroy, anything else a change.

A changed result that says none of these counts as one change named by its task.
"""

from __future__ import annotations

ACTIONS = ("add", "change", "destroy")
K8S_METHODS = {"create": "add", "update": "change", "patch": "change", "replace": "change", "delete": "destroy"}
# Fields of a keyed diff that say nothing about the resource's configuration.
MAX_DETAIL_FIELDS = 20


def _is_empty(value):
    return value in (None, "", {}, [])


def _field_differences(before, after):
    """``{field: {"before": x, "after": y}}`` for the top-level fields that differ (dicts only)."""
    if not isinstance(before, dict) or not isinstance(after, dict):
        return {"value": {"before": before, "after": after}}
    fields = {}
    for key in sorted(set(before) | set(after), key=str):
        if before.get(key) != after.get(key):
            fields[str(key)] = {"before": before.get(key), "after": after.get(key)}
        if len(fields) >= MAX_DETAIL_FIELDS:
            break
    return fields


def _keyed(diff_side):
    return isinstance(diff_side, dict) and diff_side and all(isinstance(v, dict) for v in diff_side.values())


def _diffs(result):
    diff = result.get("diff")
    if isinstance(diff, list):  # several diffs (a module's prepared list)
        return [d for d in diff if isinstance(d, dict)]
    return [diff] if isinstance(diff, dict) else []


def changes_of(result, label):
    """The changes a (changed) task result would make: ``[{"action", "name", "fields"}]``.

    ``label`` names the change when the result names nothing (the task's name).
    """
    if not result.get("changed"):
        return []
    if isinstance(result.get("results"), list):  # a loop: each item's own result
        return [change for item in result["results"] if isinstance(item, dict)
                for change in changes_of(item, f"{label} ({item.get('item', '')})" if "item" in item else label)]
    lists = {key: result.get(key) for key in ("created", "updated", "deleted", "recreated")}
    if any(isinstance(v, list) and v for v in lists.values()):
        changes = []
        before_after = {}
        for diff in _diffs(result):
            if _keyed(diff.get("before")) or _keyed(diff.get("after")):
                before_after = diff
        for action, key in (("add", "created"), ("change", "updated"), ("destroy", "deleted")):
            for name in lists[key] or []:
                name = name if isinstance(name, str) else str(name.get("name", name)) if isinstance(name, dict) else str(name)
                fields = {}
                if action == "change" and before_after:
                    fields = _field_differences((before_after.get("before") or {}).get(name),
                                                (before_after.get("after") or {}).get(name))
                changes.append({"action": action, "name": name, "fields": fields})
        for name in lists["recreated"] or []:
            changes.append({"action": "destroy", "name": str(name), "fields": {}, "replace": True})
            changes.append({"action": "add", "name": str(name), "fields": {}, "replace": True})
        return changes
    method = result.get("method")
    if method in K8S_METHODS:
        obj = result.get("result") or {}
        meta = obj.get("metadata") or {}
        name = "/".join(p for p in (obj.get("kind"), meta.get("namespace"), meta.get("name")) if p) or label
        fields = {}
        if K8S_METHODS[method] == "change":
            for diff in _diffs(result):
                fields = _field_differences(diff.get("before"), diff.get("after"))
        return [{"action": K8S_METHODS[method], "name": name, "fields": fields}]
    changes = []
    for diff in _diffs(result):
        before, after = diff.get("before"), diff.get("after")
        label = _resource_name(before, after) or label
        if _keyed(before) or _keyed(after):
            before, after = before or {}, after or {}
            for name in sorted(set(before) | set(after), key=str):
                if name not in before:
                    changes.append({"action": "add", "name": str(name), "fields": {}})
                elif name not in after:
                    changes.append({"action": "destroy", "name": str(name), "fields": {}})
                elif before[name] != after[name]:
                    changes.append({"action": "change", "name": str(name),
                                    "fields": _field_differences(before[name], after[name])})
        elif _is_empty(before) and not _is_empty(after):
            changes.append({"action": "add", "name": label, "fields": {}})
        elif _is_empty(after) and not _is_empty(before):
            changes.append({"action": "destroy", "name": label, "fields": {}})
        elif before != after:
            changes.append({"action": "change", "name": label, "fields": _field_differences(before, after)})
    return changes or [{"action": "change", "name": label, "fields": {}}]


def _resource_name(before, after):
    """The ``name`` a single resource's diff carries (after, else before), or None."""
    for side in (after, before):
        if isinstance(side, dict) and isinstance(side.get("name"), str) and side["name"] and not _keyed(side):
            return side["name"]
    return None


def split_task_name(name):
    """``("vpc", "Ensure the subnets")`` from ``"llmhub.eks.vpc : Ensure the subnets"``; no role: ``("", name)``."""
    role, sep, task = name.partition(" : ")
    if not sep:
        return "", name
    return role.rsplit(".", 1)[-1], task


LAYERS = ("iam", "vpc", "eks", "hardening", "nodegroups", "kubeconfig", "storage", "addons", "apps", "backup")


def summarize(records):
    """Per layer (the overview's order) and in total: the names to add, change and destroy.

    ``records``: one host's changes (``changes_of`` plus ``layer`` and ``task``). A resource named twice with
    the same action (two tasks of a layer touching it) counts once.
    """
    layers = {}
    for record in records:
        layer = layers.setdefault(record["layer"], {action: [] for action in ACTIONS} | {"details": []})
        # Terraform-like addresses: <module>.<name> (a module that waits for what another requested names it again)
        address = f"{record['module']}.{record['name']}" if record.get("module") else record["name"]
        if address in layer[record["action"]]:
            continue
        layer[record["action"]].append(address)
        if record.get("fields") or record.get("replace"):
            layer["details"].append({key: record.get(key) for key in ("action", "name", "task", "fields", "replace")
                                     if record.get(key) is not None} | {"address": address})
    ordered = {name: layers[name] for name in LAYERS if name in layers}
    ordered.update({name: value for name, value in sorted(layers.items()) if name not in ordered})
    totals = {action: sum(len(layer[action]) for layer in ordered.values()) for action in ACTIONS}
    return {"layers": ordered, "totals": totals}
