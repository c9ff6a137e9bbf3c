"""AWS wire protocols: request classification, input parsing, error rendering.

Everything here follows botocore's service models, so the same boto3 calls
behave alike against real AWS and against the emulator:

* :func:`classify` finds (service, operation) of a request: the service from
  the SigV4 credential scope, the operation from ``Action=`` (query/ec2),
  ``X-Amz-Target`` (json), the ``/operation/NAME`` path (rpc-v2-cbor) or by
  matching method + path against the model's ``requestUri`` templates
  (rest-json/rest-xml).
* :func:`parse_rest_json_input` turns a rest-json request into the input
  dict of its operation (uri labels, query string, headers and JSON body).
* :func:`error_response` renders an error the way the service's protocol
  does, so botocore parses its code and applies its retry rules; injected
  faults, operations nobody implements and unexpected failures all use it.
"""

from __future__ import annotations

import functools
import io
import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, quote, unquote
from xml.sax.saxutils import escape

import botocore.loaders
from botocore.exceptions import DataNotFoundError
from botocore.model import OperationModel, ServiceModel

_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request")
_LABEL = re.compile(r"\{([^}]+)\}")

# Signing names whose botocore model has another name (first match wins).
SIGNING_NAME_ALIASES = {
    "monitoring": ("cloudwatch",),
    "elasticloadbalancing": ("elbv2", "elb"),
    "states": ("stepfunctions",),
    "email": ("ses", "sesv2"),
    "es": ("opensearch", "es"),
    "elasticfilesystem": ("efs",),
    "elasticmapreduce": ("emr",),
    "tagging": ("resourcegroupstaggingapi",),
    "mobiletargeting": ("pinpoint",),
    "execute-api": ("apigatewaymanagementapi",),
    "servicequotas": ("service-quotas",),
}


class ApiError(Exception):
    """An AWS error answer from one of the emulator's own handlers."""

    def __init__(self, status: int, code: str, message: str, **fields: Any):
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields


@dataclass
class Call:
    """What an incoming AWS request is."""

    service: str = "unknown"
    operation: str = "Unknown"
    region: str = "us-east-1"
    access_key: str = ""
    protocol: str = "rest-json"
    model: ServiceModel | None = None
    path_params: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """``service:Operation``, the service as boto3 names it (``cloudwatch``, not ``monitoring``)."""
        return f"{self.model.service_name if self.model else self.service}:{self.operation}"

    @property
    def operation_model(self) -> OperationModel | None:
        if self.model is None or self.operation == "Unknown":
            return None
        try:
            return self.model.operation_model(self.operation)
        except Exception:  # botocore raises OperationNotFoundError
            return None


_LOADER = botocore.loaders.create_loader()


@functools.lru_cache(maxsize=None)
def load_model(service_name: str) -> ServiceModel | None:
    """botocore's model of ``service_name`` (a botocore service name), or None."""
    try:
        data = _LOADER.load_service_model(service_name, "service-2")
    except DataNotFoundError:
        return None
    return ServiceModel(data, service_name=service_name)


def models_for_signing_name(signing_name: str) -> list[ServiceModel]:
    """Candidate models for a credential-scope service name."""
    names = (signing_name,) + SIGNING_NAME_ALIASES.get(signing_name, ())
    return [model for model in map(load_model, names) if model is not None]


@dataclass
class _Route:
    operation: str
    regex: re.Pattern[str]
    labels: dict[str, str]
    query: dict[str, str | None]
    score: tuple[int, int, int]


def _compile_route(name: str, request_uri: str) -> _Route:
    path, _, query_part = request_uri.partition("?")
    pattern, labels, literal, greedy = "", {}, 0, 0
    pos = 0
    for index, match in enumerate(_LABEL.finditer(path)):
        chunk = path[pos:match.start()]
        pattern += re.escape(chunk)
        literal += len(chunk)
        label = match.group(1)
        group = f"g{index}"
        if label.endswith("+"):
            labels[group] = label[:-1]
            pattern += f"(?P<{group}>.+)"
            greedy += 1
        else:
            labels[group] = label
            pattern += f"(?P<{group}>[^/]+)"
        pos = match.end()
    tail = path[pos:]
    pattern += re.escape(tail)
    literal += len(tail)
    if not pattern.endswith("/"):
        pattern += "/?"
    query = {}
    for item in filter(None, query_part.split("&")):
        key, sep, value = item.partition("=")
        query[key] = value if sep else None
    return _Route(name, re.compile(f"^{pattern}$"), labels, query, (len(query), literal, -greedy))


@functools.lru_cache(maxsize=None)
def _routes(service_name: str) -> dict[str, list[_Route]]:
    """Routes of a rest model by HTTP method, most specific first."""
    model = load_model(service_name)
    by_method: dict[str, list[_Route]] = {}
    for name in model.operation_names:
        http = model.operation_model(name).http
        route = _compile_route(name, http["requestUri"])
        by_method.setdefault(http["method"].upper(), []).append(route)
    for routes in by_method.values():
        routes.sort(key=lambda route: route.score, reverse=True)
    return by_method


