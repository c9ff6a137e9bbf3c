"""Check the emulator's raw rest-json answers against botocore's output shapes.

botocore's parser silently drops members it does not know and accepts loose
types, so the checks run on the raw HTTP body (``after-call`` event): every
key must be a member of the operation's output shape (or of the error's
shape), every value of the member's type (enums, timestamps in the model's
format), required members present.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from botocore.model import Shape


def shape_problems(value: Any, shape: Shape, path: str = "$", protocol: str = "rest-json") -> list[str]:
    """Ways in which the JSON ``value`` does not fit ``shape``."""
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            return [f"{path}: expected an object, got {value!r}"]
        problems = []
        wire = {member.serialization.get("name", name): member
                for name, member in shape.members.items()
                if member.serialization.get("location") is None}
        for key, item in value.items():
            if key not in wire:
                problems.append(f"{path}.{key}: not a member of {shape.name}")
            else:
                problems += shape_problems(item, wire[key], f"{path}.{key}", protocol)
        for name in shape.required_members:
            if name not in value:
                problems.append(f"{path}.{name}: required member of {shape.name} missing")
        return problems
    if kind == "list":
        if not isinstance(value, list):
            return [f"{path}: expected a list, got {value!r}"]
        return [p for i, item in enumerate(value) for p in shape_problems(item, shape.member, f"{path}[{i}]", protocol)]
    if kind == "map":
        if not isinstance(value, dict):
            return [f"{path}: expected a map, got {value!r}"]
        problems = []
        for key, item in value.items():
            problems += shape_problems(key, shape.key, f"{path}<key {key}>", protocol)
            problems += shape_problems(item, shape.value, f"{path}[{key}]", protocol)
        return problems
    if kind == "string":
        if not isinstance(value, str):
            return [f"{path}: expected a string, got {value!r}"]
        if shape.enum and value not in shape.enum:
            return [f"{path}: {value!r} not in enum {list(shape.enum)}"]
        return []
    if kind in ("integer", "long"):
        ok = isinstance(value, int) and not isinstance(value, bool)
        return [] if ok else [f"{path}: expected an integer, got {value!r}"]
    if kind in ("float", "double"):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return [] if ok else [f"{path}: expected a number, got {value!r}"]
    if kind == "boolean":
        return [] if isinstance(value, bool) else [f"{path}: expected a boolean, got {value!r}"]
    if kind == "timestamp":
        fmt = shape.serialization.get("timestampFormat", "unixTimestamp" if protocol != "rest-xml" else "iso8601")
        if fmt == "iso8601":
            try:
                datetime.fromisoformat(value.replace("Z", "+00:00"))
            except (AttributeError, ValueError):
                return [f"{path}: expected an ISO 8601 timestamp string, got {value!r}"]
            return []
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return [] if ok else [f"{path}: expected epoch seconds, got {value!r}"]
    return []


class ResponseShapeChecker:
    """``after-call`` hook recording raw-body problems of every call of a client."""

    def __init__(self) -> None:
        self.checked: list[str] = []
        self.problems: list[str] = []

    def attach(self, client: Any) -> Any:
        service = client.meta.service_model.service_id.hyphenize()
        client.meta.events.register(f"after-call.{service}", self)
        return client

    def __call__(self, http_response: Any, parsed: Any, model: Any, **_: Any) -> None:
        body = http_response.content
        data = json.loads(body) if body.strip() else {}
        protocol = model.service_model.resolved_protocol
        if http_response.status_code >= 300:
            code = parsed.get("Error", {}).get("Code")
            matches = [s for s in model.error_shapes if s.name == code]
            self.checked.append(f"{model.name}:{code}")
            if not matches:
                self.problems.append(f"{model.name}: error {code} is not modelled for this operation")
                return
            # rest-json error bodies carry ``message`` (lower case) besides the members.
            data = {("Message" if k == "message" else k): v for k, v in data.items()}
            self.problems += [f"{model.name} {code}: {p}"
                              for p in shape_problems(data, matches[0], protocol=protocol)]
            return
        self.checked.append(model.name)
        if model.output_shape is None:
            if data:
                self.problems.append(f"{model.name}: expected an empty body, got {data!r}")
            return
        self.problems += [f"{model.name}: {p}"
                          for p in shape_problems(data, model.output_shape, protocol=protocol)]
