"""The HorizontalPodAutoscaler controller of kube-controller-manager (``pkg/controller/podautoscaler``).

For every HPA (``autoscaling/v2``; an ``autoscaling/v1`` object's
``targetCPUUtilizationPercentage`` is read as a cpu Utilization target) whose
``scaleTargetRef`` is a Deployment, StatefulSet or ReplicaSet:

* the target's scale (``spec.replicas``, its selector) is read: a missing
  or unsupported target is ``AbleToScale=False``/``FailedGetScale`` with a
  ``FailedGetScale`` event;
* outside ``[minReplicas, maxReplicas]`` the target is brought back within
  them (*Current number of replicas below Spec.MinReplicas*...); at zero
  replicas scaling is disabled (``ScalingActive=False``/``ScalingDisabled``);
* otherwise each metric gives a proposal, with the replica calculator's rules
  (:func:`utilization_replicas`, :func:`average_value_replicas`): ``Resource``
  and ``ContainerResource`` metrics (cpu, memory; ``Utilization`` of the
  requests or ``AverageValue``) come from the resource metrics API
  (``metrics.k8s.io``, served while metrics-server's APIService is Available,
  over the usage model of ``..metrics``); ``Pods``, ``Object`` and
  ``External`` metrics need a custom or external metrics API, which no
  cluster here has. When no metric can be computed: ``ScalingActive=False``
  with ``FailedGetResourceMetric`` (or ``FailedGetPodsMetric``...), the
  events ``FailedGetResourceMetric`` and ``FailedComputeMetricsReplicas``,
  ``currentMetrics`` entries of ``type: ""``, as the real controller leaves
  them. Otherwise ``ScalingActive=True``/``ValidMetricFound`` and the largest
  proposal wins;
* the proposal is stabilized and limited as the controller does without a
  ``behavior`` (the highest recommendation of the last 5 minutes on the way
  down, at most max(2 x current, 4) on the way up) or with one (its
  stabilization windows, policies and ``selectPolicy``, with the scale
  events of each policy's period), setting ``AbleToScale``
  (``ReadyForNewScale``, ``ScaleDownStabilized``, ``ScaleUpStabilized``,
  ``SucceededRescale``) and ``ScalingLimited`` (``DesiredWithinRange``,
  ``TooFewReplicas``, ``TooManyReplicas``, ``ScaleUpLimit``,
  ``ScaleDownLimit``);
* a new size is written to the target's ``spec.replicas`` (what a write of its
  ``scale`` subresource does; the workload controllers act on it), with a
  ``SuccessfulRescale`` event (*New size: 4; reason: cpu resource utilization
  (percentage of request) above target*) and ``status.lastScaleTime``;
  ``status`` gets ``currentReplicas``, ``desiredReplicas``,
  ``currentMetrics`` and the conditions.

With the usage model (a container uses 40 % of its requests), an HPA whose
target utilization is above 40 % (``cpu: 40%/70%``) proposes fewer replicas
than it has; the first recommendation is the current count, so the replicas
stay at max(minReplicas, current) for the downscale stabilization window
(5 minutes, or ``behavior.scaleDown.stabilizationWindowSeconds``) and then
go down to the proposal. A target below 40 % scales up, step by step as new
pods become Ready, to ``maxReplicas``. Differences: an HPA is reconciled when
something it reads changes and every 15 s (the controller's sync period) rather
than only every 15 s; CPU samples of pods that just became Ready are not held
back for a metric window; HPAs selecting the same pods are not reported as
ambiguous.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from .. import aggregator
from ..metrics import GROUP as METRICS_GROUP, VERSION as METRICS_VERSION, pod_usage
from .runtime import Context
from .util import label_match, parse_quantity, pod_is_ready, set_condition

COMPONENT = "horizontal-pod-autoscaler"
SYNC_PERIOD = 15.0
DOWNSCALE_STABILIZATION = 300.0
TOLERANCE = 0.1
SCALE_UP_LIMIT_FACTOR = 2.0
SCALE_UP_LIMIT_MINIMUM = 4.0
TARGETS = {("apps", "Deployment"): "deployments", ("apps", "StatefulSet"): "statefulsets",
           ("apps", "ReplicaSet"): "replicasets"}
CONDITION_ORDER = ("AbleToScale", "ScalingActive", "ScalingLimited")


class MetricError(Exception):
    """A metric that cannot be computed (the message is the controller's error text)."""


# -- quantities -------------------------------------------------------------------------------------------------

_SUFFIXES = ((18, "E"), (15, "P"), (12, "T"), (9, "G"), (6, "M"), (3, "k"), (0, ""), (-3, "m"))


def format_milli(value: int) -> str:
    """``resource.NewMilliQuantity(value, DecimalSI).String()``: ``40m``, ``1500m``, ``104857600``, ``200M``."""
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    value = abs(value)
    for exponent, suffix in _SUFFIXES:
        unit = 10 ** (exponent + 3)
        if value % unit == 0:
            return f"{sign}{value // unit}{suffix}"
    return f"{sign}{value}m"


def milli(value: Any) -> int:
    """A quantity's ``MilliValue()`` (rounded up)."""
    return math.ceil(parse_quantity(value) * 1000)


# -- the replica calculator (pure) -------------------------------------------------------------------------------

@dataclass(frozen=True)
class PodInfo:
    """What the replica calculator reads of a pod."""

    name: str
    phase: str = "Running"
    ready: bool | None = True  # the Ready condition (None: none yet)
    started: bool = True  # status.startTime is set
    deleted: bool = False


@dataclass(frozen=True)
class Tolerances:
    scale_down: float = TOLERANCE
    scale_up: float = TOLERANCE

    def within(self, ratio: float) -> bool:
        return (1.0 - self.scale_down) <= ratio <= (1.0 + self.scale_up)


def group_pods(pods: list[PodInfo], metrics: dict[str, int], resource: str) -> tuple[int, set, set, set]:
    """``groupPods``: (ready pods with a metric, unready, missing a metric, ignored)."""
    ready = 0
    unready: set[str] = set()
    missing: set[str] = set()
    ignored: set[str] = set()
    for pod in pods:
        if pod.deleted or pod.phase == "Failed":
            ignored.add(pod.name)
            continue
        if pod.phase == "Pending":
            unready.add(pod.name)
            continue
        if pod.name not in metrics:
            missing.add(pod.name)
            continue
        if resource == "cpu" and (pod.ready is None or not pod.started or pod.ready is False):
            unready.add(pod.name)
            continue
        ready += 1
    return ready, unready, missing, ignored


def utilization_ratio(metrics: dict[str, int], requests: dict[str, int], target: int) -> tuple[float, int, int]:
    """``GetResourceUtilizationRatio``: (ratio to the target, utilization %, average raw value)."""
    metrics_total = requests_total = entries = 0
    for name, value in metrics.items():
        if name not in requests:
            continue
        metrics_total += value
        requests_total += requests[name]
        entries += 1
    if requests_total == 0:
        raise MetricError("no metrics returned matched known pods")
    utilization = (metrics_total * 100) // requests_total
    return utilization / target, utilization, metrics_total // entries


def _usable_metrics(pods: list[PodInfo], metrics: dict[str, int], resource: str
                    ) -> tuple[dict[str, int], int, set, set]:
    """The samples both calculators use (those of ignored and unready pods left out) with ``group_pods``'s ready
    count, unready and missing pods; raises :class:`MetricError` as the real calculator does when none is left."""
    if not pods:
        raise MetricError("no pods returned by selector while calculating replica count")
    metrics = dict(metrics)
    ready, unready, missing, ignored = group_pods(pods, metrics, resource)
    for name in ignored | unready:
        metrics.pop(name, None)
    if not metrics:
        raise MetricError("did not receive metrics for targeted pods (pods might be unready)")
    return metrics, ready, unready, missing


def utilization_replicas(current: int, target: int, pods: list[PodInfo], metrics: dict[str, int],
                         requests: dict[str, int], resource: str = "cpu",
                         tolerances: Tolerances = Tolerances()) -> tuple[int, int, int]:
    """``GetResourceReplicas``: (replicas, utilization %, average raw value) for a Utilization target.

    ``metrics`` and ``requests`` are milli-values per pod name (``requests`` of every pod, as
    ``calculatePodRequests`` gives them); raises :class:`MetricError`.
    """
    metrics, ready, unready, missing = _usable_metrics(pods, metrics, resource)
    ratio, utilization, raw = utilization_ratio(metrics, requests, target)
    scale_up_with_unready = bool(unready) and ratio > 1.0
    if not scale_up_with_unready and not missing:
        if tolerances.within(ratio):
            return current, utilization, raw
        return math.ceil(ratio * ready), utilization, raw
    if missing:
        if ratio < 1.0:
            fallback = max(100, target)
            for name in missing:
                metrics[name] = requests[name] * fallback // 100
        elif ratio > 1.0:
            for name in missing:
                metrics[name] = 0
    if scale_up_with_unready:
        for name in unready:
            metrics[name] = 0
    new_ratio, _, _ = utilization_ratio(metrics, requests, target)
    if tolerances.within(new_ratio) or (ratio < 1.0 < new_ratio) or (ratio > 1.0 > new_ratio):
        return current, utilization, raw
    proposal = math.ceil(new_ratio * len(metrics))
    if (new_ratio < 1.0 and proposal > current) or (new_ratio > 1.0 and proposal < current):
        return current, utilization, raw
    return proposal, utilization, raw


def average_value_replicas(current: int, target: int, pods: list[PodInfo], metrics: dict[str, int],
                           resource: str = "cpu", tolerances: Tolerances = Tolerances()) -> tuple[int, int]:
    """``GetRawResourceReplicas``/``calcPlainMetricReplicas``: (replicas, average usage) for an AverageValue
    target (milli-values)."""
    metrics, ready, unready, missing = _usable_metrics(pods, metrics, resource)
    usage = sum(metrics.values()) // len(metrics)
    ratio = usage / target
    scale_up_with_unready = bool(unready) and ratio > 1.0
    if not scale_up_with_unready and not missing:
        if tolerances.within(ratio):
            return current, usage
        return math.ceil(ratio * ready), usage
    if missing:
        if ratio < 1.0:
            for name in missing:
                metrics[name] = target
        else:
            for name in missing:
                metrics[name] = 0
    if scale_up_with_unready:
        for name in unready:
            metrics[name] = 0
    new_ratio = (sum(metrics.values()) // len(metrics)) / target
    if tolerances.within(new_ratio) or (ratio < 1.0 < new_ratio) or (ratio > 1.0 > new_ratio):
        return current, usage
    proposal = math.ceil(new_ratio * len(metrics))
    if (new_ratio < 1.0 and proposal > current) or (new_ratio > 1.0 and proposal < current):
        return current, usage
    return proposal, usage


def limits_without_behavior(current: int, desired: int, minimum: int, maximum: int) -> tuple[int, str, str]:
    """``convertDesiredReplicasWithRules``: (replicas, ScalingLimited reason, message)."""
    scale_up_limit = int(max(SCALE_UP_LIMIT_FACTOR * current, SCALE_UP_LIMIT_MINIMUM))
    if maximum > scale_up_limit:
        allowed_max, reason, message = (scale_up_limit, "ScaleUpLimit",
                                        "the desired replica count is increasing faster than the maximum scale rate")
    else:
        allowed_max, reason, message = (maximum, "TooManyReplicas",
                                        "the desired replica count is more than the maximum replica count")
    if desired < minimum:
        return minimum, "TooFewReplicas", "the desired replica count is less than the minimum replica count"
    if desired > allowed_max:
        return allowed_max, reason, message
    return desired, "DesiredWithinRange", "the desired count is within the acceptable range"


def _changes(period: float, events: list[tuple[float, int]], now: float) -> int:
    return sum(change for moment, change in events if moment > now - period)


def scale_up_limit(current: int, up_events: list, down_events: list, rules: dict, now: float) -> int:
    """``calculateScaleUpLimitWithScalingRules``."""
    select = rules.get("selectPolicy") or "Max"
    if select == "Disabled":
        return current
    result = math.inf if select == "Min" else -math.inf
    for policy in rules.get("policies") or []:
        period = float(policy.get("periodSeconds") or 0)
        start = current - _changes(period, up_events, now) + _changes(period, down_events, now)
        if policy.get("type") == "Pods":
            proposed = start + int(policy.get("value") or 0)
        else:
            proposed = math.ceil(start * (1 + int(policy.get("value") or 0) / 100))
        result = min(result, proposed) if select == "Min" else max(result, proposed)
    return int(result) if math.isfinite(result) else current


def scale_down_limit(current: int, up_events: list, down_events: list, rules: dict, now: float) -> int:
    """``calculateScaleDownLimitWithBehaviors``."""
    select = rules.get("selectPolicy") or "Max"
    if select == "Disabled":
        return current
    result = -math.inf if select == "Min" else math.inf
    for policy in rules.get("policies") or []:
        period = float(policy.get("periodSeconds") or 0)
        start = current - _changes(period, up_events, now) + _changes(period, down_events, now)
        if policy.get("type") == "Pods":
            proposed = start - int(policy.get("value") or 0)
        else:
            proposed = int(start * (1 - int(policy.get("value") or 0) / 100))
        result = max(result, proposed) if select == "Min" else min(result, proposed)
    return int(result) if math.isfinite(result) else current


# -- the controller --------------------------------------------------------------------------------------------

@dataclass
class _Memory:
    """What kube-controller-manager keeps per HPA between syncs."""

    recommendations: list[list[float]] = field(default_factory=list)  # [[replicas, time]]
    up_events: list[tuple[float, int]] = field(default_factory=list)
    down_events: list[tuple[float, int]] = field(default_factory=list)
    fingerprint: str = ""
    next_sync: float = 0.0


def _metric_specs(hpa: dict) -> list[dict]:
    spec = hpa.get("spec") or {}
    if spec.get("metrics"):
        return [m for m in spec["metrics"] if isinstance(m, dict)]
    target = spec.get("targetCPUUtilizationPercentage")
    return [{"type": "Resource", "resource": {"name": "cpu", "target": {
        "type": "Utilization", "averageUtilization": int(target) if target is not None else 80}}}]


def _pod_info(pod: dict) -> PodInfo:
    meta, status = pod.get("metadata") or {}, pod.get("status") or {}
    ready = None
    for entry in status.get("conditions") or []:
        if entry.get("type") == "Ready":
            ready = entry.get("status") == "True"
    return PodInfo(meta.get("name", ""), status.get("phase") or "Pending", ready, bool(status.get("startTime")),
                   bool(meta.get("deletionTimestamp")))


def _containers(pod: dict, container: str) -> list[dict]:
    spec = pod.get("spec") or {}
    found = list(spec.get("containers") or [])
    found += [c for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"]
    return [c for c in found if isinstance(c, dict) and (not container or c.get("name") == container)]


def _requests(pods: list[dict], resource: str, container: str) -> dict[str, int]:
    """``calculatePodRequests`` (a container's limit stands for its request, as defaulting makes it)."""
    result = {}
    for pod in pods:
        total = 0
        for entry in _containers(pod, container):
            resources = entry.get("resources") or {}
            value = (resources.get("requests") or {}).get(resource, (resources.get("limits") or {}).get(resource))
            if value is None:
                raise MetricError(f"missing request for {resource} in container {entry.get('name')} of Pod "
                                  f"{pod['metadata']['name']}")
            total += milli(value)
        result[pod["metadata"]["name"]] = total
    return result


def _usage(pods: list[dict], resource: str, container: str) -> dict[str, int]:
    """The resource metrics API's per-pod milli-values (``getPodMetrics``), from the usage model."""
    result = {}
    for pod in pods:
        usage = pod_usage(pod)
        if not usage:
            continue
        values = [(cpu, memory) for name, cpu, memory in usage if not container or name == container]
        if not values:
            continue
        if resource == "cpu":
            result[pod["metadata"]["name"]] = sum(math.ceil(Fraction(cpu, 10 ** 6)) for cpu, _ in values)
        elif resource == "memory":
            result[pod["metadata"]["name"]] = sum(memory * 1000 for _, memory in values)
    return result


class HorizontalPodAutoscalerController:
    """Reconciles the HPAs of a cluster (see the module docstring)."""

    def __init__(self) -> None:
        self._memory: dict[str, _Memory] = {}

    def reconcile(self, ctx: Context) -> None:
        hpas = ctx.list("horizontalpodautoscalers")
        seen = set()
        for hpa in hpas:
            meta = hpa["metadata"]
            if meta.get("deletionTimestamp"):
                continue
            key = f"{meta.get('namespace')}/{meta['name']}/{meta.get('uid')}"
            seen.add(key)
            memory = self._memory.setdefault(key, _Memory())
            try:
                self._sync(ctx, hpa, memory)
            except Exception:  # noqa: BLE001 - one bad object must not stop the others
                import logging

                logging.getLogger("emulator.k8s.controllers").exception("hpa %s", key)
        for key in list(self._memory):
            if key not in seen:
                del self._memory[key]

    # -- one HPA ------------------------------------------------------------------------------------------------

    def _target(self, ctx: Context, hpa: dict) -> tuple[str | None, dict | None, str]:
        """(kind name, target object, error) of the scale target."""
        ref = (hpa.get("spec") or {}).get("scaleTargetRef") or {}
        api_version = str(ref.get("apiVersion") or "")
        group = api_version.rpartition("/")[0] if "/" in api_version else ""
        kind = TARGETS.get((group, ref.get("kind") or ""))
        if kind is None:
            return None, None, f'no matches for kind "{ref.get("kind")}" in group "{group}"'
        target = ctx.get(kind, hpa["metadata"].get("namespace"), ref.get("name") or "")
        if target is None:
            return kind, None, f'{kind}.{group} "{ref.get("name")}" not found'
        return kind, target, ""

    def _sync(self, ctx: Context, hpa: dict, memory: _Memory) -> None:
        namespace = hpa["metadata"].get("namespace")
        kind, target, error = self._target(ctx, hpa)
        pods: list[dict] = []
        if target is not None:
            selector = (target.get("spec") or {}).get("selector")
            pods = [p for p in ctx.list("pods", namespace) if selector and label_match(selector, p["metadata"].get(
                "labels"))]
        metrics_state = aggregator.resource_error(ctx.store, METRICS_GROUP, METRICS_VERSION) or ""
        fingerprint = json.dumps([hpa.get("spec"), hpa["metadata"].get("generation"), error, metrics_state,
                                  (target or {}).get("spec", {}).get("replicas"),
                                  (target or {}).get("spec", {}).get("selector"),
                                  sorted([p["metadata"]["name"], (p.get("status") or {}).get("phase"),
                                          pod_is_ready(p), bool(p["metadata"].get("deletionTimestamp")),
                                          [c.get("resources") for c in _containers(p, "")]] for p in pods)],
                                 sort_keys=True, default=str)
        if fingerprint == memory.fingerprint and ctx.now < memory.next_sync:
            return
        memory.fingerprint = fingerprint
        memory.next_sync = ctx.now + SYNC_PERIOD
        ctx.wake_at(memory.next_sync)
        status = json.loads(json.dumps(hpa.get("status") or {}))
        conditions = list(status.get("conditions") or [])
        events: list[tuple[str, str, str]] = []

        def condition(kind_name: str, value: str, reason: str, message: str) -> None:
            nonlocal conditions
            conditions = set_condition(conditions, kind_name, value, reason, message, ctx.timestamp)

        spec = hpa.get("spec") or {}
        if target is None:
            events.append(("Warning", "FailedGetScale", error))
            condition("AbleToScale", "False", "FailedGetScale",
                      f"the HPA controller was unable to get the target's current scale: {error}")
            return self._write(ctx, hpa, dict(status, conditions=conditions), events)
        condition("AbleToScale", "True", "SucceededGetScale",
                  "the HPA controller was able to get the target's current scale")
        current = int((target.get("spec") or {}).get("replicas", 1) or 0)
        minimum = int(spec.get("minReplicas") or 1) if spec.get("minReplicas") is not None else 1
        maximum = int(spec.get("maxReplicas") or 0)
        if not memory.recommendations:
            memory.recommendations.append([current, ctx.now])
        statuses: list[dict] | None = None
        desired = 0
        reason = ""
        rescale = True
        if current == 0 and minimum != 0:
            desired, rescale = 0, False
            condition("ScalingActive", "False", "ScalingDisabled",
                      "scaling is disabled since the replica count of the target is zero")
        elif current > maximum:
            reason, desired = "Current number of replicas above Spec.MaxReplicas", maximum
        elif current < minimum:
            reason, desired = "Current number of replicas below Spec.MinReplicas", minimum
        else:
            if not (target.get("spec") or {}).get("selector"):
                events.append(("Warning", "SelectorRequired", "selector is required"))
                condition("ScalingActive", "False", "InvalidSelector", "the HPA target's scale is missing a selector")
                return self._write(ctx, hpa, dict(status, conditions=conditions), events)
            proposal, metric_name, statuses, failure = self._compute(ctx, hpa, current, pods, metrics_state, events)
            if failure is not None:
                status_type, status_reason, status_message, error_text = failure
                if proposal < 0:
                    condition(status_type, "False", status_reason, status_message)
                    events.append(("Warning", "FailedComputeMetricsReplicas", error_text))
                    updated = dict(status, conditions=conditions, currentMetrics=statuses)
                    if current:
                        updated["currentReplicas"] = current
                    updated.setdefault("desiredReplicas", 0)
                    return self._write(ctx, hpa, updated, events)
            condition("ScalingActive", "True", "ValidMetricFound",
                      f"the HPA was able to successfully calculate a replica count from {metric_name}")
            desired = proposal
            if desired > current:
                reason = f"{metric_name} above target"
            elif desired < current:
                reason = "All metrics below target"
            behavior = spec.get("behavior")
            if isinstance(behavior, dict):
                desired = self._with_behavior(ctx, memory, behavior, current, desired, minimum, maximum, condition)
            else:
                desired = self._without_behavior(ctx, memory, current, desired, minimum, maximum, condition)
            rescale = desired != current
        if rescale:
            updated_target = json.loads(json.dumps(target))
            updated_target["spec"]["replicas"] = desired
            if ctx.update(kind, updated_target) is None:
                events.append(("Warning", "FailedRescale", f"New size: {desired}; reason: {reason}; error: the "
                                                           "object has been modified; please apply your changes to "
                                                           "the latest version and try again"))
                condition("AbleToScale", "False", "FailedUpdateScale", "the HPA controller was unable to update the "
                                                                       "target scale: the object has been modified")
                memory.fingerprint = ""
                updated = dict(status, conditions=conditions)
                if statuses is not None:
                    updated["currentMetrics"] = statuses
                return self._write(ctx, hpa, updated, events)
            condition("AbleToScale", "True", "SucceededRescale",
                      f"the HPA controller was able to update the target scale to {desired}")
            events.append(("Normal", "SuccessfulRescale", f"New size: {desired}; reason: {reason}"))
            if isinstance(spec.get("behavior"), dict):
                change = desired - current
                (memory.up_events if change > 0 else memory.down_events).append((ctx.now, abs(change)))
            status["lastScaleTime"] = ctx.timestamp
        else:
            desired = current
        updated = {k: v for k, v in status.items() if k not in ("currentMetrics", "currentReplicas")}
        if current:
            updated["currentReplicas"] = current
        updated["desiredReplicas"] = desired
        if statuses:
            updated["currentMetrics"] = statuses
        updated["conditions"] = conditions
        if spec.get("targetCPUUtilizationPercentage") is not None and not spec.get("metrics") and statuses:
            current_cpu = ((statuses[0].get("resource") or {}).get("current") or {}).get("averageUtilization")
            if current_cpu is not None:
                updated["currentCPUUtilizationPercentage"] = current_cpu
        self._write(ctx, hpa, updated, events)

    def _write(self, ctx: Context, hpa: dict, status: dict, events: list[tuple[str, str, str]]) -> None:
        for event_type, reason, message in events:
            ctx.event(hpa, event_type, reason, message, COMPONENT)
        status["conditions"] = sorted(status.get("conditions") or [], key=lambda c: CONDITION_ORDER.index(
            c["type"]) if c.get("type") in CONDITION_ORDER else len(CONDITION_ORDER))
        if status == (hpa.get("status") or {}):
            return
        updated = dict(hpa)
        updated["status"] = status
        ctx.update_status("horizontalpodautoscalers", updated)

    # -- metrics ---------------------------------------------------------------------------------------------------

    def _compute(self, ctx: Context, hpa: dict, current: int, pods: list[dict], metrics_state: str,
                 events: list) -> tuple[int, str, list[dict], tuple[str, str, str, str] | None]:
        """``computeReplicasForMetrics``: (proposal or -1, metric name, statuses, failure)."""
        specs = _metric_specs(hpa)
        statuses: list[dict] = [{"type": ""} for _ in specs]
        proposal = 0
        chosen = ""
        invalid = 0
        first: tuple[str, str, str] | None = None
        tolerances = self._tolerances(hpa)
        for index, metric in enumerate(specs):
            try:
                replicas, name, statuses[index] = self._metric(metric, current, pods, metrics_state, tolerances)
            except MetricError as failure:
                reason = {"Resource": "FailedGetResourceMetric", "ContainerResource": "FailedGetContainerResourceMetric",
                          "Pods": "FailedGetPodsMetric", "Object": "FailedGetObjectMetric",
                          "External": "FailedGetExternalMetric"}.get(metric.get("type"), "InvalidMetricSourceType")
                events.append(("Warning", reason, str(failure)))
                if first is None:
                    first = (reason, f"the HPA was unable to compute the replica count: {failure}", str(failure))
                invalid += 1
                continue
            if proposal == 0 or replicas > proposal:
                proposal, chosen = replicas, name
        if first is not None:
            error_text = f"invalid metrics ({invalid} invalid out of {len(specs)}), first error is: {first[2]}"
            if invalid >= len(specs) or proposal < current:
                return -1, "", statuses, ("ScalingActive", first[0], first[1], error_text)
        return proposal, chosen, statuses, None

    @staticmethod
    def _tolerances(hpa: dict) -> Tolerances:
        behavior = (hpa.get("spec") or {}).get("behavior") or {}
        down = (behavior.get("scaleDown") or {}).get("tolerance")
        up = (behavior.get("scaleUp") or {}).get("tolerance")
        return Tolerances(float(parse_quantity(down)) if down is not None else TOLERANCE,
                          float(parse_quantity(up)) if up is not None else TOLERANCE)

    def _metric(self, metric: dict, current: int, pods: list[dict], metrics_state: str,
                tolerances: Tolerances) -> tuple[int, str, dict]:
        kind = metric.get("type")
        if kind in ("Resource", "ContainerResource"):
            key = "resource" if kind == "Resource" else "containerResource"
            source = metric.get(key) or {}
            resource = source.get("name") or ""
            container = source.get("container", "") if kind == "ContainerResource" else ""
            target = source.get("target") or {}
            infos = [_pod_info(p) for p in pods]
            average_value = target.get("averageValue")
            what = "usage" if average_value is not None else "utilization"
            prefix = f"failed to get {resource} {what}: "
            if average_value is None and target.get("averageUtilization") is None:
                raise MetricError("invalid resource metric source: neither an average utilization target nor an "
                                  "average value (usage) target was set")
            try:
                usage = self._fetch(pods, resource, container, metrics_state)
                if average_value is not None:
                    replicas, raw = average_value_replicas(current, milli(average_value), infos, usage, resource,
                                                           tolerances)
                    name = f"{resource} resource" if kind == "Resource" else f"{resource} container resource"
                    return replicas, name, {"type": kind, key: dict(
                        {"name": resource}, **({"container": container} if container else {}),
                        current={"averageValue": format_milli(raw)})}
                requests = _requests(pods, resource, container)
                replicas, utilization, raw = utilization_replicas(
                    current, int(target["averageUtilization"]), infos, usage, requests, resource, tolerances)
            except MetricError as failure:
                raise MetricError(prefix + str(failure)) from None
            name = (f"{resource} resource utilization (percentage of request)" if kind == "Resource" else
                    f"{resource} container resource utilization (percentage of request)")
            return replicas, name, {"type": kind, key: dict(
                {"name": resource}, **({"container": container} if container else {}),
                current={"averageUtilization": utilization, "averageValue": format_milli(raw)})}
        if kind == "Pods":
            name = ((metric.get("pods") or {}).get("metric") or {}).get("name", "")
            raise MetricError(f"unable to get metric {name}: unable to fetch metrics from custom metrics API: no "
                              "custom metrics API (custom.metrics.k8s.io) registered")
        if kind == "Object":
            name = ((metric.get("object") or {}).get("metric") or {}).get("name", "")
            raise MetricError(f"unable to get metric {name}: unable to fetch metrics from custom metrics API: no "
                              "custom metrics API (custom.metrics.k8s.io) registered")
        if kind == "External":
            name = ((metric.get("external") or {}).get("metric") or {}).get("name", "")
            raise MetricError(f"unable to get external metric {name}: unable to fetch metrics from external metrics "
                              f"API: the server could not find the requested resource (get {name}.external.metrics"
                              ".k8s.io)")
        raise MetricError(f'unknown metric source type "{kind}"')

    @staticmethod
    def _fetch(pods: list[dict], resource: str, container: str, metrics_state: str) -> dict[str, int]:
        """``GetResourceMetric``: the pods' metrics from the resource metrics API."""
        if metrics_state:
            raise MetricError(f"unable to get metrics for resource {resource}: unable to fetch metrics from resource "
                              f"metrics API: {metrics_state} (get pods.{METRICS_GROUP})")
        usage = _usage(pods, resource, container)
        if not any(pod_usage(p) for p in pods):
            raise MetricError(f"unable to get metrics for resource {resource}: no metrics returned from resource "
                              "metrics API")
        return usage

    # -- normalization -----------------------------------------------------------------------------------------------

    @staticmethod
    def _record(memory: _Memory, desired: int, now: float, window: float) -> None:
        memory.recommendations = [r for r in memory.recommendations if r[1] >= now - max(window, SYNC_PERIOD * 40)]
        memory.recommendations.append([desired, now])

    def _without_behavior(self, ctx: Context, memory: _Memory, current: int, desired: int, minimum: int,
                          maximum: int, condition: Any) -> int:
        """``normalizeDesiredReplicas``: the 5-minute downscale stabilization, then the min/max/rate limits."""
        cutoff = ctx.now - DOWNSCALE_STABILIZATION
        stabilized = max([desired] + [int(r[0]) for r in memory.recommendations if r[1] >= cutoff])
        self._record(memory, desired, ctx.now, DOWNSCALE_STABILIZATION)
        if stabilized != desired:
            condition("AbleToScale", "True", "ScaleDownStabilized",
                      "recent recommendations were higher than current one, applying the highest recent "
                      "recommendation")
        else:
            condition("AbleToScale", "True", "ReadyForNewScale", "recommended size matches current size")
        limited, reason, message = limits_without_behavior(current, stabilized, minimum, maximum)
        condition("ScalingLimited", "False" if limited == stabilized else "True", reason, message)
        return limited

    def _with_behavior(self, ctx: Context, memory: _Memory, behavior: dict, current: int, desired: int,
                       minimum: int, maximum: int, condition: Any) -> int:
        """``normalizeDesiredReplicasWithBehaviors``: both stabilization windows, then the policies' rates."""
        up_rules = behavior.get("scaleUp") or {}
        down_rules = behavior.get("scaleDown") or {}
        up_window = float(up_rules.get("stabilizationWindowSeconds", 0) or 0)
        down_window = float(down_rules.get("stabilizationWindowSeconds", DOWNSCALE_STABILIZATION) or 0)
        up_recommendation = down_recommendation = desired
        for replicas, moment in memory.recommendations:
            if moment > ctx.now - up_window:
                up_recommendation = min(int(replicas), up_recommendation)
            if moment > ctx.now - down_window:
                down_recommendation = max(int(replicas), down_recommendation)
        stabilized = min(max(current, up_recommendation), down_recommendation)
        self._record(memory, desired, ctx.now, max(up_window, down_window))
        if stabilized != desired:
            if desired >= current:
                condition("AbleToScale", "True", "ScaleUpStabilized", "recent recommendations were lower than current "
                                                                      "one, applying the lowest recent recommendation")
            else:
                condition("AbleToScale", "True", "ScaleDownStabilized",
                          "recent recommendations were higher than current one, applying the highest recent "
                          "recommendation")
        else:
            condition("AbleToScale", "True", "ReadyForNewScale", "recommended size matches current size")
        horizon = ctx.now - 3600
        memory.up_events = [e for e in memory.up_events if e[0] > horizon]
        memory.down_events = [e for e in memory.down_events if e[0] > horizon]
        limited, reason, message = stabilized, "DesiredWithinRange", "the desired count is within the acceptable range"
        if stabilized > current:
            limit = max(scale_up_limit(current, memory.up_events, memory.down_events, up_rules, ctx.now), current)
            if maximum > limit:
                allowed, reason, message = limit, "ScaleUpLimit", ("the desired replica count is increasing faster "
                                                                   "than the maximum scale rate")
            else:
                allowed, reason, message = maximum, "TooManyReplicas", ("the desired replica count is more than the "
                                                                        "maximum replica count")
            if stabilized > allowed:
                limited = allowed
            else:
                reason, message = "DesiredWithinRange", "the desired count is within the acceptable range"
        elif stabilized < current:
            limit = min(scale_down_limit(current, memory.up_events, memory.down_events, down_rules, ctx.now), current)
            if minimum < limit:
                allowed, reason, message = limit, "ScaleDownLimit", ("the desired replica count is decreasing faster "
                                                                     "than the maximum scale rate")
            else:
                allowed, reason, message = minimum, "TooFewReplicas", ("the desired replica count is less than the "
                                                                       "minimum replica count")
            if stabilized < allowed:
                limited = allowed
            else:
                reason, message = "DesiredWithinRange", "the desired count is within the acceptable range"
        condition("ScalingLimited", "False" if limited == stabilized else "True", reason, message)
        return limited


__all__ = ["HorizontalPodAutoscalerController", "MetricError", "PodInfo", "Tolerances", "average_value_replicas",
           "format_milli", "group_pods", "limits_without_behavior", "scale_down_limit",
           "scale_up_limit", "utilization_ratio", "utilization_replicas"]
