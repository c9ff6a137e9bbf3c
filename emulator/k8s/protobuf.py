"""Request bodies in Kubernetes' protobuf encoding (``application/vnd.kubernetes.protobuf``).

client-go's typed clients (``kubernetes.NewForConfig``: ``kubectl create
configmap``, ``kubectl auth can-i``, helm's release Secrets...) send built-in
objects as protobuf and accept JSON back, with no fallback when a server
refuses protobuf. So the server decodes them: the envelope is ``k8s\\x00``
then a ``runtime.Unknown`` (typeMeta, raw), and ``raw`` the object's message.

Field *names and types* come from the OpenAPI schema nodes (``schema``); the
wire format only adds each message's field numbers, listed in ``FIELDS`` for
the kinds typed clients write (metadata, ConfigMap, Secret, Namespace,
ServiceAccount, Service, Deployment and its pod template, Job, CronJob, RBAC,
Lease, access and subject reviews, HorizontalPodAutoscaler (v1 and v2),
DeleteOptions). A message or field number
not listed is refused with 415, naming it; the status of a written object
(listed without fields) is skipped, as the server resets it anyway.
"""

from __future__ import annotations

import base64
import datetime as _dt
import json
from typing import Any

from .errors import ApiError

__all__ = ["MAGIC", "decode", "is_protobuf"]

MAGIC = b"k8s\x00"
PROTOBUF = "application/vnd.kubernetes.protobuf"

_META = "io.k8s.apimachinery.pkg.apis.meta.v1."
_CORE = "io.k8s.api.core.v1."


def _f(spec: str) -> dict[int, str]:
    result = {}
    for item in spec.split():
        number, name = item.split("=")
        result[int(number)] = name
    return result


