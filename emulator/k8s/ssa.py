"""Server-side apply and ``metadata.managedFields``, as the API server does them.

The algorithms are those of ``sigs.k8s.io/structured-merge-diff`` (typed
merge, comparison, field sets, pruning, conflicts) and of the API server's
field manager (``k8s.io/apimachinery/pkg/util/managedfields``), on plain
JSON objects typed by a :class:`~emulator.k8s.schema.SchemaNode`:

* :func:`apply` merges an applied configuration into the live object
  (granular maps and associative lists merge, atomic values are replaced,
  sets are unions), records the applier's fields, removes the fields it
  applied last time, no longer applies and nobody else owns, and raises
  :class:`ApplyConflict` when it would change a field another manager owns
  (unless ``force``, which takes the ownership). Like the API server it
  records a ``before-first-apply`` manager for an object that had no managed
  fields, lets ``kubectl`` take over fields its client-side
  ``last-applied-configuration`` set, and keeps that annotation in sync.
* :func:`track_update` records the fields a non-apply write (create,
  update, patch) added or changed as owned by its manager, taking them away
  from the others.

Managed fields entries are ``{manager, operation (Apply|Update), apiVersion,
time, fieldsType: FieldsV1, fieldsV1, subresource?}``, sorted like the API
server sorts them; ``fieldsV1`` is encoded exactly as Kubernetes encodes it
(``f:<field>``, ``k:{"key":value}`` with the keys sorted and Go's compact JSON,
``v:<json>`` for set items, ``.`` for a node that is itself owned). Fields
Kubernetes never tracks (``apiVersion``, ``kind``, ``metadata.name``,
``namespace``, ``uid``, ``resourceVersion``, ``generation``,
``creationTimestamp``, ``deletionTimestamp``, ``managedFields``, ``selfLink``)
are left out.

The object-level effects of reset fields (keeping the old ``status`` on the
main resource) are the caller's; these functions only keep reset fields out
of ownership, and :func:`apply` leaves them out of the merge.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, Iterable, Iterator

from .patch import PatchError, copy_json, go_float, go_format, go_json, go_string, go_type, json_equal
from .schema import SchemaNode

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
BEFORE_FIRST_APPLY = "before-first-apply"
ANCIENT_CHANGES = "ancient-changes"
MAX_UPDATE_MANAGERS = 10

_ABSENT: Any = type("_Absent", (), {"__repr__": lambda self: "<absent>", "__bool__": lambda self: False})()


# == errors ===============================================================================
class ApplyError(PatchError):
    """An apply that can't be done: ``message``, ``status`` (400, 422, 500), ``reason``."""


class ApplyConflict(ApplyError):
    """Fields the applier would change that other managers own.

    ``conflicts``: ``(manager, path)`` pairs (``("kubectl-client-side-apply",
    ".spec.replicas")``); ``details``: the same with the managers' operation,
    apiVersion and subresource; :meth:`message` is the API server's text and
    :meth:`status` its ``Status`` (409 Conflict with one cause per field).
    """

    def __init__(self, conflicts: list[tuple[str, str]], details: list[dict[str, str]] | None = None) -> None:
        self.conflicts = list(conflicts)
        self.details = details if details is not None else [
            {"manager": m, "operation": "Apply", "apiVersion": "", "subresource": "", "path": p} for m, p in conflicts]
        text = self.message()
        Exception.__init__(self, text)  # pylint: disable=non-parent-init-called
        self.status = 409
        self.reason = "Conflict"
        self.status_message = text

    def __str__(self) -> str:
        return self.message()

    @staticmethod
    def _print_manager(d: dict[str, str]) -> str:
        text = json.dumps(d["manager"], ensure_ascii=False)
        if d.get("subresource"):
            text += f" with subresource {json.dumps(d['subresource'], ensure_ascii=False)}"
        if d.get("operation") == "Update":
            text += f" using {d.get('apiVersion', '')}"
        return text

    def message(self) -> str:
        if len(self.details) == 1:
            d = self.details[0]
            return f"Apply failed with 1 conflict: conflict with {self._print_manager(d)}: {d['path']}"
        groups: dict[str, list[str]] = {}
        printed: dict[str, str] = {}
        for d in self.details:
            ident = _identity_json(d["manager"], d["operation"], d.get("apiVersion", ""), d.get("subresource", ""))
            groups.setdefault(ident, []).append(d["path"])
            printed[ident] = self._print_manager(d)
        lines = []
        for ident in sorted(groups):
            lines.append(f"conflicts with {printed[ident]}:")
            lines.extend(f"- {p}" for p in groups[ident])
        return f"Apply failed with {len(self.details)} conflicts: " + "\n".join(lines)

    def status_object(self) -> dict[str, Any]:
        """The ``Status`` the API server answers."""
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message(),
            "reason": "Conflict",
            "details": {"causes": [{"type": "FieldManagerConflict",
                                    "message": f"conflict with {self._print_manager(d)}",
                                    "field": d["path"]} for d in self.details]},
            "code": 409,
        }


