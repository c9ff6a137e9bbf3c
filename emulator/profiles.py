"""Latency profiles: how long each emulated lifecycle transition takes.

A profile is a JSON object mapping transition kinds (``nat_gateway_create``,
``eks_cluster_delete``...) to seconds, plus two optional keys: ``scale`` (a
factor applied to every duration in the file) and ``api_call_ms`` (``[min,
max]``, a uniform per-request delay). Built-in profiles live next to this
module in ``profiles/``; any other value is read as a path to a JSON file.
Kinds missing from a file default to 0 seconds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROFILE_DIR = Path(__file__).with_name("profiles")
BUILTIN_PROFILES = ("instant", "demo", "realistic")

TRANSITION_KINDS = (
    "nat_gateway_create",
    "nat_gateway_delete",
    "vpc_endpoint_create",
    "vpc_endpoint_delete",
    "eks_cluster_create",
    "eks_cluster_delete",
    "eks_cluster_update",
    "eks_nodegroup_create",
    "eks_nodegroup_delete",
    "eks_nodegroup_update",
    "eks_nodegroup_drain_timeout",
    "eks_addon_create",
    "eks_addon_delete",
    "eks_addon_update",
    "k8s_pod_start",
    "acm_certificate_validation",
)
_OTHER_KEYS = ("scale", "api_call_ms", "description")


@dataclass(frozen=True)
class Profile:
    """Durations of lifecycle transitions, before the command-line scale."""

    name: str
    durations: dict[str, float] = field(default_factory=dict)
    scale: float = 1.0
    api_call_ms: tuple[float, float] = (0.0, 0.0)

    def seconds(self, kind: str) -> float:
        """Seconds a transition of ``kind`` takes (file scale applied)."""
        if kind not in TRANSITION_KINDS:
            raise KeyError(f"unknown transition kind {kind!r}")
        return self.durations.get(kind, 0.0) * self.scale

    def api_call_range(self) -> tuple[float, float]:
        """Per-request delay range in seconds (file scale applied)."""
        low, high = self.api_call_ms
        return low / 1000.0 * self.scale, high / 1000.0 * self.scale

    def as_dict(self) -> dict[str, Any]:
        """JSON view with the file values, as loaded."""
        return {
            "name": self.name,
            "scale": self.scale,
            "api_call_ms": list(self.api_call_ms),
            **{kind: self.durations.get(kind, 0.0) for kind in TRANSITION_KINDS},
        }


def profile_from_mapping(name: str, data: dict[str, Any]) -> Profile:
    """Build a profile from a parsed JSON object, rejecting unknown keys."""
    if not isinstance(data, dict):
        raise ValueError(f"profile {name!r} must be a JSON object")
    unknown = sorted(set(data) - set(TRANSITION_KINDS) - set(_OTHER_KEYS))
    if unknown:
        raise ValueError(f"profile {name!r} has unknown keys: {', '.join(unknown)}")
    durations = {}
    for kind in TRANSITION_KINDS:
        value = float(data.get(kind, 0))
        if value < 0:
            raise ValueError(f"profile {name!r}: {kind} must be >= 0")
        durations[kind] = value
    scale = float(data.get("scale", 1.0))
    api = data.get("api_call_ms", [0, 0])
    if not (isinstance(api, (list, tuple)) and len(api) == 2):
        raise ValueError(f"profile {name!r}: api_call_ms must be [min, max]")
    low, high = float(api[0]), float(api[1])
    if scale < 0 or low < 0 or high < low:
        raise ValueError(f"profile {name!r}: invalid scale or api_call_ms")
    return Profile(name=name, durations=durations, scale=scale, api_call_ms=(low, high))


def load_profile(spec: str | dict[str, Any]) -> Profile:
    """Load a built-in profile by name, a JSON file by path, or an inline mapping."""
    if isinstance(spec, dict):
        return profile_from_mapping("inline", spec)
    path = PROFILE_DIR / f"{spec}.json" if spec in BUILTIN_PROFILES else Path(spec)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(
            f"unknown profile {spec!r}: not one of {', '.join(BUILTIN_PROFILES)} "
            "nor an existing JSON file"
        ) from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"profile {spec!r} is not valid JSON: {exc}") from None
    return profile_from_mapping(str(spec), data)
