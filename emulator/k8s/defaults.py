"""Defaulting and validation of built-in kinds, as the API server does it on every write.

Only what clients see matters: the defaults that ``kubectl get -o yaml`` and
``kubectl diff`` show (a Deployment's strategy, a PodSpec's dnsPolicy...),
the status a new object starts with, and the validation errors that reject
an obviously wrong object with ``422 Invalid`` worded like Kubernetes.
"""

from __future__ import annotations

import re
from typing import Any

from .errors import invalid
from .selectors import label_selector_from_dict

__all__ = ["apply_defaults", "initial_status", "validate", "validate_name"]

DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
DNS1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")

SUBDOMAIN_MESSAGE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
LABEL_MESSAGE = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and "
    "end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
DNS1035_MESSAGE = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
    "character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for "
    "validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)

# kinds whose names are DNS-1123 labels, DNS-1035 labels, or path segments (anything but / and %)
_LABEL_NAMED = {("", "Namespace")}
_DNS1035_NAMED = {("", "Service")}
_PATH_SEGMENT_NAMED = {
    ("rbac.authorization.k8s.io", "Role"),
    ("rbac.authorization.k8s.io", "ClusterRole"),
    ("rbac.authorization.k8s.io", "RoleBinding"),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
}
_POD_TEMPLATE_PATHS = {
    ("apps", "Deployment"): ("spec", "template"),
    ("apps", "ReplicaSet"): ("spec", "template"),
    ("apps", "StatefulSet"): ("spec", "template"),
    ("apps", "DaemonSet"): ("spec", "template"),
    ("batch", "Job"): ("spec", "template"),
    ("batch", "CronJob"): ("spec", "jobTemplate", "spec", "template"),
    ("", "ReplicationController"): ("spec", "template"),
    ("", "PodTemplate"): ("template",),
}


def validate_name(rt: Any, name: str) -> list[tuple[str, str, str]]:
    """The causes that make ``name`` invalid for the type (empty list when valid)."""
    key = (rt.group, rt.kind)
    if key in _PATH_SEGMENT_NAMED:
        if name in (".", "..") or "/" in name or "%" in name:
            return [("FieldValueInvalid", "metadata.name",
                     f'Invalid value: "{name}": may not contain \'/\'' if "/" in name
                     else f'Invalid value: "{name}": may not be \'.\' or \'..\'')]
        return []
    if key in _DNS1035_NAMED:
        if len(name) > 63 or not DNS1035_LABEL.fullmatch(name):
            return [("FieldValueInvalid", "metadata.name", f'Invalid value: "{name}": {DNS1035_MESSAGE}')]
        return []
    if key in _LABEL_NAMED:
        if len(name) > 63 or not DNS1123_LABEL.fullmatch(name):
            return [("FieldValueInvalid", "metadata.name", f'Invalid value: "{name}": {LABEL_MESSAGE}')]
        return []
    if len(name) > 253 or not DNS1123_SUBDOMAIN.fullmatch(name):
        return [("FieldValueInvalid", "metadata.name", f'Invalid value: "{name}": {SUBDOMAIN_MESSAGE}')]
    return []


