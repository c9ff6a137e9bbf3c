"""The workload controllers of kube-controller-manager: Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, CronJob,
PodDisruptionBudget.

They own what they create through ``ownerReferences`` (the store collects the
dependents of a deleted owner) and keep ``status`` as the real controllers
do, so that ``kubectl rollout status``, ``kubectl wait --for=condition=...`` and
helm's ``--wait`` (kstatus) see what they expect:

* **Deployment** -> ReplicaSets named ``<name>-<pod-template-hash>``, with the
  ``pod-template-hash`` label, the ``deployment.kubernetes.io/revision``
  (``desired-replicas``, ``max-replicas``) annotations, rolling updates within
  ``maxSurge``/``maxUnavailable`` (or Recreate), rollbacks reusing an old
  ReplicaSet under a new revision, ``revisionHistoryLimit``, ``paused``,
  ``minReadySeconds`` and ``progressDeadlineSeconds``. Status: observedGeneration,
  replicas, updatedReplicas, readyReplicas, availableReplicas,
  unavailableReplicas, conditions Available (MinimumReplicasAvailable) and
  Progressing (NewReplicaSetCreated, ReplicaSetUpdated, NewReplicaSetAvailable,
  ProgressDeadlineExceeded), ``ScalingReplicaSet`` events.
* **ReplicaSet** -> pods ``<name>-xxxxx`` (adopting orphans that match), the
  least valuable pods deleted first on scale-down; FailedCreate events and the
  ReplicaFailure condition when the API refuses a pod (Pod Security...).
* **StatefulSet** -> ``<name>-0..n-1`` in order (OrderedReady) or all at once
  (Parallel), claims ``<template>-<name>-<i>`` from ``volumeClaimTemplates``,
  rolling updates from the highest ordinal down to the partition, revisions
  as ControllerRevisions, ``persistentVolumeClaimRetentionPolicy``.
* **DaemonSet** -> one pod per eligible node (its nodeSelector and node
  affinity; the node's taints against its tolerations plus the ones every
  daemon pod gets), pinned by node affinity on ``metadata.name`` and placed by
  the scheduler; rolling updates within ``maxUnavailable``.
* **Job** -> pods up to ``parallelism`` until ``completions`` succeeded
  (NonIndexed and Indexed), ``suspend``, ``activeDeadlineSeconds``,
  ``ttlSecondsAfterFinished``; conditions SuccessCriteriaMet and Complete.
* **CronJob** -> a Job per schedule (5-field cron, ``timeZone``),
  ``concurrencyPolicy``, ``startingDeadlineSeconds``, history limits,
  ``lastScheduleTime``/``lastSuccessfulTime``/``active``.
* **PodDisruptionBudget** status (the disruption controller): expectedPods,
  currentHealthy, desiredHealthy, disruptionsAllowed, DisruptionAllowed.
"""

from __future__ import annotations

import math
from typing import Any

from . import cron
from .runtime import Context
from .scheduler import matches_node_selector, untolerated
from .util import (
    controller_of, is_terminal, label_match, now_rfc3339, owner_ref, parse_time, pod_is_ready, ready_since,
    set_condition, template_hash,
)

REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
HASH_LABEL = "pod-template-hash"
REVISION_LABEL = "controller-revision-hash"
NOT_COPIED = {REVISION, REVISION_HISTORY, DESIRED, MAX_REPLICAS, "kubectl.kubernetes.io/last-applied-configuration",
              "deprecated.deployment.rollback.to"}
DAEMON_TOLERATIONS = (
    ("node.kubernetes.io/not-ready", "NoExecute"),
    ("node.kubernetes.io/unreachable", "NoExecute"),
    ("node.kubernetes.io/disk-pressure", "NoSchedule"),
    ("node.kubernetes.io/memory-pressure", "NoSchedule"),
    ("node.kubernetes.io/pid-pressure", "NoSchedule"),
    ("node.kubernetes.io/unschedulable", "NoSchedule"),
)
BURST = 500


# -- shared ----------------------------------------------------------------------------------------------