class _TypedError(Exception):
    """A value that doesn't fit its schema (structured-merge-diff's validation errors)."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        self.errors = errors
        super().__init__(self.text())

    def text(self) -> str:
        def one(path: str, msg: str) -> str:
            return f"{path}: {msg}" if path else msg

        if len(self.errors) == 1:
            return one(*self.errors[0])
        return "\n".join(["errors:"] + ["  " + one(p, m) for p, m in self.errors])


# == JSON values as structured-merge-diff sees them =========================================
def _freeze(value: Any) -> Any:
    """A hashable form of a JSON value; equal for 1 and 1.0, different for 1 and True."""
    if value is None:
        return ("z",)
    if isinstance(value, bool):
        return ("b", value)
    if isinstance(value, (int, float)):
        return ("n", value)
    if isinstance(value, str):
        return ("s", value)
    if isinstance(value, list):
        return ("l", tuple(_freeze(v) for v in value))
    if isinstance(value, dict):
        return ("m", tuple(sorted((k, _freeze(v)) for k, v in value.items())))
    return ("?", repr(value))


def _value_order(value: Any) -> Any:
    """A sort key ordering values like ``value.Compare`` (numbers, strings, booleans, lists, maps, null)."""
    if isinstance(value, bool):
        return (2, value)
    if isinstance(value, (int, float)):
        return (0, float(value))
    if isinstance(value, str):
        return (1, value)
    if isinstance(value, list):
        return (3, tuple(_value_order(v) for v in value))
    if isinstance(value, dict):
        return (4, tuple(sorted((k, _value_order(v)) for k, v in value.items())))
    return (5,)


def _go_quote(value: Any) -> str:
    """``value.ToString`` of structured-merge-diff (strings quoted)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return go_float(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ",".join(_go_quote(v) for v in value) + "]"
    if isinstance(value, dict):
        return "".join(f"{k}={_go_quote(v)}" for k, v in value.items())
    return str(value)


# == path elements and field sets ================================================================
class PathElement:
    """One step of a field path: ``f`` field, ``k`` associative key, ``v`` set value, ``i`` index."""

    __slots__ = ("kind", "value", "_hash_key", "_order")

    def __init__(self, kind: str, value: Any) -> None:
        self.kind = kind
        self.value = value
        self._order: Any = None
        if kind == "f":
            self._hash_key: Any = ("f", value)
        elif kind == "k":
            self._hash_key = ("k", tuple((n, _freeze(v)) for n, v in value))
        elif kind == "v":
            self._hash_key = ("v", _freeze(value))
        else:
            self._hash_key = ("i", value)

    @property
    def order(self) -> Any:
        """The sort key: fields, then keys, then values, then indexes (``PathElement.Compare``)."""
        if self._order is None:
            kind, value = self.kind, self.value
            if kind == "f":
                self._order = (0, value)
            elif kind == "k":
                self._order = (1, tuple((n, _value_order(v)) for n, v in value))
            elif kind == "v":
                self._order = (2, _value_order(value))
            else:
                self._order = (3, value)
        return self._order

    @classmethod
    def field(cls, name: str) -> PathElement:
        found = _FIELDS.get(name)
        if found is None:
            found = cls("f", name)
            if len(_FIELDS) < 100000:
                _FIELDS[name] = found
        return found

    @classmethod
    def key(cls, fields: Iterable[tuple[str, Any]]) -> PathElement:
        return cls("k", tuple(sorted(fields, key=lambda kv: kv[0])))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PathElement) and self._hash_key == other._hash_key

    def __hash__(self) -> int:
        return hash(self._hash_key)

    def __lt__(self, other: PathElement) -> bool:
        return self.order < other.order

    def __str__(self) -> str:
        if self.kind == "f":
            return "." + self.value
        if self.kind == "k":
            return "[" + ",".join(f"{n}={_go_quote(v)}" for n, v in self.value) + "]"
        if self.kind == "v":
            return f"[={_go_quote(self.value)}]"
        return f"[{self.value}]"

    __repr__ = __str__

    def serialize(self) -> str:
        """The ``fieldsV1`` key of this element."""
        if self.kind == "f":
            return "f:" + self.value
        if self.kind == "k":
            return "k:{" + ",".join(go_string(n) + ":" + go_json(v) for n, v in self.value) + "}"
        if self.kind == "v":
            return "v:" + go_json(self.value)
        return f"i:{self.value}"

    @classmethod
    def deserialize(cls, text: str) -> PathElement | None:
        """The element of a ``fieldsV1`` key (None for an unknown type, which the API server skips)."""
        if len(text) < 2:
            raise ValueError("key must be 2 characters long:")
        if text[1] != ":":
            raise ValueError(f"missing colon: {text}")
        kind, rest = text[0], text[2:]
        if kind == "f":
            return cls("f", rest)
        if kind == "v":
            return cls("v", json.loads(rest))
        if kind == "k":
            fields = json.loads(rest)
            if not isinstance(fields, dict):
                raise ValueError(f"key {text!r} is not a JSON object")
            return cls.key(fields.items())
        if kind == "i":
            return cls("i", int(rest))
        return None


_FIELDS: dict[str, PathElement] = {}  # interned field elements (immutable)


def path_string(path: Iterable[PathElement]) -> str:
    """A field path as the API server prints it (``.spec.containers[name="nginx"].image``)."""
    return "".join(str(pe) for pe in path)


class FieldSet:
    """A set of field paths as a tree (structured-merge-diff's ``fieldpath.Set``)."""

    __slots__ = ("members", "children")

    def __init__(self) -> None:
        self.members: set[PathElement] = set()
        self.children: dict[PathElement, FieldSet] = {}

    @classmethod
    def of(cls, *paths: Iterable[PathElement]) -> FieldSet:
        s = cls()
        for p in paths:
            s.insert(tuple(p))
        return s

    def insert(self, path: tuple[PathElement, ...] | list[PathElement]) -> None:
        if not path:
            return
        node = self
        for pe in path[:-1]:
            nxt = node.children.get(pe)
            if nxt is None:
                nxt = node.children[pe] = FieldSet()
            node = nxt
        node.members.add(path[-1])

    def copy(self) -> FieldSet:
        s = FieldSet()
        s.members = set(self.members)
        s.children = {pe: c.copy() for pe, c in self.children.items()}
        return s

    def empty(self) -> bool:
        return not self.members and all(c.empty() for c in self.children.values())

    def __bool__(self) -> bool:
        return not self.empty()

    def has(self, path: Iterable[PathElement]) -> bool:
        path = tuple(path)
        if not path:
            return False
        node: FieldSet | None = self
        for pe in path[:-1]:
            node = node.children.get(pe) if node is not None else None
            if node is None:
                return False
        return path[-1] in node.members  # type: ignore[union-attr]

    def with_prefix(self, pe: PathElement) -> FieldSet:
        return self.children.get(pe) or FieldSet()

    def union(self, other: FieldSet) -> FieldSet:
        s = FieldSet()
        s.members = self.members | other.members
        for pe in set(self.children) | set(other.children):
            a, b = self.children.get(pe), other.children.get(pe)
            s.children[pe] = a.union(b) if a is not None and b is not None else (a or b).copy()  # type: ignore
        return s

    def intersection(self, other: FieldSet) -> FieldSet:
        s = FieldSet()
        s.members = self.members & other.members
        for pe, child in self.children.items():
            theirs = other.children.get(pe)
            if theirs is not None:
                both = child.intersection(theirs)
                if not both.empty():
                    s.children[pe] = both
        return s

    def difference(self, other: FieldSet) -> FieldSet:
        """Members of self not in other; children recursively (a member of other keeps self's children)."""
        s = FieldSet()
        s.members = self.members - other.members
        for pe, child in self.children.items():
            theirs = other.children.get(pe)
            if theirs is None:
                s.children[pe] = child.copy()
            else:
                diff = child.difference(theirs)
                if not diff.empty():
                    s.children[pe] = diff
        return s

    def recursive_difference(self, other: FieldSet) -> FieldSet:
        """Like :meth:`difference`, a member of other also taking away self's children under it."""
        s = FieldSet()
        s.members = self.members - other.members
        for pe, child in self.children.items():
            if pe in other.members:
                continue
            theirs = other.children.get(pe)
            if theirs is None:
                s.children[pe] = child.copy()
            else:
                diff = child.recursive_difference(theirs)
                if not diff.empty():
                    s.children[pe] = diff
        return s

    def paths(self, prefix: tuple[PathElement, ...] = ()) -> Iterator[tuple[PathElement, ...]]:
        """Every path, this level's members first, then each child's (sorted, preorder)."""
        for pe in sorted(self.members):
            yield prefix + (pe,)
        for pe in sorted(self.children):
            yield from self.children[pe].paths(prefix + (pe,))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FieldSet):
            return NotImplemented
        return set(self.paths()) == set(other.paths())

    def __repr__(self) -> str:
        return "FieldSet(" + ", ".join(path_string(p) for p in self.paths()) + ")"

    # -- fieldsV1 ---------------------------------------------------------------------
    def to_fields_v1(self) -> dict[str, Any]:
        """The ``fieldsV1`` object (keys in the API server's order)."""
        return self._emit(False)

    def _emit(self, include_self: bool) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if include_self and (self.members or self.children):
            out["."] = {}
        for pe in sorted(self.members | set(self.children)):
            child = self.children.get(pe)
            if child is None:
                out[pe.serialize()] = {}
            else:
                out[pe.serialize()] = child._emit(pe in self.members)
        return out

    @classmethod
    def from_fields_v1(cls, fields: Any) -> FieldSet:
        """The set a ``fieldsV1`` object encodes (ValueError when malformed)."""
        if fields is None:
            return cls()
        if not isinstance(fields, dict):
            raise ValueError("fieldsV1 must be a JSON object")
        found, _ = cls._read(fields)
        return found or cls()

    @classmethod
    def _read(cls, fields: dict[str, Any]) -> tuple[FieldSet | None, bool]:
        children: FieldSet | None = None
        is_member = False
        for key, value in fields.items():
            if key == ".":
                is_member = True
                continue
            pe = PathElement.deserialize(key)
            if pe is None:
                continue
            if not isinstance(value, dict):
                raise ValueError(f"fieldsV1 value of {key!r} must be an object")
            grand, child_member = cls._read(value)
            if child_member:
                if children is None:
                    children = cls()
                children.members.add(pe)
            if grand is not None:
                if children is None:
                    children = cls()
                children.children[pe] = grand
        if children is None:
            is_member = True
        return children, is_member


