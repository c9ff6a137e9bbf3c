"""The default scheduler, in small: filters, scores, binding and FailedScheduling as kube-scheduler words it.

Pending pods (no ``spec.nodeName``, ``schedulerName`` default-scheduler) are
placed by priority, then age. A node must pass, in kube-scheduler's filter
order (the first failing filter is the node's reason): NodeUnschedulable,
TaintToleration (NoSchedule/NoExecute; Equal/Exists), NodeAffinity
(``nodeSelector``, required node affinity with In/NotIn/Exists/DoesNotExist/
Gt/Lt and ``matchFields`` on ``metadata.name``), NodePorts, NodeResourcesFit
(cpu, memory, ephemeral-storage, extended resources and the pod count against
allocatable minus the pods already there), the volume filters (bound
volumes' node affinity, WaitForFirstConsumer classes' allowed topologies),
PodTopologySpread (DoNotSchedule) and InterPodAffinity (required affinity and
anti-affinity, the existing pods' anti-affinity). Among the nodes left the
highest score wins: least allocated resources, preferred node affinity,
PreferNoSchedule taints, preferred pod (anti-)affinity and topology spread,
with the default spreading of a controller's pods over hosts and zones.

A pod that fits nowhere gets ``PodScheduled=False`` (reason Unschedulable) and
a ``FailedScheduling`` event whose message is kube-scheduler's: ``0/3 nodes are
available: 1 node(s) had untolerated taint {dedicated: database}, 2
Insufficient cpu. preemption: 0/3 nodes are available: 1 Preemption is not
helpful for scheduling, 2 No preemption victims found for incoming pod.``
(there is no preemption). It is tried again when nodes, placed pods or
volumes change.

A pod with unbound WaitForFirstConsumer claims is *assumed* on its node: the
claims get ``volume.kubernetes.io/selected-node`` and the pod is bound once
the provisioner has bound them (as the VolumeBinding plugin's PreBind waits).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import storage
from .runtime import Context
from .util import bytes_of, is_terminal, label_match, millis_of, pod_requests, set_condition

UNSCHEDULABLE_TAINT = "node.kubernetes.io/unschedulable"
NO_NODES = "no nodes available to schedule pods"
NOT_HELPFUL = "Preemption is not helpful for scheduling"
NO_VICTIMS = "No preemption victims found for incoming pod"
POD_CONDITIONS = ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled")
EVENT_INTERVAL = 10.0


# -- matching helpers ----------------------------------------------------------------------------

def tolerates(tolerations: list[dict] | None, taint: dict) -> bool:
    for toleration in tolerations or []:
        if not isinstance(toleration, dict):
            continue
        effect = toleration.get("effect") or ""
        if effect and effect != taint.get("effect"):
            continue
        operator = toleration.get("operator") or "Equal"
        key = toleration.get("key") or ""
        if not key:
            if operator == "Exists":
                return True
            continue
        if key != taint.get("key"):
            continue
        if operator == "Exists" or (toleration.get("value") or "") == (taint.get("value") or ""):
            return True
    return False


def untolerated(pod_spec: dict, node: dict, effects: tuple[str, ...] = ("NoSchedule", "NoExecute")) -> dict | None:
    for taint in (node.get("spec") or {}).get("taints") or []:
        if taint.get("effect") in effects and not tolerates(pod_spec.get("tolerations"), taint):
            return taint
    return None


def _expression(expression: dict, value: Any, present: bool) -> bool:
    operator = expression.get("operator")
    values = [str(v) for v in expression.get("values") or []]
    if operator == "In":
        return present and str(value) in values
    if operator == "NotIn":
        return not present or str(value) not in values
    if operator == "Exists":
        return present
    if operator == "DoesNotExist":
        return not present
    if operator in ("Gt", "Lt") and present and values:
        try:
            actual, bound = int(str(value)), int(values[0])
        except ValueError:
            return False
        return actual > bound if operator == "Gt" else actual < bound
    return False


def term_matches(term: dict, node: dict) -> bool:
    """A NodeSelectorTerm: all its matchExpressions (labels) and matchFields (metadata.name) hold."""
    expressions = term.get("matchExpressions") or []
    fields = term.get("matchFields") or []
    if not expressions and not fields:
        return False
    labels = (node.get("metadata") or {}).get("labels") or {}
    for expression in expressions:
        key = expression.get("key", "")
        if not _expression(expression, labels.get(key), key in labels):
            return False
    for expression in fields:
        if expression.get("key") != "metadata.name":
            return False
        if not _expression(expression, node["metadata"].get("name"), True):
            return False
    return True


def matches_node_selector(pod_spec: dict, node: dict) -> bool:
    labels = (node.get("metadata") or {}).get("labels") or {}
    for key, value in (pod_spec.get("nodeSelector") or {}).items():
        if labels.get(key) != str(value):
            return False
    required = (((pod_spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution"))
    if required is not None:
        terms = required.get("nodeSelectorTerms") or []
        if not any(term_matches(term, node) for term in terms):
            return False
    return True


def preferred_node_score(pod_spec: dict, node: dict) -> int:
    preferred = (((pod_spec.get("affinity") or {}).get("nodeAffinity") or {})
                 .get("preferredDuringSchedulingIgnoredDuringExecution") or [])
    return sum(int(p.get("weight") or 0) for p in preferred if term_matches(p.get("preference") or {}, node))


def node_allocatable(node: dict) -> dict[str, int]:
    result = {}
    for name, value in ((node.get("status") or {}).get("allocatable") or {}).items():
        try:
            result[name] = millis_of(value) if name == "cpu" else bytes_of(value)
        except ValueError:
            continue
    return result


def host_ports(pod_spec: dict) -> set[tuple[str, str, int]]:
    ports = set()
    for container in (pod_spec.get("containers") or []) + (pod_spec.get("initContainers") or []):
        for port in container.get("ports") or []:
            if port.get("hostPort"):
                ports.add((port.get("hostIP") or "0.0.0.0", port.get("protocol") or "TCP", int(port["hostPort"])))
    return ports


# -- per-node bookkeeping -------------------------------------------------------------------------

@dataclass
class NodeState:
    node: dict
    allocatable: dict[str, int]
    requested: dict[str, int] = field(default_factory=dict)
    pods: list[dict] = field(default_factory=list)
    ports: set = field(default_factory=set)

    @property
    def name(self) -> str:
        return self.node["metadata"]["name"]

    @property
    def labels(self) -> dict[str, str]:
        return self.node["metadata"].get("labels") or {}

    def add(self, pod: dict) -> None:
        spec = pod.get("spec") or {}
        for name, amount in pod_requests(spec).items():
            self.requested[name] = self.requested.get(name, 0) + amount
        self.pods.append(pod)
        self.ports |= host_ports(spec)


def _terms(pod_spec: dict, kind: str, mode: str) -> list[dict]:
    affinity = (pod_spec.get("affinity") or {}).get(kind) or {}
    return list(affinity.get(f"{mode}DuringSchedulingIgnoredDuringExecution") or [])


def _term_namespaces(term: dict, pod: dict, namespaces: dict[str, dict]) -> set[str] | None:
    """The namespaces a pod (anti-)affinity term looks at (None: all)."""
    listed = set(term.get("namespaces") or [])
    selector = term.get("namespaceSelector")
    if selector is not None:
        if not selector:  # {} selects every namespace
            return None
        listed |= {name for name, labels in namespaces.items() if label_match(selector, labels)}
    if not listed and selector is None:
        listed = {pod["metadata"].get("namespace", "")}
    return listed


def _term_selects(term: dict, owner: dict, candidate: dict, namespaces: dict[str, dict]) -> bool:
    """Does ``owner``'s (anti-)affinity term select the pod ``candidate``?"""
    scope = _term_namespaces(term, owner, namespaces)
    if scope is not None and candidate["metadata"].get("namespace") not in scope:
        return False
    selector = dict(term.get("labelSelector") or {})
    labels = candidate["metadata"].get("labels") or {}
    own_labels = owner["metadata"].get("labels") or {}
    for key in term.get("matchLabelKeys") or []:
        if key in own_labels:
            selector.setdefault("matchExpressions", [])
            selector["matchExpressions"] = list(selector["matchExpressions"]) + [
                {"key": key, "operator": "In", "values": [own_labels[key]]}]
    for key in term.get("mismatchLabelKeys") or []:
        if key in own_labels:
            selector["matchExpressions"] = list(selector.get("matchExpressions") or []) + [
                {"key": key, "operator": "NotIn", "values": [own_labels[key]]}]
    if term.get("labelSelector") is None:
        return False
    return label_match(selector, labels)