def _int(value: Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def scaled(value: Any, total: int, round_up: bool) -> int:
    """An IntOrString (``25%`` or ``2``) against ``total``."""
    if value is None:
        return 0
    if isinstance(value, str) and value.endswith("%"):
        try:
            percent = float(value[:-1])
        except ValueError:
            return 0
        amount = percent * total / 100
        return math.ceil(amount) if round_up else math.floor(amount)
    return _int(value)


def clone(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: clone(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clone(v) for v in value]
    return value


def owned_by(objects: list[dict]) -> dict[str, list[dict]]:
    result: dict[str, list[dict]] = {}
    for obj in objects:
        ref = controller_of(obj)
        if ref is not None:
            result.setdefault(ref.get("uid", ""), []).append(obj)
    return result


def is_available(pod: dict, min_ready: int, now: float) -> bool:
    if not pod_is_ready(pod) or pod["metadata"].get("deletionTimestamp"):
        return False
    if min_ready <= 0:
        return True
    since = ready_since(pod)
    return since is not None and since + min_ready <= now


def pod_from_template(owner: dict, template: dict, *, name: str | None = None, generate: str | None = None,
                      labels: dict | None = None, annotations: dict | None = None) -> dict:
    template_meta = template.get("metadata") or {}
    meta: dict[str, Any] = {"namespace": owner["metadata"].get("namespace"),
                            "labels": dict(template_meta.get("labels") or {}, **(labels or {})),
                            "ownerReferences": [owner_ref(owner)]}
    merged_annotations = dict(template_meta.get("annotations") or {}, **(annotations or {}))
    if merged_annotations:
        meta["annotations"] = merged_annotations
    if template_meta.get("finalizers"):
        meta["finalizers"] = list(template_meta["finalizers"])
    if name:
        meta["name"] = name
    else:
        meta["generateName"] = generate or f"{owner['metadata']['name']}-"
    return {"metadata": meta, "spec": clone(template.get("spec") or {})}


def _compact(status: dict, keep: tuple[str, ...] = ()) -> dict:
    """Drop zero counters, as Go's omitempty does (``keep``: those always written)."""
    return {k: v for k, v in status.items() if k in keep or v not in (0, None, [], {})}


def _without_hash(template: dict | None, label: str = HASH_LABEL) -> dict:
    result = clone(template or {})
    labels = (result.get("metadata") or {}).get("labels")
    if isinstance(labels, dict):
        labels.pop(label, None)
    return result


def _revision(obj: dict) -> int:
    return _int((obj["metadata"].get("annotations") or {}).get(REVISION))


def _same_status(old: dict | None, new: dict) -> bool:
    return (old or {}) == new


class WorkloadControllers:
    """See the module docstring."""

    def __init__(self) -> None:
        self._progress: dict[str, tuple] = {}  # deployment uid -> the counters last seen

    # -- ReplicaSet ----------------------------------------------------------------------------------------

    def replicasets(self, ctx: Context) -> None:
        replicasets = ctx.list("replicasets")
        if not replicasets:
            return
        pods = ctx.list("pods")
        owned = owned_by(pods)
        orphans: dict[str, list[dict]] = {}
        for candidate in pods:
            if controller_of(candidate) is None and not candidate["metadata"].get("deletionTimestamp") \
                    and not is_terminal(candidate):
                orphans.setdefault(candidate["metadata"].get("namespace", ""), []).append(candidate)
        for rs in replicasets:
            meta = rs["metadata"]
            if meta.get("deletionTimestamp"):
                continue
            spec = rs.get("spec") or {}
            uid = meta.get("uid", "")
            selector = spec.get("selector")
            mine = [p for p in owned.get(uid, []) if not p["metadata"].get("deletionTimestamp")]
            for orphan in list(orphans.get(meta.get("namespace", ""), [])):
                orphan_meta = orphan["metadata"]
                if label_match(selector, orphan_meta.get("labels")):
                    refs = list(orphan_meta.get("ownerReferences") or []) + [owner_ref(rs)]
                    adopted = ctx.update("pods", dict(orphan, metadata=dict(orphan_meta, ownerReferences=refs)))
                    orphans[meta.get("namespace", "")].remove(orphan)
                    if adopted is not None:
                        mine.append(adopted)
            active = [p for p in mine if not is_terminal(p)]
            wanted = _int(spec.get("replicas"), 1)
            failure = None
            if len(active) < wanted:
                template = spec.get("template") or {}
                for _ in range(min(wanted - len(active), BURST)):
                    try:
                        created = ctx.create("pods", pod_from_template(rs, template))
                    except Exception as error:  # noqa: BLE001 - ApiError: reported as Kubernetes does
                        message = getattr(error, "message", str(error))
                        failure = message
                        ctx.event(rs, "Warning", "FailedCreate", f"Error creating: {message}",
                                  "replicaset-controller")
                        break
                    active.append(created)
                    ctx.event(rs, "Normal", "SuccessfulCreate", f"Created pod: {created['metadata']['name']}",
                              "replicaset-controller")
            elif len(active) > wanted:
                for pod in self._deletion_order(active)[:len(active) - wanted]:
                    if ctx.delete("pods", pod["metadata"].get("namespace"), pod["metadata"]["name"],
                                  uid=pod["metadata"].get("uid")):
                        active.remove(pod)
                        ctx.event(rs, "Normal", "SuccessfulDelete", f"Deleted pod: {pod['metadata']['name']}",
                                  "replicaset-controller")
            self._replicaset_status(ctx, rs, active, failure)

    @staticmethod
    def _deletion_order(pods: list[dict]) -> list[dict]:
        """The pods to delete first: unassigned, pending, not ready, ready for less time, newest."""
        phase_rank = {"Pending": 0, "Unknown": 1, "Running": 2}

        def rank(pod: dict) -> tuple:
            status = pod.get("status") or {}
            return (bool((pod.get("spec") or {}).get("nodeName")), phase_rank.get(status.get("phase", "Pending"), 0),
                    pod_is_ready(pod), -(ready_since(pod) or 0.0),
                    tuple(-ord(c) for c in pod["metadata"].get("creationTimestamp", "")))

        return sorted(pods, key=rank)

    def _replicaset_status(self, ctx: Context, rs: dict, active: list[dict], failure: str | None) -> None:
        spec = rs.get("spec") or {}
        min_ready = _int(spec.get("minReadySeconds"))
        template_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        available = 0
        for pod in active:
            if is_available(pod, min_ready, ctx.now):
                available += 1
            elif pod_is_ready(pod) and min_ready > 0:
                ctx.wake_at((ready_since(pod) or ctx.now) + min_ready)
        old = rs.get("status") or {}
        conditions = list(old.get("conditions") or [])
        if failure:
            conditions = set_condition(conditions, "ReplicaFailure", "True", "FailedCreate", failure, ctx.timestamp)
        elif len(active) >= _int(spec.get("replicas"), 1):
            conditions = [c for c in conditions if c.get("type") != "ReplicaFailure"]
        status = _compact({
            "replicas": len(active),
            "fullyLabeledReplicas": sum(1 for p in active if all((p["metadata"].get("labels") or {}).get(k) == v
                                                                   for k, v in template_labels.items())),
            "readyReplicas": sum(1 for p in active if pod_is_ready(p)),
            "availableReplicas": available,
            "observedGeneration": rs["metadata"].get("generation"),
            "conditions": conditions,
        }, keep=("replicas",))
        if not _same_status(old, status):
            ctx.update_status("replicasets", dict(rs, status=status))

    # -- Deployment ------------------------------------------------------------------------------------------

    def deployments(self, ctx: Context) -> None:
        deployments = ctx.list("deployments")
        if not deployments:
            return
        for deployment in deployments:
            if deployment["metadata"].get("deletionTimestamp"):
                continue
            try:
                self._deployment(ctx, deployment)
            except Exception:  # noqa: BLE001 - one bad object must not stop the others
                import logging

                logging.getLogger("emulator.k8s.controllers").exception(
                    "deployment %s/%s", deployment["metadata"].get("namespace"), deployment["metadata"]["name"])

    def _deployment(self, ctx: Context, deployment: dict) -> None:
        meta = deployment["metadata"]
        spec = deployment.get("spec") or {}
        uid = meta.get("uid", "")
        namespace = meta.get("namespace")
        replicas = _int(spec.get("replicas"), 1)
        template = spec.get("template") or {}
        strategy = spec.get("strategy") or {}
        rolling = strategy.get("type", "RollingUpdate") == "RollingUpdate"
        surge = scaled((strategy.get("rollingUpdate") or {}).get("maxSurge", "25%"), replicas, True) if rolling else 0
        unavailable = scaled((strategy.get("rollingUpdate") or {}).get("maxUnavailable", "25%"), replicas, False) \
            if rolling else 0
        if rolling and surge == 0 and unavailable == 0:
            unavailable = 1
        owned = [rs for rs in ctx.list("replicasets", namespace)
                 if (controller_of(rs) or {}).get("uid") == uid and not rs["metadata"].get("deletionTimestamp")]
        wanted_template = _without_hash(template)
        new_rs = next((rs for rs in sorted(owned, key=lambda r: r["metadata"].get("creationTimestamp", ""))
                       if _without_hash((rs.get("spec") or {}).get("template")) == wanted_template), None)
        olds = [rs for rs in owned if rs is not new_rs]
        max_revision = max([_revision(rs) for rs in owned] or [0])
        progress_reason = None
        paused = bool(spec.get("paused"))
        status_in = deployment.get("status") or {}
        if new_rs is None and not paused:
            new_rs = self._create_replicaset(ctx, deployment, template, max_revision + 1, olds, replicas, surge,
                                             rolling)
            if new_rs is None:
                return
            progress_reason = ("NewReplicaSetCreated", f'Created new replica set "{new_rs["metadata"]["name"]}"')
        elif new_rs is not None:
            rollback = 0 < _revision(new_rs) < max_revision
            new_rs = self._sync_new_annotations(ctx, deployment, new_rs, max_revision, replicas, surge) or new_rs
            if rollback:
                progress_reason = ("FoundNewReplicaSet", f'Found new replica set "{new_rs["metadata"]["name"]}"')
        if new_rs is not None and _revision_of(deployment) != _revision(new_rs):
            annotations = dict(meta.get("annotations") or {}, **{REVISION: str(_revision(new_rs))})
            deployment = ctx.update("deployments", dict(deployment, metadata=dict(meta, annotations=annotations))) \
                or deployment
        if not paused and new_rs is not None:
            if rolling:
                self._roll(ctx, deployment, new_rs, olds, replicas, surge, unavailable)
            else:
                self._recreate(ctx, deployment, new_rs, olds, replicas)
        elif paused:
            # a paused Deployment is still scaled: the newest active ReplicaSet follows spec.replicas
            target = new_rs or (max(olds, key=_revision) if olds else None)
            if target is not None and _int((target.get("spec") or {}).get("replicas")) != replicas and \
                    all(_int((o.get("spec") or {}).get("replicas")) == 0 for o in owned if o is not target):
                self._scale(ctx, deployment, target, replicas)
        self._cleanup(ctx, deployment, olds)
        self._deployment_status(ctx, deployment, new_rs, olds, replicas, unavailable, paused, progress_reason,
                                status_in)

    def _create_replicaset(self, ctx: Context, deployment: dict, template: dict, revision: int, olds: list[dict],
                           replicas: int, surge: int, rolling: bool) -> dict | None:
        meta = deployment["metadata"]
        status = deployment.get("status") or {}
        collisions = _int(status.get("collisionCount"))
        hash_value = template_hash(_without_hash(template), collisions)
        rs_template = clone(template)
        rs_template.setdefault("metadata", {}).setdefault("labels", {})[HASH_LABEL] = hash_value
        selector = clone((deployment.get("spec") or {}).get("selector") or {})
        selector.setdefault("matchLabels", {})[HASH_LABEL] = hash_value
        if rolling:
            current = sum(_int((rs.get("spec") or {}).get("replicas")) for rs in olds)
            count = max(0, min(replicas + surge - current, replicas))
        else:
            active_old = any(_int((rs.get("spec") or {}).get("replicas")) > 0 or
                             _int((rs.get("status") or {}).get("replicas")) > 0 for rs in olds)
            count = 0 if active_old else replicas
        annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k not in NOT_COPIED}
        annotations.update({REVISION: str(revision), DESIRED: str(replicas), MAX_REPLICAS: str(replicas + surge)})
        rs = {
            "metadata": {"name": f"{meta['name']}-{hash_value}", "namespace": meta.get("namespace"),
                         "labels": dict(rs_template["metadata"]["labels"]), "annotations": annotations,
                         "ownerReferences": [owner_ref(deployment)]},
            "spec": {"replicas": count, "selector": selector, "template": rs_template},
        }
        min_ready = (deployment.get("spec") or {}).get("minReadySeconds")
        if min_ready:
            rs["spec"]["minReadySeconds"] = min_ready
        try:
            created = ctx.create("replicasets", rs)
        except Exception as error:  # noqa: BLE001
            if getattr(error, "status", None) == 409:  # a hash collision with a foreign ReplicaSet
                status = dict(status, collisionCount=collisions + 1)
                ctx.update_status("deployments", dict(deployment, status=status))
            return None
        ctx.event(deployment, "Normal", "ScalingReplicaSet",
                  f"Scaled up replica set {created['metadata']['name']} from 0 to {count}", "deployment-controller")
        return created

    def _sync_new_annotations(self, ctx: Context, deployment: dict, rs: dict, max_revision: int, replicas: int,
                              surge: int) -> dict | None:
        meta = rs["metadata"]
        annotations = dict(meta.get("annotations") or {})
        wanted = dict(annotations)
        for key, value in (deployment["metadata"].get("annotations") or {}).items():
            if key not in NOT_COPIED:
                wanted[key] = value
        revision = _revision(rs)
        if revision < max_revision:  # a rollback: the old ReplicaSet becomes the newest revision
            history = [h for h in (annotations.get(REVISION_HISTORY) or "").split(",") if h]
            if revision:
                history.append(str(revision))
            wanted[REVISION_HISTORY] = ",".join(history)
            wanted[REVISION] = str(max_revision + 1)
        elif not revision:
            wanted[REVISION] = str(max_revision + 1)
        wanted[DESIRED] = str(replicas)
        wanted[MAX_REPLICAS] = str(replicas + surge)
        if wanted == annotations:
            return rs
        return ctx.update("replicasets", dict(rs, metadata=dict(meta, annotations=wanted)))

    def _scale(self, ctx: Context, deployment: dict, rs: dict, count: int) -> dict:
        current = _int((rs.get("spec") or {}).get("replicas"))
        if current == count:
            return rs
        updated = ctx.update("replicasets", dict(rs, spec=dict(rs.get("spec") or {}, replicas=count)))
        if updated is None:
            return rs
        direction = "up" if count > current else "down"
        ctx.event(deployment, "Normal", "ScalingReplicaSet",
                  f"Scaled {direction} replica set {rs['metadata']['name']} from {current} to {count}",
                  "deployment-controller")
        return updated

    def _roll(self, ctx: Context, deployment: dict, new_rs: dict, olds: list[dict], replicas: int, surge: int,
              unavailable: int) -> None:
        new_count = _int((new_rs.get("spec") or {}).get("replicas"))
        old_counts = {rs["metadata"]["uid"]: _int((rs.get("spec") or {}).get("replicas")) for rs in olds}
        if new_count > replicas:
            new_count = replicas
        elif new_count < replicas:
            total = new_count + sum(old_counts.values())
            if total < replicas + surge:
                new_count = min(new_count + replicas + surge - total, replicas)
        new_rs = self._scale(ctx, deployment, new_rs, new_count)
        if not any(old_counts.values()):
            return
        all_count = new_count + sum(old_counts.values())
        min_available = replicas - unavailable
        new_available = _int((new_rs.get("status") or {}).get("availableReplicas"))
        new_unavailable = max(new_count - new_available, 0)
        max_down = all_count - min_available - new_unavailable
        if max_down <= 0:
            return
        ordered = sorted(olds, key=lambda r: (_revision(r), r["metadata"].get("creationTimestamp", "")))
        # first the old replicas that are not available anyway
        for rs in ordered:
            if max_down <= 0:
                break
            count = old_counts[rs["metadata"]["uid"]]
            healthy = _int((rs.get("status") or {}).get("availableReplicas"))
            unhealthy = count - healthy
            if unhealthy <= 0:
                continue
            down = min(max_down, unhealthy)
            old_counts[rs["metadata"]["uid"]] = count - down
            max_down -= down
        available = new_available + sum(_int((rs.get("status") or {}).get("availableReplicas")) for rs in olds)
        budget = min(available - min_available, max_down) if available > min_available else 0
        for rs in ordered:
            if budget <= 0:
                break
            count = old_counts[rs["metadata"]["uid"]]
            if count <= 0:
                continue
            down = min(count, budget)
            old_counts[rs["metadata"]["uid"]] = count - down
            budget -= down
        for rs in ordered:
            self._scale(ctx, deployment, rs, old_counts[rs["metadata"]["uid"]])

    def _recreate(self, ctx: Context, deployment: dict, new_rs: dict, olds: list[dict], replicas: int) -> None:
        running = False
        for rs in olds:
            if _int((rs.get("spec") or {}).get("replicas")):
                self._scale(ctx, deployment, rs, 0)
                running = True
            if _int((rs.get("status") or {}).get("replicas")):
                running = True
        if running:
            return
        olds_uids = {rs["metadata"]["uid"] for rs in olds}
        if any((controller_of(p) or {}).get("uid") in olds_uids and not is_terminal(p)
               for p in ctx.list("pods", deployment["metadata"].get("namespace"))):
            return
        self._scale(ctx, deployment, new_rs, replicas)

    def _cleanup(self, ctx: Context, deployment: dict, olds: list[dict]) -> None:
        limit = (deployment.get("spec") or {}).get("revisionHistoryLimit")
        if limit is None:
            return
        idle = [rs for rs in olds if not _int((rs.get("spec") or {}).get("replicas"))
                and not _int((rs.get("status") or {}).get("replicas")) and rs["metadata"].get("deletionTimestamp") is None]
        excess = len(idle) - _int(limit)
        for rs in sorted(idle, key=_revision)[:max(excess, 0)]:
            ctx.delete("replicasets", rs["metadata"].get("namespace"), rs["metadata"]["name"],
                       uid=rs["metadata"].get("uid"))

    def _deployment_status(self, ctx: Context, deployment: dict, new_rs: dict | None, olds: list[dict],
                           replicas: int, unavailable: int, paused: bool, progress_reason: tuple | None,
                           old_status: dict) -> None:
        meta = deployment["metadata"]
        uid = meta.get("uid", "")
        spec = deployment.get("spec") or {}
        all_rs = ([new_rs] if new_rs is not None else []) + olds
        actual = sum(_int((rs.get("status") or {}).get("replicas")) for rs in all_rs)
        updated = _int((new_rs.get("status") or {}).get("replicas")) if new_rs is not None else 0
        ready = sum(_int((rs.get("status") or {}).get("readyReplicas")) for rs in all_rs)
        available = sum(_int((rs.get("status") or {}).get("availableReplicas")) for rs in all_rs)
        total = sum(_int((rs.get("spec") or {}).get("replicas")) for rs in all_rs)
        generation = meta.get("generation")
        now = ctx.timestamp
        conditions = list(old_status.get("conditions") or [])
        order = ("Available", "Progressing", "ReplicaFailure")
        if available >= replicas - unavailable:
            conditions = set_condition(conditions, "Available", "True", "MinimumReplicasAvailable",
                                       "Deployment has minimum availability.", now, update_time=True, order=order)
        else:
            conditions = set_condition(conditions, "Available", "False", "MinimumReplicasUnavailable",
                                       "Deployment does not have minimum availability.", now, update_time=True,
                                       order=order)
        name = new_rs["metadata"]["name"] if new_rs is not None else ""
        complete = (updated == replicas and actual == replicas and available == replicas
                    and _int(generation) >= _int(meta.get("generation")))
        counters = (updated, actual, ready, available)
        previous = self._progress.get(uid)
        self._progress[uid] = counters
        progressing = previous is not None and (counters[0] > previous[0] or counters[1] < previous[1]
                                                or counters[2] > previous[2] or counters[3] > previous[3])
        current = next((c for c in conditions if c.get("type") == "Progressing"), None)
        deadline = spec.get("progressDeadlineSeconds")
        if paused:
            conditions = set_condition(conditions, "Progressing", "Unknown", "DeploymentPaused",
                                       "Deployment is paused", now, update_time=True, order=order)
        elif current is not None and current.get("reason") == "DeploymentPaused":
            conditions = set_condition(conditions, "Progressing", "Unknown", "DeploymentResumed",
                                       "Deployment is resumed", now, update_time=True, order=order)
        elif complete and new_rs is not None:
            conditions = set_condition(conditions, "Progressing", "True", "NewReplicaSetAvailable",
                                       f'ReplicaSet "{name}" has successfully progressed.', now, update_time=True,
                                       order=order)
        elif progress_reason is not None:
            conditions = set_condition(conditions, "Progressing", "True", progress_reason[0], progress_reason[1],
                                       now, update_time=True, order=order)
        elif new_rs is not None:
            timed_out = False
            if current is not None and deadline is not None and current.get("reason") != "NewReplicaSetAvailable":
                since = parse_time(current.get("lastUpdateTime")) or ctx.now
                if not progressing and current.get("status") == "True" and since + _int(deadline) <= ctx.now:
                    timed_out = True
                elif not progressing and current.get("status") == "True":
                    ctx.wake_at(since + _int(deadline) + 0.01)
            if timed_out or (current is not None and current.get("reason") == "ProgressDeadlineExceeded"
                             and not progressing):
                conditions = set_condition(conditions, "Progressing", "False", "ProgressDeadlineExceeded",
                                           f'ReplicaSet "{name}" has timed out progressing.', now, update_time=True,
                                           order=order)
            elif progressing or current is None or current.get("reason") == "NewReplicaSetAvailable" \
                    or current.get("status") != "True":
                conditions = set_condition(conditions, "Progressing", "True", "ReplicaSetUpdated",
                                           f'ReplicaSet "{name}" is progressing.', now, update_time=True, order=order)
                if progressing:  # progress moves the deadline
                    for entry in conditions:
                        if entry.get("type") == "Progressing":
                            entry["lastUpdateTime"] = now
        status = _compact({
            "observedGeneration": generation,
            "replicas": actual,
            "updatedReplicas": updated,
            "readyReplicas": ready,
            "availableReplicas": available,
            "unavailableReplicas": max(total - available, 0),
            "conditions": conditions,
            "collisionCount": old_status.get("collisionCount"),
        })
        if not _same_status(old_status, status):
            ctx.update_status("deployments", dict(deployment, status=status))

    # -- StatefulSet -------------------------------------------------------------------------------------------

    def statefulsets(self, ctx: Context) -> None:
        sets = ctx.list("statefulsets")
        if not sets:
            return
        for sts in sets:
            if sts["metadata"].get("deletionTimestamp"):
                continue
            self._statefulset(ctx, sts)

    def _revisions(self, ctx: Context, owner: dict, template: dict, label: str) -> tuple[dict | None, list[dict]]:
        """The ControllerRevision of ``template`` (created when missing) and all of ``owner``'s."""
        namespace = owner["metadata"].get("namespace")
        uid = owner["metadata"].get("uid")
        revisions = [r for r in ctx.list("controllerrevisions", namespace) if (controller_of(r) or {}).get("uid") == uid]
        hash_value = template_hash(_without_hash(template, label))
        name = f"{owner['metadata']['name']}-{hash_value}"
        current = next((r for r in revisions if r["metadata"]["name"] == name), None)
        top = max([_int(r.get("revision")) for r in revisions] or [0])
        if current is None:
            data_template = clone(template)
            data_template["$patch"] = "replace"
            revision = {
                "metadata": {"name": name, "namespace": namespace,
                             "labels": dict(((template.get("metadata") or {}).get("labels") or {}),
                                            **{"controller.kubernetes.io/hash": hash_value}),
                             "ownerReferences": [owner_ref(owner)]},
                "data": {"spec": {"template": data_template}},
                "revision": top + 1,
            }
            current = ctx.try_create("controllerrevisions", revision)
            if current is not None:
                revisions.append(current)
        elif _int(current.get("revision")) < top:
            current = ctx.update("controllerrevisions", dict(current, revision=top + 1)) or current
        return current, revisions

    def _statefulset(self, ctx: Context, sts: dict) -> None:
        meta = sts["metadata"]
        spec = sts.get("spec") or {}
        namespace = meta.get("namespace")
        name = meta["name"]
        uid = meta.get("uid", "")
        replicas = _int(spec.get("replicas"), 1)
        template = spec.get("template") or {}
        update_revision, revisions = self._revisions(ctx, sts, template, REVISION_LABEL)
        if update_revision is None:
            return
        update_name = update_revision["metadata"]["name"]
        old_status = sts.get("status") or {}
        current_name = old_status.get("currentRevision") or update_name
        templates = {r["metadata"]["name"]: ((r.get("data") or {}).get("spec") or {}).get("template") or template
                     for r in revisions}
        strategy = spec.get("updateStrategy") or {}
        partition = _int((strategy.get("rollingUpdate") or {}).get("partition")) \
            if strategy.get("type", "RollingUpdate") == "RollingUpdate" else 0
        parallel = spec.get("podManagementPolicy") == "Parallel"
        pods = {p["metadata"]["name"]: p for p in ctx.list("pods", namespace)
                if (controller_of(p) or {}).get("uid") == uid}
        retention = spec.get("persistentVolumeClaimRetentionPolicy") or {}
        claims = {c["metadata"]["name"] for c in ctx.list("persistentvolumeclaims", namespace)}
        min_ready = _int(spec.get("minReadySeconds"))
        # create what is missing, in order
        for ordinal in range(replicas):
            pod_name = f"{name}-{ordinal}"
            pod = pods.get(pod_name)
            if pod is not None and is_terminal(pod):
                ctx.delete("pods", namespace, pod_name, uid=pod["metadata"].get("uid"))
                pods.pop(pod_name)
                pod = None
            if pod is None:
                revision_name = update_name if ordinal >= partition else current_name
                self._claims(ctx, sts, ordinal, claims, retention)
                created = self._stateful_pod(ctx, sts, ordinal, templates.get(revision_name, template),
                                             revision_name)
                if created is not None:
                    pods[pod_name] = created
                if not parallel:
                    break
                continue
            if not parallel and not (pod_is_ready(pod) and not pod["metadata"].get("deletionTimestamp")):
                break
        # scale down: the highest ordinals first
        condemned = sorted((p for n, p in pods.items() if _ordinal(n, name) >= replicas),
                           key=lambda p: -_ordinal(p["metadata"]["name"], name))
        for pod in condemned:
            if pod["metadata"].get("deletionTimestamp"):
                if not parallel:
                    break
                continue
            if ctx.delete("pods", namespace, pod["metadata"]["name"], uid=pod["metadata"].get("uid")):
                ctx.event(sts, "Normal", "SuccessfulDelete",
                          f"delete Pod {pod['metadata']['name']} in StatefulSet {name} successful",
                          "statefulset-controller")
                pods.pop(pod["metadata"]["name"], None)
                if retention.get("whenScaled") == "Delete":
                    ordinal = _ordinal(pod["metadata"]["name"], name)
                    for claim_template in spec.get("volumeClaimTemplates") or []:
                        claim_name = f"{claim_template['metadata']['name']}-{name}-{ordinal}"
                        if claim_name in claims:
                            ctx.delete("persistentvolumeclaims", namespace, claim_name)
            if not parallel:
                break
        # rolling update: one pod at a time, from the highest ordinal down to the partition
        if strategy.get("type", "RollingUpdate") == "RollingUpdate":
            all_ready = all(pod_is_ready(p) and not p["metadata"].get("deletionTimestamp")
                            for n, p in pods.items() if _ordinal(n, name) < replicas) and len(
                [n for n in pods if _ordinal(n, name) < replicas]) == replicas
            if all_ready:
                for ordinal in range(replicas - 1, partition - 1, -1):
                    pod = pods.get(f"{name}-{ordinal}")
                    if pod is None:
                        break
                    if (pod["metadata"].get("labels") or {}).get(REVISION_LABEL) != update_name:
                        ctx.delete("pods", namespace, pod["metadata"]["name"], uid=pod["metadata"].get("uid"))
                        break
        live = [p for p in pods.values() if not is_terminal(p)]
        updated = sum(1 for p in live if (p["metadata"].get("labels") or {}).get(REVISION_LABEL) == update_name)
        current = sum(1 for p in live if (p["metadata"].get("labels") or {}).get(REVISION_LABEL) == current_name)
        ready = sum(1 for p in live if pod_is_ready(p))
        available = sum(1 for p in live if is_available(p, min_ready, ctx.now))
        if updated == replicas and ready == replicas and len(live) == replicas:
            current_name, current = update_name, updated
        status = _compact({
            "observedGeneration": meta.get("generation"),
            "replicas": len(live),
            "readyReplicas": ready,
            "currentReplicas": current,
            "updatedReplicas": updated,
            "currentRevision": current_name,
            "updateRevision": update_name,
            "collisionCount": _int(old_status.get("collisionCount")),
            "availableReplicas": available,
            "conditions": old_status.get("conditions"),
        }, keep=("replicas", "availableReplicas", "collisionCount"))
        if not _same_status(old_status, status):
            ctx.update_status("statefulsets", dict(sts, status=status))
        self._cleanup_revisions(ctx, sts, revisions, {update_name, current_name})

    def _cleanup_revisions(self, ctx: Context, owner: dict, revisions: list[dict], keep: set[str]) -> None:
        limit = _int((owner.get("spec") or {}).get("revisionHistoryLimit"), 10)
        idle = sorted((r for r in revisions if r["metadata"]["name"] not in keep), key=lambda r: _int(r.get("revision")))
        for revision in idle[:max(len(idle) - limit, 0)]:
            ctx.delete("controllerrevisions", revision["metadata"].get("namespace"), revision["metadata"]["name"])

    def _claims(self, ctx: Context, sts: dict, ordinal: int, existing: set[str], retention: dict) -> None:
        spec = sts.get("spec") or {}
        name = sts["metadata"]["name"]
        namespace = sts["metadata"].get("namespace")
        selector_labels = (spec.get("selector") or {}).get("matchLabels") or {}
        for claim_template in spec.get("volumeClaimTemplates") or []:
            template_meta = claim_template.get("metadata") or {}
            claim_name = f"{template_meta.get('name', '')}-{name}-{ordinal}"
            if claim_name in existing:
                continue
            claim_meta: dict[str, Any] = {"name": claim_name, "namespace": namespace,
                                          "labels": dict(template_meta.get("labels") or {}, **selector_labels)}
            if template_meta.get("annotations"):
                claim_meta["annotations"] = dict(template_meta["annotations"])
            if retention.get("whenDeleted") == "Delete":
                claim_meta["ownerReferences"] = [owner_ref(sts)]
            claim_spec = clone(claim_template.get("spec") or {})
            if ctx.try_create("persistentvolumeclaims", {"metadata": claim_meta, "spec": claim_spec}) is not None:
                existing.add(claim_name)
                ctx.event(sts, "Normal", "SuccessfulCreate",
                          f"create Claim {claim_name} Pod {name}-{ordinal} in StatefulSet {name} success",
                          "statefulset-controller")

    def _stateful_pod(self, ctx: Context, sts: dict, ordinal: int, template: dict, revision: str) -> dict | None:
        spec = sts.get("spec") or {}
        name = sts["metadata"]["name"]
        pod_name = f"{name}-{ordinal}"
        template = {k: v for k, v in template.items() if k != "$patch"}
        pod = pod_from_template(sts, template, name=pod_name, labels={
            "apps.kubernetes.io/pod-index": str(ordinal), REVISION_LABEL: revision,
            "statefulset.kubernetes.io/pod-name": pod_name})
        pod_spec = pod["spec"]
        pod_spec["hostname"] = pod_name
        if spec.get("serviceName"):
            pod_spec["subdomain"] = spec["serviceName"]
        volumes = [v for v in pod_spec.get("volumes") or []]
        for claim_template in spec.get("volumeClaimTemplates") or []:
            volume_name = (claim_template.get("metadata") or {}).get("name", "")
            volumes = [v for v in volumes if v.get("name") != volume_name]
            volumes.append({"name": volume_name,
                            "persistentVolumeClaim": {"claimName": f"{volume_name}-{name}-{ordinal}"}})
        if volumes:
            pod_spec["volumes"] = volumes
        try:
            created = ctx.create("pods", pod)
        except Exception as error:  # noqa: BLE001
            ctx.event(sts, "Warning", "FailedCreate",
                      f"create Pod {pod_name} in StatefulSet {name} failed error: {getattr(error, 'message', error)}",
                      "statefulset-controller")
            return None
        ctx.event(sts, "Normal", "SuccessfulCreate", f"create Pod {pod_name} in StatefulSet {name} successful",
                  "statefulset-controller")
        return created

    # -- DaemonSet -----------------------------------------------------------------------------------------------

    def daemonsets(self, ctx: Context) -> None:
        sets = ctx.list("daemonsets")
        if not sets:
            return
        nodes = [n for n in ctx.list("nodes") if not n["metadata"].get("deletionTimestamp")]
        for ds in sets:
            if ds["metadata"].get("deletionTimestamp"):
                continue
            self._daemonset(ctx, ds, nodes)

    @staticmethod
    def daemon_tolerations(pod_spec: dict) -> list[dict]:
        tolerations = list(pod_spec.get("tolerations") or [])
        keys = {(t.get("key"), t.get("effect")) for t in tolerations}
        extra = list(DAEMON_TOLERATIONS)
        if pod_spec.get("hostNetwork"):
            extra.append(("node.kubernetes.io/network-unavailable", "NoSchedule"))
        for key, effect in extra:
            if (key, effect) not in keys:
                tolerations.append({"key": key, "operator": "Exists", "effect": effect})
        return tolerations

    def _daemonset(self, ctx: Context, ds: dict, nodes: list[dict]) -> None:
        meta = ds["metadata"]
        spec = ds.get("spec") or {}
        namespace = meta.get("namespace")
        name = meta["name"]
        uid = meta.get("uid", "")
        template = spec.get("template") or {}
        revision, revisions = self._revisions(ctx, ds, template, REVISION_LABEL)
        if revision is None:
            return
        hash_value = (revision["metadata"].get("labels") or {}).get("controller.kubernetes.io/hash", "")
        pod_spec = dict(template.get("spec") or {})
        pod_spec["tolerations"] = self.daemon_tolerations(pod_spec)
        eligible = {n["metadata"]["name"]: n for n in nodes
                    if matches_node_selector(pod_spec, n) and untolerated(pod_spec, n) is None}
        per_node: dict[str, list[dict]] = {}
        for pod in ctx.list("pods", namespace):
            if (controller_of(pod) or {}).get("uid") != uid or pod["metadata"].get("deletionTimestamp"):
                continue
            node = _daemon_node(pod)
            per_node.setdefault(node or "", []).append(pod)
        min_ready = _int(spec.get("minReadySeconds"))
        for node_name, pods in per_node.items():
            live = [p for p in pods if not is_terminal(p)]
            for pod in [p for p in pods if is_terminal(p)]:
                ctx.delete("pods", namespace, pod["metadata"]["name"], uid=pod["metadata"].get("uid"))
            if node_name not in eligible:
                for pod in live:
                    if ctx.delete("pods", namespace, pod["metadata"]["name"], uid=pod["metadata"].get("uid")):
                        ctx.event(ds, "Normal", "SuccessfulDelete", f"Deleted pod: {pod['metadata']['name']}",
                                  "daemonset-controller")
                continue
            live.sort(key=lambda p: p["metadata"].get("creationTimestamp", ""))
            for pod in live[1:]:
                ctx.delete("pods", namespace, pod["metadata"]["name"], uid=pod["metadata"].get("uid"))
            per_node[node_name] = live[:1]
        for node_name in eligible:
            if per_node.get(node_name):
                continue
            pod = pod_from_template(ds, template, labels={REVISION_LABEL: hash_value,
                                                          "pod-template-generation": str(meta.get("generation", 1))})
            pod["spec"]["tolerations"] = self.daemon_tolerations(pod["spec"])
            affinity = clone(pod["spec"].get("affinity") or {})
            node_affinity = affinity.setdefault("nodeAffinity", {})
            node_affinity["requiredDuringSchedulingIgnoredDuringExecution"] = {"nodeSelectorTerms": [
                {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node_name]}]}]}
            pod["spec"]["affinity"] = affinity
            try:
                created = ctx.create("pods", pod)
            except Exception as error:  # noqa: BLE001
                ctx.event(ds, "Warning", "FailedCreate", f"Error creating: {getattr(error, 'message', error)}",
                          "daemonset-controller")
                break
            per_node[node_name] = [created]
            ctx.event(ds, "Normal", "SuccessfulCreate", f"Created pod: {created['metadata']['name']}",
                      "daemonset-controller")
        # rolling update within maxUnavailable
        strategy = spec.get("updateStrategy") or {}
        desired = len(eligible)
        if strategy.get("type", "RollingUpdate") == "RollingUpdate" and desired:
            allowed = max(scaled((strategy.get("rollingUpdate") or {}).get("maxUnavailable", 1), desired, True), 1)
            unavailable = sum(1 for n in eligible if not per_node.get(n)
                              or not is_available(per_node[n][0], min_ready, ctx.now))
            budget = allowed - unavailable
            for node_name in sorted(eligible):
                if budget <= 0:
                    break
                pods = per_node.get(node_name) or []
                if pods and (pods[0]["metadata"].get("labels") or {}).get(REVISION_LABEL) != hash_value:
                    if ctx.delete("pods", namespace, pods[0]["metadata"]["name"], uid=pods[0]["metadata"].get("uid")):
                        per_node[node_name] = []
                        budget -= 1
        scheduled = [n for n in eligible if per_node.get(n)]
        pods_on_eligible = [per_node[n][0] for n in scheduled]
        available = sum(1 for p in pods_on_eligible if is_available(p, min_ready, ctx.now))
        old_status = ds.get("status") or {}
        status = _compact({
            "currentNumberScheduled": len(scheduled),
            "desiredNumberScheduled": desired,
            "numberMisscheduled": sum(1 for n, pods in per_node.items() if n not in eligible and pods),
            "numberReady": sum(1 for p in pods_on_eligible if pod_is_ready(p)),
            "numberAvailable": available,
            "numberUnavailable": max(desired - available, 0),
            "updatedNumberScheduled": sum(1 for p in pods_on_eligible
                                          if (p["metadata"].get("labels") or {}).get(REVISION_LABEL) == hash_value),
            "observedGeneration": meta.get("generation"),
            "conditions": old_status.get("conditions"),
        }, keep=("currentNumberScheduled", "desiredNumberScheduled", "numberMisscheduled", "numberReady"))
        if not _same_status(old_status, status):
            ctx.update_status("daemonsets", dict(ds, status=status))
        self._cleanup_revisions(ctx, ds, revisions, {revision["metadata"]["name"]})

    # -- Job ------------------------------------------------------------------------------------------------------

    def jobs(self, ctx: Context) -> None:
        jobs = ctx.list("jobs")
        if not jobs:
            return
        owned = owned_by(ctx.list("pods"))
        for job in jobs:
            if job["metadata"].get("deletionTimestamp"):
                continue
            self._job(ctx, job, owned.get(job["metadata"].get("uid", ""), []))

    def _job(self, ctx: Context, job: dict, pods: list[dict]) -> None:
        meta = job["metadata"]
        spec = job.get("spec") or {}
        namespace = meta.get("namespace")
        old_status = job.get("status") or {}
        conditions = list(old_status.get("conditions") or [])
        finished = next((c for c in conditions if c.get("type") in ("Complete", "Failed")
                         and c.get("status") == "True"), None)
        if finished is not None:
            ttl = spec.get("ttlSecondsAfterFinished")
            if ttl is not None:
                done = parse_time(old_status.get("completionTime") or finished.get("lastTransitionTime")) or ctx.now
                if done + _int(ttl) <= ctx.now:
                    ctx.delete("jobs", namespace, meta["name"], propagation="Background", uid=meta.get("uid"))
                else:
                    ctx.wake_at(done + _int(ttl))
            return
        active = [p for p in pods if not is_terminal(p) and not p["metadata"].get("deletionTimestamp")]
        succeeded = [p for p in pods if (p.get("status") or {}).get("phase") == "Succeeded"]
        failed = [p for p in pods if (p.get("status") or {}).get("phase") == "Failed"]
        indexed = spec.get("completionMode") == "Indexed"
        completions = spec.get("completions")
        parallelism = _int(spec.get("parallelism"), 1)
        now = ctx.timestamp
        status = dict(old_status)
        job_conditions = ("SuccessCriteriaMet", "FailureTarget", "Complete", "Failed", "Suspended")
        if spec.get("suspend"):
            for pod in active:
                ctx.delete("pods", namespace, pod["metadata"]["name"], uid=pod["metadata"].get("uid"))
            active = []
            conditions = set_condition(conditions, "Suspended", "True", "JobSuspended", "Job suspended", now,
                                       probe_time=True, order=job_conditions)
            status.pop("startTime", None)
        else:
            if any(c.get("type") == "Suspended" and c.get("status") == "True" for c in conditions):
                conditions = set_condition(conditions, "Suspended", "False", "JobResumed", "Job resumed", now,
                                           probe_time=True, order=job_conditions)
            status.setdefault("startTime", now)
            deadline = spec.get("activeDeadlineSeconds")
            started = parse_time(status.get("startTime")) or ctx.now
            if deadline is not None and started + _int(deadline) <= ctx.now:
                for pod in active:
                    ctx.delete("pods", namespace, pod["metadata"]["name"], uid=pod["metadata"].get("uid"))
                message = "Job was active longer than specified deadline"
                for kind in ("FailureTarget", "Failed"):
                    conditions = set_condition(conditions, kind, "True", "DeadlineExceeded", message, now,
                                               probe_time=True, order=job_conditions)
                ctx.event(job, "Warning", "DeadlineExceeded", message, "job-controller")
                active = []
            elif deadline is not None:
                ctx.wake_at(started + _int(deadline))
        done_indexes = sorted({_int((p["metadata"].get("annotations") or {}).get(
            "batch.kubernetes.io/job-completion-index"), -1) for p in succeeded} - {-1})
        if indexed:
            complete = completions is not None and len(done_indexes) >= _int(completions)
        elif completions is not None:
            complete = len(succeeded) >= _int(completions)
        else:
            complete = bool(succeeded) and not active
        failed_already = any(c.get("type") == "Failed" and c.get("status") == "True" for c in conditions)
        if not complete and not failed_already and not spec.get("suspend"):
            if indexed:
                running = {_int((p["metadata"].get("annotations") or {}).get(
                    "batch.kubernetes.io/job-completion-index"), -1) for p in active}
                todo = [i for i in range(_int(completions)) if i not in done_indexes and i not in running]
                for index in todo[:max(parallelism - len(active), 0)]:
                    created = self._job_pod(ctx, job, index)
                    if created is not None:
                        active.append(created)
            else:
                remaining = (_int(completions) - len(succeeded)) if completions is not None else parallelism
                if completions is None and succeeded:
                    remaining = 0
                for _ in range(max(min(parallelism, remaining) - len(active), 0)):
                    created = self._job_pod(ctx, job, None)
                    if created is None:
                        break
                    active.append(created)
        if complete and not active:
            message = "Reached expected number of succeeded pods"
            for kind in ("SuccessCriteriaMet", "Complete"):
                conditions = set_condition(conditions, kind, "True", "CompletionsReached", message, now,
                                           probe_time=True, order=job_conditions)
            status["completionTime"] = status.get("completionTime") or now
            ctx.event(job, "Normal", "Completed", "Job completed", "job-controller")
        status.update({
            "active": len(active),
            "ready": sum(1 for p in active if pod_is_ready(p)),
            "succeeded": len(succeeded),
            "failed": len(failed),
            "terminating": 0,
            "uncountedTerminatedPods": {},
            "conditions": conditions,
        })
        if indexed:
            status["completedIndexes"] = _ranges(done_indexes)
        status = {k: v for k, v in status.items()
                  if not (k in ("active", "succeeded", "failed") and not v) and not (k == "conditions" and not v)
                  and not (k == "completedIndexes" and not v)}
        if not _same_status(old_status, status):
            ctx.update_status("jobs", dict(job, status=status))

    def _job_pod(self, ctx: Context, job: dict, index: int | None) -> dict | None:
        template = (job.get("spec") or {}).get("template") or {}
        name = job["metadata"]["name"]
        labels = annotations = None
        generate = f"{name}-"
        if index is not None:
            labels = {"batch.kubernetes.io/job-completion-index": str(index)}
            annotations = {"batch.kubernetes.io/job-completion-index": str(index)}
            generate = f"{name}-{index}-"
        pod = pod_from_template(job, template, generate=generate, labels=labels, annotations=annotations)
        if index is not None:
            pod["spec"].setdefault("hostname", f"{name}-{index}")
        try:
            created = ctx.create("pods", pod)
        except Exception as error:  # noqa: BLE001
            ctx.event(job, "Warning", "FailedCreate", f"Error creating: {getattr(error, 'message', error)}",
                      "job-controller")
            return None
        ctx.event(job, "Normal", "SuccessfulCreate", f"Created pod: {created['metadata']['name']}", "job-controller")
        return created

    # -- PodDisruptionBudget (the disruption controller) ---------------------------------------------------

    def disruption_budgets(self, ctx: Context) -> None:
        budgets = ctx.list("poddisruptionbudgets")
        if not budgets:
            return
        for budget in budgets:
            meta = budget["metadata"]
            if meta.get("deletionTimestamp"):
                continue
            spec = budget.get("spec") or {}
            selector = spec.get("selector")
            pods = [p for p in ctx.list("pods", meta.get("namespace"))
                    if label_match(selector, p["metadata"].get("labels")) and not is_terminal(p)
                    and not p["metadata"].get("deletionTimestamp")] if selector else []
            # pods an eviction has just spent a disruption on: not healthy while they last, forgotten once gone
            disrupted = {name: stamp for name, stamp in ((budget.get("status") or {}).get("disruptedPods") or {}
                                                          ).items() if any(p["metadata"]["name"] == name for p in pods)}
            expected = len(pods)
            healthy = sum(1 for p in pods if pod_is_ready(p) and p["metadata"]["name"] not in disrupted)
            if spec.get("minAvailable") is not None:
                desired = scaled(spec["minAvailable"], expected, True)
            elif spec.get("maxUnavailable") is not None:
                desired = max(expected - scaled(spec["maxUnavailable"], expected, True), 0)
            else:
                desired = expected
            allowed = max(healthy - desired, 0)
            old_status = budget.get("status") or {}
            generation = meta.get("generation")
            conditions = set_condition(list(old_status.get("conditions") or []), "DisruptionAllowed",
                                       "True" if allowed > 0 else "False",
                                       "SufficientPods" if allowed > 0 else "InsufficientPods", "", ctx.timestamp)
            for entry in conditions:
                if entry.get("type") == "DisruptionAllowed":
                    entry["observedGeneration"] = generation
                    entry.setdefault("message", "")
            status = {"conditions": conditions, "currentHealthy": healthy, "desiredHealthy": desired,
                      "disruptionsAllowed": allowed, "expectedPods": expected, "observedGeneration": generation}
            if disrupted:
                status["disruptedPods"] = disrupted
            if not _same_status(old_status, status):
                ctx.update_status("poddisruptionbudgets", dict(budget, status=status))

    # -- CronJob -----------------------------------------------------------------------------------------------------

    def cronjobs(self, ctx: Context) -> None:
        cronjobs = ctx.list("cronjobs")
        if not cronjobs:
            return
        jobs = owned_by(ctx.list("jobs"))
        for cronjob in cronjobs:
            if cronjob["metadata"].get("deletionTimestamp"):
                continue
            self._cronjob(ctx, cronjob, jobs.get(cronjob["metadata"].get("uid", ""), []))

    def _cronjob(self, ctx: Context, cronjob: dict, jobs: list[dict]) -> None:
        meta = cronjob["metadata"]
        spec = cronjob.get("spec") or {}
        namespace = meta.get("namespace")
        old_status = cronjob.get("status") or {}
        status = dict(old_status)

        def finished(job: dict) -> str | None:
            for entry in (job.get("status") or {}).get("conditions") or []:
                if entry.get("type") in ("Complete", "Failed") and entry.get("status") == "True":
                    return entry["type"]
            return None

        active = [j for j in jobs if finished(j) is None and not j["metadata"].get("deletionTimestamp")]
        successes = [j for j in jobs if finished(j) == "Complete"]
        failures = [j for j in jobs if finished(j) == "Failed"]
        if successes:
            last = max((j.get("status") or {}).get("completionTime") or "" for j in successes)
            if last:
                status["lastSuccessfulTime"] = last
        try:
            schedule = cron.parse(str(spec.get("schedule", "")), spec.get("timeZone"))
        except cron.CronError as error:
            ctx.event(cronjob, "Warning", "UnparseableSchedule", f"unparseable schedule: {error}",
                      "cronjob-controller")
            schedule = None
        if schedule is not None and not spec.get("suspend"):
            start = parse_time(old_status.get("lastScheduleTime")) or parse_time(meta.get("creationTimestamp")) \
                or ctx.now
            due = None
            moment = schedule.next_after(start)
            steps = 0
            while moment is not None and moment <= ctx.now and steps < 1000:
                due = moment
                moment = schedule.next_after(moment)
                steps += 1
            deadline = spec.get("startingDeadlineSeconds")
            if due is not None and (deadline is None or due + _int(deadline) >= ctx.now):
                policy = spec.get("concurrencyPolicy", "Allow")
                if policy == "Forbid" and active:
                    pass
                else:
                    if policy == "Replace":
                        for job in active:
                            ctx.delete("jobs", namespace, job["metadata"]["name"], propagation="Background")
                            ctx.event(cronjob, "Normal", "SuccessfulDelete",
                                      f"Deleted job {job['metadata']['name']}", "cronjob-controller")
                        active = []
                    created = self._scheduled_job(ctx, cronjob, due)
                    if created is not None:
                        active.append(created)
                    status["lastScheduleTime"] = now_rfc3339(due)
            elif due is not None:
                status["lastScheduleTime"] = now_rfc3339(due)
                ctx.event(cronjob, "Warning", "MissSchedule",
                          f"Missed scheduled time to start a job: {now_rfc3339(due)}", "cronjob-controller")
            if moment is not None:
                ctx.wake_at(moment)
        status["active"] = [{"apiVersion": "batch/v1", "kind": "Job", "name": j["metadata"]["name"],
                             "namespace": namespace, "uid": j["metadata"].get("uid"),
                             "resourceVersion": j["metadata"].get("resourceVersion")} for j in active]
        if not status["active"]:
            status.pop("active")
        for jobs_kind, limit in ((successes, spec.get("successfulJobsHistoryLimit", 3)),
                                 (failures, spec.get("failedJobsHistoryLimit", 1))):
            ordered = sorted(jobs_kind, key=lambda j: (j.get("status") or {}).get("startTime") or "")
            for job in ordered[:max(len(ordered) - _int(limit), 0)]:
                ctx.delete("jobs", namespace, job["metadata"]["name"], propagation="Background")
                ctx.event(cronjob, "Normal", "SuccessfulDelete", f"Deleted job {job['metadata']['name']}",
                          "cronjob-controller")
        if not _same_status(old_status, status):
            ctx.update_status("cronjobs", dict(cronjob, status=status))

    def _scheduled_job(self, ctx: Context, cronjob: dict, when: float) -> dict | None:
        template = (cronjob.get("spec") or {}).get("jobTemplate") or {}
        name = f"{cronjob['metadata']['name']}-{int(when // 60)}"
        template_meta = template.get("metadata") or {}
        job = {
            "metadata": {"name": name, "namespace": cronjob["metadata"].get("namespace"),
                         "labels": dict(template_meta.get("labels") or {}),
                         "annotations": dict(template_meta.get("annotations") or {},
                                             **{"batch.kubernetes.io/cronjob-scheduled-timestamp": now_rfc3339(when)}),
                         "ownerReferences": [owner_ref(cronjob)]},
            "spec": clone(template.get("spec") or {}),
        }
        created = ctx.try_create("jobs", job)
        if created is not None:
            ctx.event(cronjob, "Normal", "SuccessfulCreate", f"Created job {name}", "cronjob-controller")
        return created


def _revision_of(deployment: dict) -> int:
    return _int((deployment["metadata"].get("annotations") or {}).get(REVISION))


def _ordinal(pod_name: str, set_name: str) -> int:
    suffix = pod_name[len(set_name) + 1:] if pod_name.startswith(set_name + "-") else ""
    return _int(suffix, -1) if suffix.isdigit() else -1


def _daemon_node(pod: dict) -> str | None:
    spec = pod.get("spec") or {}
    if spec.get("nodeName"):
        return spec["nodeName"]
    required = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution") or {})
    for term in required.get("nodeSelectorTerms") or []:
        for field in term.get("matchFields") or []:
            if field.get("key") == "metadata.name" and field.get("values"):
                return field["values"][0]
    return None


def _ranges(indexes: list[int]) -> str:
    """``0-2,5``: Indexed Jobs' completedIndexes."""
    parts = []
    start = previous = None
    for index in indexes:
        if start is None:
            start = previous = index
        elif index == previous + 1:
            previous = index
        else:
            parts.append(f"{start}-{previous}" if start != previous else str(start))
            start = previous = index
    if start is not None:
        parts.append(f"{start}-{previous}" if start != previous else str(start))
    return ",".join(parts)