def match_rest_operation(
    model: ServiceModel, method: str, raw_path: str, query: dict[str, list[str]]
) -> tuple[str, dict[str, str]] | None:
    """(operation, uri labels) whose method + requestUri match the request."""
    for route in _routes(model.service_name).get(method.upper(), []):
        match = route.regex.match(raw_path)
        if not match:
            continue
        if any(
            key not in query or (value is not None and value not in query[key])
            for key, value in route.query.items()
        ):
            continue
        labels = {route.labels[g]: unquote(v) for g, v in match.groupdict().items()}
        return route.operation, labels
    return None


def raw_path(environ: dict[str, Any]) -> str:
    """The still percent-encoded request path (labels may hold encoded slashes)."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        path = raw.split("?", 1)[0]
        if path.startswith(("http://", "https://")):
            path = "/" + path.split("/", 3)[3] if path.count("/") >= 3 else "/"
        return path
    return quote(environ.get("PATH_INFO", "/"))


def read_body(environ: dict[str, Any]) -> bytes:
    """Read the whole request body and put it back for the next reader."""
    cached = environ.get("emulator.body")
    if cached is not None:
        return cached
    stream = environ.get("wsgi.input")
    length = environ.get("CONTENT_LENGTH")
    if stream is None:
        body = b""
    elif length:
        body = stream.read(int(length))
    elif environ.get("wsgi.input_terminated") or environ.get("HTTP_TRANSFER_ENCODING", "").lower() == "chunked":
        body = stream.read()
    else:
        body = b""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    environ["emulator.body"] = body
    return body


def _is_query_style(call: Call, query: dict[str, list[str]], content_type: str) -> bool:
    if call.model is not None:
        return call.protocol in ("query", "ec2")
    return "Action" in query or content_type.startswith("application/x-www-form-urlencoded")


def classify(environ: dict[str, Any]) -> Call:
    """Identify service, operation, region and protocol of a request."""
    call = Call()
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    auth = environ.get("HTTP_AUTHORIZATION", "")
    match = _CREDENTIAL.search(auth) or _CREDENTIAL.search(
        "Credential=" + query.get("X-Amz-Credential", [""])[0]
    )
    if match:
        call.access_key, _, call.region, call.service = match.groups()
    target = environ.get("HTTP_X_AMZ_TARGET")
    content_type = environ.get("CONTENT_TYPE", "")
    models = models_for_signing_name(call.service) if match else []
    call.model = models[0] if models else None
    if call.model is not None:
        call.protocol = call.model.resolved_protocol
    method = environ.get("REQUEST_METHOD", "GET")
    path = raw_path(environ)

    if environ.get("HTTP_SMITHY_PROTOCOL") == "rpc-v2-cbor":
        call.protocol = "smithy-rpc-v2-cbor"
        call.operation = path.rstrip("/").rsplit("/", 1)[-1] or "Unknown"
    elif target:
        call.protocol = "json"
        call.operation = target.rsplit(".", 1)[-1]
    elif _is_query_style(call, query, content_type):
        if call.protocol not in ("query", "ec2"):
            call.protocol = "ec2" if call.service == "ec2" else "query"
        params = dict(query)
        if content_type.startswith("application/x-www-form-urlencoded"):
            form = parse_qs(read_body(environ).decode("utf-8", "replace"), keep_blank_values=True)
            params.update(form)
        call.operation = params.get("Action", ["Unknown"])[0]
        version = params.get("Version", [None])[0]
        for model in models:  # e.g. elb vs elbv2 share a signing name
            if model.api_version == version:
                call.model = model
    else:
        for model in models:
            if model.resolved_protocol not in ("rest-json", "rest-xml"):
                continue
            found = match_rest_operation(model, method, path, query)
            if found:
                call.model, call.protocol = model, model.resolved_protocol
                call.operation, call.path_params = found
                break
    return call


def _coerce(shape: Any, value: str) -> Any:
    if shape.type_name in ("integer", "long"):
        return int(value)
    if shape.type_name in ("float", "double"):
        return float(value)
    if shape.type_name == "boolean":
        return value.lower() == "true"
    return value


def parse_rest_json_input(call: Call, environ: dict[str, Any]) -> dict[str, Any]:
    """Input parameters of a rest-json request, keyed by model member names."""
    op = call.operation_model
    shape = op.input_shape if op else None
    body = read_body(environ)
    params: dict[str, Any] = {}
    if body.strip():
        try:
            params.update(json.loads(body))
        except json.JSONDecodeError:
            raise ApiError(400, "SerializationException", "Request body is not valid JSON") from None
    if shape is None:
        return params
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    for name, member in shape.members.items():
        location = member.serialization.get("location")
        wire = member.serialization.get("name", name)
        if location == "uri" and wire in call.path_params:
            params[name] = call.path_params[wire]
        elif location == "querystring" and wire in query:
            values = query[wire]
            if member.type_name == "list":
                params[name] = [_coerce(member.member, v) for v in values]
            else:
                params[name] = _coerce(member, values[0])
        elif location == "header":
            value = environ.get("HTTP_" + wire.upper().replace("-", "_"))
            if value is not None:
                params[name] = _coerce(member, value)
    return params


def to_wire(value: Any) -> Any:
    """JSON-ready copy: datetimes become epoch seconds, None members are dropped."""
    if isinstance(value, dict):
        return {k: to_wire(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [to_wire(v) for v in value]
    if isinstance(value, datetime):
        return value.timestamp()
    return value


Response = tuple[int, list[tuple[str, str]], bytes]


def json_response(status: int, payload: dict[str, Any]) -> Response:
    """A rest-json success answer."""
    body = json.dumps(to_wire(payload)).encode()
    return status, [
        ("Content-Type", "application/json"),
        ("x-amzn-RequestId", str(uuid.uuid4())),
    ], body


def _cbor_text(text: str) -> bytes:
    data = text.encode()
    return _cbor_head(3, len(data)) + data


def _cbor_head(major: int, length: int) -> bytes:
    if length < 24:
        return bytes([major << 5 | length])
    if length < 256:
        return bytes([major << 5 | 24, length])
    return bytes([major << 5 | 25]) + length.to_bytes(2, "big")


def error_response(
    protocol: str, status: int, code: str, message: str,
    *, model: ServiceModel | None = None, fields: dict[str, Any] | None = None,
) -> Response:
    """Render an error as the given protocol does (status, headers, body)."""
    request_id = str(uuid.uuid4())
    msg = escape(message)
    if protocol == "ec2":
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>'
            f"<Code>{code}</Code><Message>{msg}</Message></Error></Errors>"
            f"<RequestID>{request_id}</RequestID></Response>"
        )
        return status, [("Content-Type", "text/xml;charset=UTF-8")], body.encode()
    if protocol == "query":
        kind = "Receiver" if status >= 500 else "Sender"
        body = (
            "<ErrorResponse><Error>"
            f"<Type>{kind}</Type><Code>{code}</Code><Message>{msg}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        )
        return status, [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)], body.encode()
    if protocol == "rest-xml":
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{code}</Code><Message>{msg}</Message>"
            f"<RequestId>{request_id}</RequestId></Error>"
        )
        return status, [("Content-Type", "application/xml"), ("x-amz-request-id", request_id)], body.encode()
    if protocol == "smithy-rpc-v2-cbor":
        body = _cbor_head(5, 2) + _cbor_text("__type") + _cbor_text(code) + _cbor_text("message") + _cbor_text(message)
        return status, [
            ("Content-Type", "application/cbor"), ("smithy-protocol", "rpc-v2-cbor"),
            ("x-amzn-RequestId", request_id),
        ], body
    if protocol == "json":
        version = model.metadata.get("jsonVersion", "1.1") if model else "1.1"
        body = json.dumps({"__type": code, "message": message}).encode()
        return status, [
            ("Content-Type", f"application/x-amz-json-{version}"), ("x-amzn-RequestId", request_id),
        ], body
    body = json.dumps(to_wire({"message": message, **(fields or {})})).encode()
    return status, [
        ("Content-Type", "application/json"), ("x-amzn-ErrorType", code),
        ("x-amzn-RequestId", request_id),
    ], body


# (status, code) of injected faults per protocol; botocore retries all of them.
_FAULTS = {
    "throttle": {
        "ec2": (503, "RequestLimitExceeded"),
        "query": (400, "Throttling"),
        "json": (400, "ThrottlingException"),
        "smithy-rpc-v2-cbor": (400, "ThrottlingException"),
        "rest-json": (429, "ThrottlingException"),
        "rest-xml": (503, "SlowDown"),
    },
    "5xx": {
        "ec2": (500, "InternalError"),
        "query": (500, "InternalFailure"),
        "json": (500, "InternalFailure"),
        "smithy-rpc-v2-cbor": (500, "InternalFailure"),
        "rest-json": (500, "InternalFailure"),
        "rest-xml": (500, "InternalError"),
    },
}


def fault_response(call: Call, kind: str) -> Response:
    """An injected throttling or server error in the protocol of ``call``."""
    status, code = _FAULTS[kind].get(call.protocol, _FAULTS[kind]["rest-json"])
    message = "Rate exceeded" if kind == "throttle" else "An internal error occurred (injected by the emulator)"
    return error_response(call.protocol, status, code, message, model=call.model)


def not_implemented_response(call: Call, detail: str = "") -> Response:
    """HTTP 501 ``NotImplemented``: neither moto nor the emulator serves this operation (not retried)."""
    message = f"This emulator does not implement {call.name}"
    return error_response(call.protocol, 501, "NotImplemented", message + (f" ({detail})" if detail else ""),
                          model=call.model)


def internal_failure_response(call: Call, detail: str) -> Response:
    """HTTP 500 ``InternalFailure``: the emulator failed serving this call; ``detail`` on one line."""
    message = f"The emulator failed serving {call.name}: {' '.join(detail.split())}"
    return error_response(call.protocol, 500, "InternalFailure", message, model=call.model)
