"""Server-side printing: the ``meta.k8s.io/v1`` Table that ``kubectl get`` asks for.

Column definitions and cells follow kube-apiserver's printers
(``pkg/printers/internalversion``): the columns kubectl shows for pods,
nodes, deployments, services... (priority 1 columns are ``-o wide``'s), the
CRD's ``additionalPrinterColumns`` for custom resources, and NAME/CREATED AT
for built-in kinds without a printer.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
from typing import Any, Callable

from .resources import ResourceType
from .selectors import selector_string

__all__ = ["human_duration", "jsonpath", "table"]

_DESCRIPTIONS = {
    "Name": "Name must be unique within a namespace. Is required when creating resources, although some resources "
            "may allow a client to request the generation of an appropriate name automatically. Name is primarily "
            "intended for creation idempotence and configuration definition. Cannot be updated. More info: "
            "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names",
    "Age": "CreationTimestamp is a timestamp representing the server time when this object was created. It is not "
           "guaranteed to be set in happens-before order across separate operations. Clients may not set this "
           "value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for "
           "lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md"
           "#metadata",
}


def human_duration(seconds: float) -> str:
    """k8s.io/apimachinery/pkg/util/duration.HumanDuration."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        rest = s % 60
        return f"{minutes}m" if rest == 0 else f"{minutes}m{rest}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h" if rest == 0 else f"{hours}h{rest}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{hours // 24}d" if rest == 0 else f"{hours // 24}d{rest}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        rest = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if rest == 0 else f"{hours // 24 // 365}y{rest}d"
    return f"{hours // 24 // 365}y"


def _parse_time(value: Any) -> _dt.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return _dt.datetime.strptime(value.replace(".000000", "")[:20], "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=_dt.timezone.utc)
    except ValueError:
        try:
            return _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None


def _age(value: Any, now: _dt.datetime) -> str:
    moment = _parse_time(value)
    if moment is None:
        return "<unknown>"
    return human_duration((now - moment).total_seconds())


def _col(name: str, kind: str = "string", priority: int = 0, fmt: str = "", description: str = "") -> dict:
    column: dict[str, Any] = {"name": name, "type": kind, "format": fmt,
                              "description": description or _DESCRIPTIONS.get(name, name), "priority": priority}
    return column


NAME = _col("Name", fmt="name")
AGE = _col("Age")


def _get(obj: Any, *path: Any) -> Any:
    for key in path:
        if isinstance(key, int):
            if not isinstance(obj, list) or len(obj) <= key:
                return None
            obj = obj[key]
        else:
            if not isinstance(obj, dict):
                return None
            obj = obj.get(key)
    return obj


def _containers(spec: Any) -> tuple[str, str]:
    containers = (spec or {}).get("containers") or []
    names = ",".join(str(c.get("name", "")) for c in containers if isinstance(c, dict))
    images = ",".join(str(c.get("image", "")) for c in containers if isinstance(c, dict))
    return names, images


def _pod_status(pod: dict) -> tuple[str, int, int, int]:
    """(STATUS, ready, total, restarts) as kubectl shows a pod."""
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    total = len(spec.get("containers") or [])
    ready = 0
    restarts = 0
    reason = status.get("reason") or status.get("phase") or "Pending"
    initializing = False
    for index, cs in enumerate(status.get("initContainerStatuses") or []):
        restarts += int(cs.get("restartCount") or 0)
        state = cs.get("state") or {}
        terminated = state.get("terminated")
        if terminated and terminated.get("exitCode") == 0:
            continue
        if terminated:
            reason = "Init:" + (terminated.get("reason") or f"ExitCode:{terminated.get('exitCode')}")
        elif (state.get("waiting") or {}).get("reason") not in (None, "", "PodInitializing"):
            reason = "Init:" + state["waiting"]["reason"]
        else:
            reason = f"Init:{index}/{len(spec.get('initContainers') or [])}"
        initializing = True
        break
    if not initializing:
        has_running = False
        for cs in reversed(status.get("containerStatuses") or []):
            restarts += int(cs.get("restartCount") or 0)
            state = cs.get("state") or {}
            if (state.get("waiting") or {}).get("reason"):
                reason = state["waiting"]["reason"]
            elif (state.get("terminated") or {}).get("reason"):
                reason = state["terminated"]["reason"]
            elif state.get("terminated"):
                terminated = state["terminated"]
                reason = (f"Signal:{terminated['signal']}" if terminated.get("signal")
                          else f"ExitCode:{terminated.get('exitCode')}")
            elif state.get("running") and cs.get("ready"):
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            conditions = status.get("conditions") or []
            reason = "Running" if any(c.get("type") == "Ready" and c.get("status") == "True"
                                      for c in conditions) else "NotReady"
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        reason = "Unknown" if status.get("reason") == "NodeLost" else "Terminating"
    return reason, ready, total, restarts


def _access_modes(modes: Any) -> str:
    short = {"ReadWriteOnce": "RWO", "ReadOnlyMany": "ROX", "ReadWriteMany": "RWX", "ReadWriteOncePod": "RWOP"}
    return ",".join(short.get(m, m) for m in modes or [])


def _service_external_ip(service: dict) -> str:
    spec = service.get("spec") or {}
    kind = spec.get("type", "ClusterIP")
    external = list(spec.get("externalIPs") or [])
    if kind == "ExternalName":
        return spec.get("externalName", "")
    if kind == "LoadBalancer":
        ingress = _get(service, "status", "loadBalancer", "ingress") or []
        addresses = [i.get("ip") or i.get("hostname") for i in ingress if i.get("ip") or i.get("hostname")]
        addresses += external
        return ",".join(addresses) if addresses else "<pending>"
    return ",".join(external) if external else "<none>"


def _service_ports(service: dict) -> str:
    parts = []
    for port in _get(service, "spec", "ports") or []:
        text = str(port.get("port"))
        if port.get("nodePort"):
            text += f":{port['nodePort']}"
        parts.append(f"{text}/{port.get('protocol', 'TCP')}")
    return ",".join(parts) if parts else "<none>"


def _node_status(node: dict) -> str:
    conditions = {c.get("type"): c.get("status") for c in _get(node, "status", "conditions") or []}
    ready = conditions.get("Ready")
    text = "Ready" if ready == "True" else ("NotReady" if ready == "False" else "Unknown")
    if _get(node, "spec", "unschedulable"):
        text += ",SchedulingDisabled"
    return text


def _node_roles(node: dict) -> str:
    roles = []
    for key, value in (_get(node, "metadata", "labels") or {}).items():
        if key.startswith("node-role.kubernetes.io/"):
            roles.append(key.split("/", 1)[1])
        elif key == "kubernetes.io/role":
            roles.append(value)
    return ",".join(sorted(set(r for r in roles if r))) or "<none>"


def _node_address(node: dict, kind: str) -> str:
    for address in _get(node, "status", "addresses") or []:
        if address.get("type") == kind:
            return address.get("address", "")
    return "<none>"


def _none(value: Any) -> Any:
    return "<none>" if value in (None, "", []) else value


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def _data_count(obj: dict) -> int:
    return len(obj.get("data") or {}) + len(obj.get("binaryData") or {})


def _endpoints(endpoints: dict) -> str:
    parts = []
    for subset in endpoints.get("subsets") or []:
        ports = [p.get("port") for p in subset.get("ports") or []] or [None]
        for address in subset.get("addresses") or []:
            for port in ports:
                parts.append(f"{address.get('ip')}:{port}" if port else str(address.get("ip")))
    if not parts:
        return "<none>"
    if len(parts) > 3:
        return ",".join(parts[:3]) + f" + {len(parts) - 3} more..."
    return ",".join(parts)


def _job_status(job: dict) -> str:
    for condition in _get(job, "status", "conditions") or []:
        if condition.get("status") != "True":
            continue
        kind = condition.get("type")
        if kind == "Complete":
            return "Complete"
        if kind == "Failed":
            return "Failed"
        if kind == "FailureTarget":
            return "FailureTarget"
        if kind == "SuccessCriteriaMet":
            return "SuccessCriteriaMet"
        if kind == "Suspended":
            return "Suspended"
    if _get(job, "metadata", "deletionTimestamp"):
        return "Terminating"
    return "Running"


def _job_duration(job: dict, now: _dt.datetime) -> str:
    start = _parse_time(_get(job, "status", "startTime"))
    if start is None:
        return ""
    end = _parse_time(_get(job, "status", "completionTime")) or now
    return human_duration((end - start).total_seconds())


Row = Callable[[dict, _dt.datetime], list]


def _printers() -> dict[tuple[str, str], tuple[list[dict], Row]]:
    wide_containers = [_col("Containers", priority=1, description="Names of each container in the template."),
                       _col("Images", priority=1, description="Images referenced by each container in the "
                                                                  "template.")]
    selector = _col("Selector", priority=1, description="A label query over pods.")

    def pod(o: dict, now: _dt.datetime) -> list:
        reason, ready, total, restarts = _pod_status(o)
        gates = _get(o, "spec", "readinessGates") or []
        return [o["metadata"]["name"], f"{ready}/{total}", reason, str(restarts), _age(_meta(o, "creationTimestamp"),
                                                                                   now),
                _none(_get(o, "status", "podIP")), _none(_get(o, "spec", "nodeName")),
                _none(_get(o, "status", "nominatedNodeName")),
                f"0/{len(gates)}" if gates else "<none>"]

    def deployment(o: dict, now: _dt.datetime) -> list:
        names, images = _containers(_get(o, "spec", "template", "spec"))
        desired = _int(_get(o, "spec", "replicas"))
        return [o["metadata"]["name"], f"{_int(_get(o, 'status', 'readyReplicas'))}/{desired}",
                _int(_get(o, "status", "updatedReplicas")), _int(_get(o, "status", "availableReplicas")),
                _age(_meta(o, "creationTimestamp"), now), names, images, selector_string(_get(o, "spec", "selector"))]

    def replicaset(o: dict, now: _dt.datetime) -> list:
        names, images = _containers(_get(o, "spec", "template", "spec"))
        return [o["metadata"]["name"], _int(_get(o, "spec", "replicas")), _int(_get(o, "status", "replicas")),
                _int(_get(o, "status", "readyReplicas")), _age(_meta(o, "creationTimestamp"), now), names, images,
                selector_string(_get(o, "spec", "selector"))]

    def statefulset(o: dict, now: _dt.datetime) -> list:
        names, images = _containers(_get(o, "spec", "template", "spec"))
        return [o["metadata"]["name"],
                f"{_int(_get(o, 'status', 'readyReplicas'))}/{_int(_get(o, 'spec', 'replicas'))}",
                _age(_meta(o, "creationTimestamp"), now), names, images]

    def daemonset(o: dict, now: _dt.datetime) -> list:
        names, images = _containers(_get(o, "spec", "template", "spec"))
        node_selector = _get(o, "spec", "template", "spec", "nodeSelector") or {}
        return [o["metadata"]["name"], _int(_get(o, "status", "desiredNumberScheduled")),
                _int(_get(o, "status", "currentNumberScheduled")), _int(_get(o, "status", "numberReady")),
                _int(_get(o, "status", "updatedNumberScheduled")), _int(_get(o, "status", "numberAvailable")),
                ",".join(f"{k}={v}" for k, v in sorted(node_selector.items())) or "<none>",
                _age(_meta(o, "creationTimestamp"), now), names, images,
                selector_string(_get(o, "spec", "selector"))]

    def job(o: dict, now: _dt.datetime) -> list:
        names, images = _containers(_get(o, "spec", "template", "spec"))
        completions = _get(o, "spec", "completions")
        succeeded = _int(_get(o, "status", "succeeded"))
        if completions is not None:
            completion_text = f"{succeeded}/{completions}"
        else:
            parallelism = _int(_get(o, "spec", "parallelism"))
            completion_text = f"{succeeded}/1 of {parallelism}" if parallelism > 1 else f"{succeeded}/1"
        return [o["metadata"]["name"], _job_status(o), completion_text, _job_duration(o, now),
                _age(_meta(o, "creationTimestamp"), now), names, images, selector_string(_get(o, "spec",
                                                                                              "selector"))]

    def cronjob(o: dict, now: _dt.datetime) -> list:
        names, images = _containers(_get(o, "spec", "jobTemplate", "spec", "template", "spec"))
        last = _get(o, "status", "lastScheduleTime")
        return [o["metadata"]["name"], _get(o, "spec", "schedule") or "", _get(o, "spec", "timeZone") or "<none>",
                bool(_get(o, "spec", "suspend")), len(_get(o, "status", "active") or []),
                _age(last, now) if last else "<none>", _age(_meta(o, "creationTimestamp"), now), names, images,
                selector_string(_get(o, "spec", "jobTemplate", "spec", "selector"))]

    def service(o: dict, now: _dt.datetime) -> list:
        spec = o.get("spec") or {}
        sel = spec.get("selector") or {}
        return [o["metadata"]["name"], spec.get("type", "ClusterIP"), spec.get("clusterIP") or "<none>",
                _service_external_ip(o), _service_ports(o), _age(_meta(o, "creationTimestamp"), now),
                ",".join(f"{k}={v}" for k, v in sorted(sel.items())) or "<none>"]

    def node(o: dict, now: _dt.datetime) -> list:
        info = _get(o, "status", "nodeInfo") or {}
        return [o["metadata"]["name"], _node_status(o), _node_roles(o), _age(_meta(o, "creationTimestamp"), now),
                info.get("kubeletVersion", ""), _node_address(o, "InternalIP"), _node_address(o, "ExternalIP"),
                info.get("osImage") or "<unknown>", info.get("kernelVersion") or "<unknown>",
                info.get("containerRuntimeVersion") or "<unknown>"]

    def namespace(o: dict, now: _dt.datetime) -> list:
        return [o["metadata"]["name"], _get(o, "status", "phase") or "", _age(_meta(o, "creationTimestamp"), now)]

    def configmap(o: dict, now: _dt.datetime) -> list:
        return [o["metadata"]["name"], _data_count(o), _age(_meta(o, "creationTimestamp"), now)]

    def secret(o: dict, now: _dt.datetime) -> list:
        return [o["metadata"]["name"], o.get("type", ""), _data_count(o), _age(_meta(o, "creationTimestamp"), now)]

    def serviceaccount(o: dict, now: _dt.datetime) -> list:
        return [o["metadata"]["name"], len(o.get("secrets") or []), _age(_meta(o, "creationTimestamp"), now)]

    def endpoints(o: dict, now: _dt.datetime) -> list:
        return [o["metadata"]["name"], _endpoints(o), _age(_meta(o, "creationTimestamp"), now)]

    def pvc(o: dict, now: _dt.datetime) -> list:
        phase = _get(o, "status", "phase") or ""
        if _meta(o, "deletionTimestamp"):
            phase = "Terminating"
        capacity = _get(o, "status", "capacity", "storage") or ""
        return [o["metadata"]["name"], phase, _get(o, "spec", "volumeName") or "", capacity,
                _access_modes(_get(o, "status", "accessModes")), _get(o, "spec", "storageClassName") or "",
                _get(o, "spec", "volumeAttributesClassName") or "<unset>", _age(_meta(o, "creationTimestamp"), now),
                _get(o, "spec", "volumeMode") or "Filesystem"]

    def pv(o: dict, now: _dt.datetime) -> list:
        claim = _get(o, "spec", "claimRef") or {}
        claim_text = f"{claim.get('namespace')}/{claim.get('name')}" if claim else ""
        phase = _get(o, "status", "phase") or ""
        if _meta(o, "deletionTimestamp"):
            phase = "Terminating"
        return [o["metadata"]["name"], _get(o, "spec", "capacity", "storage") or "",
                _access_modes(_get(o, "spec", "accessModes")), _get(o, "spec", "persistentVolumeReclaimPolicy") or "",
                phase, claim_text, _get(o, "spec", "storageClassName") or "",
                _get(o, "spec", "volumeAttributesClassName") or "<unset>", _get(o, "status", "reason") or "",
                _age(_meta(o, "creationTimestamp"), now), _get(o, "spec", "volumeMode") or "Filesystem"]

    def storageclass(o: dict, now: _dt.datetime) -> list:
        name = o["metadata"]["name"]
        annotations = _meta(o, "annotations") or {}
        if "true" in (annotations.get("storageclass.kubernetes.io/is-default-class"),
                      annotations.get("storageclass.beta.kubernetes.io/is-default-class")):
            name += " (default)"
        return [name, o.get("provisioner", ""), o.get("reclaimPolicy", "Delete"),
                o.get("volumeBindingMode", "Immediate"), bool(o.get("allowVolumeExpansion")),
                _age(_meta(o, "creationTimestamp"), now)]

    def event(o: dict, now: _dt.datetime) -> list:
        involved = o.get("involvedObject") or {}
        last = o.get("lastTimestamp") or o.get("eventTime") or _meta(o, "creationTimestamp")
        first = o.get("firstTimestamp") or o.get("eventTime") or _meta(o, "creationTimestamp")
        source = o.get("reportingComponent") or (o.get("source") or {}).get("component", "")
        kind = str(involved.get("kind", "")).lower()
        return [_age(last, now), o.get("type", ""), o.get("reason", ""), f"{kind}/{involved.get('name', '')}",
                involved.get("fieldPath", ""), source, str(o.get("message", "")).strip(), _age(first, now),
                _int(o.get("count")) or 1, o["metadata"]["name"]]

    def ingress(o: dict, now: _dt.datetime) -> list:
        hosts = [r.get("host") for r in _get(o, "spec", "rules") or [] if r.get("host")]
        ingress_status = _get(o, "status", "loadBalancer", "ingress") or []
        address = ",".join(i.get("ip") or i.get("hostname") or "" for i in ingress_status)
        ports = "80, 443" if _get(o, "spec", "tls") else "80"
        return [o["metadata"]["name"], _get(o, "spec", "ingressClassName") or "<none>",
                ",".join(hosts) or "*", address, ports, _age(_meta(o, "creationTimestamp"), now)]

    def ingressclass(o: dict, now: _dt.datetime) -> list:
        params = _get(o, "spec", "parameters")
        params_text = "<none>"
        if params:
            params_text = f"{params.get('kind')}.{params.get('apiGroup', '')}/{params.get('name')}"
        return [o["metadata"]["name"], _get(o, "spec", "controller") or "", params_text,
                _age(_meta(o, "creationTimestamp"), now)]

    def binding(o: dict, now: _dt.datetime) -> list:
        ref = o.get("roleRef") or {}
        subjects = o.get("subjects") or []

        def of(kind: str) -> str:
            names = []
            for s in subjects:
                if s.get("kind") != kind:
                    continue
                names.append(f"{s.get('namespace')}/{s.get('name')}" if kind == "ServiceAccount" else s.get("name"))
            return ", ".join(names)

        return [o["metadata"]["name"], f"{ref.get('kind')}/{ref.get('name')}",
                _age(_meta(o, "creationTimestamp"), now), of("User"), of("Group"), of("ServiceAccount")]

    def hpa(o: dict, now: _dt.datetime) -> list:
        ref = _get(o, "spec", "scaleTargetRef") or {}
        min_replicas = _get(o, "spec", "minReplicas")
        return [o["metadata"]["name"], f"{ref.get('kind')}/{ref.get('name')}", hpa_targets(o),
                "<unset>" if min_replicas is None else str(min_replicas), _int(_get(o, "spec", "maxReplicas")),
                _int(_get(o, "status", "currentReplicas")), _age(_meta(o, "creationTimestamp"), now)]

    def apiservice(o: dict, now: _dt.datetime) -> list:
        service = _get(o, "spec", "service")
        where = f"{service.get('namespace')}/{service.get('name')}" if isinstance(service, dict) else "Local"
        available = "Unknown"
        for entry in _get(o, "status", "conditions") or []:
            if entry.get("type") == "Available":
                available = entry.get("status") or "Unknown"
                if available != "True" and entry.get("reason"):
                    available = f"{available} ({entry['reason']})"
        return [o["metadata"]["name"], where, available, _age(_meta(o, "creationTimestamp"), now)]

    def pdb(o: dict, now: _dt.datetime) -> list:
        return [o["metadata"]["name"], _none(_get(o, "spec", "minAvailable")) if _get(o, "spec", "minAvailable")
                is not None else "N/A", _get(o, "spec", "maxUnavailable") if _get(o, "spec", "maxUnavailable")
                is not None else "N/A", _int(_get(o, "status", "disruptionsAllowed")),
                _age(_meta(o, "creationTimestamp"), now)]

    def priorityclass(o: dict, now: _dt.datetime) -> list:
        return [o["metadata"]["name"], _int(o.get("value")), bool(o.get("globalDefault")),
                _age(_meta(o, "creationTimestamp"), now), o.get("preemptionPolicy") or "PreemptLowerPriority"]

    def lease(o: dict, now: _dt.datetime) -> list:
        return [o["metadata"]["name"], _get(o, "spec", "holderIdentity") or "",
                _age(_meta(o, "creationTimestamp"), now)]

    def endpointslice(o: dict, now: _dt.datetime) -> list:
        ports = ",".join(str(p.get("port")) for p in o.get("ports") or []) or "<unset>"
        addresses = [a for e in o.get("endpoints") or [] for a in e.get("addresses") or []]
        shown = ",".join(addresses[:3]) + (f" + {len(addresses) - 3} more..." if len(addresses) > 3 else "")
        return [o["metadata"]["name"], o.get("addressType", ""), ports, shown or "<unset>",
                _age(_meta(o, "creationTimestamp"), now)]

    def networkpolicy(o: dict, now: _dt.datetime) -> list:
        sel = selector_string(_get(o, "spec", "podSelector"))
        return [o["metadata"]["name"], "<none>" if sel == "<none>" else sel,
                _age(_meta(o, "creationTimestamp"), now)]

    def resourcequota(o: dict, now: _dt.datetime) -> list:
        hard = _get(o, "status", "hard") or _get(o, "spec", "hard") or {}
        used = _get(o, "status", "used") or {}
        requests = ", ".join(f"{k}: {used.get(k, '0')}/{v}" for k, v in sorted(hard.items())
                             if not k.startswith("limits."))
        limits = ", ".join(f"{k}: {used.get(k, '0')}/{v}" for k, v in sorted(hard.items()) if k.startswith("limits."))
        return [o["metadata"]["name"], _age(_meta(o, "creationTimestamp"), now), requests, limits]

    def csidriver(o: dict, now: _dt.datetime) -> list:
        spec = o.get("spec") or {}
        return [o["metadata"]["name"], spec.get("attachRequired", True), spec.get("podInfoOnMount", False),
                spec.get("storageCapacity", False), len(spec.get("tokenRequests") or []) or "<unset>",
                spec.get("requiresRepublish", False), ",".join(spec.get("volumeLifecycleModes") or []),
                _age(_meta(o, "creationTimestamp"), now)]

    deploy_cols = [NAME, _col("Ready", description="Number of the pod with ready state"),
                   _col("Up-to-date", "integer", description="Total number of non-terminated pods targeted by this "
                                                             "deployment that have the desired template spec."),
                   _col("Available", "integer", description="Total number of available pods (ready for at least "
                                                            "minReadySeconds) targeted by this deployment."),
                   AGE] + wide_containers + [selector]
    binding_cols = [NAME, _col("Role", description="Role to which the binding refers."), AGE,
                    _col("Users", priority=1), _col("Groups", priority=1), _col("ServiceAccounts", priority=1)]
    return {
        ("", "Pod"): ([NAME, _col("Ready", description="The aggregate readiness state of this pod for accepting "
                                                       "traffic."),
                       _col("Status", description="The aggregate status of the containers in this pod."),
                       _col("Restarts", "string", description="The number of times the containers in this pod have "
                                                              "been restarted and when the last container in this "
                                                              "pod has restarted."),
                       AGE, _col("IP", priority=1, description="podIP is the IP address allocated to the pod."),
                       _col("Node", priority=1, description="NodeName indicates in which node this pod is "
                                                            "scheduled."),
                       _col("Nominated Node", priority=1, description="nominatedNodeName is set only when this pod "
                                                                      "preempts other pods on the node."),
                       _col("Readiness Gates", priority=1, description="If specified, all readiness gates will be "
                                                                       "evaluated for pod readiness.")], pod),
        ("apps", "Deployment"): (deploy_cols, deployment),
        ("apps", "ReplicaSet"): ([NAME, _col("Desired", "integer"), _col("Current", "integer"),
                                  _col("Ready", "integer"), AGE] + wide_containers + [selector], replicaset),
        ("apps", "StatefulSet"): ([NAME, _col("Ready", description="Number of the pod with ready state"), AGE]
                                  + wide_containers, statefulset),
        ("apps", "DaemonSet"): ([NAME, _col("Desired", "integer"), _col("Current", "integer"),
                                 _col("Ready", "integer"), _col("Up-to-date", "integer"),
                                 _col("Available", "integer"), _col("Node Selector"), AGE] + wide_containers
                                + [selector], daemonset),
        ("batch", "Job"): ([NAME, _col("Status", description="Status of the job."),
                            _col("Completions", description="The completion status of the job."),
                            _col("Duration", description="Time required to complete the job."), AGE]
                           + wide_containers + [selector], job),
        ("batch", "CronJob"): ([NAME, _col("Schedule"), _col("Timezone"), _col("Suspend", "boolean"),
                                _col("Active", "integer"), _col("Last Schedule"), AGE] + wide_containers
                               + [selector], cronjob),
        ("", "Service"): ([NAME, _col("Type"), _col("Cluster-IP"), _col("External-IP"), _col("Port(s)"), AGE,
                           _col("Selector", priority=1)], service),
        ("", "Node"): ([NAME, _col("Status", description="The status of the node"),
                        _col("Roles", description="The roles of the node"), AGE, _col("Version"),
                        _col("Internal-IP", priority=1), _col("External-IP", priority=1),
                        _col("OS-Image", priority=1), _col("Kernel-Version", priority=1),
                        _col("Container-Runtime", priority=1)], node),
        ("", "Namespace"): ([NAME, _col("Status", description="The status of the namespace"), AGE], namespace),
        ("", "ConfigMap"): ([NAME, _col("Data", "integer"), AGE], configmap),
        ("", "Secret"): ([NAME, _col("Type"), _col("Data", "integer"), AGE], secret),
        ("", "ServiceAccount"): ([NAME, _col("Secrets", "integer"), AGE], serviceaccount),
        ("", "Endpoints"): ([NAME, _col("Endpoints"), AGE], endpoints),
        ("", "PersistentVolumeClaim"): ([NAME, _col("Status"), _col("Volume"), _col("Capacity"),
                                         _col("Access Modes"), _col("StorageClass"), _col("VolumeAttributesClass"),
                                         AGE, _col("VolumeMode", priority=1)], pvc),
        ("", "PersistentVolume"): ([NAME, _col("Capacity"), _col("Access Modes"), _col("Reclaim Policy"),
                                    _col("Status"), _col("Claim"), _col("StorageClass"),
                                    _col("VolumeAttributesClass"), _col("Reason"), AGE,
                                    _col("VolumeMode", priority=1)], pv),
        ("storage.k8s.io", "StorageClass"): ([NAME, _col("Provisioner"), _col("ReclaimPolicy"),
                                              _col("VolumeBindingMode"), _col("AllowVolumeExpansion"), AGE],
                                             storageclass),
        ("", "Event"): ([_col("Last Seen"), _col("Type"), _col("Reason"), _col("Object"),
                         _col("Subobject", priority=1), _col("Source", priority=1), _col("Message"),
                         _col("First Seen", priority=1), _col("Count", priority=1),
                         _col("Name", priority=1, fmt="name")], event),
        ("networking.k8s.io", "Ingress"): ([NAME, _col("Class"), _col("Hosts"), _col("Address"), _col("Ports"),
                                            AGE], ingress),
        ("networking.k8s.io", "IngressClass"): ([NAME, _col("Controller"), _col("Parameters"), AGE], ingressclass),
        ("networking.k8s.io", "NetworkPolicy"): ([NAME, _col("Pod-Selector"), AGE], networkpolicy),
        ("rbac.authorization.k8s.io", "RoleBinding"): (binding_cols, binding),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding"): (binding_cols, binding),
        ("autoscaling", "HorizontalPodAutoscaler"): ([NAME, _col("Reference"), _col("Targets"),
                                                      _col("MinPods"), _col("MaxPods", "integer"),
                                                      _col("Replicas", "integer"), AGE], hpa),
        ("apiregistration.k8s.io", "APIService"): ([NAME, _col("Service", description="The reference to the "
                                                                "service that hosts this API endpoint."),
                                                    _col("Available", description="Whether this service is "
                                                                                  "available."), AGE], apiservice),
        ("policy", "PodDisruptionBudget"): ([NAME, _col("Min Available"), _col("Max Unavailable"),
                                             _col("Allowed Disruptions", "integer"), AGE], pdb),
        ("scheduling.k8s.io", "PriorityClass"): ([NAME, _col("Value", "integer"), _col("Global-Default", "boolean"),
                                                  AGE, _col("PreemptionPolicy")], priorityclass),
        ("coordination.k8s.io", "Lease"): ([NAME, _col("Holder"), AGE], lease),
        ("discovery.k8s.io", "EndpointSlice"): ([NAME, _col("AddressType"), _col("Ports"), _col("Endpoints"), AGE],
                                                endpointslice),
        ("", "ResourceQuota"): ([NAME, AGE, _col("Request"), _col("Limit")], resourcequota),
        ("storage.k8s.io", "CSIDriver"): ([NAME, _col("AttachRequired", "boolean"),
                                           _col("PodInfoOnMount", "boolean"), _col("StorageCapacity", "boolean"),
                                           _col("TokenRequests"), _col("RequiresRepublish", "boolean"),
                                           _col("Modes"), AGE], csidriver),
    }


def hpa_targets(o: dict) -> str:
    """The TARGETS of an HPA as kube-apiserver prints them (``formatHPAMetrics``): ``cpu: 40%/70%``."""
    specs = _get(o, "spec", "metrics")
    statuses = _get(o, "status", "currentMetrics") or []
    if not specs:
        cpu = _get(o, "spec", "targetCPUUtilizationPercentage")  # an autoscaling/v1 object (no conversion here)
        if cpu is None:
            return "<none>"
        specs = [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization",
                                                                             "averageUtilization": cpu}}}]
    texts = []
    for index, spec in enumerate(specs):
        kind = spec.get("type")
        current_status = statuses[index] if index < len(statuses) and isinstance(statuses[index], dict) else {}
        if kind == "Resource" or kind == "ContainerResource":
            key = "resource" if kind == "Resource" else "containerResource"
            source = spec.get(key) or {}
            target = source.get("target") or {}
            current = (current_status.get(key) or {}).get("current") or {}
            prefix = f"{source.get('name')}: " if kind == "Resource" else ""
            if target.get("averageValue") is not None:
                value = current.get("averageValue") if current_status.get(key) else None
                texts.append(f"{prefix}{value if value is not None else '<unknown>'}/{target['averageValue']}")
            else:
                utilization = current.get("averageUtilization")
                shown = f"{utilization}%" if utilization is not None else "<unknown>"
                wanted = target.get("averageUtilization")
                texts.append(f"{prefix}{shown}/{f'{wanted}%' if wanted is not None else '<auto>'}")
        elif kind == "Pods":
            target = (spec.get("pods") or {}).get("target") or {}
            current = ((current_status.get("pods") or {}).get("current") or {}).get("averageValue")
            texts.append(f"{current if current is not None else '<unknown>'}/{target.get('averageValue')}")
        elif kind in ("Object", "External"):
            key = kind.lower()
            target = (spec.get(key) or {}).get("target") or {}
            current = (current_status.get(key) or {}).get("current") or {}
            if target.get("averageValue") is not None:
                value = current.get("averageValue")
                texts.append(f"{value if value is not None else '<unknown>'}/{target['averageValue']} (avg)")
            else:
                value = current.get("value")
                texts.append(f"{value if value is not None else '<unknown>'}/{target.get('value')}")
        else:
            texts.append("<unknown type>")
    if len(texts) > 2:
        return f"{', '.join(texts[:2])} + {len(texts) - 2} more..."
    return ", ".join(texts)