def _spread_selector(constraint: dict, pod: dict) -> dict | None:
    selector = constraint.get("labelSelector")
    if selector is None:
        return None
    selector = dict(selector)
    labels = pod["metadata"].get("labels") or {}
    for key in constraint.get("matchLabelKeys") or []:
        if key in labels:
            selector["matchExpressions"] = list(selector.get("matchExpressions") or []) + [
                {"key": key, "operator": "In", "values": [labels[key]]}]
    return selector


class Scheduler:
    """kube-scheduler, as described in the module docstring."""

    def __init__(self) -> None:
        self.assumed: dict[str, str] = {}  # pod uid -> node (waiting for its volumes)
        self._attempts: dict[str, tuple[str, int]] = {}  # pod uid -> (pod resourceVersion, cluster state)
        self._reported: dict[str, tuple[str, float]] = {}  # pod uid -> (message, when)

    # -- the pass ---------------------------------------------------------------------------------

    def reconcile(self, ctx: Context) -> None:
        pods = ctx.list("pods")
        pending = [p for p in pods if self._schedulable(p)]
        live_uids = {p["metadata"].get("uid") for p in pods}
        for uid in list(self.assumed):
            if uid not in live_uids:
                del self.assumed[uid]
        for cache in (self._attempts, self._reported):
            for uid in list(cache):
                if uid not in live_uids:
                    del cache[uid]
        if not pending:
            return
        nodes = [n for n in ctx.list("nodes") if not n["metadata"].get("deletionTimestamp")]
        states = {n["metadata"]["name"]: NodeState(n, node_allocatable(n)) for n in nodes}
        for pod in pods:
            name = (pod.get("spec") or {}).get("nodeName")
            if name in states and not is_terminal(pod):
                states[name].add(pod)
        by_uid = {p["metadata"].get("uid"): p for p in pods}
        for uid, name in self.assumed.items():
            if name in states and uid in by_uid and not (by_uid[uid].get("spec") or {}).get("nodeName"):
                states[name].add(by_uid[uid])
        namespaces = {ns["metadata"]["name"]: ns["metadata"].get("labels") or {} for ns in ctx.list("namespaces")}
        state_key = hash((tuple(sorted((n["metadata"]["name"], n["metadata"].get("resourceVersion")) for n in nodes)),
                          frozenset((p["metadata"].get("uid"), (p.get("spec") or {}).get("nodeName"))
                                    for p in pods if (p.get("spec") or {}).get("nodeName") and not is_terminal(p)),
                          tuple((c["metadata"].get("uid"), c["metadata"].get("resourceVersion"))
                                for c in ctx.list("persistentvolumeclaims")),
                          len(ctx.list("persistentvolumes"))))
        pending.sort(key=lambda p: (-int((p.get("spec") or {}).get("priority") or 0),
                                    p["metadata"].get("creationTimestamp", ""), p["metadata"].get("namespace", ""),
                                    p["metadata"]["name"]))
        all_pods = [p for p in pods if not is_terminal(p)]
        for pod in pending:
            uid = pod["metadata"].get("uid", "")
            attempt = (pod["metadata"].get("resourceVersion", ""), state_key)
            if uid not in self.assumed and self._attempts.get(uid) == attempt:
                continue
            self._schedule_one(ctx, pod, states, namespaces, all_pods, state_key)

    @staticmethod
    def _schedulable(pod: dict) -> bool:
        spec = pod.get("spec") or {}
        if spec.get("nodeName") or pod["metadata"].get("deletionTimestamp"):
            return False
        if (spec.get("schedulerName") or "default-scheduler") != "default-scheduler":
            return False
        if spec.get("schedulingGates"):
            return False
        return (pod.get("status") or {}).get("phase", "Pending") == "Pending"

    def _schedule_one(self, ctx: Context, pod: dict, states: dict[str, NodeState], namespaces: dict[str, dict],
                      all_pods: list[dict], state_key: int) -> None:
        uid = pod["metadata"].get("uid", "")
        volumes = storage.pod_volumes(ctx, pod)
        if volumes.error:
            self._unschedulable(ctx, pod, f"0/{len(states)} nodes are available: {volumes.error}. preemption: "
                                          f"0/{len(states)} nodes are available: {len(states)} {NOT_HELPFUL}."
                                if states else NO_NODES, state_key)
            return
        if not states:
            self._unschedulable(ctx, pod, NO_NODES, state_key)
            return
        assumed = self.assumed.get(uid)
        if assumed is not None and assumed in states:
            if volumes.unbound:
                storage.select_node(ctx, volumes.unbound, assumed)
                return  # still waiting for the provisioner
            self._bind(ctx, pod, assumed)
            self.assumed.pop(uid, None)
            return
        self.assumed.pop(uid, None)
        feasible: list[NodeState] = []
        reasons: dict[str, list[str]] = {}
        for state in states.values():
            failure = self._filter(pod, state, states, namespaces, all_pods, volumes)
            if failure:
                reasons[state.name] = failure
            else:
                feasible.append(state)
        if not feasible:
            self._unschedulable(ctx, pod, self._fit_error(len(states), reasons), state_key)
            return
        best = max(feasible, key=lambda s: (self._score(pod, s, feasible, states, namespaces, all_pods), s.name))
        best.add(pod)
        if volumes.unbound:
            self.assumed[uid] = best.name
            storage.select_node(ctx, volumes.unbound, best.name)
            return
        self._bind(ctx, pod, best.name)

    # -- filters --------------------------------------------------------------------------------

    def _filter(self, pod: dict, state: NodeState, states: dict[str, NodeState], namespaces: dict[str, dict],
                all_pods: list[dict], volumes: "storage.PodVolumes") -> list[str]:
        spec = pod.get("spec") or {}
        node = state.node
        node_spec = node.get("spec") or {}
        if node_spec.get("unschedulable") and not tolerates(
                spec.get("tolerations"), {"key": UNSCHEDULABLE_TAINT, "effect": "NoSchedule"}):
            return ["node(s) were unschedulable"]
        taint = untolerated(spec, node)
        if taint is not None:
            return [f"node(s) had untolerated taint {{{taint.get('key', '')}: {taint.get('value', '')}}}"]
        if not matches_node_selector(spec, node):
            return ["node(s) didn't match Pod's node affinity/selector"]
        wanted_ports = host_ports(spec)
        if wanted_ports and any(self._port_conflict(p, state.ports) for p in wanted_ports):
            return ["node(s) didn't have free ports for the requested pod ports"]
        insufficient = []
        if len(state.pods) + 1 > state.allocatable.get("pods", 110):
            insufficient.append("Too many pods")
        for name, amount in sorted(pod_requests(spec).items()):
            if amount <= 0 or name == "pods":
                continue
            if state.requested.get(name, 0) + amount > state.allocatable.get(name, 0):
                insufficient.append(f"Insufficient {name}")
        if insufficient:
            return insufficient
        volume_reason = storage.node_conflict(volumes, node)
        if volume_reason:
            return [volume_reason]
        spread = self._spread_filter(pod, state, states)
        if spread:
            return [spread]
        affinity = self._pod_affinity_filter(pod, state, states, namespaces, all_pods)
        if affinity:
            return [affinity]
        return []

    @staticmethod
    def _port_conflict(wanted: tuple[str, str, int], used: set) -> bool:
        ip, protocol, port = wanted
        return any(used_port == port and used_protocol == protocol and (ip == used_ip or "0.0.0.0" in (ip, used_ip))
                   for used_ip, used_protocol, used_port in used)

    def _spread_filter(self, pod: dict, state: NodeState, states: dict[str, NodeState]) -> str | None:
        spec = pod.get("spec") or {}
        for constraint in spec.get("topologySpreadConstraints") or []:
            if constraint.get("whenUnsatisfiable", "DoNotSchedule") != "DoNotSchedule":
                continue
            key = constraint.get("topologyKey", "")
            if key not in state.labels:
                return "node(s) didn't match pod topology spread constraints (missing required label)"
            counts = self._domain_counts(pod, constraint, states)
            if not counts:
                continue
            minimum = min(counts.values())
            min_domains = int(constraint.get("minDomains") or 1)
            if len(counts) < min_domains:
                minimum = 0
            selector = _spread_selector(constraint, pod)
            self_match = 1 if label_match(selector, pod["metadata"].get("labels")) else 0
            skew = counts.get(state.labels[key], 0) + self_match - minimum
            if skew > int(constraint.get("maxSkew") or 1):
                return "node(s) didn't match pod topology spread constraints"
        return None

    @staticmethod
    def _domain_counts(pod: dict, constraint: dict, states: dict[str, NodeState]) -> dict[str, int]:
        """Matching pods per topology domain, over the nodes the pod could use (nodeAffinityPolicy Honor)."""
        key = constraint.get("topologyKey", "")
        selector = _spread_selector(constraint, pod)
        spec = pod.get("spec") or {}
        honor_affinity = constraint.get("nodeAffinityPolicy", "Honor") == "Honor"
        honor_taints = constraint.get("nodeTaintsPolicy", "Ignore") == "Honor"
        namespace = pod["metadata"].get("namespace")
        counts: dict[str, int] = {}
        for state in states.values():
            if key not in state.labels:
                continue
            if honor_affinity and not matches_node_selector(spec, state.node):
                continue
            if honor_taints and untolerated(spec, state.node) is not None:
                continue
            domain = state.labels[key]
            counts.setdefault(domain, 0)
            for other in state.pods:
                if other is pod or other["metadata"].get("namespace") != namespace:
                    continue
                if label_match(selector, other["metadata"].get("labels")):
                    counts[domain] += 1
        return counts

    def _pod_affinity_filter(self, pod: dict, state: NodeState, states: dict[str, NodeState],
                             namespaces: dict[str, dict], all_pods: list[dict]) -> str | None:
        spec = pod.get("spec") or {}
        placed = [(other, s) for s in states.values() for other in s.pods if other is not pod]
        for term in _terms(spec, "podAffinity", "required"):
            key = term.get("topologyKey", "")
            domain = state.labels.get(key)
            matching = [(o, s) for o, s in placed if _term_selects(term, pod, o, namespaces)]
            if not matching:
                if _term_selects(term, pod, pod, namespaces):
                    continue  # the first pod of a group that wants to be together
                return "node(s) didn't match pod affinity rules"
            if domain is None or not any(s.labels.get(key) == domain for _o, s in matching):
                return "node(s) didn't match pod affinity rules"
        for term in _terms(spec, "podAntiAffinity", "required"):
            key = term.get("topologyKey", "")
            domain = state.labels.get(key)
            if domain is None:
                continue
            for other, other_state in placed:
                if other_state.labels.get(key) == domain and _term_selects(term, pod, other, namespaces):
                    return "node(s) didn't match pod anti-affinity rules"
        for other, other_state in placed:
            for term in _terms(other.get("spec") or {}, "podAntiAffinity", "required"):
                key = term.get("topologyKey", "")
                domain = other_state.labels.get(key)
                if domain is not None and state.labels.get(key) == domain and _term_selects(term, other, pod,
                                                                                               namespaces):
                    return "node(s) didn't satisfy existing pods anti-affinity rules"
        return None

    # -- scores --------------------------------------------------------------------------------------

    def _score(self, pod: dict, state: NodeState, feasible: list[NodeState], states: dict[str, NodeState],
               namespaces: dict[str, dict], all_pods: list[dict]) -> float:
        spec = pod.get("spec") or {}
        requests = pod_requests(spec)
        free = []
        for name in ("cpu", "memory"):
            allocatable = state.allocatable.get(name, 0)
            if allocatable <= 0:
                continue
            used = state.requested.get(name, 0) + (requests.get(name) or (100 if name == "cpu" else 200 * 2 ** 20))
            free.append(max(allocatable - used, 0) / allocatable)
        least_allocated = 100 * sum(free) / len(free) if free else 0
        node_affinity = self._normalized(preferred_node_score(spec, state.node),
                                         [preferred_node_score(spec, s.node) for s in feasible])
        prefer_no = sum(1 for t in (state.node.get("spec") or {}).get("taints") or []
                        if t.get("effect") == "PreferNoSchedule" and not tolerates(spec.get("tolerations"), t))
        worst = max((sum(1 for t in (s.node.get("spec") or {}).get("taints") or []
                         if t.get("effect") == "PreferNoSchedule" and not tolerates(spec.get("tolerations"), t))
                     for s in feasible), default=0)
        taint_score = 100 * (1 - prefer_no / worst) if worst else 100
        pod_affinity = self._pod_affinity_score(pod, state, states, namespaces)
        spread = self._spread_score(pod, state, states)
        return least_allocated + 2 * node_affinity + 3 * taint_score + 2 * pod_affinity + 2 * spread

    @staticmethod
    def _normalized(value: float, values: list[float]) -> float:
        top = max(values, default=0)
        return 100 * value / top if top > 0 else 0

    def _pod_affinity_score(self, pod: dict, state: NodeState, states: dict[str, NodeState],
                            namespaces: dict[str, dict]) -> float:
        spec = pod.get("spec") or {}
        score = 0.0
        for sign, kind in ((1, "podAffinity"), (-1, "podAntiAffinity")):
            for weighted in _terms(spec, kind, "preferred"):
                term = weighted.get("podAffinityTerm") or {}
                key = term.get("topologyKey", "")
                domain = state.labels.get(key)
                if domain is None:
                    continue
                count = sum(1 for s in states.values() if s.labels.get(key) == domain
                            for other in s.pods if other is not pod and _term_selects(term, pod, other, namespaces))
                score += sign * int(weighted.get("weight") or 0) * min(count, 1) * (1 + min(count, 10) / 10)
        return score

    def _spread_score(self, pod: dict, state: NodeState, states: dict[str, NodeState]) -> float:
        """Fewer matching pods in the node's domains is better (ScheduleAnyway and the default constraints)."""
        spec = pod.get("spec") or {}
        constraints = [c for c in spec.get("topologySpreadConstraints") or []
                       if c.get("whenUnsatisfiable") == "ScheduleAnyway"]
        if not spec.get("topologySpreadConstraints"):
            owner = next((r for r in pod["metadata"].get("ownerReferences") or [] if r.get("controller")), None)
            if owner is not None and owner.get("kind") in ("ReplicaSet", "StatefulSet", "ReplicationController"):
                selector = {"matchLabels": dict(pod["metadata"].get("labels") or {})}
                constraints = [{"topologyKey": "kubernetes.io/hostname", "maxSkew": 3, "labelSelector": selector},
                               {"topologyKey": "topology.kubernetes.io/zone", "maxSkew": 5,
                                "labelSelector": selector}]
        score = 0.0
        for constraint in constraints:
            key = constraint.get("topologyKey", "")
            if key not in state.labels:
                continue
            counts = self._domain_counts(pod, dict(constraint, nodeAffinityPolicy="Honor"), states)
            if not counts:
                continue
            top = max(counts.values())
            here = counts.get(state.labels[key], 0)
            score += 100 * (1 - here / (top + 1))
        return score / len(constraints) if constraints else 0.0

    # -- outcomes ----------------------------------------------------------------------------------------

    @staticmethod
    def _fit_error(total: int, reasons: dict[str, list[str]]) -> str:
        histogram: dict[str, int] = {}
        preemption: dict[str, int] = {}
        for node_reasons in reasons.values():
            for reason in node_reasons:
                histogram[reason] = histogram.get(reason, 0) + 1
            resource = all(r.startswith("Insufficient ") or r == "Too many pods" for r in node_reasons)
            verdict = NO_VICTIMS if resource else NOT_HELPFUL
            preemption[verdict] = preemption.get(verdict, 0) + 1
        parts = sorted(f"{count} {reason}" for reason, count in histogram.items())
        verdicts = sorted(f"{count} {reason}" for reason, count in preemption.items())
        return (f"0/{total} nodes are available: {', '.join(parts)}. preemption: 0/{total} nodes are available: "
                f"{', '.join(verdicts)}.")

    def _unschedulable(self, ctx: Context, pod: dict, message: str, state_key: int) -> None:
        uid = pod["metadata"].get("uid", "")
        status = dict(pod.get("status") or {})
        status["phase"] = "Pending"
        status["conditions"] = set_condition(list(status.get("conditions") or []), "PodScheduled", "False",
                                             "Unschedulable", message, ctx.timestamp, probe_time=True,
                                             order=POD_CONDITIONS)
        pod = dict(pod, status=status)
        updated = ctx.update_status("pods", pod)
        current = updated or pod
        self._attempts[uid] = (current["metadata"].get("resourceVersion", ""), state_key)
        last = self._reported.get(uid)
        if last is None or last[0] != message or ctx.now - last[1] >= EVENT_INTERVAL:
            self._reported[uid] = (message, ctx.now)
            ctx.event(current, "Warning", "FailedScheduling", message, "default-scheduler")

    def _bind(self, ctx: Context, pod: dict, node: str) -> None:
        bound = dict(pod, spec=dict(pod.get("spec") or {}, nodeName=node))
        result = ctx.update("pods", bound)
        if result is None:
            return
        uid = pod["metadata"].get("uid", "")
        self._attempts.pop(uid, None)
        self._reported.pop(uid, None)
        meta = pod["metadata"]
        ctx.event(result, "Normal", "Scheduled",
                  f"Successfully assigned {meta.get('namespace')}/{meta['name']} to {node}", "default-scheduler")