# Field numbers of the messages (names as in JSON).
FIELDS: dict[str, dict[int, str]] = {
    _META + "ObjectMeta": _f("1=name 2=generateName 3=namespace 4=selfLink 5=uid 6=resourceVersion 7=generation "
                             "8=creationTimestamp 9=deletionTimestamp 10=deletionGracePeriodSeconds 11=labels "
                             "12=annotations 13=ownerReferences 14=finalizers 17=managedFields"),
    _META + "OwnerReference": _f("5=apiVersion 1=kind 3=name 4=uid 6=controller 7=blockOwnerDeletion"),
    _META + "ManagedFieldsEntry": _f("1=manager 2=operation 3=apiVersion 4=time 6=fieldsType 7=fieldsV1 "
                                     "8=subresource"),
    _META + "DeleteOptions": _f("1=gracePeriodSeconds 2=preconditions 3=orphanDependents 4=propagationPolicy "
                                "5=dryRun 6=ignoreStoreReadErrorWithClusterBreakingPotential"),
    _META + "Preconditions": _f("1=uid 2=resourceVersion"),
    _META + "LabelSelector": _f("1=matchLabels 2=matchExpressions"),
    _META + "LabelSelectorRequirement": _f("1=key 2=operator 3=values"),
    _META + "FieldSelectorRequirement": _f("1=key 2=operator 3=values"),
    _CORE + "ConfigMap": _f("1=metadata 4=immutable 2=data 3=binaryData"),
    _CORE + "Secret": _f("1=metadata 5=immutable 2=data 4=stringData 3=type"),
    _CORE + "Namespace": _f("1=metadata 2=spec 3=status"),
    _CORE + "NamespaceSpec": _f("1=finalizers"),
    _CORE + "NamespaceStatus": _f("1=phase"),
    _CORE + "ServiceAccount": _f("1=metadata 2=secrets 3=imagePullSecrets 4=automountServiceAccountToken"),
    _CORE + "ObjectReference": _f("1=kind 2=namespace 3=name 4=uid 5=apiVersion 6=resourceVersion 7=fieldPath"),
    _CORE + "LocalObjectReference": _f("1=name"),
    _CORE + "Service": _f("1=metadata 2=spec 3=status"),
    _CORE + "ServiceSpec": _f("1=ports 2=selector 3=clusterIP 18=clusterIPs 4=type 5=externalIPs 7=sessionAffinity "
                              "8=loadBalancerIP 9=loadBalancerSourceRanges 10=externalName 11=externalTrafficPolicy "
                              "12=healthCheckNodePort 13=publishNotReadyAddresses 19=ipFamilies 17=ipFamilyPolicy "
                              "20=allocateLoadBalancerNodePorts 21=loadBalancerClass 22=internalTrafficPolicy "
                              "23=trafficDistribution"),
    _CORE + "ServiceStatus": _f(""),
    _CORE + "ServicePort": _f("1=name 2=protocol 6=appProtocol 3=port 4=targetPort 5=nodePort"),
    _CORE + "PodTemplateSpec": _f("1=metadata 2=spec"),
    _CORE + "PodSpec": _f("1=volumes 20=initContainers 2=containers 3=restartPolicy 4=terminationGracePeriodSeconds "
                          "5=activeDeadlineSeconds 6=dnsPolicy 7=nodeSelector 8=serviceAccountName 9=serviceAccount "
                          "21=automountServiceAccountToken 10=nodeName 11=hostNetwork 12=hostPID 13=hostIPC "
                          "27=shareProcessNamespace 15=imagePullSecrets 16=hostname 17=subdomain 19=schedulerName "
                          "24=priorityClassName 25=priority 29=runtimeClassName 30=enableServiceLinks "
                          "31=preemptionPolicy 35=setHostnameAsFQDN 37=hostUsers"),
    _CORE + "Container": _f("1=name 2=image 3=command 4=args 5=workingDir 6=ports 7=env 8=resources 9=volumeMounts "
                            "13=terminationMessagePath 20=terminationMessagePolicy 14=imagePullPolicy 16=stdin "
                            "17=stdinOnce 18=tty 24=restartPolicy"),
    _CORE + "ContainerPort": _f("1=name 2=hostPort 3=containerPort 4=protocol 5=hostIP"),
    _CORE + "EnvVar": _f("1=name 2=value 3=valueFrom"),
    _CORE + "EnvVarSource": _f("1=fieldRef 3=configMapKeyRef 4=secretKeyRef"),
    _CORE + "ObjectFieldSelector": _f("1=apiVersion 2=fieldPath"),
    _CORE + "ConfigMapKeySelector": _f("1=localObjectReference 2=key 3=optional"),
    _CORE + "SecretKeySelector": _f("1=localObjectReference 2=key 3=optional"),
    _CORE + "ResourceRequirements": _f("1=limits 2=requests"),
    _CORE + "VolumeMount": _f("1=name 2=readOnly 7=recursiveReadOnly 3=mountPath 4=subPath 5=mountPropagation "
                              "6=subPathExpr"),
    "io.k8s.api.apps.v1.Deployment": _f("1=metadata 2=spec 3=status"),
    "io.k8s.api.apps.v1.DeploymentSpec": _f("1=replicas 2=selector 3=template 4=strategy 5=minReadySeconds "
                                            "6=revisionHistoryLimit 7=paused 9=progressDeadlineSeconds"),
    "io.k8s.api.apps.v1.DeploymentStrategy": _f("1=type 2=rollingUpdate"),
    "io.k8s.api.apps.v1.RollingUpdateDeployment": _f("1=maxUnavailable 2=maxSurge"),
    "io.k8s.api.apps.v1.DeploymentStatus": _f(""),
    "io.k8s.api.batch.v1.Job": _f("1=metadata 2=spec 3=status"),
    "io.k8s.api.batch.v1.JobSpec": _f("1=parallelism 2=completions 3=activeDeadlineSeconds 7=backoffLimit "
                                      "4=selector 5=manualSelector 6=template 8=ttlSecondsAfterFinished "
                                      "9=completionMode 10=suspend 14=podReplacementPolicy 15=managedBy"),
    "io.k8s.api.batch.v1.JobStatus": _f(""),
    "io.k8s.api.batch.v1.CronJob": _f("1=metadata 2=spec 3=status"),
    "io.k8s.api.batch.v1.CronJobSpec": _f("1=schedule 8=timeZone 2=startingDeadlineSeconds 3=concurrencyPolicy "
                                          "4=suspend 5=jobTemplate 6=successfulJobsHistoryLimit "
                                          "7=failedJobsHistoryLimit"),
    "io.k8s.api.batch.v1.CronJobStatus": _f(""),
    "io.k8s.api.batch.v1.JobTemplateSpec": _f("1=metadata 2=spec"),
    "io.k8s.api.rbac.v1.Role": _f("1=metadata 2=rules"),
    "io.k8s.api.rbac.v1.ClusterRole": _f("1=metadata 2=rules 3=aggregationRule"),
    "io.k8s.api.rbac.v1.PolicyRule": _f("1=verbs 2=apiGroups 3=resources 4=resourceNames 5=nonResourceURLs"),
    "io.k8s.api.rbac.v1.AggregationRule": _f("1=clusterRoleSelectors"),
    "io.k8s.api.rbac.v1.RoleBinding": _f("1=metadata 2=subjects 3=roleRef"),
    "io.k8s.api.rbac.v1.ClusterRoleBinding": _f("1=metadata 2=subjects 3=roleRef"),
    "io.k8s.api.rbac.v1.Subject": _f("1=kind 2=apiGroup 3=name 4=namespace"),
    "io.k8s.api.rbac.v1.RoleRef": _f("1=apiGroup 2=kind 3=name"),
    "io.k8s.api.authorization.v1.SelfSubjectAccessReview": _f("1=metadata 2=spec 3=status"),
    "io.k8s.api.authorization.v1.SelfSubjectAccessReviewSpec": _f("1=resourceAttributes 2=nonResourceAttributes"),
    "io.k8s.api.authorization.v1.SubjectAccessReviewStatus": _f(""),
    "io.k8s.api.authorization.v1.ResourceAttributes": _f("1=namespace 2=verb 3=group 4=version 5=resource "
                                                         "6=subresource 7=name 8=fieldSelector 9=labelSelector"),
    "io.k8s.api.authorization.v1.FieldSelectorAttributes": _f("1=rawSelector 2=requirements"),
    "io.k8s.api.authorization.v1.LabelSelectorAttributes": _f("1=rawSelector 2=requirements"),
    "io.k8s.api.authorization.v1.NonResourceAttributes": _f("1=path 2=verb"),
    "io.k8s.api.authorization.v1.SelfSubjectRulesReview": _f("1=metadata 2=spec 3=status"),
    "io.k8s.api.authorization.v1.SelfSubjectRulesReviewSpec": _f("1=namespace"),
    "io.k8s.api.authorization.v1.SubjectRulesReviewStatus": _f(""),
    "io.k8s.api.authentication.v1.SelfSubjectReview": _f("1=metadata 2=status"),
    "io.k8s.api.authentication.v1.SelfSubjectReviewStatus": _f(""),
    "io.k8s.api.authentication.v1.TokenReview": _f("1=metadata 2=spec 3=status"),
    "io.k8s.api.authentication.v1.TokenReviewSpec": _f("1=token 2=audiences"),
    "io.k8s.api.authentication.v1.TokenReviewStatus": _f(""),
    "io.k8s.api.coordination.v1.Lease": _f("1=metadata 2=spec"),
    "io.k8s.api.coordination.v1.LeaseSpec": _f("1=holderIdentity 2=leaseDurationSeconds 3=acquireTime 4=renewTime "
                                               "5=leaseTransitions 6=strategy 7=preferredHolder"),
    # kubectl autoscale (autoscaling/v1), typed clients writing autoscaling/v2
    "io.k8s.api.autoscaling.v1.HorizontalPodAutoscaler": _f("1=metadata 2=spec 3=status"),
    "io.k8s.api.autoscaling.v1.HorizontalPodAutoscalerSpec": _f("1=scaleTargetRef 2=minReplicas 3=maxReplicas "
                                                                "4=targetCPUUtilizationPercentage"),
    "io.k8s.api.autoscaling.v1.CrossVersionObjectReference": _f("1=kind 2=name 3=apiVersion"),
    "io.k8s.api.autoscaling.v1.HorizontalPodAutoscalerStatus": _f(""),
    "io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler": _f("1=metadata 2=spec 3=status"),
    "io.k8s.api.autoscaling.v2.HorizontalPodAutoscalerSpec": _f("1=scaleTargetRef 2=minReplicas 3=maxReplicas "
                                                                "4=metrics 5=behavior"),
    "io.k8s.api.autoscaling.v2.CrossVersionObjectReference": _f("1=kind 2=name 3=apiVersion"),
    "io.k8s.api.autoscaling.v2.MetricSpec": _f("1=type 2=object 3=pods 4=resource 7=containerResource 5=external"),
    "io.k8s.api.autoscaling.v2.ResourceMetricSource": _f("1=name 2=target"),
    "io.k8s.api.autoscaling.v2.ContainerResourceMetricSource": _f("1=name 2=target 3=container"),
    "io.k8s.api.autoscaling.v2.PodsMetricSource": _f("1=metric 2=target"),
    "io.k8s.api.autoscaling.v2.ObjectMetricSource": _f("1=describedObject 2=target 3=metric"),
    "io.k8s.api.autoscaling.v2.ExternalMetricSource": _f("1=metric 2=target"),
    "io.k8s.api.autoscaling.v2.MetricIdentifier": _f("1=name 2=selector"),
    "io.k8s.api.autoscaling.v2.MetricTarget": _f("1=type 2=value 3=averageValue 4=averageUtilization"),
    "io.k8s.api.autoscaling.v2.HorizontalPodAutoscalerBehavior": _f("1=scaleUp 2=scaleDown"),
    "io.k8s.api.autoscaling.v2.HPAScalingRules": _f("3=stabilizationWindowSeconds 1=selectPolicy 2=policies "
                                                    "4=tolerance"),
    "io.k8s.api.autoscaling.v2.HPAScalingPolicy": _f("1=type 2=value 3=periodSeconds"),
    "io.k8s.api.autoscaling.v2.HorizontalPodAutoscalerStatus": _f(""),
}

