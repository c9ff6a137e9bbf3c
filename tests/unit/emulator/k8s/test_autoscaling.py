"""The HorizontalPodAutoscaler controller: the replica calculator against the real controller's test cases, the
limits, and the controller over a bare store with the metrics-server add-on (emulator/k8s/controllers/autoscaling.py).
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import pytest

from emulator.k8s.controllers import Addon, StaticCloud
from emulator.k8s.controllers.autoscaling import (
    MetricError, PodInfo, Tolerances, average_value_replicas, format_milli, limits_without_behavior,
    scale_down_limit, scale_up_limit, utilization_replicas,
)
from emulator.k8s.tables import hpa_targets
from tests.unit.emulator.k8s.test_controllers import Kube, group, info

CONTAINERS = 2  # the real tests' numContainersPerPod: requests and levels are per container


def case(current: int, requests: list[float], levels: list[int], target: int, readiness: list[bool] | None = None,
         phases: list[str] | None = None, deleted: list[bool] | None = None, extra: int = 0):
    """Pods, metrics and requests as ``replicaCalcTestCase`` builds them (``extra`` metrics of unknown pods)."""
    pods = []
    for index in range(len(requests)):
        pods.append(PodInfo(f"pod-{index}", (phases or [])[index] if phases else "Running",
                            (readiness or [])[index] if readiness else True, True,
                            (deleted or [])[index] if deleted else False))
    names = [p.name for p in pods] + [f"pod-{len(pods) + i}" for i in range(extra)]
    metrics = {names[i]: level * CONTAINERS for i, level in enumerate(levels)}
    requests_milli = {p.name: int(r * 1000) * CONTAINERS for p, r in zip(pods, requests)}
    return current, target, pods, metrics, requests_milli


# (name, arguments, expected replicas, expected utilization, expected raw value) from replica_calculator_test.go
UTILIZATION_CASES = [
    ("ScaleUp", case(3, [1.0] * 3, [300, 500, 700], 30), 5, 50, CONTAINERS * 500),
    ("ScaleUpUnreadyLessScale", case(3, [1.0] * 3, [300, 500, 700], 30, [False, True, True]), 4, 60,
     CONTAINERS * 600),
    ("ScaleUpUnreadyNoScale", case(3, [1.0] * 3, [400, 500, 700], 30, [True, False, False]), 3, 40,
     CONTAINERS * 400),
    ("ScaleUpIgnoresFailedPods", case(2, [1.0] * 4, [500, 700], 30, [True, True, False, False],
                                      ["Running", "Running", "Failed", "Failed"]), 4, 60, CONTAINERS * 600),
    ("ScaleUpIgnoresDeletionPods", case(2, [1.0] * 4, [500, 700], 30, [True, True, False, False],
                                        deleted=[False, False, True, True]), 4, 60, CONTAINERS * 600),
    ("ScaleDown", case(5, [1.0] * 5, [100, 300, 500, 250, 250], 50), 3, 28, CONTAINERS * 280),
    ("ScaleDownIncludeUnreadyPods", case(5, [1.0] * 5, [100, 300, 500, 250, 250], 50,
                                         [True, True, True, False, False]), 2, 30, CONTAINERS * 300),
    ("ScaleDownExcludeUnscheduledPods", case(5, [1.0] * 5, [100], 50, [True] + [False] * 4,
                                             ["Running"] + ["Pending"] * 4), 1, 10, CONTAINERS * 100),
    ("ScaleDownIgnoresFailedPods", case(5, [1.0] * 7, [100, 300, 500, 250, 250], 50, [True] * 5 + [False] * 2,
                                        ["Running"] * 5 + ["Failed"] * 2), 3, 28, CONTAINERS * 280),
    ("Tolerance", case(3, [0.9, 1.0, 1.1], [1010, 1030, 1020], 100), 3, 102, CONTAINERS * 1020),
    ("SuperfluousMetrics", case(4, [1.0] * 4, [4000, 9500, 3000, 7000, 3200, 2000], 100, extra=2), 24, 587,
     CONTAINERS * 5875),
    ("MissingMetrics", case(4, [1.0] * 4, [400, 95], 100), 3, 24, 495),
    ("MissingMetricsNoChangeEq", case(2, [1.0] * 2, [1000], 100), 2, 100, CONTAINERS * 1000),
    ("MissingMetricsNoChangeGt", case(2, [1.0] * 2, [1900], 100), 2, 190, CONTAINERS * 1900),
    ("MissingMetricsNoChangeLt", case(2, [1.0] * 2, [600], 100), 2, 60, CONTAINERS * 600),
    ("MissingMetricsUnreadyChange", case(3, [1.0] * 3, [100, 450], 50, [False, True, True]), 3, 45,
     CONTAINERS * 450),
    ("MissingMetricsUnreadyScaleUp", case(3, [1.0] * 3, [100, 2000], 50, [False, True, True]), 4, 200,
     CONTAINERS * 2000),
    ("MissingMetricsUnreadyScaleDown", case(4, [1.0] * 4, [100, 100, 100], 50, [False, True, True, True]), 3, 10,
     CONTAINERS * 100),
    ("DuringRollingUpdateWithMaxSurge", case(2, [1.0] * 3, [100, 100], 50), 2, 10, CONTAINERS * 100),
]


@pytest.mark.parametrize(("arguments", "replicas", "utilization", "value"),
                         [c[1:] for c in UTILIZATION_CASES], ids=[c[0] for c in UTILIZATION_CASES])
def test_utilization_replicas_as_the_real_calculator(arguments, replicas, utilization, value):
    current, target, pods, metrics, requests = arguments
    assert utilization_replicas(current, target, pods, metrics, requests, "cpu") == (replicas, utilization, value)


@pytest.mark.parametrize(("current", "levels", "target", "readiness", "expected", "usage"), [
    (3, [20000, 10000, 30000], 15000, None, 4, 20000),  # ScaleUpCM
    (3, [50000, 10000, 30000], 15000, [True, True, False], 6, 30000),  # ScaleUpCMUnreadyHotCpuNoLessScale
    (5, [12000] * 5, 20000, None, 3, 12000),  # ScaleDownCM
    (3, [20000, 21000, 21000], 20000, None, 3, 20666),  # ToleranceCM
])
def test_average_value_replicas_as_the_plain_metric_calculator(current, levels, target, readiness, expected, usage):
    pods = [PodInfo(f"pod-{i}", ready=(readiness[i] if readiness else True)) for i in range(len(levels))]
    metrics = {f"pod-{i}": level for i, level in enumerate(levels)}
    assert average_value_replicas(current, target, pods, metrics, "qps") == (expected, usage)


def test_calculator_errors_and_tolerances():
    with pytest.raises(MetricError, match="no pods returned by selector"):
        utilization_replicas(1, 50, [], {}, {})
    with pytest.raises(MetricError, match=r"did not receive metrics for targeted pods \(pods might be unready\)"):
        utilization_replicas(1, 50, [PodInfo("a", phase="Pending")], {}, {"a": 100})
    with pytest.raises(MetricError, match="no metrics returned matched known pods"):
        utilization_replicas(1, 100, [PodInfo("a")], {"an-older-pod-name": 100}, {"a": 1000})
    pods = [PodInfo("a"), PodInfo("b")]
    # 115% of a 100% target: outside the default 10% tolerance, inside a 20% scale-up tolerance
    assert utilization_replicas(2, 100, pods, {"a": 1150, "b": 1150}, {"a": 1000, "b": 1000})[0] == 3
    assert utilization_replicas(2, 100, pods, {"a": 1150, "b": 1150}, {"a": 1000, "b": 1000}, "cpu",
                                Tolerances(0.1, 0.2))[0] == 2


def test_limits():
    # without a behavior: at most max(2 x current, 4), within min/max
    assert limits_without_behavior(1, 10, 1, 20) == (4, "ScaleUpLimit", "the desired replica count is increasing "
                                                                          "faster than the maximum scale rate")
    assert limits_without_behavior(5, 12, 1, 20)[:2] == (10, "ScaleUpLimit")
    assert limits_without_behavior(5, 12, 1, 8)[:2] == (8, "TooManyReplicas")
    assert limits_without_behavior(5, 1, 2, 8) == (2, "TooFewReplicas", "the desired replica count is less than the "
                                                                        "minimum replica count")
    assert limits_without_behavior(5, 6, 2, 8) == (6, "DesiredWithinRange", "the desired count is within the "
                                                                            "acceptable range")
    # the default behavior: up by max(4 pods, 100%) a 15 s period, down by 100%
    up = {"selectPolicy": "Max", "policies": [{"type": "Pods", "value": 4, "periodSeconds": 15},
                                              {"type": "Percent", "value": 100, "periodSeconds": 15}]}
    assert scale_up_limit(3, [], [], up, 100.0) == 7
    assert scale_up_limit(10, [], [], up, 100.0) == 20
    assert scale_up_limit(10, [(95.0, 4)], [], up, 100.0) == 12  # 4 were added within the period: from 6
    assert scale_up_limit(10, [(80.0, 4)], [], up, 100.0) == 20  # outside the period
    assert scale_up_limit(10, [], [], dict(up, selectPolicy="Min"), 100.0) == 14
    assert scale_up_limit(10, [], [], dict(up, selectPolicy="Disabled"), 100.0) == 10
    down = {"selectPolicy": "Max", "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}]}
    assert scale_down_limit(5, [], [], down, 100.0) == 4
    assert scale_down_limit(5, [], [(70.0, 1)], down, 100.0) == 5  # one removed a minute ago: none more
    assert scale_down_limit(5, [], [], {"selectPolicy": "Max", "policies": [
        {"type": "Percent", "value": 100, "periodSeconds": 15}]}, 100.0) == 0


def test_quantities_and_targets():
    assert [format_milli(v) for v in (40, 1500, 2000, 104857600000, 200000000000, 0)] == [
        "40m", "1500m", "2", "104857600", "200M", "0"]
    hpa = {"spec": {"metrics": [
        {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}},
        {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue",
                                                                       "averageValue": "200Mi"}}},
        {"type": "Pods", "pods": {"metric": {"name": "qps"}, "target": {"type": "AverageValue",
                                                                        "averageValue": "10"}}}]},
        "status": {"currentMetrics": [{"type": "Resource", "resource": {"name": "cpu", "current": {
            "averageUtilization": 40, "averageValue": "40m"}}}, {"type": ""}]}}
    assert hpa_targets(hpa) == "cpu: 40%/70%, memory: <unknown>/200Mi + 1 more..."
    assert hpa_targets({"spec": {"targetCPUUtilizationPercentage": 50}}) == "cpu: <unknown>/50%"
    assert hpa_targets({"spec": {}}) == "<none>"


# -- the controller over a bare store ----------------------------------------------------------------------------

class Clock:
    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@pytest.fixture
def kube():
    clock = Clock()
    cluster = Kube(StaticCloud(info(group("general", 3))), clock=clock)
    cluster.clock = clock
    cluster.wait(lambda: len(cluster.list("nodes")) == 3)
    yield cluster
    cluster.controllers.stop()


def web(replicas: int = 2, cpu: str = "100m") -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [
                         {"name": "web", "image": "nginx:1.27",
                          "resources": {"requests": {"cpu": cpu, "memory": "64Mi"}}}]}}}}


def autoscaler(minimum: int = 1, maximum: int = 5, utilization: int = 70, **spec: Any) -> dict:
    body = {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "minReplicas": minimum, "maxReplicas": maximum,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
                "type": "Utilization", "averageUtilization": utilization}}}]}
    body.update(spec)
    return {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "web", "namespace": "default"}, "spec": body}


def conditions(hpa: dict) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in (hpa.get("status") or {}).get("conditions") or []}


def events(kube: Kube, reason: str) -> list[dict]:
    return [e for e in kube.list("events", "default") if e["involvedObject"].get("kind") ==
            "HorizontalPodAutoscaler" and e["reason"] == reason]


def with_metrics_server(kube: Kube) -> None:
    kube.cloud.info = dataclasses.replace(kube.cloud.info, addons=(
        Addon("metrics-server", "v0.8.0-eksbuild.1", "ACTIVE", configuration='{"replicas": 1}'),))
    kube.controllers.sync(5)
    kube.wait(lambda: conditions(kube.get("apiservices", "v1beta1.metrics.k8s.io", None) or {}).get(
        "Available") == ("True", "Passed"))


def hpa_when(kube: Kube, predicate: Any) -> dict:
    """The HPA ``web`` once ``predicate(hpa)`` holds."""

    def probe() -> dict | None:
        hpa = kube.get("horizontalpodautoscalers", "web")
        return hpa if hpa is not None and predicate(hpa) else None

    return kube.wait(probe)


def replicas_of(kube: Kube) -> int:
    return kube.get("deployments", "web")["spec"]["replicas"]


def test_without_the_metrics_api_scaling_is_inactive(kube):
    kube.apply(web(2), autoscaler())
    hpa = hpa_when(kube, lambda hpa: "ScalingActive" in conditions(hpa))
    assert conditions(hpa) == {"AbleToScale": ("True", "SucceededGetScale"),
                               "ScalingActive": ("False", "FailedGetResourceMetric")}
    error = ("failed to get cpu utilization: unable to get metrics for resource cpu: unable to fetch metrics from "
             "resource metrics API: the server could not find the requested resource (get pods.metrics.k8s.io)")
    active = next(c for c in hpa["status"]["conditions"] if c["type"] == "ScalingActive")
    assert active["message"] == f"the HPA was unable to compute the replica count: {error}"
    assert hpa["status"]["currentMetrics"] == [{"type": ""}]
    assert (hpa["status"]["currentReplicas"], hpa["status"]["desiredReplicas"]) == (2, 0)
    assert [e["message"] for e in events(kube, "FailedGetResourceMetric")] == [error]
    assert [e["message"] for e in events(kube, "FailedComputeMetricsReplicas")] == [
        f"invalid metrics (1 invalid out of 1), first error is: {error}"]
    assert events(kube, "FailedGetResourceMetric")[0]["source"] == {"component": "horizontal-pod-autoscaler"}
    assert hpa_targets(hpa) == "cpu: <unknown>/70%" and replicas_of(kube) == 2

    with_metrics_server(kube)
    hpa = hpa_when(kube, lambda hpa: conditions(hpa).get("ScalingActive") == ("True", "ValidMetricFound"))
    assert conditions(hpa) == {"AbleToScale": ("True", "ReadyForNewScale"),
                               "ScalingActive": ("True", "ValidMetricFound"),
                               "ScalingLimited": ("False", "DesiredWithinRange")}
    assert hpa["status"]["currentMetrics"] == [{"type": "Resource", "resource": {
        "name": "cpu", "current": {"averageUtilization": 40, "averageValue": "40m"}}}]
    # ceil(2 x 40/70) = 2: nothing to do
    assert (hpa["status"]["currentReplicas"], hpa["status"]["desiredReplicas"]) == (2, 2)
    assert "lastScaleTime" not in hpa["status"] and hpa_targets(hpa) == "cpu: 40%/70%"


def test_scaling_up_to_the_maximum_then_down_after_the_stabilization_window(kube):
    with_metrics_server(kube)
    kube.apply(web(2), autoscaler(maximum=5, utilization=20))
    # 40% of a 20% target: twice the replicas, as new pods become Ready, up to maxReplicas
    kube.wait(lambda: replicas_of(kube) == 5)
    hpa = hpa_when(kube, lambda hpa: hpa["status"].get("currentReplicas") == 5)
    assert conditions(hpa)["ScalingLimited"] == ("True", "TooManyReplicas")
    assert hpa["status"]["lastScaleTime"]
    rescales = [e["message"] for e in events(kube, "SuccessfulRescale")]
    assert rescales[0] == ("New size: 4; reason: cpu resource utilization (percentage of request) above target")
    assert rescales[-1].startswith("New size: 5; reason: cpu resource utilization")
    kube.wait(lambda: len([p for p in kube.list("pods", "default", "app=web")
                           if p["status"].get("phase") == "Running"]) == 5)

    patched = kube.get("horizontalpodautoscalers", "web")
    patched["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] = 70
    kube.store.update(kube.rt("horizontalpodautoscalers"), patched)
    # ceil(5 x 40/70) = 3, held at 5 by the 5-minute downscale stabilization window
    hpa = hpa_when(kube, lambda hpa: conditions(hpa).get("AbleToScale") == ("True", "ScaleDownStabilized"))
    assert hpa["status"]["desiredReplicas"] == 5 and replicas_of(kube) == 5
    kube.clock.offset += 301
    kube.controllers.mark_dirty()
    kube.wait(lambda: replicas_of(kube) == 3)
    assert events(kube, "SuccessfulRescale")[-1]["message"] == "New size: 3; reason: All metrics below target"


def test_min_replicas_and_behavior_policies(kube):
    with_metrics_server(kube)
    behavior = {"scaleDown": {"stabilizationWindowSeconds": 0,
                              "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}]}}
    kube.apply(web(5), autoscaler(minimum=1, maximum=10, utilization=80, behavior=behavior))
    stored = kube.get("horizontalpodautoscalers", "web")
    assert stored["spec"]["behavior"]["scaleUp"] == {  # the API server's defaults
        "stabilizationWindowSeconds": 0, "selectPolicy": "Max",
        "policies": [{"type": "Pods", "value": 4, "periodSeconds": 15},
                     {"type": "Percent", "value": 100, "periodSeconds": 15}]}
    # ceil(5 x 40/80) = 3, but one pod a minute
    kube.wait(lambda: replicas_of(kube) == 4)
    hpa = hpa_when(kube, lambda hpa: conditions(hpa).get("ScalingLimited") == ("True", "ScaleDownLimit"))
    assert hpa["status"]["desiredReplicas"] == 4
    time.sleep(0.2)
    assert replicas_of(kube) == 4
    kube.clock.offset += 61
    kube.controllers.mark_dirty()
    kube.wait(lambda: replicas_of(kube) == 3)

    scaled = kube.get("horizontalpodautoscalers", "web")
    scaled["spec"]["minReplicas"] = 6
    kube.store.update(kube.rt("horizontalpodautoscalers"), scaled)
    kube.wait(lambda: replicas_of(kube) == 6)
    assert events(kube, "SuccessfulRescale")[-1]["message"] == (
        "New size: 6; reason: Current number of replicas below Spec.MinReplicas")


def test_a_missing_target_cannot_be_scaled(kube):
    kube.apply(autoscaler())
    hpa = hpa_when(kube, lambda hpa: hpa.get("status", {}).get("conditions"))
    condition = hpa["status"]["conditions"][0]
    assert (condition["type"], condition["status"], condition["reason"]) == ("AbleToScale", "False", "FailedGetScale")
    assert condition["message"] == ('the HPA controller was unable to get the target\'s current scale: '
                                    'deployments.apps "web" not found')
    assert events(kube, "FailedGetScale")[0]["type"] == "Warning"
    kube.apply(web(0))
    hpa = hpa_when(kube, lambda hpa: "ScalingActive" in conditions(hpa))
    assert conditions(hpa)["ScalingActive"] == ("False", "ScalingDisabled")
    assert replicas_of(kube) == 0