def _get(obj: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def _ensure(obj: dict, *path: str) -> dict:
    for key in path:
        child = obj.get(key)
        if not isinstance(child, dict):
            child = {}
            obj[key] = child
        obj = child
    return obj


def _probe_defaults(probe: Any) -> None:
    if not isinstance(probe, dict):
        return
    probe.setdefault("timeoutSeconds", 1)
    probe.setdefault("periodSeconds", 10)
    probe.setdefault("successThreshold", 1)
    probe.setdefault("failureThreshold", 3)
    if isinstance(probe.get("httpGet"), dict):
        probe["httpGet"].setdefault("scheme", "HTTP")
        probe["httpGet"].setdefault("path", "/")


def _image_pull_policy(image: str) -> str:
    if "@" in image:
        return "IfNotPresent"
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return "Always"
    return "Always" if last.rsplit(":", 1)[1] == "latest" else "IfNotPresent"


def _container_defaults(container: Any) -> None:
    if not isinstance(container, dict):
        return
    container.setdefault("terminationMessagePath", "/dev/termination-log")
    container.setdefault("terminationMessagePolicy", "File")
    if isinstance(container.get("image"), str):
        container.setdefault("imagePullPolicy", _image_pull_policy(container["image"]))
    container.setdefault("resources", {})
    for port in container.get("ports") or []:
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")
    for key in ("livenessProbe", "readinessProbe", "startupProbe"):
        _probe_defaults(container.get(key))
    for env in container.get("env") or []:
        field_ref = _get(env, "valueFrom", "fieldRef")
        if isinstance(field_ref, dict):
            field_ref.setdefault("apiVersion", "v1")


def pod_spec_defaults(spec: Any) -> None:
    """SetDefaults_PodSpec and its containers, volumes (templates and pods alike)."""
    if not isinstance(spec, dict):
        return
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    for key in ("containers", "initContainers", "ephemeralContainers"):
        for container in spec.get(key) or []:
            _container_defaults(container)
    for volume in spec.get("volumes") or []:
        if not isinstance(volume, dict):
            continue
        for source in ("configMap", "secret"):
            if isinstance(volume.get(source), dict):
                volume[source].setdefault("defaultMode", 420)
        if isinstance(volume.get("projected"), dict):
            volume["projected"].setdefault("defaultMode", 420)
        if isinstance(volume.get("hostPath"), dict):
            volume["hostPath"].setdefault("type", "")
        if isinstance(volume.get("downwardAPI"), dict):
            volume["downwardAPI"].setdefault("defaultMode", 420)


def _template(obj: dict, path: tuple[str, ...]) -> dict | None:
    template = _get(obj, *path)
    return template if isinstance(template, dict) else None


def apply_defaults(rt: Any, obj: dict) -> None:
    """Default ``obj`` (a built-in kind) in place, as the API server's defaulting does."""
    if rt.custom:
        return
    key = (rt.group, rt.kind)
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else None
    if key in _POD_TEMPLATE_PATHS:
        template = _template(obj, _POD_TEMPLATE_PATHS[key])
        if template is not None:
            pod_spec_defaults(template.get("spec"))
    if key == ("", "Pod") and spec is not None:
        pod_spec_defaults(spec)
        spec.setdefault("enableServiceLinks", True)
        spec.setdefault("serviceAccountName", "default")
        spec["serviceAccount"] = spec.get("serviceAccountName")
        spec.setdefault("priority", 0)
        spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
        tolerations = spec.setdefault("tolerations", [])
        present = {t.get("key") for t in tolerations if isinstance(t, dict)}
        for taint in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"):
            if taint not in present:
                tolerations.append({"key": taint, "operator": "Exists", "effect": "NoExecute",
                                    "tolerationSeconds": 300})
    elif key == ("apps", "Deployment") and spec is not None:
        spec.setdefault("replicas", 1)
        strategy = spec.setdefault("strategy", {})
        strategy.setdefault("type", "RollingUpdate")
        if strategy["type"] == "RollingUpdate":
            rolling = strategy.setdefault("rollingUpdate", {})
            rolling.setdefault("maxUnavailable", "25%")
            rolling.setdefault("maxSurge", "25%")
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("progressDeadlineSeconds", 600)
    elif key in (("apps", "ReplicaSet"), ("", "ReplicationController")) and spec is not None:
        spec.setdefault("replicas", 1)
    elif key == ("apps", "StatefulSet") and spec is not None:
        spec.setdefault("replicas", 1)
        spec.setdefault("podManagementPolicy", "OrderedReady")
        strategy = spec.setdefault("updateStrategy", {})
        strategy.setdefault("type", "RollingUpdate")
        if strategy["type"] == "RollingUpdate":
            strategy.setdefault("rollingUpdate", {}).setdefault("partition", 0)
        spec.setdefault("revisionHistoryLimit", 10)
        retention = spec.setdefault("persistentVolumeClaimRetentionPolicy", {})
        retention.setdefault("whenDeleted", "Retain")
        retention.setdefault("whenScaled", "Retain")
        for claim in spec.get("volumeClaimTemplates") or []:
            if isinstance(claim, dict):
                claim.setdefault("apiVersion", "v1")
                claim.setdefault("kind", "PersistentVolumeClaim")
                _ensure(claim, "spec").setdefault("volumeMode", "Filesystem")
                _ensure(claim, "status").setdefault("phase", "Pending")
    elif key == ("apps", "DaemonSet") and spec is not None:
        strategy = spec.setdefault("updateStrategy", {})
        strategy.setdefault("type", "RollingUpdate")
        if strategy["type"] == "RollingUpdate":
            rolling = strategy.setdefault("rollingUpdate", {})
            rolling.setdefault("maxUnavailable", 1)
            rolling.setdefault("maxSurge", 0)
        spec.setdefault("revisionHistoryLimit", 10)
    elif key == ("batch", "Job") and spec is not None:
        if spec.get("completions") is None and spec.get("parallelism") is None:
            spec["completions"] = 1
            spec["parallelism"] = 1
        spec.setdefault("parallelism", 1)
        spec.setdefault("backoffLimit", 6)
        spec.setdefault("completionMode", "NonIndexed")
        spec.setdefault("suspend", False)
        spec.setdefault("podReplacementPolicy", "TerminatingOrFailed")
        spec.setdefault("manualSelector", None)
        if spec.get("manualSelector") is None:
            spec.pop("manualSelector")
    elif key == ("batch", "CronJob") and spec is not None:
        spec.setdefault("concurrencyPolicy", "Allow")
        spec.setdefault("suspend", False)
        spec.setdefault("successfulJobsHistoryLimit", 3)
        spec.setdefault("failedJobsHistoryLimit", 1)
    elif key == ("", "Service") and spec is not None:
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        if spec["type"] != "ExternalName":
            spec.setdefault("ipFamilies", ["IPv4"])
            spec.setdefault("ipFamilyPolicy", "SingleStack")
            spec.setdefault("internalTrafficPolicy", "Cluster")
        if spec["type"] in ("NodePort", "LoadBalancer"):
            spec.setdefault("externalTrafficPolicy", "Cluster")
        if spec["type"] == "LoadBalancer":
            spec.setdefault("allocateLoadBalancerNodePorts", True)
        for port in spec.get("ports") or []:
            if isinstance(port, dict):
                port.setdefault("protocol", "TCP")
                if "port" in port:
                    port.setdefault("targetPort", port["port"])
    elif key == ("", "Secret"):
        obj.setdefault("type", "Opaque")
        string_data = obj.pop("stringData", None)
        if isinstance(string_data, dict):
            import base64

            data = obj.setdefault("data", {})
            for name, value in string_data.items():
                data[name] = base64.b64encode(str(value).encode()).decode()
    elif key == ("", "Namespace"):
        _ensure(obj, "spec").setdefault("finalizers", ["kubernetes"])
        name = _get(obj, "metadata", "name")
        if name:
            _ensure(obj, "metadata", "labels")["kubernetes.io/metadata.name"] = name
    elif key == ("", "PersistentVolumeClaim") and spec is not None:
        spec.setdefault("volumeMode", "Filesystem")
    elif key == ("", "PersistentVolume") and spec is not None:
        spec.setdefault("persistentVolumeReclaimPolicy", "Retain")
        spec.setdefault("volumeMode", "Filesystem")
    elif key == ("storage.k8s.io", "StorageClass"):
        obj.setdefault("reclaimPolicy", "Delete")
        obj.setdefault("volumeBindingMode", "Immediate")
    elif key == ("storage.k8s.io", "CSIDriver") and spec is not None:
        spec.setdefault("attachRequired", True)
        spec.setdefault("podInfoOnMount", False)
        spec.setdefault("requiresRepublish", False)
        spec.setdefault("storageCapacity", False)
        spec.setdefault("fsGroupPolicy", "ReadWriteOnceWithFSType")
        spec.setdefault("volumeLifecycleModes", ["Persistent"])
        spec.setdefault("seLinuxMount", False)
    elif key == ("networking.k8s.io", "NetworkPolicy") and spec is not None:
        if "policyTypes" not in spec:
            types = ["Ingress"]
            if spec.get("egress"):
                types.append("Egress")
            spec["policyTypes"] = types
        for direction in ("ingress", "egress"):
            for rule in spec.get(direction) or []:
                for port in (rule or {}).get("ports") or []:
                    if isinstance(port, dict):
                        port.setdefault("protocol", "TCP")
    elif key == ("scheduling.k8s.io", "PriorityClass"):
        obj.setdefault("preemptionPolicy", "PreemptLowerPriority")
    elif key == ("autoscaling", "HorizontalPodAutoscaler") and spec is not None:
        spec.setdefault("minReplicas", 1)
        if rt.version == "v2":
            if not spec.get("metrics"):
                spec["metrics"] = [{"type": "Resource", "resource": {
                    "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]
            _hpa_behavior_defaults(spec.get("behavior"))
    elif key == ("apiregistration.k8s.io", "APIService") and spec is not None:
        if isinstance(spec.get("service"), dict):
            spec["service"].setdefault("port", 443)
    elif key in (("", "Endpoints"),):
        for subset in obj.get("subsets") or []:
            for port in (subset or {}).get("ports") or []:
                if isinstance(port, dict):
                    port.setdefault("protocol", "TCP")
    elif key == ("discovery.k8s.io", "EndpointSlice"):
        for port in obj.get("ports") or []:
            if isinstance(port, dict):
                port.setdefault("protocol", "TCP")
    elif key == ("apiextensions.k8s.io", "CustomResourceDefinition") and spec is not None:
        names = spec.setdefault("names", {})
        if names.get("kind"):
            names.setdefault("singular", names["kind"].lower())
            names.setdefault("listKind", names["kind"] + "List")
        spec.setdefault("conversion", {"strategy": "None"})
    elif key == ("rbac.authorization.k8s.io", "ClusterRoleBinding") or key == (
        "rbac.authorization.k8s.io", "RoleBinding"
    ):
        for subject in obj.get("subjects") or []:
            if isinstance(subject, dict) and subject.get("kind") in ("User", "Group"):
                subject.setdefault("apiGroup", "rbac.authorization.k8s.io")


def _hpa_behavior_defaults(behavior: Any) -> None:
    """autoscaling/v2 ``SetDefaults_HorizontalPodAutoscalerBehavior``: a given behavior gets the default rules."""
    if not isinstance(behavior, dict):
        return
    up = behavior.get("scaleUp") if isinstance(behavior.get("scaleUp"), dict) else {}
    up.setdefault("stabilizationWindowSeconds", 0)
    up.setdefault("selectPolicy", "Max")
    if not up.get("policies"):
        up["policies"] = [{"type": "Pods", "value": 4, "periodSeconds": 15},
                          {"type": "Percent", "value": 100, "periodSeconds": 15}]
    down = behavior.get("scaleDown") if isinstance(behavior.get("scaleDown"), dict) else {}
    down.setdefault("stabilizationWindowSeconds", 300)
    down.setdefault("selectPolicy", "Max")
    if not down.get("policies"):
        down["policies"] = [{"type": "Percent", "value": 100, "periodSeconds": 15}]
    behavior["scaleUp"], behavior["scaleDown"] = up, down


def initial_status(rt: Any, obj: dict) -> Any:
    """The status a new object starts with when its type has a status subresource (None: no status)."""
    key = (rt.group, rt.kind)
    if key == ("", "Pod"):
        qos = _qos_class(obj.get("spec") or {})
        return {"phase": "Pending", "qosClass": qos}
    if key == ("", "Namespace"):
        return {"phase": "Active"}
    if key in (("", "PersistentVolumeClaim"), ("", "PersistentVolume")):
        return {"phase": "Pending"}
    if key == ("", "Service"):
        return {"loadBalancer": {}}
    if key == ("apiextensions.k8s.io", "CustomResourceDefinition"):
        return None  # the store sets the CRD's conditions
    if rt.custom:
        return None
    return {}


def _qos_class(spec: dict) -> str:
    containers = list(spec.get("containers") or []) + list(spec.get("initContainers") or [])
    requests_any = limits_all = False
    guaranteed = True
    for container in containers:
        resources = (container or {}).get("resources") or {}
        requests = resources.get("requests") or {}
        limits = resources.get("limits") or {}
        if requests or limits:
            requests_any = True
        for resource in ("cpu", "memory"):
            if resource not in limits:
                guaranteed = False
            elif resource in requests and str(requests[resource]) != str(limits[resource]):
                guaranteed = False
        limits_all = limits_all or bool(limits)
    if containers and guaranteed:
        return "Guaranteed"
    if requests_any or limits_all:
        return "Burstable"
    return "BestEffort"


_IMMUTABLE_SELECTOR = {("apps", "Deployment"), ("apps", "StatefulSet"), ("apps", "DaemonSet"), ("apps", "ReplicaSet")}


def validate(rt: Any, obj: dict, old: dict | None) -> None:
    """Raise 422 Invalid for the checks kube-apiserver makes that clients commonly hit."""
    name = _get(obj, "metadata", "name") or ""
    causes: list[tuple[str, str, str]] = []
    key = (rt.group, rt.kind)
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    if key == ("", "Pod"):
        causes += _validate_pod_spec(spec, "spec")
        if old is not None:
            old_spec = old.get("spec") or {}
            old_images = [c.get("image") for c in old_spec.get("containers") or []]
            new_names = [c.get("name") for c in spec.get("containers") or []]
            old_names = [c.get("name") for c in old_spec.get("containers") or []]
            if new_names != old_names or len(old_images) != len(spec.get("containers") or []):
                causes.append(("FieldValueForbidden", "spec",
                               "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
                               "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,"
                               "`spec.tolerations` (only additions to existing tolerations),"
                               "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously "
                               "negative)"))
    elif key in _POD_TEMPLATE_PATHS and key != ("", "PodTemplate"):
        path = _POD_TEMPLATE_PATHS[key]
        template = _template(obj, path)
        dotted = ".".join(path)
        if template is None:
            if key != ("batch", "CronJob"):
                causes.append(("FieldValueRequired", f"{dotted}.spec.containers", "Required value"))
        else:
            causes += _validate_pod_spec(template.get("spec") or {}, f"{dotted}.spec")
        if key in _IMMUTABLE_SELECTOR or key == ("", "ReplicationController"):
            selector = spec.get("selector")
            labels = (template or {}).get("metadata", {}).get("labels") or {}
            if key != ("", "ReplicationController"):
                if not selector:
                    causes.append(("FieldValueRequired", "spec.selector", "Required value"))
                elif not label_selector_from_dict(selector).matches(labels):
                    causes.append(("FieldValueInvalid", f"{dotted}.metadata.labels",
                                   f"Invalid value: {_go_map(labels)}: `selector` does not match template `labels`"))
                elif not (selector.get("matchLabels") or selector.get("matchExpressions")):
                    causes.append(("FieldValueInvalid", "spec.selector",
                                   f"Invalid value: {_go_selector(selector)}: empty selector is invalid for "
                                   "deployment" if key == ("apps", "Deployment") else
                                   f"Invalid value: {_go_selector(selector)}: empty selector is invalid"))
            if old is not None and key in _IMMUTABLE_SELECTOR:
                old_selector = (old.get("spec") or {}).get("selector")
                if old_selector != selector:
                    causes.append(("FieldValueInvalid", "spec.selector",
                                   f"Invalid value: {_go_selector(selector or {})}: field is immutable"))
        if key == ("batch", "Job") and template is not None:
            policy = (template.get("spec") or {}).get("restartPolicy")
            if policy not in ("OnFailure", "Never"):
                causes.append(("FieldValueNotSupported", "spec.template.spec.restartPolicy",
                               f'Unsupported value: "{policy}": supported values: "OnFailure", "Never"'))
        if key == ("batch", "CronJob") and not spec.get("schedule"):
            causes.append(("FieldValueRequired", "spec.schedule", "Required value"))
    elif key == ("", "Service"):
        ports = spec.get("ports") or []
        if not ports and spec.get("type", "ClusterIP") != "ExternalName" and spec.get("clusterIP") != "None":
            causes.append(("FieldValueRequired", "spec.ports", "Required value"))
        for index, port in enumerate(ports):
            if not isinstance(port, dict) or not isinstance(port.get("port"), int):
                causes.append(("FieldValueRequired", f"spec.ports[{index}].port", "Required value"))
            elif len(ports) > 1 and not port.get("name"):
                causes.append(("FieldValueRequired", f"spec.ports[{index}].name", "Required value"))
        if spec.get("type") not in ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName"):
            causes.append(("FieldValueNotSupported", "spec.type",
                           f'Unsupported value: "{spec.get("type")}": supported values: "ClusterIP", '
                           '"ExternalName", "LoadBalancer", "NodePort"'))
    elif key in (("", "ConfigMap"), ("", "Secret")) and old is not None and old.get("immutable"):
        for field in ("data", "binaryData") + (("type",) if key == ("", "Secret") else ()):
            if obj.get(field) != old.get(field):
                causes.append(("FieldValueForbidden", field,
                               "Forbidden: field is immutable when `immutable` is set"))
    elif key == ("apiextensions.k8s.io", "CustomResourceDefinition"):
        names = spec.get("names") or {}
        group = spec.get("group", "")
        if not names.get("plural"):
            causes.append(("FieldValueRequired", "spec.names.plural", "Required value"))
        if not names.get("kind"):
            causes.append(("FieldValueRequired", "spec.names.kind", "Required value"))
        if not group:
            causes.append(("FieldValueRequired", "spec.group", "Required value"))
        elif "." not in group:
            causes.append(("FieldValueInvalid", "spec.group", f'Invalid value: "{group}": should be a domain with at '
                                                                "least one dot"))
        if names.get("plural") and group and name != f"{names['plural']}.{group}":
            causes.append(("FieldValueInvalid", "metadata.name",
                           f'Invalid value: "{name}": must be spec.names.plural+"."+spec.group'))
        if spec.get("scope") not in ("Namespaced", "Cluster"):
            causes.append(("FieldValueNotSupported", "spec.scope",
                           f'Unsupported value: "{spec.get("scope", "")}": supported values: "Cluster", '
                           '"Namespaced"'))
        versions = spec.get("versions") or []
        if not versions:
            causes.append(("FieldValueRequired", "spec.versions", "Required value: must have exactly one version "
                                                                  "marked as storage version"))
        elif sum(1 for v in versions if v.get("storage")) != 1:
            causes.append(("FieldValueInvalid", "spec.versions",
                           f"Invalid value: {_go_list(versions)}: must have exactly one version marked as storage "
                           "version"))
        for index, version in enumerate(versions):
            schema = (version.get("schema") or {}).get("openAPIV3Schema")
            if schema is None:
                causes.append(("FieldValueRequired", f"spec.versions[{index}].schema.openAPIV3Schema",
                               "Required value: schemas are required"))
        if old is not None:
            if (old.get("spec") or {}).get("scope") != spec.get("scope"):
                causes.append(("FieldValueInvalid", "spec.scope",
                               f'Invalid value: "{spec.get("scope")}": field is immutable'))
    elif key == ("apiregistration.k8s.io", "APIService"):
        causes += _validate_api_service(name, spec)
    if causes:
        raise invalid(rt, name, causes)


def _validate_api_service(name: str, spec: dict) -> list[tuple[str, str, str]]:
    """kube-aggregator's ``ValidateAPIService``."""
    causes: list[tuple[str, str, str]] = []
    required = f"{spec.get('version') or ''}.{spec.get('group') or ''}"
    if name != required:
        causes.append(("FieldValueInvalid", "metadata.name",
                       f'Invalid value: "{name}": must be `spec.version+"."+spec.group`: "{required}"'))
    if not spec.get("version"):
        causes.append(("FieldValueRequired", "spec.version", "Required value"))
    group_priority = spec.get("groupPriorityMinimum") or 0
    if not isinstance(group_priority, int) or not 0 < group_priority <= 20000:
        causes.append(("FieldValueInvalid", "spec.groupPriorityMinimum",
                       f"Invalid value: {group_priority}: must be positive and less than 20000"))
    version_priority = spec.get("versionPriority") or 0
    if not isinstance(version_priority, int) or not 0 < version_priority <= 1000:
        causes.append(("FieldValueInvalid", "spec.versionPriority",
                       f"Invalid value: {version_priority}: must be positive and less than 1000"))
    service = spec.get("service")
    if not isinstance(service, dict):
        if spec.get("caBundle"):
            causes.append(("FieldValueInvalid", "spec.caBundle",
                           "Invalid value: \"<bytes>\": local APIServices may not have a caBundle"))
        if spec.get("insecureSkipTLSVerify"):
            causes.append(("FieldValueInvalid", "spec.insecureSkipTLSVerify",
                           "Invalid value: true: local APIServices may not have insecureSkipTLSVerify"))
        return causes
    if not spec.get("group"):
        causes.append(("FieldValueRequired", "spec.group", "Required value"))
    if not service.get("namespace"):
        causes.append(("FieldValueRequired", "spec.service.namespace", "Required value"))
    if not service.get("name"):
        causes.append(("FieldValueRequired", "spec.service.name", "Required value"))
    port = service.get("port", 443)
    if not isinstance(port, int) or not 0 < port < 65536:
        causes.append(("FieldValueInvalid", "spec.service.port",
                       f"Invalid value: {port}: must be between 1 and 65535, inclusive"))
    if spec.get("insecureSkipTLSVerify") and spec.get("caBundle"):
        causes.append(("FieldValueInvalid", "spec.insecureSkipTLSVerify",
                       "Invalid value: true: may not be true if caBundle is present"))
    return causes


def _validate_pod_spec(spec: dict, path: str) -> list[tuple[str, str, str]]:
    causes: list[tuple[str, str, str]] = []
    containers = spec.get("containers")
    if not containers:
        causes.append(("FieldValueRequired", f"{path}.containers", "Required value"))
        return causes
    seen = set()
    for index, container in enumerate(containers):
        if not isinstance(container, dict):
            continue
        name = container.get("name")
        if not name:
            causes.append(("FieldValueRequired", f"{path}.containers[{index}].name", "Required value"))
        elif name in seen:
            causes.append(("FieldValueDuplicate", f"{path}.containers[{index}].name", f'Duplicate value: "{name}"'))
        else:
            seen.add(name)
            if len(name) > 63 or not DNS1123_LABEL.fullmatch(name):
                causes.append(("FieldValueInvalid", f"{path}.containers[{index}].name",
                               f'Invalid value: "{name}": {LABEL_MESSAGE}'))
        if not container.get("image"):
            causes.append(("FieldValueRequired", f"{path}.containers[{index}].image", "Required value"))
    return causes


def _go_map(labels: dict) -> str:
    inner = ", ".join(f'"{k}":"{v}"' for k, v in sorted(labels.items()))
    return "map[string]string{" + inner + "}"


def _go_selector(selector: dict) -> str:
    match_labels = selector.get("matchLabels")
    labels = _go_map(match_labels) if match_labels else "map[string]string(nil)"
    return f"v1.LabelSelector{{MatchLabels:{labels}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}}"


def _go_list(items: list) -> str:
    return "[]apiextensions.CustomResourceDefinitionVersion{" + ", ".join(
        "apiextensions.CustomResourceDefinitionVersion{Name:\"%s\"}" % (v.get("name", "")) for v in items) + "}"