# Optional (pointer) fields whose zero value means something: kept when decoded.
_POINTER_FIELDS = frozenset({
    "replicas", "terminationGracePeriodSeconds", "gracePeriodSeconds", "backoffLimit", "parallelism", "completions",
    "successfulJobsHistoryLimit", "failedJobsHistoryLimit", "revisionHistoryLimit", "progressDeadlineSeconds",
    "activeDeadlineSeconds", "startingDeadlineSeconds", "ttlSecondsAfterFinished", "priority",
    "automountServiceAccountToken", "enableServiceLinks", "orphanDependents", "immutable", "suspend",
    "manualSelector", "optional", "allocateLoadBalancerNodePorts", "leaseDurationSeconds", "leaseTransitions",
    "setHostnameAsFQDN", "hostUsers", "shareProcessNamespace", "minReplicas", "targetCPUUtilizationPercentage",
    "averageUtilization", "stabilizationWindowSeconds",
})

_TIME = {_META + "Time", _META + "MicroTime"}
_INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
_QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
_FIELDS_V1 = _META + "FieldsV1"
_RAW = "io.k8s.apimachinery.pkg.runtime.RawExtension"


def is_protobuf(content_type: str) -> bool:
    return content_type.split(";")[0].strip().lower() == PROTOBUF


