"""``ApiError``: a Kubernetes API error, rendered by the server as a ``Status``.

The constructors below word their messages as kube-apiserver does
(``deployments.apps "web" not found``, ``Operation cannot be fulfilled on
...``, ``Deployment.apps "Web" is invalid: metadata.name: Invalid value:
...``), so clients that match on them (kubectl, helm, kubernetes.core) react
as they do against a real cluster.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = [
    "ApiError",
    "already_exists",
    "bad_request",
    "conflict",
    "forbidden",
    "invalid",
    "not_found",
    "status_success",
]


class ApiError(Exception):
    """An API error: HTTP ``status``, ``reason`` (NotFound, Conflict...), ``message``, ``details``."""

    def __init__(self, status: int, reason: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message
        self.details = details

    def to_status(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
        }
        if self.details is not None:
            body["details"] = self.details
        body["code"] = self.status
        return body

    def to_json(self) -> bytes:
        return json.dumps(self.to_status()).encode()

    def __repr__(self) -> str:
        return f"ApiError({self.status}, {self.reason!r}, {self.message!r})"


def _details(rt: Any, name: str, kind: str | None = None) -> dict[str, Any]:
    details: dict[str, Any] = {}
    if name:
        details["name"] = name
    if rt is not None and rt.group:
        details["group"] = rt.group
    details["kind"] = kind if kind is not None else (rt.plural if rt is not None else "")
    return details


def not_found(rt: Any, name: str) -> ApiError:
    return ApiError(404, "NotFound", f'{rt.qualified} "{name}" not found', _details(rt, name))


def already_exists(rt: Any, name: str) -> ApiError:
    return ApiError(409, "AlreadyExists", f'{rt.qualified} "{name}" already exists', _details(rt, name))


def conflict(rt: Any, name: str, why: str = "") -> ApiError:
    why = why or "the object has been modified; please apply your changes to the latest version and try again"
    return ApiError(409, "Conflict", f'Operation cannot be fulfilled on {rt.qualified} "{name}": {why}',
                    _details(rt, name))


def forbidden(rt: Any, name: str, why: str) -> ApiError:
    subject = f'{rt.qualified} "{name}"' if name else rt.qualified
    return ApiError(403, "Forbidden", f"{subject} is forbidden: {why}", _details(rt, name))


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def invalid(rt: Any, name: str, causes: list[tuple[str, str, str]]) -> ApiError:
    """422 Invalid; ``causes`` are ``(reason, field, message)`` like ``("FieldValueRequired", "metadata.name",
    "Required value: name or generateName is required")``."""
    texts = [f"{field}: {message}" if field else message for _, field, message in causes]
    summary = texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"
    details = _details(rt, name, kind=rt.kind)
    details["causes"] = [{"reason": reason, "message": message, "field": field} for reason, field, message in causes]
    return ApiError(422, "Invalid", f'{rt.qualified_kind} "{name}" is invalid: {summary}', details)


def status_success(rt: Any, name: str, uid: str = "") -> dict[str, Any]:
    details = _details(rt, name)
    if uid:
        details["uid"] = uid
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}