def _meta(obj: dict, key: str) -> Any:
    return (obj.get("metadata") or {}).get(key)


_PRINTERS = _printers()


# -- JSONPath (what additionalPrinterColumns use) -------------------------------------------------

_TOKEN = re.compile(r"\.([A-Za-z0-9_\-$/]+)|\[(\*|-?\d+)\]|\[\?\(@\.([A-Za-z0-9_.\-]+)\s*(==|!=)\s*['\"]([^'\"]*)['\"]"
                    r"\)\]|\['([^']+)'\]")


def jsonpath(obj: Any, path: str) -> list:
    """The values a (simple) Kubernetes JSONPath selects: ``.a.b``, ``[0]``, ``[*]``, ``[?(@.k=="v")]``."""
    text = path.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1]
    if text.startswith("$"):
        text = text[1:]
    values = [obj]
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match:
            return []
        position = match.end()
        key, index, filter_key, op, filter_value, quoted = match.groups()
        key = key or quoted
        nxt: list = []
        for value in values:
            if key is not None:
                if isinstance(value, dict) and key in value:
                    nxt.append(value[key])
            elif index is not None:
                if isinstance(value, list):
                    if index == "*":
                        nxt.extend(value)
                    else:
                        i = int(index)
                        if -len(value) <= i < len(value):
                            nxt.append(value[i])
                elif index == "*" and isinstance(value, dict):
                    nxt.extend(value.values())
            elif filter_key is not None and isinstance(value, list):
                for item in value:
                    found = jsonpath(item, "." + filter_key)
                    actual = str(found[0]) if found else None
                    if (op == "==" and actual == filter_value) or (op == "!=" and actual != filter_value):
                        nxt.append(item)
        values = nxt
    return values