def _unsupported(what: str) -> ApiError:
    return ApiError(415, "UnsupportedMediaType",
                    f"the body of the request was in an unknown format - the emulator's protobuf decoder does not know "
                    f"{what}; accepted media types include: application/json, application/yaml", {})


def _varint(data: bytes, position: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if position >= len(data):
            raise ApiError(400, "BadRequest", "protobuf: unexpected end of data in a varint")
        byte = data[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, position
        shift += 7
        if shift > 70:
            raise ApiError(400, "BadRequest", "protobuf: varint overflow")


def _fields(data: bytes) -> list[tuple[int, int, Any]]:
    """(number, wire type, value) of a message: ints for varints/fixed, bytes for length-delimited."""
    result = []
    position = 0
    while position < len(data):
        key, position = _varint(data, position)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, position = _varint(data, position)
        elif wire == 1:
            value = int.from_bytes(data[position:position + 8], "little")
            position += 8
        elif wire == 2:
            length, position = _varint(data, position)
            value = data[position:position + length]
            if len(value) != length:
                raise ApiError(400, "BadRequest", "protobuf: unexpected end of data")
            position += length
        elif wire == 5:
            value = int.from_bytes(data[position:position + 4], "little")
            position += 4
        else:
            raise ApiError(400, "BadRequest", f"protobuf: unsupported wire type {wire}")
        result.append((number, wire, value))
    return result


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _time(data: bytes, micro: bool) -> str | None:
    seconds = nanos = 0
    for number, _, value in _fields(data):
        if number == 1:
            seconds = _signed(value)
        elif number == 2:
            nanos = _signed(value)
    if seconds == 0 and nanos == 0:
        return None
    moment = _dt.datetime.fromtimestamp(seconds, _dt.timezone.utc) + _dt.timedelta(microseconds=nanos // 1000)
    if micro:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _scalar(node: Any, wire: int, value: Any) -> Any:
    kind = node.type
    if kind == "string":
        if not isinstance(value, bytes):
            return str(value)
        if node.format == "byte":
            return base64.b64encode(value).decode()
        return value.decode("utf-8", errors="replace")
    if kind == "boolean":
        return bool(value)
    if kind == "integer":
        return _signed(int(value))
    if kind == "number":
        import struct

        return struct.unpack("<d", int(value).to_bytes(8, "little"))[0] if wire == 1 else float(value)
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else value


def _value(node: Any, wire: int, value: Any) -> Any:
    name = getattr(node.target, "name", None)
    if name in _TIME:
        return _time(value, name.endswith("MicroTime"))
    if name == _INT_OR_STRING:
        kind = int_value = 0
        str_value = ""
        for number, _, item in _fields(value):
            if number == 1:
                kind = item
            elif number == 2:
                int_value = _signed(item)
            elif number == 3:
                str_value = item.decode()
        return str_value if kind == 1 else int_value
    if name == _QUANTITY:
        for number, _, item in _fields(value):
            if number == 1:
                return item.decode()
        return "0"
    if name in (_FIELDS_V1, _RAW):
        for number, _, item in _fields(value):
            if number == 1:
                return json.loads(item) if item else {}
        return {}
    if node.kind == "map":
        if name in FIELDS or node.properties:
            return _message(node, value)
        return value  # a map entry is handled by the caller
    if node.kind == "scalar":
        return _scalar(node, wire, value)
    raise _unsupported(f"values of {name or node!r}")


def _message(node: Any, data: bytes) -> dict[str, Any]:
    name = getattr(node.target, "name", None)
    numbers = FIELDS.get(name or "")
    if numbers is None:
        raise _unsupported(name or "an unnamed message")
    result: dict[str, Any] = {}
    if not numbers:
        return result  # a status written by a create: the server sets it anyway
    for number, wire, value in _fields(data):
        field = numbers.get(number)
        if field is None:
            raise _unsupported(f"field {number} of {name}")
        child = node.property(field)
        if child is None:
            raise _unsupported(f"field {field} of {name}")
        if child.kind == "list":
            items = child.items
            bucket = result.setdefault(field, [])
            if wire == 2 and items.kind == "scalar" and items.type in ("integer", "boolean", "number"):
                position = 0
                while position < len(value):
                    item, position = _varint(value, position)
                    bucket.append(_scalar(items, 0, item))
            else:
                bucket.append(_value(items, wire, value))
        elif child.kind == "map" and not child.properties and getattr(child.target, "name", None) not in FIELDS \
                and child.additional_properties is not None:
            element = child.additional_properties
            key = ""
            entry_value: Any = None
            for entry_number, entry_wire, entry in _fields(value):
                if entry_number == 1:
                    key = entry.decode()
                elif entry_number == 2:
                    entry_value = _value(element, entry_wire, entry)
            if entry_value is None and element.kind == "scalar":
                entry_value = "" if element.type == "string" else (False if element.type == "boolean" else 0)
            result.setdefault(field, {})[key] = entry_value
        else:
            decoded = _value(child, wire, value)
            if decoded is None:
                continue
            if field not in _POINTER_FIELDS and decoded in ("", 0, False) and not isinstance(decoded, dict):
                continue
            result[field] = decoded
    return result


def decode(body: bytes, schemas: Any, kind_hint: str | None = None) -> dict[str, Any]:
    """The JSON form of a protobuf-encoded object (``schemas``: ``schema.Schemas`` of the cluster's version)."""
    if not body.startswith(MAGIC):
        raise ApiError(400, "BadRequest", "provided protobuf bytes do not begin with the Kubernetes magic prefix")
    api_version = kind = ""
    raw = b""
    for number, _, value in _fields(body[len(MAGIC):]):
        if number == 1:
            for meta_number, _, meta_value in _fields(value):
                if meta_number == 1:
                    api_version = meta_value.decode()
                elif meta_number == 2:
                    kind = meta_value.decode()
        elif number == 2:
            raw = value
    kind = kind or kind_hint or ""
    definition = schemas.definition_for(api_version, kind) if kind else None
    if definition is None and kind in ("DeleteOptions",):
        definition = _META + kind
    if definition is None:
        raise _unsupported(f"{kind or 'objects'} in version {api_version!r}")
    result = _message(schemas.node(definition), raw)
    if kind not in ("DeleteOptions",):
        result = {"apiVersion": api_version, "kind": kind, **result}
    return result
