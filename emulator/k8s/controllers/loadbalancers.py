"""The AWS Load Balancer Controller: NLBs for LoadBalancer Services, ALBs for Ingresses of class ``alb``.

Nothing happens until a Deployment named ``aws-load-balancer-controller`` (any
namespace; helm installs it in ``kube-system``) has a ready replica, as on an
EKS cluster without the controller. Then:

* a Service of type LoadBalancer (``loadBalancerClass`` unset or
  ``service.k8s.aws/nlb``; ``service.beta.kubernetes.io/aws-load-balancer-type``
  ``external``, ``nlb-ip`` or ``nlb``) gets a network load balancer: scheme
  from ``aws-load-balancer-scheme`` (or the legacy ``aws-load-balancer-internal``;
  ``internal`` by default, as the controller does), subnets from
  ``aws-load-balancer-subnets`` or discovered by the ``kubernetes.io/role/elb``
  / ``kubernetes.io/role/internal-elb`` tags in the cluster's VPC (one per
  AZ), a TCP/UDP listener and a target group per port (``instance`` targets on
  the node port, or ``ip`` targets on the pods with
  ``aws-load-balancer-nlb-target-type: ip``);
* an Ingress of class ``alb`` (``spec.ingressClassName``, an IngressClass whose
  controller is ``ingress.k8s.aws/alb``, or the ``kubernetes.io/ingress.class``
  annotation), alone or in an ``alb.ingress.kubernetes.io/group.name`` group,
  gets an application load balancer with listeners from ``listen-ports``
  (HTTP 80 by default, HTTPS with ``certificate-arn``), a rule per host/path
  forwarding to a target group per backend Service port, and a 404 default
  action unless a default backend is given.

The load balancers and target groups are tagged ``elbv2.k8s.aws/cluster``,
``service.k8s.aws/stack`` or ``ingress.k8s.aws/stack`` and
``*.k8s.aws/resource``, plus the controller's ``--default-tags`` (the chart's
``defaultTags``, winning over the annotations' tags); the object gets the controller's finalizer and
``status.loadBalancer.ingress[].hostname``; deleting the object deletes them.
Failures (no subnet to discover, a ClusterIP backend with instance targets...)
are events, as the controller reports them, and are retried.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from .cloud import CloudError, ListenerSpec, LoadBalancerSpec, TargetGroupSpec
from .runtime import Context
from .util import pod_is_ready

CONTROLLER = "aws-load-balancer-controller"
SERVICE_FINALIZER = "service.k8s.aws/resources"
INGRESS_FINALIZER = "ingress.k8s.aws/resources"
SERVICE_STACK = "service.k8s.aws/stack"
INGRESS_STACK = "ingress.k8s.aws/stack"
CLUSTER_TAG = "elbv2.k8s.aws/cluster"
NLB_CLASS = "service.k8s.aws/nlb"
ALB_CONTROLLER = "ingress.k8s.aws/alb"
SVC = "service.beta.kubernetes.io/"
ALB = "alb.ingress.kubernetes.io/"
RETRY = 10.0
_NOT_ALNUM = re.compile(r"[^A-Za-z0-9]")


def _name(*parts: str, lengths: tuple[int, ...], seed: str) -> str:
    pieces = [_NOT_ALNUM.sub("", part)[:length] for part, length in zip(parts, lengths)]
    digest = hashlib.sha256(seed.encode()).hexdigest()[:10]
    return "-".join(["k8s"] + [p for p in pieces if p] + [digest])


def _tags(text: str | None) -> list[tuple[str, str]]:
    result = []
    for item in (text or "").split(","):
        key, _, value = item.partition("=")
        if key.strip():
            result.append((key.strip(), value.strip()))
    return result


def _instance_id(node: dict) -> str | None:
    provider = (node.get("spec") or {}).get("providerID") or ""
    return provider.rsplit("/", 1)[-1] if provider.startswith("aws://") else None


def controller_ready(ctx: Context) -> bool:
    return any(d["metadata"]["name"] == CONTROLLER and int((d.get("status") or {}).get("readyReplicas") or 0) > 0
               for d in ctx.list("deployments"))


def controller_default_tags(ctx: Context) -> list[tuple[str, str]]:
    """The controller's ``--default-tags`` (the chart's ``defaultTags``): tags of every resource it manages."""
    for deployment in ctx.list("deployments"):
        if deployment["metadata"]["name"] != CONTROLLER:
            continue
        spec = ((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}
        for container in spec.get("containers") or []:
            for arg in container.get("args") or []:
                if str(arg).startswith("--default-tags="):
                    return _tags(str(arg).split("=", 1)[1])
    return []


def with_default_tags(spec: LoadBalancerSpec, defaults: list[tuple[str, str]]) -> LoadBalancerSpec:
    """``spec`` with the controller's default tags, which win over the annotations' (as in the controller)."""
    if not defaults:
        return spec

    def merged(tags: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
        keys = {key for key, _ in defaults}
        return tuple([(k, v) for k, v in tags if k not in keys] + defaults)

    return dataclasses.replace(spec, tags=merged(spec.tags), target_groups=tuple(
        dataclasses.replace(group, tags=merged(group.tags)) for group in spec.target_groups))


class LoadBalancerController:
    """See the module docstring."""

    def __init__(self) -> None:
        self._applied: dict[str, tuple[str, str]] = {}  # stack -> (spec digest, DNS name)
        self._stack_tags: dict[str, str] = {}  # stack -> its tag key
        self._retry: dict[str, float] = {}  # stack -> when to try again after a failure
        self._reported: dict[tuple[str, str], str] = {}

    def reconcile(self, ctx: Context) -> None:
        if not controller_ready(ctx):
            return
        live_stacks: set[str] = set()
        for service in ctx.list("services"):
            stack = self._service(ctx, service)
            if stack:
                live_stacks.add(stack)
        live_stacks |= self._ingresses(ctx)
        for stack in list(self._applied):  # objects gone without their finalizer (namespace purge...)
            if stack not in live_stacks:
                self._delete(ctx, stack, self._stack_tags.get(stack, SERVICE_STACK))

    # -- shared ----------------------------------------------------------------------------------

    def _report(self, ctx: Context, obj: dict, event_type: str, reason: str, message: str) -> None:
        key = (obj["metadata"].get("uid", ""), reason)
        if self._reported.get(key) == message:
            return
        self._reported[key] = message
        component = "service" if obj.get("kind") == "Service" else "ingress"
        ctx.event(obj, event_type, reason, message, component)

    def _delete(self, ctx: Context, stack: str, stack_tag: str) -> bool:
        try:
            ctx.cloud.delete_load_balancer(stack_tag, stack)
        except CloudError:
            return False
        self._applied.pop(stack, None)
        self._stack_tags.pop(stack, None)
        return True

    def _ensure(self, ctx: Context, obj: dict, spec: LoadBalancerSpec) -> str | None:
        spec = with_default_tags(spec, controller_default_tags(ctx))
        digest = hashlib.sha256(repr(spec).encode()).hexdigest()
        applied = self._applied.get(spec.stack)
        if applied is not None and applied[0] == digest:
            return applied[1]
        if self._retry.get(spec.stack, 0) > ctx.now:
            ctx.wake_at(self._retry[spec.stack])
            return applied[1] if applied else None
        try:
            dns = ctx.cloud.ensure_load_balancer(spec)
        except CloudError as error:
            self._retry[spec.stack] = ctx.now + RETRY
            ctx.wake_at(ctx.now + RETRY)
            self._report(ctx, obj, "Warning", error.reason, error.message)
            return applied[1] if applied else None
        self._retry.pop(spec.stack, None)
        self._applied[spec.stack] = (digest, dns)
        self._stack_tags[spec.stack] = spec.stack_tag
        self._reported.pop((obj["metadata"].get("uid", ""), "FailedBuildModel"), None)
        self._reported.pop((obj["metadata"].get("uid", ""), "FailedDeployModel"), None)
        ctx.event(obj, "Normal", "SuccessfullyReconciled", "Successfully reconciled",
                  "service" if obj.get("kind") == "Service" else "ingress")
        return dns

    @staticmethod
    def _set_hostname(ctx: Context, kind: str, obj: dict, hostname: str | None) -> None:
        status = dict(obj.get("status") or {})
        wanted = {"ingress": [{"hostname": hostname}]} if hostname else {}
        if status.get("loadBalancer") == wanted:
            return
        status["loadBalancer"] = wanted
        ctx.update_status(kind, dict(obj, status=status))

    @staticmethod
    def _with_finalizer(ctx: Context, kind: str, obj: dict, finalizer: str, present: bool) -> dict | None:
        finalizers = list(obj["metadata"].get("finalizers") or [])
        if (finalizer in finalizers) == present:
            return obj
        finalizers = finalizers + [finalizer] if present else [f for f in finalizers if f != finalizer]
        return ctx.update(kind, dict(obj, metadata=dict(obj["metadata"], finalizers=finalizers)))

    def _targets(self, ctx: Context, service: dict, port: dict, target_type: str) -> tuple[tuple[str, int], ...]:
        if target_type == "instance":
            node_port = port.get("nodePort")
            if not node_port:
                return ()
            return tuple(sorted((instance, int(node_port)) for instance in
                                (_instance_id(n) for n in ctx.list("nodes")) if instance))
        selector = (service.get("spec") or {}).get("selector") or {}
        if not selector:
            return ()
        targets = []
        for pod in ctx.list("pods", service["metadata"].get("namespace")):
            labels = pod["metadata"].get("labels") or {}
            if any(labels.get(k) != v for k, v in selector.items()) or not pod_is_ready(pod):
                continue
            ip = (pod.get("status") or {}).get("podIP")
            number = _target_port(port, pod)
            if ip and number:
                targets.append((ip, number))
        return tuple(sorted(targets))

    # -- Services --------------------------------------------------------------------------------------

    @staticmethod
    def _handles_service(service: dict) -> bool:
        spec = service.get("spec") or {}
        if spec.get("type") != "LoadBalancer":
            return False
        if spec.get("loadBalancerClass") not in (None, "", NLB_CLASS):
            return False
        kind = (service["metadata"].get("annotations") or {}).get(SVC + "aws-load-balancer-type")
        return kind in (None, "", "external", "nlb-ip", "nlb")

    def _service(self, ctx: Context, service: dict) -> str | None:
        meta = service["metadata"]
        stack = f"{meta.get('namespace')}/{meta['name']}"
        handled = self._handles_service(service)
        has_finalizer = SERVICE_FINALIZER in (meta.get("finalizers") or [])
        if meta.get("deletionTimestamp") or not handled:
            if has_finalizer:
                if self._delete(ctx, stack, SERVICE_STACK):
                    self._with_finalizer(ctx, "services", service, SERVICE_FINALIZER, False)
                    if not meta.get("deletionTimestamp") and (service.get("status") or {}).get("loadBalancer"):
                        fresh = ctx.get("services", meta.get("namespace"), meta["name"])
                        if fresh is not None:
                            self._set_hostname(ctx, "services", fresh, None)
            return None
        service = self._with_finalizer(ctx, "services", service, SERVICE_FINALIZER, True)
        if service is None:
            return stack
        annotations = service["metadata"].get("annotations") or {}
        spec = service.get("spec") or {}
        scheme = annotations.get(SVC + "aws-load-balancer-scheme") or "internal"  # the controller's default
        kind = annotations.get(SVC + "aws-load-balancer-type")
        target_type = annotations.get(SVC + "aws-load-balancer-nlb-target-type") or (
            "ip" if kind == "nlb-ip" else "instance")
        explicit = tuple(s.strip() for s in (annotations.get(SVC + "aws-load-balancer-subnets") or "").split(",")
                         if s.strip())
        try:
            subnets = ctx.cloud.lb_subnets(scheme == "internal", explicit)
        except CloudError as error:
            self._report(ctx, service, "Warning", error.reason, error.message)
            ctx.wake_at(ctx.now + RETRY)
            return stack
        cluster = ctx.info.name if ctx.info else ""
        namespace, name = meta.get("namespace", ""), meta["name"]
        lb_name = annotations.get(SVC + "aws-load-balancer-name") or _name(
            namespace, name, lengths=(8, 8), seed=f"{cluster}/{stack}/{scheme}")
        target_groups = []
        listeners = []
        extra_tags = _tags(annotations.get(SVC + "aws-load-balancer-additional-resource-tags"))
        for port in spec.get("ports") or []:
            protocol = (port.get("protocol") or "TCP").upper()
            tg_name = _name(namespace, name, lengths=(8, 8),
                            seed=f"{cluster}/{stack}/{port.get('port')}/{protocol}/{target_type}")
            target_groups.append(TargetGroupSpec(
                name=tg_name, protocol=protocol, target_type=target_type,
                port=int(port.get("nodePort") or 0) if target_type == "instance" else int(
                    _target_port(port, None) or port.get("port") or 0),
                targets=self._targets(ctx, service, port, target_type),
                tags=tuple([(CLUSTER_TAG, cluster), (SERVICE_STACK, stack),
                            ("service.k8s.aws/resource", f"{stack}:{port.get('port')}")] + extra_tags)))
            listeners.append(ListenerSpec(protocol=protocol, port=int(port.get("port") or 0),
                                          default_target_group=tg_name))
        lb = LoadBalancerSpec(
            stack=stack, stack_tag=SERVICE_STACK, name=lb_name, type="network", scheme=scheme,
            subnets=tuple(s.id for s in subnets), listeners=tuple(listeners), target_groups=tuple(target_groups),
            tags=tuple([(CLUSTER_TAG, cluster), (SERVICE_STACK, stack),
                        ("service.k8s.aws/resource", "LoadBalancer")] + extra_tags),
            ip_address_type=annotations.get(SVC + "aws-load-balancer-ip-address-type") or "ipv4")
        dns = self._ensure(ctx, service, lb)
        if dns:
            self._set_hostname(ctx, "services", service, dns)
        return stack

    # -- Ingresses -------------------------------------------------------------------------------------------

    def _alb_classes(self, ctx: Context) -> tuple[set[str], str | None]:
        names = {"alb"}
        default = None
        for item in ctx.list("ingressclasses"):
            if (item.get("spec") or {}).get("controller") == ALB_CONTROLLER:
                names.add(item["metadata"]["name"])
                if (item["metadata"].get("annotations") or {}).get(
                        "ingressclass.kubernetes.io/is-default-class") == "true":
                    default = item["metadata"]["name"]
        return names, default

    def _ingresses(self, ctx: Context) -> set[str]:
        names, default = self._alb_classes(ctx)
        groups: dict[str, list[tuple[dict, str, bool]]] = {}  # stack -> (ingress, its finalizer, leaving)
        stacks: set[str] = set()
        for ingress in ctx.list("ingresses"):
            meta = ingress["metadata"]
            annotations = meta.get("annotations") or {}
            class_name = (ingress.get("spec") or {}).get("ingressClassName") or annotations.get(
                "kubernetes.io/ingress.class") or default
            group = annotations.get(ALB + "group.name")
            stack = group or f"{meta.get('namespace')}/{meta['name']}"
            finalizer = f"group.ingress.k8s.aws/{group}" if group else INGRESS_FINALIZER
            if meta.get("deletionTimestamp") or class_name not in names:
                if finalizer in (meta.get("finalizers") or []):
                    groups.setdefault(stack, []).append((ingress, finalizer, True))
                continue
            groups.setdefault(stack, []).append((ingress, finalizer, False))
        for stack, members in groups.items():
            staying = [(i, f) for i, f, leaving in members if not leaving]
            leaving = [(i, f) for i, f, gone in members if gone]
            if not staying:
                if self._delete(ctx, stack, INGRESS_STACK):
                    for ingress, finalizer in leaving:
                        self._with_finalizer(ctx, "ingresses", ingress, finalizer, False)
                continue
            stacks.add(stack)
            for ingress, finalizer in leaving:
                self._with_finalizer(ctx, "ingresses", ingress, finalizer, False)
            self._ingress_group(ctx, stack, staying)
        return stacks

    def _ingress_group(self, ctx: Context, stack: str, members: list[tuple[dict, str]]) -> None:
        members = sorted(members, key=lambda m: (int((m[0]["metadata"].get("annotations") or {}).get(
            ALB + "group.order") or 0), m[0]["metadata"].get("namespace", ""), m[0]["metadata"]["name"]))
        current = []
        for ingress, finalizer in members:
            updated = self._with_finalizer(ctx, "ingresses", ingress, finalizer, True)
            if updated is not None:
                current.append(updated)
        if not current:
            return
        first = current[0]
        annotations: dict[str, str] = {}
        for ingress in current:
            annotations.update(ingress["metadata"].get("annotations") or {})
        cluster = ctx.info.name if ctx.info else ""
        scheme = annotations.get(ALB + "scheme") or "internal"
        explicit = tuple(s.strip() for s in (annotations.get(ALB + "subnets") or "").split(",") if s.strip())
        try:
            subnets = ctx.cloud.lb_subnets(scheme == "internal", explicit)
            if len({s.az for s in subnets}) < 2:
                raise CloudError("FailedBuildModel", "Failed build model due to couldn't auto-discover subnets: "
                                                     "unable to resolve at least two subnets in different AZs "
                                                     f"(found {len(subnets)})")
            listen_ports = self._listen_ports(annotations)
            rules, default_backend, target_groups = self._rules(ctx, current, annotations, cluster, stack)
        except CloudError as error:
            for ingress in current:
                self._report(ctx, ingress, "Warning", error.reason, error.message)
            ctx.wake_at(ctx.now + RETRY)
            return
        certificate = (annotations.get(ALB + "certificate-arn") or "").split(",")[0].strip() or None
        listeners = []
        for protocol, port in listen_ports:
            listeners.append(ListenerSpec(protocol=protocol, port=port, default_target_group=default_backend,
                                          certificate_arn=certificate if protocol == "HTTPS" else None,
                                          rules=tuple(rules)))
        extra_tags = _tags(annotations.get(ALB + "tags"))
        own_groups = tuple(g.strip() for g in (annotations.get(ALB + "security-groups") or "").split(",") if g.strip())
        group = annotations.get(ALB + "group.name")
        if group:
            lb_name = annotations.get(ALB + "load-balancer-name") or _name(group, lengths=(17,),
                                                                          seed=f"{cluster}/{group}/{scheme}")
        else:
            lb_name = annotations.get(ALB + "load-balancer-name") or _name(
                first["metadata"].get("namespace", ""), first["metadata"]["name"], lengths=(8, 8),
                seed=f"{cluster}/{stack}/{scheme}")
        lb = LoadBalancerSpec(
            stack=stack, stack_tag=INGRESS_STACK, name=lb_name, type="application", scheme=scheme,
            subnets=tuple(s.id for s in subnets), listeners=tuple(listeners), target_groups=tuple(target_groups),
            tags=tuple([(CLUSTER_TAG, cluster), (INGRESS_STACK, stack), ("ingress.k8s.aws/resource", "LoadBalancer")]
                       + extra_tags),
            ip_address_type=annotations.get(ALB + "ip-address-type") or "ipv4",
            # alb.ingress.kubernetes.io/security-groups (ids or names) replaces the managed group, as the controller does
            security_group=not own_groups, security_groups=own_groups)
        dns = self._ensure(ctx, first, lb)
        if dns:
            for ingress in current:
                self._set_hostname(ctx, "ingresses", ingress, dns)

    @staticmethod
    def _listen_ports(annotations: dict[str, str]) -> list[tuple[str, int]]:
        text = annotations.get(ALB + "listen-ports")
        if not text:
            return [("HTTPS", 443)] if annotations.get(ALB + "certificate-arn") else [("HTTP", 80)]
        try:
            entries = json.loads(text)
        except ValueError:
            raise CloudError("FailedBuildModel", f"Failed build model due to failed to parse listen-ports "
                                                 f"configuration: `{text}`") from None
        result = []
        for entry in entries if isinstance(entries, list) else []:
            for protocol, port in (entry or {}).items():
                result.append((str(protocol).upper(), int(port)))
        return result or [("HTTP", 80)]

    def _rules(self, ctx: Context, ingresses: list[dict], annotations: dict[str, str], cluster: str, stack: str
               ) -> tuple[list[tuple[int, str | None, str | None, str]], str | None, list[TargetGroupSpec]]:
        target_type = annotations.get(ALB + "target-type") or "instance"
        groups: dict[str, TargetGroupSpec] = {}
        rules: list[tuple[int, str | None, str | None, str]] = []
        default_backend = None
        priority = 1
        for ingress in ingresses:
            namespace = ingress["metadata"].get("namespace", "")
            spec = ingress.get("spec") or {}
            backend = (spec.get("defaultBackend") or {}).get("service")
            if backend:
                default_backend = self._target_group(ctx, namespace, backend, target_type, cluster, stack,
                                                     annotations, groups)
            for rule in spec.get("rules") or []:
                host = rule.get("host")
                for path in ((rule.get("http") or {}).get("paths") or []):
                    service = (path.get("backend") or {}).get("service")
                    if not service:
                        continue
                    tg = self._target_group(ctx, namespace, service, target_type, cluster, stack, annotations, groups)
                    value = path.get("path") or "/*"
                    if path.get("pathType") == "Prefix" and value not in ("/", "/*"):
                        patterns = [value.rstrip("/"), value.rstrip("/") + "/*"]
                    elif path.get("pathType") == "Prefix":
                        patterns = ["/*"]
                    else:
                        patterns = [value]
                    for pattern in patterns:
                        rules.append((priority, host, pattern, tg))
                        priority += 1
        return rules, default_backend, list(groups.values())

    def _target_group(self, ctx: Context, namespace: str, backend: dict, target_type: str, cluster: str, stack: str,
                      annotations: dict[str, str], groups: dict[str, TargetGroupSpec]) -> str:
        name = backend.get("name", "")
        port_ref = backend.get("port") or {}
        service = ctx.get("services", namespace, name)
        if service is None:
            raise CloudError("FailedBuildModel", f'Failed build model due to services "{name}" not found')
        spec = service.get("spec") or {}
        port = next((p for p in spec.get("ports") or []
                     if (port_ref.get("name") and p.get("name") == port_ref.get("name"))
                     or (port_ref.get("number") and p.get("port") == port_ref.get("number"))), None)
        if port is None:
            raise CloudError("FailedBuildModel", f"Failed build model due to unable to find port "
                                                 f"{port_ref.get('name') or port_ref.get('number')} on service "
                                                 f"{namespace}/{name}")
        if target_type == "instance" and spec.get("type") not in ("NodePort", "LoadBalancer"):
            raise CloudError("FailedBuildModel", f"Failed build model due to InvalidParameter: service "
                                                 f"{namespace}/{name} type must be either 'NodePort' or "
                                                 "'LoadBalancer' when target type is instance")
        protocol = annotations.get(ALB + "backend-protocol") or "HTTP"
        tg_name = _name(namespace, name, lengths=(8, 8),
                        seed=f"{cluster}/{stack}/{namespace}/{name}/{port.get('port')}/{target_type}")
        if tg_name not in groups:
            groups[tg_name] = TargetGroupSpec(
                name=tg_name, protocol=protocol, target_type=target_type,
                port=int(port.get("nodePort") or 1) if target_type == "instance" else int(
                    _target_port(port, None) or port.get("port") or 1),
                targets=self._targets(ctx, service, port, target_type),
                tags=((CLUSTER_TAG, cluster), (INGRESS_STACK, stack),
                      ("ingress.k8s.aws/resource", f"{namespace}/{name}-{name}:{port.get('port')}")),
                health_check_path=annotations.get(ALB + "healthcheck-path") or "/")
        return tg_name


def _target_port(port: dict, pod: dict | None) -> int | None:
    target = port.get("targetPort", port.get("port"))
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    if pod is None:
        return None
    for container in (pod.get("spec") or {}).get("containers") or []:
        for container_port in container.get("ports") or []:
            if container_port.get("name") == target:
                return container_port.get("containerPort")
    return None


__all__ = ["LoadBalancerController", "controller_ready"]