# == typed walks ====================================================================================
def _shape(node: SchemaNode, value: Any) -> str:
    """How a value at node is walked: ``map`` (granular), ``list`` (associative) or ``leaf``."""
    kind = node.kind
    if kind == "map":
        if node.map_type == "atomic":
            return "leaf"
        return "map" if value is None or isinstance(value, dict) else "leaf"
    if kind == "list":
        if node.list_type == "atomic":
            return "leaf"
        return "list" if value is None or isinstance(value, list) else "leaf"
    if kind == "deduced":
        # null takes the shape of the other side (a map, when it is one), like deduceAtom's wildcard
        return "map" if value is None or isinstance(value, dict) else "leaf"
    return "leaf"


def _child_node(node: SchemaNode, key: str) -> SchemaNode:
    if node.kind == "map":
        found = node.properties.get(key)
        if found is not None:
            return found
        element = node.additional_properties
        return element if element is not None else SchemaNode.UNKNOWN
    if node.kind == "atomic":
        return SchemaNode.ATOMIC
    return SchemaNode.UNKNOWN


def _is_named(node: SchemaNode, key: str) -> bool:
    return node.kind == "map" and key in node.properties


def _items_node(node: SchemaNode) -> SchemaNode:
    items = node.items
    return items if items is not None else SchemaNode.ATOMIC


def _item_pe(node: SchemaNode, item: Any) -> PathElement:
    """The path element of an associative list item (ValueError when it has none)."""
    keys = node.list_map_keys
    if node.list_type == "map" and keys:
        if item is None:
            raise ValueError("associative list with keys may not have a null element")
        if not isinstance(item, dict):
            raise ValueError("associative list with keys may not have non-map elements")
        fields = []
        for name in keys:
            if name in item:
                fields.append((name, item[name]))
            else:
                default = node.key_default(name)
                if default is not None:
                    fields.append((name, default))
        if not fields:
            quoted = "[" + " ".join(json.dumps(k) for k in keys) + "]"
            raise ValueError(f"associative list with keys has an element that omits all key fields {quoted} "
                             "(and doesn't have default values for any key fields)")
        return PathElement.key(fields)
    if isinstance(item, dict):
        raise ValueError("associative list without keys has an element that's a map type")
    if isinstance(item, list):
        raise ValueError("not supported: associative list with lists as elements")
    if item is None:
        raise ValueError("associative list without keys has an element that's an explicit null")
    return PathElement("v", item)


def _go_value(value: Any) -> str:
    return "&{" + go_format(value) + "}"


def _go_type_name(value: Any) -> str:
    """``patch.go_type``, except that a JSON null prints as Go's ``<nil>`` here."""
    return "<nil>" if value is None else go_type(value)


def _go_sharp_v(value: Any) -> str:
    if isinstance(value, str):
        inner = json.dumps(value)
    elif isinstance(value, (list, dict)):
        inner = _go_type_name(value) + go_json(value)
    else:
        inner = go_format(value)
    return "&value.valueUnstructured{Value:" + inner + "}"


def validate(value: Any, node: SchemaNode, allow_duplicates: bool = False) -> list[tuple[str, str]]:
    """structured-merge-diff's validation of a value against its schema: ``(path, message)`` errors."""
    errors: list[tuple[str, str]] = []
    _validate(value, node, "", errors, allow_duplicates)
    return errors


