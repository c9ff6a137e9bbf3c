"""Runtime settings of a running emulator: profile, scale and fault injection."""

from __future__ import annotations

import random
import threading
from typing import Any, Iterable

from .profiles import TRANSITION_KINDS, Profile, load_profile

FAULT_KINDS = ("throttle", "5xx")


class EmulatorConfig:
    """Thread-safe settings, changeable at runtime through ``/_emulator/config``.

    Effective duration of a transition = profile value * profile file scale
    * ``scale``. Faults are drawn from ``random.Random(seed)``.
    """

    def __init__(
        self,
        profile: str | dict[str, Any] = "instant",
        scale: float = 1.0,
        fault_rate: float = 0.0,
        faults: Iterable[str] = FAULT_KINDS,
        seed: int | None = None,
    ) -> None:
        self._lock = threading.Lock()
        self.profile: Profile = load_profile("instant")
        self.scale = 1.0
        self.fault_rate = 0.0
        self.faults: tuple[str, ...] = FAULT_KINDS
        self.seed: int | None = None
        self._rng = random.Random()
        self.update(profile=profile, scale=scale, fault_rate=fault_rate, faults=faults, seed=seed)

    def update(self, **changes: Any) -> None:
        """Validate and apply changes (keys: profile, scale, fault_rate, faults, seed).

        Raises ValueError on an unknown key or an invalid value; nothing is
        applied in that case.
        """
        unknown = set(changes) - {"profile", "scale", "fault_rate", "faults", "seed"}
        if unknown:
            raise ValueError(f"unknown config keys: {', '.join(sorted(unknown))}")
        new = {}
        if "profile" in changes:
            new["profile"] = load_profile(changes["profile"])
        if "scale" in changes:
            new["scale"] = float(changes["scale"])
            if new["scale"] < 0:
                raise ValueError("scale must be >= 0")
        if "fault_rate" in changes:
            new["fault_rate"] = float(changes["fault_rate"])
            if not 0.0 <= new["fault_rate"] <= 1.0:
                raise ValueError("fault_rate must be between 0 and 1")
        if "faults" in changes:
            faults = changes["faults"]
            if isinstance(faults, str):
                faults = [f for f in faults.split(",") if f]
            faults = tuple(faults)
            bad = [f for f in faults if f not in FAULT_KINDS]
            if bad or not faults:
                raise ValueError(f"faults must be a non-empty subset of {FAULT_KINDS}")
            new["faults"] = faults
        if "seed" in changes:
            seed = changes["seed"]
            new["seed"] = None if seed is None else int(seed)
        with self._lock:
            for key, value in new.items():
                setattr(self, key, value)
            if "seed" in new:
                self._rng = random.Random(new["seed"])

    def seconds(self, kind: str) -> float:
        """Effective duration of a lifecycle transition of ``kind``."""
        with self._lock:
            return self.profile.seconds(kind) * self.scale

    def api_delay(self) -> float:
        """Draw the per-request latency, in seconds."""
        with self._lock:
            low, high = self.profile.api_call_range()
            if high <= 0:
                return 0.0
            return self._rng.uniform(low, high) * self.scale

    def draw_fault(self) -> str | None:
        """Return a fault kind to inject for this request, or None."""
        with self._lock:
            if self.fault_rate <= 0 or self._rng.random() >= self.fault_rate:
                return None
            return self._rng.choice(self.faults)

    def as_dict(self) -> dict[str, Any]:
        """JSON view of the settings and the resulting effective durations."""
        with self._lock:
            profile, scale = self.profile, self.scale
            low, high = profile.api_call_range()
            return {
                "profile": profile.name,
                "scale": scale,
                "fault_rate": self.fault_rate,
                "faults": list(self.faults),
                "seed": self.seed,
                "profile_values": profile.as_dict(),
                "effective_seconds": {k: profile.seconds(k) * scale for k in TRANSITION_KINDS},
                "effective_api_call_ms": [low * 1000 * scale, high * 1000 * scale],
            }
