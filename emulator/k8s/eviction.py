"""The Eviction API (``POST pods/<name>/eviction``) as kube-apiserver serves it: PodDisruptionBudgets hold.

:func:`evict` is what ``pkg/registry/core/pod/storage/eviction.go`` does, over
the store:

* a pod that is ``Succeeded``, ``Failed`` or ``Pending``, or already being
  deleted, is deleted whatever its budgets say;
* a pod no PodDisruptionBudget selects is deleted;
* more than one budget: 500 ``This pod has more than one
  PodDisruptionBudget, which the eviction subresource does not support.``;
* an unready pod is deleted when its budget is healthy (the default
  ``unhealthyPodEvictionPolicy: IfHealthyBudget``:
  ``currentHealthy >= desiredHealthy > 0``) or its policy is ``AlwaysAllow``;
* otherwise the budget decides: a budget whose status the disruption
  controller has not caught up with (``observedGeneration`` behind), or with
  ``disruptionsAllowed: 0``, answers 429 ``TooManyRequests`` *Cannot evict
  pod as it would violate the pod's disruption budget.* with a
  ``DisruptionBudget`` cause (``The disruption budget web needs 2 healthy
  pods and has 2 currently``); else its ``disruptionsAllowed`` goes down by
  one, the pod is recorded in ``disruptedPods`` (so that two evictions in a
  row cannot both spend the same allowance) and the pod is deleted.

The API server's eviction subresource and the EKS node-group drain
(``controllers/nodes.py``) both call it.
"""

from __future__ import annotations

from typing import Any

from .controllers.util import is_terminal, label_match, pod_is_ready
from .errors import ApiError

EVICTION_REFUSED = "Cannot evict pod as it would violate the pod's disruption budget."


def _budgets(store: Any, namespace: str, pod: dict) -> list[dict]:
    rt = store.resources.get("policy", "v1", "poddisruptionbudgets")
    if rt is None:
        return []
    labels = pod["metadata"].get("labels") or {}
    found = []
    for budget in store.list(rt, namespace)[0]:
        selector = (budget.get("spec") or {}).get("selector")
        if selector is not None and label_match(selector, labels) and (selector.get("matchLabels")
                                                                       or selector.get("matchExpressions")):
            found.append(budget)
    return found


def too_many_requests(budget: dict, message: str | None = None) -> ApiError:
    """The 429 of an eviction a budget does not allow."""
    status = budget.get("status") or {}
    cause = message or (f"The disruption budget {budget['metadata']['name']} needs "
                        f"{int(status.get('desiredHealthy') or 0)} healthy pods and has "
                        f"{int(status.get('currentHealthy') or 0)} currently")
    return ApiError(429, "TooManyRequests", EVICTION_REFUSED,
                    {"causes": [{"reason": "DisruptionBudget", "message": cause}]})


def evict(store: Any, namespace: str, name: str, preconditions: dict | None = None, dry_run: bool = False,
          user: Any = None) -> dict:
    """Evict a pod as kube-apiserver does (see the module docstring); the pod as deleted. Raises ApiError."""
    pods = store.resources.get("", "v1", "pods")
    pod = store.get(pods, namespace, name)
    phase = (pod.get("status") or {}).get("phase")
    ignore_budgets = is_terminal(pod) or phase in (None, "Pending") or bool(pod["metadata"].get("deletionTimestamp"))
    if not ignore_budgets:
        budgets = _budgets(store, namespace, pod)
        if len(budgets) > 1:
            raise ApiError(500, "InternalError", "This pod has more than one PodDisruptionBudget, which the "
                                                 "eviction subresource does not support.")
        if budgets:
            _spend(store, budgets[0], pod, dry_run)
    deleted, _gone = store.delete(pods, namespace, name, None, preconditions, dry_run, user=user)
    return deleted


def _spend(store: Any, budget: dict, pod: dict, dry_run: bool) -> None:
    """Take one disruption from ``budget`` for ``pod`` (or raise the 429)."""
    spec, status = budget.get("spec") or {}, budget.get("status") or {}
    if not pod_is_ready(pod):
        policy = spec.get("unhealthyPodEvictionPolicy") or "IfHealthyBudget"
        desired = int(status.get("desiredHealthy") or 0)
        if policy == "AlwaysAllow" or (desired > 0 and int(status.get("currentHealthy") or 0) >= desired):
            return
    if int(status.get("observedGeneration") or 0) < int(budget["metadata"].get("generation") or 1):
        raise too_many_requests(budget, f"The disruption budget {budget['metadata']['name']} is still being "
                                        f"processed by the server.")
    allowed = int(status.get("disruptionsAllowed") or 0)
    if allowed < 0:
        raise ApiError(403, "Forbidden", "pdb disruptions allowed is negative")
    if allowed == 0:
        raise too_many_requests(budget)
    if dry_run:
        return
    rt = store.resources.get("policy", "v1", "poddisruptionbudgets")
    updated = dict(budget, status=dict(status, disruptionsAllowed=allowed - 1))
    disrupted = dict(status.get("disruptedPods") or {})
    disrupted[pod["metadata"]["name"]] = store.now()
    updated["status"]["disruptedPods"] = disrupted
    store.update(rt, updated, subresource="status")  # a 409 (the controller wrote meanwhile): the caller retries


__all__ = ["EVICTION_REFUSED", "evict", "too_many_requests"]