def _validate_scalar(value: Any, node: SchemaNode) -> str | None:
    if value is None:
        return None
    typ, fmt = node.type, node.format
    if typ in ("integer", "number"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"expected numeric (int or float), got {_go_type_name(value)}"
    elif typ == "string" and fmt in ("", "byte"):
        if not isinstance(value, str):
            return f"expected string, got {_go_sharp_v(value)}"
    elif typ == "boolean":
        if not isinstance(value, bool):
            return f"expected boolean, got {_go_value(value)}"
    elif isinstance(value, (dict, list)):
        return f"expected any scalar, got {_go_value(value)}"
    return None


def _validate(value: Any, node: SchemaNode, path: str, errors: list[tuple[str, str]], dups: bool) -> None:
    kind = node.kind
    if kind in ("atomic",):
        return
    if kind == "deduced":
        if isinstance(value, dict):
            for k, v in value.items():
                _validate(v, SchemaNode.UNKNOWN, path + "." + k, errors, dups)
        return
    if kind == "scalar":
        problem = _validate_scalar(value, node)
        if problem:
            errors.append((path, problem))
        return
    if kind == "map":
        if value is None:
            return
        if not isinstance(value, dict):
            errors.append((path, f"expected map, got {_go_value(value)}"))
            return
        for k, v in value.items():
            child = node.properties.get(k)
            if child is None:
                child = node.additional_properties
                if child is None:
                    errors.append((path + "." + k, "field not declared in schema"))
                    return
            _validate(v, child, path + "." + k, errors, dups)
        return
    if kind == "list":
        if value is None:
            return
        if not isinstance(value, list):
            errors.append((path, f"expected list, got {_go_value(value)}"))
            return
        items = _items_node(node)
        associative = node.list_type != "atomic"
        seen: set[PathElement] = set()
        for index, item in enumerate(value):
            if associative:
                try:
                    pe = _item_pe(node, item)
                except ValueError as err:
                    errors.append((path, f"element {index}: {err}"))
                    return
                if pe in seen and not dups:
                    errors.append((path, f"duplicate entries for key {pe}"))
                seen.add(pe)
                label = str(pe)
            else:
                label = f"[{index}]"
            _validate(item, items, path + label, errors, dups)


def field_set(value: Any, node: SchemaNode) -> FieldSet:
    """The fields a value sets (``ToFieldSet``): leaves, list items, map entries, empty and null values."""
    out = FieldSet()
    _to_field_set(value, node, out)
    return out


def _to_field_set(value: Any, node: SchemaNode, here: FieldSet) -> bool:
    """Add the fields under ``value`` to ``here`` (the set at its path); True when the value is a leaf itself."""
    shape = _shape(node, value)
    if shape == "leaf":
        return True
    if value is None:
        return False
    if shape == "list":
        items = _items_node(node)
        pes = []
        for item in value:
            try:
                pes.append(_item_pe(node, item))
            except ValueError:
                pes.append(None)
        seen: set[PathElement] = set()
        duplicates: set[PathElement] = set()
        for pe in pes:
            if pe is None:
                continue
            if pe in seen:
                duplicates.add(pe)
            else:
                seen.add(pe)
        for pe, item in zip(pes, value):
            if pe is None:
                continue
            here.members.add(pe)
            if pe in duplicates:
                continue
            _descend(item, items, here, pe)
        return False
    for key, val in value.items():
        pe = PathElement.field(key)
        leaf = _descend(val, _child_node(node, key), here, pe)
        if leaf or val is None or (isinstance(val, dict) and not val) or not _is_named(node, key):
            here.members.add(pe)
    return False


def _descend(value: Any, node: SchemaNode, here: FieldSet, pe: PathElement) -> bool:
    child = here.children.get(pe)
    fresh = child is None
    if fresh:
        child = FieldSet()
    leaf = _to_field_set(value, node, child)
    if fresh and (child.members or child.children):
        here.children[pe] = child
    return leaf


def ensure_named_fields_are_members(fields: FieldSet, node: SchemaNode) -> FieldSet:
    """The set plus every declared struct field that has owned children (``EnsureNamedFieldsAreMembers``)."""
    out = FieldSet()
    out.members = set(fields.members)
    for pe, child in fields.children.items():
        if pe.kind == "f":
            if _is_named(node, pe.value):
                out.members.add(pe)
            sub = _child_node(node, pe.value) if node.kind in ("map", "atomic") else SchemaNode.UNKNOWN
        elif pe.kind == "k" and node.kind == "list":
            sub = _items_node(node)
        else:
            sub = SchemaNode.UNKNOWN
        out.children[pe] = ensure_named_fields_are_members(child, sub)
    return out


class Comparison:
    """Fields removed, modified and added from one value to another."""

    def __init__(self) -> None:
        self.removed = FieldSet()
        self.modified = FieldSet()
        self.added = FieldSet()

    def filtered(self, exclude: FieldSet | None) -> Comparison:
        if exclude is None or exclude.empty():
            return self
        c = Comparison()
        c.removed = self.removed.recursive_difference(exclude)
        c.modified = self.modified.recursive_difference(exclude)
        c.added = self.added.recursive_difference(exclude)
        return c

    def is_same(self) -> bool:
        return self.removed.empty() and self.modified.empty() and self.added.empty()


def compare(lhs: Any, rhs: Any, node: SchemaNode) -> Comparison:
    """The fields that differ between ``lhs`` and ``rhs`` (``_ABSENT`` for a missing value)."""
    c = Comparison()
    _compare(lhs, rhs, node, (), c)
    return c


def _compare(lhs: Any, rhs: Any, node: SchemaNode, path: tuple[PathElement, ...], c: Comparison) -> None:
    if rhs is _ABSENT:
        shape = _shape(node, lhs)
    elif lhs is _ABSENT:
        shape = _shape(node, rhs)
    else:
        left, right = _shape(node, lhs), _shape(node, rhs)
        shape = left if left == right else "leaf"
    if shape == "map":
        lmap = lhs if isinstance(lhs, dict) else None
        rmap = rhs if isinstance(rhs, dict) else None
        if not lmap and not rmap:
            shape = "leaf"
    elif shape == "list":
        llist = lhs if isinstance(lhs, list) else None
        rlist = rhs if isinstance(rhs, list) else None
        if not llist and not rlist:
            shape = "leaf"
    if shape == "leaf":
        if lhs is _ABSENT:
            c.added.insert(path)
        elif rhs is _ABSENT:
            c.removed.insert(path)
        elif not json_equal(lhs, rhs):
            c.modified.insert(path)
        return
    if shape == "map":
        keys = list(lmap or {})
        keys += [k for k in (rmap or {}) if lmap is None or k not in lmap]
        for key in keys:
            _compare((lmap or {}).get(key, _ABSENT), (rmap or {}).get(key, _ABSENT), _child_node(node, key),
                     path + (PathElement.field(key),), c)
    else:
        items = _items_node(node)
        lvalues: dict[PathElement, list[Any]] = {}
        rvalues: dict[PathElement, list[Any]] = {}
        order: list[PathElement] = []
        for source, values in ((llist or [], lvalues), (rlist or [], rvalues)):
            for item in source:
                pe = _item_pe(node, item)
                if pe in values:
                    values[pe].append(item)
                else:
                    values[pe] = [item]
                    if values is lvalues or pe not in lvalues:
                        order.append(pe)
        for pe in order:
            left_items, right_items = lvalues.get(pe, []), rvalues.get(pe, [])
            child_path = path + (pe,)
            if len(left_items) <= 1 and len(right_items) <= 1:
                _compare(left_items[0] if left_items else _ABSENT, right_items[0] if right_items else _ABSENT,
                         items, child_path, c)
            elif len(left_items) >= 2 and len(right_items) >= 2:
                if not json_equal(left_items, right_items):
                    c.modified.insert(child_path)
            elif len(left_items) >= 2:
                if right_items:
                    _compare(_ABSENT, right_items[0], items, child_path, c)
                c.removed.insert(child_path)
            else:
                if left_items:
                    _compare(left_items[0], _ABSENT, items, child_path, c)
                c.added.insert(child_path)
    if lhs is _ABSENT:
        c.added.insert(path)
    elif rhs is _ABSENT:
        c.removed.insert(path)


def merge(lhs: Any, rhs: Any, node: SchemaNode) -> Any:
    """``rhs`` merged into ``lhs`` by the schema (granular maps and associative lists merge, the rest is replaced)."""
    return _merge(lhs, rhs, node)


def _merge(lhs: Any, rhs: Any, node: SchemaNode) -> Any:
    if rhs is _ABSENT:
        return copy_json(lhs)
    if lhs is _ABSENT:
        return copy_json(rhs)
    left, right = _shape(node, lhs), _shape(node, rhs)
    shape = left if left == right else "leaf"
    if shape == "map":
        if not lhs and not rhs:
            return copy_json(rhs)
        lmap, rmap = lhs or {}, rhs or {}
        out: dict[str, Any] = {}
        for key, value in lmap.items():
            out[key] = _merge(value, rmap.get(key, _ABSENT), _child_node(node, key))
        for key, value in rmap.items():
            if key not in lmap:
                out[key] = copy_json(value)
        return out
    if shape == "list":
        if not lhs and not rhs:
            return copy_json(rhs)
        return _merge_list(lhs or [], rhs or [], node)
    return copy_json(rhs)


def _merge_list(lhs: list[Any], rhs: list[Any], node: SchemaNode) -> list[Any]:
    """structured-merge-diff's list merge: the config's order for shared items, live-only items kept in place."""
    items = _items_node(node)
    rpes = [_item_pe(node, item) for item in rhs]
    robserved: dict[PathElement, Any] = {}
    for pe, item in zip(rpes, rhs):
        if pe in robserved:
            raise ValueError(f"duplicate entries for key {pe}")
        robserved[pe] = item
    lpes = [_item_pe(node, item) for item in lhs]
    lobserved: dict[PathElement, Any] = {}
    for pe, item in zip(lpes, lhs):
        # a duplicated live item is not merged with the config's: it's replaced
        lobserved[pe] = _ABSENT if pe in lobserved else item
    shared = [pe for pe in rpes if pe in lobserved]
    shared_i = 0
    next_shared = shared[0] if shared else None
    if shared:
        shared_i = 1
    merged_rhs: set[PathElement] = set()
    out: list[Any] = []
    li = ri = 0
    while li < len(lpes) or ri < len(rpes):
        if li < len(lpes) and ri < len(rpes):
            pe = lpes[li]
            if pe == rpes[ri]:
                merged_rhs.add(pe)
                out.append(_merge(lobserved.get(pe, _ABSENT), robserved[pe], items))
                li += 1
                ri += 1
                next_shared = shared[shared_i] if shared_i < len(shared) else None
                shared_i += 1
                continue
            if pe in robserved and next_shared is not None and next_shared != pe:
                li += 1
                continue
        if li < len(lpes):
            pe = lpes[li]
            if pe not in robserved:
                out.append(_merge(lhs[li], _ABSENT, items))
                li += 1
                continue
            if pe in merged_rhs:
                li += 1
        if ri < len(rpes):
            pe = rpes[ri]
            merged_rhs.add(pe)
            out.append(_merge(lobserved.get(pe, _ABSENT), robserved[pe], items))
            ri += 1
            if next_shared is not None and next_shared == pe:
                next_shared = shared[shared_i] if shared_i < len(shared) else None
                shared_i += 1
    return out


def remove_items(value: Any, to_remove: FieldSet, node: SchemaNode) -> Any:
    """The value without the items and fields of ``to_remove`` (a container emptied becomes None)."""
    if to_remove.empty():
        return value
    return _remove(value, to_remove, node)


def _remove(value: Any, to_remove: FieldSet, node: SchemaNode) -> Any:
    shape = _shape(node, value)
    if shape == "leaf" or not value:
        return value
    if shape == "list":
        items = _items_node(node)
        out = []
        for item in value:
            try:
                pe = _item_pe(node, item)
            except ValueError:
                out.append(item)
                continue
            if pe in to_remove.members:
                continue
            sub = to_remove.children.get(pe)
            out.append(_remove(item, sub, items) if sub is not None and not sub.empty() else item)
        return out or None
    result: dict[str, Any] = {}
    for key, val in value.items():
        pe = PathElement.field(key)
        if pe in to_remove.members:
            continue
        sub = to_remove.children.get(pe)
        result[key] = _remove(val, sub, _child_node(node, key)) if sub is not None and not sub.empty() else val
    return result or None


def _drop_new_nulls(before: Any, after: Any, node: SchemaNode) -> Any:
    """Drop the schema fields that removal turned into null.

    structured-merge-diff leaves an emptied map or list as null; the API
    server's typed objects omit such a field (and a custom resource's
    non-nullable fields are pruned), so it goes. Nulls under fields the
    schema doesn't know (preserved unknown fields) stay, as they do there.
    """
    if isinstance(after, dict):
        src = before if isinstance(before, dict) else {}
        out = {}
        for key, value in after.items():
            child = _child_node(node, key)
            if value is None and src.get(key) is not None and child.kind != "deduced":
                continue
            out[key] = _drop_new_nulls(src.get(key), value, child)
        return out
    if isinstance(after, list) and isinstance(before, list) and len(after) == len(before):
        items = _items_node(node)
        return [_drop_new_nulls(b, a, items) for b, a in zip(before, after)]
    return after


# == managers ==========================================================================================
class _Managed:
    """One managed fields entry: its set, apiVersion, whether applied, and time."""

    __slots__ = ("manager", "operation", "subresource", "api_version", "fields", "time")

    def __init__(self, manager: str, operation: str, api_version: str, subresource: str, fields: FieldSet,
                 time: str | None) -> None:
        self.manager = manager
        self.operation = operation
        self.api_version = api_version
        self.subresource = subresource
        self.fields = fields
        self.time = time

    @property
    def applied(self) -> bool:
        return self.operation == "Apply"

    @property
    def identity(self) -> tuple[str, str, str, str]:
        return _identity(self.manager, self.operation, self.api_version, self.subresource)

    def with_fields(self, fields: FieldSet) -> _Managed:
        return _Managed(self.manager, self.operation, self.api_version, self.subresource, fields, self.time)


def _identity(manager: str, operation: str, api_version: str, subresource: str) -> tuple[str, str, str, str]:
    return (manager, operation, "" if operation == "Apply" else api_version, subresource)


def _identity_json(manager: str, operation: str, api_version: str, subresource: str) -> str:
    entry = {}
    if manager:
        entry["manager"] = manager
    if operation:
        entry["operation"] = operation
    if api_version and operation != "Apply":
        entry["apiVersion"] = api_version
    if subresource:
        entry["subresource"] = subresource
    return go_json_ordered(entry)


def go_json_ordered(entry: dict[str, Any]) -> str:
    """Compact Go JSON of a struct-like dict (its keys in the given order)."""
    return "{" + ",".join(go_string(k) + ":" + go_json(v) for k, v in entry.items()) + "}"


def decode_managed_fields(entries: Any) -> dict[tuple[str, str, str, str], _Managed]:
    """The managers of a ``metadata.managedFields`` list (ValueError as the API server words it)."""
    managers: dict[tuple[str, str, str, str], _Managed] = {}
    if entries is None:
        return managers
    if not isinstance(entries, list):
        raise ValueError("managedFields must be a list")
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise ValueError(f"managed fields entry {i} is not an object")
        operation = entry.get("operation")
        if operation not in ("Apply", "Update"):
            raise ValueError("operation must be `Apply` or `Update`")
        api_version = entry.get("apiVersion") or ""
        if not api_version:
            raise ValueError("apiVersion must not be empty")
        fields_type = entry.get("fieldsType") or ""
        if fields_type == "":
            raise ValueError(f"missing fieldsType in managed fields entry {i}")
        if fields_type != "FieldsV1":
            raise ValueError(f'invalid fieldsType "{fields_type}" in managed fields entry {i}')
        try:
            fields = FieldSet.from_fields_v1(entry.get("fieldsV1"))
        except (ValueError, TypeError) as err:
            raise ValueError(f"error decoding versioned set from {go_format(entry)}: "
                             f"error decoding set: {err}") from None
        m = _Managed(str(entry.get("manager") or ""), operation, api_version, str(entry.get("subresource") or ""),
                     fields, entry.get("time"))
        managers[m.identity] = m
    return managers


def _time_seconds(t: str | None) -> float:
    if not t:
        return 0.0
    try:
        return datetime.strptime(t[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc).timestamp()
    except ValueError:
        return 0.0


def encode_managed_fields(managers: dict[tuple[str, str, str, str], _Managed]) -> list[dict[str, Any]]:
    """The ``metadata.managedFields`` list of managers, sorted like the API server sorts it."""
    entries = []
    for m in managers.values():
        entry: dict[str, Any] = {"manager": m.manager, "operation": m.operation, "apiVersion": m.api_version}
        if m.time:
            entry["time"] = m.time
        entry["fieldsType"] = "FieldsV1"
        entry["fieldsV1"] = m.fields.to_fields_v1()
        if m.subresource:
            entry["subresource"] = m.subresource
        if not m.manager:
            del entry["manager"]
        entries.append(entry)
    entries.sort(key=lambda e: (e["operation"], _time_seconds(e.get("time")), e.get("manager", ""),
                                e["apiVersion"], e.get("subresource", "")))
    return entries


# Fields Kubernetes never records as owned (the field manager's stripMeta, plus deletion fields only the
# server sets).
_STRIP = FieldSet.of(
    [PathElement.field("apiVersion")],
    [PathElement.field("kind")],
    [PathElement.field("metadata")],
    *[[PathElement.field("metadata"), PathElement.field(name)] for name in (
        "name", "namespace", "creationTimestamp", "selfLink", "uid", "clusterName", "generation", "managedFields",
        "resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds")],
)


def _format_time(now: Any) -> str:
    if now is None:
        now = datetime.now(timezone.utc)
    if isinstance(now, datetime):
        if now.tzinfo is not None:
            now = now.astimezone(timezone.utc)
        return now.strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(now)


def _reset_set(subresource: str, reset_fields: Iterable[Iterable[str]] | None) -> FieldSet:
    if reset_fields is None:
        if subresource == "":
            reset_fields = (("status",),)
        elif subresource == "status":
            reset_fields = (("spec",), ("metadata", "labels"))
        else:
            reset_fields = ()
    return FieldSet.of(*[[PathElement.field(p) for p in path] for path in reset_fields])


def _without_paths(obj: Any, paths: FieldSet) -> Any:
    """``obj`` without the fields of ``paths`` (field names only)."""
    if not isinstance(obj, dict) or paths.empty():
        return obj
    out = {}
    for key, value in obj.items():
        pe = PathElement.field(key)
        if pe in paths.members:
            continue
        sub = paths.children.get(pe)
        out[key] = _without_paths(value, sub) if sub is not None else value
    return out


def _meta(obj: Any) -> dict[str, Any]:
    meta = obj.get("metadata") if isinstance(obj, dict) else None
    return meta if isinstance(meta, dict) else {}


def _without_managed_fields(obj: Any) -> Any:
    if not isinstance(obj, dict):
        return obj
    meta = obj.get("metadata")
    if isinstance(meta, dict) and "managedFields" in meta:
        obj = dict(obj)
        obj["metadata"] = {k: v for k, v in meta.items() if k != "managedFields"}
    return obj


def _with_managed_fields(obj: dict[str, Any], managers: dict[Any, _Managed]) -> dict[str, Any]:
    out = dict(obj)
    entries = encode_managed_fields(managers)
    if not entries and not isinstance(out.get("metadata"), dict):
        return out
    meta = dict(out.get("metadata") or {})
    if entries:
        meta["managedFields"] = entries
    else:
        meta.pop("managedFields", None)
    out["metadata"] = meta
    return out


# Go zero values of the built-in types: struct fields that are values (not pointers) are always serialized,
# so an object being created already "has" them and they are not recorded as added.
_VALUE_STRUCTS = frozenset(("metadata", "spec", "status", "template", "strategy", "updateStrategy", "jobTemplate",
                            "loadBalancer"))


def _zero_object(node: SchemaNode, depth: int = 0) -> Any:
    if node.kind != "map" or not node.properties or depth > 6:
        return {}
    required = set(node.target.raw.get("required") or ())
    out: dict[str, Any] = {}
    for name, child in node.properties.items():
        if name in _VALUE_STRUCTS and child.kind == "map" and child.properties:
            out[name] = _zero_object(child, depth + 1)
        elif name in required and child.kind in ("list", "map"):
            out[name] = None
    return out


def _is_builtin(node: SchemaNode) -> bool:
    return node.target.name is not None and not node.target.name.startswith("__")


class _Engine:
    """The field manager of one request: schema, version, reset fields."""

    def __init__(self, node: SchemaNode | None, api_version: str, reset: FieldSet) -> None:
        self.node = node if node is not None else SchemaNode.UNKNOWN
        self.version = api_version
        self.reset = reset

    def strip(self, fields: FieldSet) -> FieldSet:
        return fields.difference(_STRIP)

    def update_managers(self, old: Any, new: Any, managers: dict[Any, _Managed], workflow: Any,
                        force: bool) -> tuple[dict[Any, _Managed], Comparison]:
        cmp = compare(old, new, self.node).filtered(self.reset)
        changed = cmp.modified.union(cmp.added)
        conflicts: dict[Any, FieldSet] = {}
        removed: dict[Any, FieldSet] = {}
        for ident, m in managers.items():
            if ident == workflow:
                continue
            clash = m.fields.intersection(changed)
            if not clash.empty():
                conflicts[ident] = clash
            if not cmp.removed.empty():
                removed[ident] = cmp.removed
        if conflicts and not force:
            raise _Conflicts(managers, conflicts)
        out = dict(managers)
        for ident, clash in conflicts.items():
            out[ident] = out[ident].with_fields(out[ident].fields.difference(clash))
        for ident, gone in removed.items():
            out[ident] = out[ident].with_fields(out[ident].fields.difference(gone))
        return {i: m for i, m in out.items() if not m.fields.empty()}, cmp

    def update(self, old: Any, new: Any, managers: dict[Any, _Managed], manager: str, operation: str,
               subresource: str, now: str) -> dict[Any, _Managed]:
        """The managers after a non-apply write by ``manager`` (managedFieldsUpdater + stripMeta + Update)."""
        current = ("\x00current-operation", "Update", self.version, subresource)
        managers, cmp = self.update_managers(old, new, managers, current, True)
        fields = cmp.modified.union(cmp.added).recursive_difference(self.reset)
        fields = self.strip(fields)
        out = dict(managers)
        if not fields.empty():
            ident = _identity(manager, operation, self.version, subresource)
            previous = out.get(ident)
            union = fields.union(previous.fields) if previous is not None else fields
            out[ident] = _Managed(manager, operation, self.version, subresource, union, now)
        return _cap_managers(out)

    def prune(self, merged: Any, managers: dict[Any, _Managed], last: _Managed | None) -> Any:
        if last is None or last.fields.empty():
            return merged
        node = self.node
        last_e = ensure_named_fields_are_members(last.fields, node)
        pruned = remove_items(merged, last_e, node)
        managed = FieldSet()
        for m in managers.values():
            managed = managed.union(m.fields)
        merged_e = ensure_named_fields_are_members(field_set(merged, node), node)
        pruned_e = ensure_named_fields_are_members(field_set(pruned, node), node)
        managed_e = ensure_named_fields_are_members(managed, node)
        pruned = remove_items(merged, merged_e.difference(pruned_e.union(managed_e)), node)
        pruned_e = ensure_named_fields_are_members(field_set(pruned, node), node)
        result = remove_items(merged, merged_e.difference(pruned_e).intersection(last_e), node)
        return _drop_new_nulls(merged, result, node)


class _Conflicts(Exception):
    def __init__(self, managers: dict[Any, _Managed], conflicts: dict[Any, FieldSet]) -> None:
        super().__init__("conflicts")
        self.managers = managers
        self.conflicts = conflicts

    def paths(self) -> FieldSet:
        out = FieldSet()
        for s in self.conflicts.values():
            out = out.union(s)
        return out

    def error(self, allowed: FieldSet | None = None) -> ApplyConflict:
        pairs: list[tuple[str, str]] = []
        details: list[dict[str, str]] = []
        for ident in sorted(self.conflicts, key=lambda i: _identity_json(*i)):
            m = self.managers[ident]
            for path in self.conflicts[ident].paths():
                if allowed is not None and allowed.has(path):
                    continue
                text = path_string(path)
                pairs.append((m.manager, text))
                details.append({"manager": m.manager, "operation": m.operation, "apiVersion": m.api_version,
                                "subresource": m.subresource, "path": text})
        return ApplyConflict(pairs, details)


def _cap_managers(managers: dict[Any, _Managed]) -> dict[Any, _Managed]:
    """At most 10 Update managers: the oldest are merged into ``ancient-changes`` (per apiVersion)."""
    updaters = [i for i, m in managers.items() if not m.applied]
    if len(updaters) <= MAX_UPDATE_MANAGERS:
        return managers
    out = dict(managers)
    updaters.sort(key=lambda i: (_time_seconds(out[i].time), _identity_json(*i)))
    first_by_version: dict[str, Any] = {}
    length = len(updaters)
    for ident in updaters:
        if length <= MAX_UPDATE_MANAGERS:
            break
        m = out[ident]
        bucket = _identity(ANCIENT_CHANGES, "Update", m.api_version, "")
        if m.api_version in first_by_version:
            first = first_by_version[m.api_version]
            if bucket not in out:
                moved = out.pop(first)
                out[bucket] = _Managed(ANCIENT_CHANGES, "Update", moved.api_version, "", moved.fields, moved.time)
            out[bucket] = _Managed(ANCIENT_CHANGES, "Update", m.api_version, "",
                                   m.fields.union(out[bucket].fields), m.time)
            del out[ident]
            length -= 1
        else:
            first_by_version[m.api_version] = ident
    return out


def _gvk_string(api_version: str, kind: str) -> str:
    group, _, version = api_version.rpartition("/")
    return f"{group}/{version}, Kind={kind}"


def _object_gvknn(obj: dict[str, Any]) -> str:
    meta = _meta(obj)
    return (f"{meta.get('namespace', '')}/{meta.get('name', '')}; "
            f"{_gvk_string(str(obj.get('apiVersion', '')), str(obj.get('kind', '')))}")


def _base_object(live: Any, node: SchemaNode) -> dict[str, Any]:
    if isinstance(live, dict):
        return live
    return _zero_object(node) if _is_builtin(node) else {}


# == the public operations ========================================================================================
def apply(live: dict[str, Any] | None, config: dict[str, Any], manager: str, force: bool, node: SchemaNode | None,
          now: Any, *, subresource: str = "", api_version: str | None = None,
          reset_fields: Iterable[Iterable[str]] | None = None) -> dict[str, Any]:
    """Server-side apply of ``config`` by ``manager`` to ``live`` (None to create); the new object.

    ``node`` types the object (None or ``SchemaNode.UNKNOWN``: no schema);
    ``now`` (a datetime, an RFC 3339 string or None for the current time)
    stamps the applier's entry. ``status`` is not applied to the main
    resource (``subresource=""``), nor ``spec`` and ``metadata.labels`` to
    ``"status"`` (the API server's reset fields of a Deployment);
    ``reset_fields`` (field paths) overrides that, e.g. ``()`` for a custom
    resource without a status subresource. Raises :class:`ApplyConflict`
    (409) for fields other managers own, unless ``force``; ApplyError for a
    configuration that isn't a valid object of the schema (500, with the API
    server's ``failed to create typed patch object`` message) or that sets
    ``metadata.managedFields`` (400).
    """
    if not isinstance(config, dict):
        raise ApplyError("error decoding YAML: the applied configuration must be an object", 400)
    if not manager:
        raise ApplyError("PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: "
                         "is required for apply patch", 422)
    if _meta(config).get("managedFields") is not None:
        raise ApplyError("metadata.managedFields must be nil", 400)
    schema = node if node is not None else SchemaNode.UNKNOWN
    version = api_version or str(config.get("apiVersion") or (live or {}).get("apiVersion") or "")
    errors = validate(config, schema)
    if errors:
        # not a Status error in the API server: it answers 500 with an empty reason and this message
        raise ApplyError(f"failed to create typed patch object ({_object_gvknn(config)}): {_TypedError(errors)}", 500,
                         reason="")
    reset = _reset_set(subresource, reset_fields)
    engine = _Engine(schema, version, reset)
    stamp = _format_time(now)

    try:
        managers = decode_managed_fields(_meta(live).get("managedFields")) if live is not None else {}
    except ValueError as err:
        raise ApplyError(f"failed to decode managed fields: {err}", 500, reason="") from None
    live_obj = _without_managed_fields(live) if live is not None else None
    base = live_obj if isinstance(live_obj, dict) else {}

    if live is not None and not managers:
        # skipNonAppliedManager: the fields of an object nobody manages belong to "before-first-apply"
        empty = _zero_object(schema) if _is_builtin(schema) else {}
        managers = engine.update(empty, base, managers, BEFORE_FIRST_APPLY, "Update", subresource, stamp)

    applied_config = _without_paths(config, reset)
    try:
        new_obj, managers = _apply_core(engine, base, applied_config, managers, manager, subresource, force, stamp)
    except _Conflicts as conflicts:
        allowed = _allowed_by_last_applied(live_obj, schema) if manager == "kubectl" and live_obj else None
        if allowed is None or not conflicts.paths().difference(allowed).empty():
            raise conflicts.error(allowed) from None
        new_obj, managers = _apply_core(engine, base, applied_config, managers, manager, subresource, True, stamp)
    except ValueError as err:
        raise ApplyError(f"failed to merge config: {err}", 500, reason="") from None

    if manager == "kubectl":
        annotations = _meta(new_obj).get("annotations")
        if isinstance(annotations, dict) and annotations.get(LAST_APPLIED):
            new_obj = _set_last_applied(new_obj, config)
    return _with_managed_fields(new_obj, managers)


# What pruning must never take away: the fields nobody can own (stripped from every set).
_IDENTITY_META = ("name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp", "selfLink",
                  "deletionTimestamp", "deletionGracePeriodSeconds")


def _keep_identity(live: dict[str, Any], pruned: Any) -> dict[str, Any]:
    out = dict(pruned) if isinstance(pruned, dict) else {}
    for key in ("apiVersion", "kind"):
        if key in live and key not in out:
            out[key] = live[key]
    live_meta = live.get("metadata")
    if isinstance(live_meta, dict):
        meta = out.get("metadata")
        meta = dict(meta) if isinstance(meta, dict) else {}
        for key in _IDENTITY_META:
            if key in live_meta and key not in meta:
                meta[key] = live_meta[key]
        if meta or "metadata" in out:
            out["metadata"] = meta
    return out


def _apply_core(engine: _Engine, live: dict[str, Any], config: dict[str, Any], managers: dict[Any, _Managed],
                manager: str, subresource: str, force: bool, stamp: str) -> tuple[dict[str, Any], dict[Any, _Managed]]:
    node = engine.node
    ident = _identity(manager, "Apply", engine.version, subresource)
    merged = _merge(live, config, node)
    last = managers.get(ident)
    fields = field_set(config, node).recursive_difference(engine.reset)
    previous_time = last.time if last is not None else None
    work = dict(managers)
    work[ident] = _Managed(manager, "Apply", engine.version, subresource, fields, previous_time)
    merged = _keep_identity(merged, engine.prune(merged, work, last))
    work, _ = engine.update_managers(live, merged, work, ident, force)
    changed = not json_equal(live, merged)
    result = merged if changed else copy_json(live)
    applier = work.get(ident)
    if applier is not None:
        stripped = engine.strip(applier.fields)
        if stripped.empty():
            del work[ident]
        else:
            work[ident] = applier.with_fields(stripped)
            if changed or work[ident].time is None:
                work[ident].time = stamp
    return result, work


def _allowed_by_last_applied(live: dict[str, Any], node: SchemaNode) -> FieldSet | None:
    """The fields kubectl's client-side last-applied configuration set and the live object still has."""
    text = (_meta(live).get("annotations") or {}).get(LAST_APPLIED)
    if not text:
        return None
    try:
        last = json.loads(text)
    except ValueError:
        return None
    if not isinstance(last, dict):
        return None
    try:
        fields = field_set(last, node)
        cmp = compare(last, live, node)
    except ValueError:
        return None
    return fields.difference(cmp.modified).difference(cmp.added).difference(cmp.removed)


def _set_last_applied(obj: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    applied = copy_json(config)
    annotations = _meta(applied).get("annotations")
    if isinstance(annotations, dict):
        annotations.pop(LAST_APPLIED, None)
    out = dict(obj)
    meta = dict(out.get("metadata") or {})
    meta["annotations"] = dict(meta.get("annotations") or {})
    meta["annotations"][LAST_APPLIED] = go_json(applied) + "\n"
    out["metadata"] = meta
    return out


def track_update(old: dict[str, Any] | None, new: dict[str, Any], manager: str, node: SchemaNode | None, now: Any,
                 operation: str = "Update", subresource: str = "", *, api_version: str | None = None,
                 reset_fields: Iterable[Iterable[str]] | None = None) -> dict[str, Any]:
    """``new`` with ``metadata.managedFields`` recording a non-apply write by ``manager``.

    ``old`` is the stored object (None on create). The fields the write
    added or changed become ``manager``'s (one entry per manager, operation,
    apiVersion and subresource) and are taken from the other managers; the
    fields it removed leave every manager; entries left empty are dropped.
    Like the API server: ``new``'s own ``managedFields`` replace the stored
    ones when set (``[]`` resets them; on a subresource they are ignored);
    an existing object without managed fields stays untracked; ``status``
    changes on the main resource (and ``spec`` ones on ``status``) are not
    recorded (``reset_fields`` overrides).
    """
    schema = node if node is not None else SchemaNode.UNKNOWN
    version = api_version or str(new.get("apiVersion") or (old or {}).get("apiVersion") or "")
    stamp = _format_time(now)
    old_entries = _meta(old).get("managedFields") if old is not None else None
    new_meta = _meta(new)
    try:
        managers = _decode_live_or_new(old_entries, new_meta.get("managedFields", _ABSENT), bool(subresource))
    except ValueError:
        managers = {}
    new_obj = _without_managed_fields(new)
    if old is not None and not managers and _meta(old).get("uid"):
        # skipNonAppliedManager: an existing object nobody manages stays untracked
        return _with_managed_fields(new_obj, {})
    engine = _Engine(schema, version, _reset_set(subresource, reset_fields))
    old_obj = _base_object(_without_managed_fields(old) if old is not None else None, schema)
    try:
        managers = engine.update(old_obj, new_obj, managers, manager, operation if operation else "Update",
                                 subresource, stamp)
    except ValueError:
        # the API server keeps the stored managed fields when it can't compute new ones
        out = copy_json(new_obj)
        if old_entries:
            out.setdefault("metadata", {})["managedFields"] = copy_json(old_entries)
        return out
    return _with_managed_fields(copy_json(new_obj), managers)


def _decode_live_or_new(old_entries: Any, new_entries: Any, subresource: bool) -> dict[Any, _Managed]:
    if subresource or new_entries is _ABSENT or new_entries is None:
        return _decode_or_empty(old_entries)
    if isinstance(new_entries, list) and (not new_entries or (len(new_entries) == 1 and new_entries[0] == {})):
        return {}
    try:
        managers = decode_managed_fields(new_entries)
    except ValueError:
        managers = {}
    return managers if managers else _decode_or_empty(old_entries)


def _decode_or_empty(entries: Any) -> dict[Any, _Managed]:
    try:
        return decode_managed_fields(entries)
    except ValueError:
        return {}


def managed_fields_of(obj: dict[str, Any], manager: str, operation: str = "Apply",
                      subresource: str = "") -> FieldSet:
    """The fields ``manager`` owns in ``obj`` (an empty set if it owns none)."""
    out = FieldSet()
    for m in _decode_or_empty(_meta(obj).get("managedFields")).values():
        if m.manager == manager and m.operation == operation and m.subresource == subresource:
            out = out.union(m.fields)
    return out
