"""Small helpers shared by the controllers: quantities, metadata, conditions, hashes, times."""

from __future__ import annotations

import datetime as _dt
import json
import math
import re
from fractions import Fraction
from typing import Any, Iterable

from ..selectors import label_selector_from_dict

__all__ = [
    "Quantity", "bytes_of", "condition", "controller_of", "fnv32a", "format_cpu", "format_memory_ki",
    "is_terminal", "label_match", "millis_of", "now_rfc3339", "owner_ref", "parse_quantity", "parse_time",
    "pod_is_ready", "pod_requests", "safe_hash", "set_condition", "template_hash",
]

Quantity = Fraction

_BINARY = {"Ki": 2 ** 10, "Mi": 2 ** 20, "Gi": 2 ** 30, "Ti": 2 ** 40, "Pi": 2 ** 50, "Ei": 2 ** 60}
_DECIMAL = {"n": Fraction(1, 10 ** 9), "u": Fraction(1, 10 ** 6), "m": Fraction(1, 1000), "": Fraction(1),
            "k": Fraction(10 ** 3), "M": Fraction(10 ** 6), "G": Fraction(10 ** 9), "T": Fraction(10 ** 12),
            "P": Fraction(10 ** 15), "E": Fraction(10 ** 18)}
_QUANTITY = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+))(?:(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)|[eE]([+-]?\d+))?$")


def parse_quantity(value: Any) -> Fraction:
    """A Kubernetes resource quantity (``100m``, ``1.5Gi``, ``2``, ``1e3``, ``128974848``) as an exact number.

    Raises ValueError for anything else.
    """
    if isinstance(value, bool):
        raise ValueError(f"quantities must match the regular expression: {value!r}")
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, float):
        return Fraction(value).limit_denominator(10 ** 9)
    text = str(value).strip()
    match = _QUANTITY.match(text)
    if not match:
        raise ValueError(f"quantities must match the regular expression "
                         f"'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$': {text!r}")
    number, suffix, exponent = match.groups()
    amount = Fraction(number)
    if exponent is not None:
        return amount * Fraction(10) ** int(exponent)
    suffix = suffix or ""
    if suffix in _BINARY:
        return amount * _BINARY[suffix]
    return amount * _DECIMAL[suffix]


def millis_of(value: Any) -> int:
    """A CPU-like quantity in thousandths (``100m`` -> 100, ``2`` -> 2000), rounded up."""
    return math.ceil(parse_quantity(value) * 1000)


def bytes_of(value: Any) -> int:
    """A memory-like quantity in units (bytes), rounded up."""
    return math.ceil(parse_quantity(value))


