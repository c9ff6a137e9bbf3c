"""OpenAPI v2 in protobuf, as kube-apiserver serves ``/openapi/v2`` to client-go.

client-go reads OpenAPI v2 only as protobuf (``Accept: application/com.github.
proto-openapi.spec.v2@v1.0+protobuf``, no JSON fallback), a gnostic
``openapi.v2.Document`` (``github.com/google/gnostic-models``,
``openapiv2/OpenAPIv2.proto``). kubectl and helm fall back to it for
client-side validation when the server cannot validate a kind itself (the
OpenAPI v3 of no group lists it): a ``kind: List`` manifest, e.g. the
IngressClassParams + IngressClass of the aws-load-balancer-controller chart.
They read the ``definitions`` (models and their
``x-kubernetes-group-version-kind``); :func:`encode_document` writes
``swagger``, ``info`` and every definition with all the schema fields
gnostic has (``$ref``, types, properties, items, ``additionalProperties``,
``allOf``, required, enum, limits, defaults, vendor extensions as YAML),
not the paths, parameters or security sections.
"""

from __future__ import annotations

import json
import struct
from typing import Any

__all__ = ["MEDIA_TYPE", "encode_document", "encode_schema"]

MEDIA_TYPE = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"  # what kube-openapi answers
MEDIA_TYPES = ("application/com.github.proto-openapi.spec.v2@v1.0+protobuf", MEDIA_TYPE)  # what clients ask for

_VARINT, _FIXED64, _BYTES = 0, 1, 2

# openapi.v2.Schema: JSON key -> (field number, kind)
_SCHEMA_FIELDS: dict[str, tuple[int, str]] = {
    "$ref": (1, "string"), "format": (2, "string"), "title": (3, "string"), "description": (4, "string"),
    "default": (5, "any"), "multipleOf": (6, "double"), "maximum": (7, "double"), "exclusiveMaximum": (8, "bool"),
    "minimum": (9, "double"), "exclusiveMinimum": (10, "bool"), "maxLength": (11, "int"),
    "minLength": (12, "int"), "pattern": (13, "string"), "maxItems": (14, "int"), "minItems": (15, "int"),
    "uniqueItems": (16, "bool"), "maxProperties": (17, "int"), "minProperties": (18, "int"),
    "required": (19, "strings"), "enum": (20, "anys"), "additionalProperties": (21, "additional"),
    "type": (22, "type"), "items": (23, "items"), "allOf": (24, "schemas"), "properties": (25, "properties"),
    "discriminator": (26, "string"), "readOnly": (27, "bool"), "example": (30, "any"),
}
_VENDOR_EXTENSION = 31


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # negative int64: two's complement, ten bytes
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _tag(field: int, wire_type: int) -> bytes:
    return _varint(field << 3 | wire_type)


def _message(field: int, payload: bytes) -> bytes:
    """A length-delimited field (sub-message, string or bytes), written even when empty."""
    return _tag(field, _BYTES) + _varint(len(payload)) + payload


def _string(field: int, value: str) -> bytes:
    return _message(field, value.encode()) if value else b""


def _any(value: Any) -> bytes:
    """An ``openapi.v2.Any``: the value as YAML (JSON is YAML) in field 2."""
    return _string(2, json.dumps(value, separators=(",", ":")))


def _named_any(name: str, value: Any) -> bytes:
    return _string(1, name) + _message(2, _any(value))


def encode_schema(schema: dict[str, Any]) -> bytes:
    """An ``openapi.v2.Schema`` message from a Swagger 2.0 schema object."""
    out = bytearray()
    extensions = []
    for key, value in schema.items():
        if key.startswith("x-"):
            extensions.append(_message(_VENDOR_EXTENSION, _named_any(key, value)))
            continue
        spec = _SCHEMA_FIELDS.get(key)
        if spec is None or value is None:
            continue  # not a Swagger 2.0 schema field: gnostic has no place for it either
        field, kind = spec
        if kind == "string":
            out += _string(field, str(value))
        elif kind == "bool":
            out += _tag(field, _VARINT) + _varint(1) if value else b""
        elif kind == "int":
            out += _tag(field, _VARINT) + _varint(int(value)) if value else b""
        elif kind == "double":
            out += _tag(field, _FIXED64) + struct.pack("<d", float(value)) if value else b""
        elif kind == "any":
            out += _message(field, _any(value))
        elif kind == "anys":
            for item in value:
                out += _message(field, _any(item))
        elif kind == "strings":
            for item in value:
                out += _message(field, str(item).encode())
        elif kind == "type":
            types = value if isinstance(value, list) else [value]
            out += _message(field, b"".join(_message(1, str(t).encode()) for t in types))
        elif kind == "additional":  # oneof {Schema schema = 1; bool boolean = 2}: set, so written even if false
            inner = (_message(1, encode_schema(value)) if isinstance(value, dict)
                     else _tag(2, _VARINT) + _varint(1 if value else 0))
            out += _message(field, inner)
        elif kind == "items":
            items = value if isinstance(value, list) else [value]
            out += _message(field, b"".join(_message(1, encode_schema(item)) for item in items))
        elif kind == "schemas":
            for item in value:
                out += _message(field, encode_schema(item))
        elif kind == "properties":
            out += _message(field, b"".join(
                _message(1, _string(1, name) + _message(2, encode_schema(prop))) for name, prop in value.items()))
    return bytes(out) + b"".join(extensions)


def encode_document(document: dict[str, Any]) -> bytes:
    """An ``openapi.v2.Document``: ``swagger``, ``info`` and ``definitions`` of a Swagger 2.0 document."""
    info = document.get("info") or {}
    out = bytearray(_string(1, str(document.get("swagger", "2.0"))))
    out += _message(2, _string(1, str(info.get("title", ""))) + _string(2, str(info.get("version", ""))))
    definitions = document.get("definitions") or {}
    out += _message(9, b"".join(
        _message(1, _string(1, name) + _message(2, encode_schema(schema))) for name, schema in definitions.items()))
    return bytes(out)
