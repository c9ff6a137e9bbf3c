"""Client of the emulator's control API (``/_emulator/...``), stdlib only."""

from __future__ import annotations

import json
import urllib.request
from typing import Any


class EmulatorClient:
    """Reads the request log and events, changes settings, resets state."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    def _call(self, method: str, path: str, payload: Any = None) -> Any:
        data = None if payload is None else json.dumps(payload).encode()
        request = urllib.request.Request(f"{self.url}/_emulator/{path}", data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
            return json.loads(response.read() or b"null")

    def config(self) -> dict[str, Any]:
        return self._call("GET", "config")

    def configure(self, **changes: Any) -> dict[str, Any]:
        """Change profile, scale, fault_rate, faults or seed at runtime."""
        return self._call("POST", "config", changes)

    def requests(self) -> list[dict[str, Any]]:
        """AWS calls answered so far: ts, service, operation, status, duration_ms, fault."""
        return self._call("GET", "requests")

    def clear_requests(self) -> None:
        self._call("DELETE", "requests")

    def events(self) -> list[dict[str, Any]]:
        """Lifecycle transitions that happened: ts, kind, id, from, to."""
        return self._call("GET", "events")

    def test_controls(self) -> dict[str, Any]:
        """The test controls in force (applied quotas, unoffered instance types, disabled Regions...)."""
        return self._call("GET", "test-controls")

    def set_test_controls(self, **controls: Any) -> dict[str, Any]:
        """Set test controls (emulator/test_controls.py); a control left out keeps its value."""
        return self._call("POST", "test-controls", controls)

    def clear_test_controls(self) -> dict[str, Any]:
        return self._call("DELETE", "test-controls")

    def settle(self) -> int:
        """Let every scheduled lifecycle transition happen now; the number of resources moved."""
        return self._call("POST", "settle")["settled"]

    def reset(self) -> None:
        """Forget every AWS resource and the request log."""
        self._call("POST", "reset")