def format_cpu(millis: int) -> str:
    return str(millis // 1000) if millis % 1000 == 0 else f"{millis}m"


def format_memory_ki(kib: int) -> str:
    return f"{kib}Ki"


def pod_requests(spec: dict) -> dict[str, int]:
    """What a pod asks the scheduler for: ``{"cpu": millicores, "memory": bytes, <other>: units}``.

    As the scheduler computes it: the sum over containers (and restartable init
    containers, i.e. sidecars), at least the largest single init container, plus
    the pod overhead. A container with a limit and no request requests its limit.
    """
    def container_requests(container: dict) -> dict[str, int]:
        resources = container.get("resources") or {}
        requests = dict(resources.get("limits") or {})
        requests.update(resources.get("requests") or {})
        result: dict[str, int] = {}
        for name, value in requests.items():
            try:
                result[name] = millis_of(value) if name == "cpu" else bytes_of(value)
            except ValueError:
                continue
        return result

    total: dict[str, int] = {}
    for container in spec.get("containers") or []:
        for name, amount in container_requests(container).items():
            total[name] = total.get(name, 0) + amount
    sidecars: dict[str, int] = {}
    init_max: dict[str, int] = {}
    for container in spec.get("initContainers") or []:
        requests = container_requests(container)
        if container.get("restartPolicy") == "Always":
            for name, amount in requests.items():
                sidecars[name] = sidecars.get(name, 0) + amount
                total[name] = total.get(name, 0) + amount
        else:
            for name, amount in requests.items():
                init_max[name] = max(init_max.get(name, 0), amount + sidecars.get(name, 0))
    for name, amount in init_max.items():
        total[name] = max(total.get(name, 0), amount)
    for name, value in ((spec.get("overhead") or {}).items()):
        try:
            total[name] = total.get(name, 0) + (millis_of(value) if name == "cpu" else bytes_of(value))
        except ValueError:
            continue
    return total


def now_rfc3339(moment: float | None = None) -> str:
    when = _dt.datetime.now(_dt.timezone.utc) if moment is None else _dt.datetime.fromtimestamp(moment,
                                                                                                  _dt.timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: Any) -> float | None:
    """An RFC 3339 timestamp as epoch seconds (None when absent or unreadable)."""
    if not text or not isinstance(text, str):
        return None
    try:
        return _dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def owner_ref(owner: dict, controller: bool = True) -> dict:
    meta = owner["metadata"]
    return {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": meta["name"], "uid": meta["uid"],
            "controller": controller, "blockOwnerDeletion": True}


def controller_of(obj: dict) -> dict | None:
    """The owner reference marked ``controller: true``, if any."""
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if isinstance(ref, dict) and ref.get("controller"):
            return ref
    return None


def label_match(selector: dict | None, labels: dict | None) -> bool:
    """metav1.LabelSelector semantics: an empty selector matches everything, None nothing."""
    if selector is None:
        return False
    return label_selector_from_dict(selector).matches(labels or {})


def is_terminal(pod: dict) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def pod_is_ready(pod: dict) -> bool:
    for entry in (pod.get("status") or {}).get("conditions") or []:
        if entry.get("type") == "Ready":
            return entry.get("status") == "True"
    return False


def ready_since(pod: dict) -> float | None:
    for entry in (pod.get("status") or {}).get("conditions") or []:
        if entry.get("type") == "Ready" and entry.get("status") == "True":
            return parse_time(entry.get("lastTransitionTime"))
    return None


def condition(conditions: Iterable[dict] | None, kind: str) -> dict | None:
    for entry in conditions or []:
        if entry.get("type") == kind:
            return entry
    return None


def set_condition(conditions: list[dict], kind: str, status: str, reason: str = "", message: str = "",
                  now: str = "", *, update_time: bool = False, probe_time: bool = False,
                  order: Iterable[str] | None = None) -> list[dict]:
    """``conditions`` with ``kind`` set; its lastTransitionTime changes only when the status does.

    ``update_time``: keep a ``lastUpdateTime`` (Deployments), bumped when reason or message change.
    ``probe_time``: keep ``lastProbeTime: null`` (Pods). ``order``: the types in the order they are listed.
    """
    previous = condition(conditions, kind)
    entry: dict[str, Any] = {"type": kind, "status": status}
    if probe_time:
        entry["lastProbeTime"] = None
    if update_time:
        unchanged = (previous is not None and previous.get("status") == status
                     and previous.get("reason") == reason and previous.get("message") == message)
        entry["lastUpdateTime"] = previous.get("lastUpdateTime", now) if unchanged and previous else now
    if previous is not None and previous.get("status") == status and previous.get("lastTransitionTime"):
        entry["lastTransitionTime"] = previous["lastTransitionTime"]
    else:
        entry["lastTransitionTime"] = now
    if reason:
        entry["reason"] = reason
    if message:
        entry["message"] = message
    result = list(conditions or [])
    position = next((i for i, c in enumerate(result) if c.get("type") == kind), None)
    if position is None:
        result.append(entry)
    else:
        result[position] = entry
    if order is not None:
        rank = {name: index for index, name in enumerate(order)}
        result.sort(key=lambda c: rank.get(c.get("type"), len(rank)))
    return result


def fnv32a(data: bytes) -> int:
    value = 0x811C9DC5
    for byte in data:
        value ^= byte
        value = (value * 0x01000193) & 0xFFFFFFFF
    return value


_SAFE = "bcdfghjklmnpqrstvwxz2456789"


def safe_hash(value: int) -> str:
    """``rand.SafeEncodeString(fmt.Sprint(value))``: how Kubernetes renders its template hashes."""
    return "".join(_SAFE[ord(char) % len(_SAFE)] for char in str(value))


def template_hash(template: Any, collision_count: int = 0, drop_label: str | None = None) -> str:
    """The pod-template-hash / controller-revision-hash of a pod template."""
    if drop_label and isinstance(template, dict):
        template = json.loads(json.dumps(template))
        labels = (template.get("metadata") or {}).get("labels")
        if isinstance(labels, dict):
            labels.pop(drop_label, None)
    text = json.dumps(template, sort_keys=True, separators=(",", ":"))
    if collision_count:
        text += str(collision_count)
    return safe_hash(fnv32a(text.encode()))