def _custom_cell(obj: dict, column: dict, now: _dt.datetime) -> Any:
    values = jsonpath(obj, column.get("jsonPath", ""))
    kind = column.get("type", "string")
    if not values:
        return None
    value = values[0] if len(values) == 1 else values
    if kind == "date":
        return _age(value, now) if isinstance(value, str) else None
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    if kind == "integer" and isinstance(value, (int, float)):
        return int(value)
    if kind == "string":
        return value if isinstance(value, str) else (json.dumps(value) if not isinstance(value, bool) else
                                                     str(value).lower())
    return value


def _columns_and_row(rt: ResourceType) -> tuple[list[dict], Row]:
    if rt.custom:
        custom = list(rt.printer_columns)
        columns = [NAME]
        has_age = False
        for column in custom:
            kind = column.get("type", "string")
            columns.append(_col(column.get("name", ""), "string" if kind == "date" else kind,
                                int(column.get("priority") or 0), column.get("format", ""),
                                column.get("description", "")))
            has_age = has_age or column.get("jsonPath") == ".metadata.creationTimestamp"
        if not custom:
            columns.append(AGE)

        def row(o: dict, now: _dt.datetime) -> list:
            cells = [o["metadata"]["name"]]
            cells += [_custom_cell(o, column, now) for column in custom]
            if not custom:
                cells.append(_age(_meta(o, "creationTimestamp"), now))
            return cells

        return columns, row
    printer = _PRINTERS.get((rt.group, rt.kind))
    if printer is not None:
        return printer
    created = _col("Created At", "date", description=_DESCRIPTIONS["Age"])

    def default_row(o: dict, now: _dt.datetime) -> list:
        return [o["metadata"]["name"], _meta(o, "creationTimestamp")]

    return [NAME, created], default_row


def table(rt: ResourceType, items: list[dict], *, include_object: str = "Metadata", resource_version: str = "",
          continue_token: str = "", remaining: int | None = None, now: _dt.datetime | None = None,
          list_kind: bool = True) -> dict:
    """A ``meta.k8s.io/v1`` Table of ``items`` (``include_object``: None, Metadata or Object)."""
    now = now or _dt.datetime.now(_dt.timezone.utc)
    columns, row = _columns_and_row(rt)
    rows = []
    for item in items:
        entry: dict[str, Any] = {"cells": row(item, now)}
        if include_object == "Object":
            entry["object"] = item
        elif include_object != "None":
            entry["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                               "metadata": item.get("metadata") or {}}
        rows.append(entry)
    metadata: dict[str, Any] = {}
    if resource_version:
        metadata["resourceVersion"] = resource_version
    if continue_token:
        metadata["continue"] = continue_token
    if remaining is not None:
        metadata["remainingItemCount"] = remaining
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": metadata, "columnDefinitions": columns,
            "rows": rows}
