"""JSON patch, JSON merge patch and strategic merge patch, as the API server applies them.

Pure functions on JSON values (dicts, lists, str, int, float, bool, None):
they copy their inputs, never mutate them, and return the patched object.

* :func:`json_patch`: RFC 6902 as ``gopkg.in/evanphx/json-patch.v4`` (the
  API server's library) applies it, quirks included: ``replace`` of a
  missing object key adds it, negative array indexes count from the end,
  ``test`` of a missing key against ``null`` passes, ``copy`` of a missing
  key copies ``null``; the library's messages.
* :func:`merge_patch`: RFC 7386 (``MergePatch`` of the same library).
* :func:`strategic_merge_patch`: Kubernetes' strategic merge patch
  (``k8s.io/apimachinery/pkg/util/strategicpatch``) driven by a
  :class:`~emulator.k8s.schema.SchemaNode`'s patch strategies and merge
  keys: lists merged by merge key, ``$patch: replace|delete`` on maps and
  list items, ``$retainKeys``, ``$deleteFromPrimitiveList/<list>``,
  ``$setElementOrder/<list>``, primitive lists with the merge strategy
  (union, order kept), ``null`` deleting a key, lists without a strategy
  replaced. Without a schema (``SchemaNode.UNKNOWN``) it behaves like a
  JSON merge patch that also understands the directives.

Failures raise :class:`PatchError` with the HTTP status the API server
answers (400 for a malformed patch, 422 when it doesn't apply to the
object) and a message naming the problem; ``status_message`` is the text
the API server puts in its ``Status`` (for JSON patch failures that is a
generic sentence, the library's detail being dropped by the server).
"""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal
from typing import Any

from .schema import SchemaNode

MAX_JSON_PATCH_OPERATIONS = 10000
GENERIC_422 = "the server rejected our request due to an error in our request"

_REASONS = {400: "BadRequest", 409: "Conflict", 413: "RequestEntityTooLarge", 415: "UnsupportedMediaType",
            422: "Invalid", 500: "InternalError"}


class PatchError(Exception):
    """A patch that can't be applied: ``message``, HTTP ``status`` (400/422), ``reason``, ``status_message``."""

    def __init__(self, message: str, status: int = 422, *, status_message: str | None = None,
                 reason: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.reason = reason if reason is not None else _REASONS.get(status, "")
        self.status_message = status_message if status_message is not None else message

    def __str__(self) -> str:
        return self.message


# -- JSON value helpers (shared with ssa) -------------------------------------------
def copy_json(value: Any) -> Any:
    """A deep copy of a JSON value (dicts and lists copied, scalars shared)."""
    if isinstance(value, dict):
        return {k: copy_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [copy_json(v) for v in value]
    return value


def json_equal(a: Any, b: Any) -> bool:
    """JSON equality: booleans are not numbers, 1 == 1.0, object key order ignored."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, dict):
        if not isinstance(b, dict) or len(a) != len(b):
            return False
        for k, v in a.items():
            if k not in b or not json_equal(v, b[k]):
                return False
        return True
    if isinstance(a, list):
        if not isinstance(b, list) or len(a) != len(b):
            return False
        return all(json_equal(x, y) for x, y in zip(a, b))
    if a is None or b is None:
        return a is None and b is None
    return type(a) is type(b) and a == b


def go_type(value: Any) -> str:
    """The Go type of a decoded JSON value (``map[string]interface {}``, ``string``, ``int64``...)."""
    if value is None:
        return "%!s(<nil>)"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int64"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "[]interface {}"
    if isinstance(value, dict):
        return "map[string]interface {}"
    return type(value).__name__


def go_float(value: float) -> str:
    """A float as Go's ``%v`` prints it (shortest repr, exponent past 1e21)."""
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    if value == int(value) and abs(value) < 1e21:
        return str(int(value))
    text = repr(value)
    if "e" in text:
        mantissa, exp = text.split("e")
        sign = "-" if exp.startswith("-") else "+"
        digits = exp.lstrip("+-").lstrip("0") or "0"
        return f"{mantissa}e{sign}{digits.zfill(2)}"
    return text


def go_format(value: Any) -> str:
    """A decoded JSON value as Go's ``%v`` prints it (``map[a:1 b:x]``, ``[1 2]``, ``<nil>``)."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return go_float(value)
    if isinstance(value, (int, str)):
        return str(value)
    if isinstance(value, list):
        return "[" + " ".join(go_format(v) for v in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{go_format(value[k])}" for k in sorted(value)) + "]"
    return str(value)


def go_json(value: Any) -> str:
    """Compact JSON as Go's encoding/json writes it (sorted map keys, HTML-safe escapes, Go floats)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _go_json_float(value)
    if isinstance(value, str):
        return go_string(value)
    if isinstance(value, list):
        return "[" + ",".join(go_json(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(go_string(k) + ":" + go_json(value[k]) for k in sorted(value)) + "}"
    raise TypeError(f"not a JSON value: {value!r}")


def _go_json_float(value: float) -> str:
    """A float as encoding/json writes it: plain decimals, exponent form below 1e-6 and from 1e21."""
    if math.isnan(value) or math.isinf(value):
        raise ValueError(f"json: unsupported value: {value}")
    absolute = abs(value)
    if absolute != 0 and (absolute < 1e-6 or absolute >= 1e21):
        mantissa, _, exp = repr(value).partition("e")
        sign = "-" if exp.startswith("-") else "+"
        return f"{mantissa.removesuffix('.0')}e{sign}{exp.lstrip('+-').lstrip('0') or '0'}"
    text = format(Decimal(repr(value)), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def go_string(text: str) -> str:
    """A JSON string as Go's encoding/json writes it (``<``, ``>``, ``&`` escaped)."""
    out = json.dumps(text, ensure_ascii=False)
    return (out.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _go_kind(value: Any) -> str:
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "slice"
    if isinstance(value, dict):
        return "map"
    return type(value).__name__


def _go_eq(a: Any, b: Any) -> bool:
    """Go's ``==`` on decoded scalars (no maps or lists)."""
    if isinstance(a, (dict, list)) or isinstance(b, (dict, list)):
        return a is b
    if _go_kind(a) != _go_kind(b):
        return False
    return a == b


# == JSON patch (RFC 6902, evanphx/json-patch v4) ======================================
class _Missing:
    pass


_MISSING = _Missing()
_ATOI = re.compile(r"^[+-]?[0-9]+$")


def _atoi(key: str) -> int:
    if not _ATOI.match(key):
        raise _OpError(f'strconv.Atoi: parsing "{key}": invalid syntax')
    return int(key)


class _OpError(Exception):
    pass


def _decode_key(key: str) -> str:
    return key.replace("~1", "/").replace("~0", "~")


class _Doc:
    """The patched document: the root container, swappable by ``replace`` of ``""``."""

    def __init__(self, root: Any) -> None:
        self.root = root


def _find(doc: _Doc, path: str) -> tuple[Any, str] | None:
    """The container holding ``path``'s last token and the token (evanphx' findObject)."""
    split = path.split("/")
    if len(split) < 2:
        return None
    container = doc.root
    for part in split[1:-1]:
        try:
            nxt = _get(container, _decode_key(part))
        except _OpError:
            return None
        if not isinstance(nxt, (dict, list)):
            return None
        container = nxt
    return container, _decode_key(split[-1])


def _get(container: Any, key: str) -> Any:
    """The value at key (None for a missing object key, as the library's nil node)."""
    if isinstance(container, dict):
        return container.get(key)
    if isinstance(container, list):
        idx = _atoi(key)
        if idx < 0:
            if idx < -len(container):
                raise _OpError(f"Unable to access invalid index: {idx}: invalid index referenced")
            idx += len(container)
        if idx >= len(container):
            raise _OpError(f"Unable to access invalid index: {idx}: invalid index referenced")
        return container[idx]
    raise _OpError("invalid state detected")


def _add(container: Any, key: str, value: Any) -> None:
    if isinstance(container, dict):
        container[key] = value
        return
    if key == "-":
        container.append(value)
        return
    if not _ATOI.match(key):
        raise _OpError(f"value was not a proper array index: '{key}': strconv.Atoi: parsing \"{key}\": invalid syntax")
    idx = int(key)
    size = len(container) + 1
    if idx >= size:
        raise _OpError(f"Unable to access invalid index: {idx}: invalid index referenced")
    if idx < 0:
        if idx < -size:
            raise _OpError(f"Unable to access invalid index: {idx}: invalid index referenced")
        idx += size
    container.insert(idx, value)


def _set(container: Any, key: str, value: Any) -> None:
    if isinstance(container, dict):
        container[key] = value
        return
    idx = _atoi(key)
    if idx < 0:
        if idx < -len(container):
            raise _OpError(f"Unable to access invalid index: {idx}: invalid index referenced")
        idx += len(container)
    container[idx] = value


def _remove(container: Any, key: str) -> None:
    if isinstance(container, dict):
        if key not in container:
            raise _OpError(f"Unable to remove nonexistent key: {key}: missing value")
        del container[key]
        return
    idx = _atoi(key)
    if idx >= len(container):
        raise _OpError(f"Unable to access invalid index: {idx}: invalid index referenced")
    if idx < 0:
        if idx < -len(container):
            raise _OpError(f"Unable to access invalid index: {idx}: invalid index referenced")
        idx += len(container)
    del container[idx]


def _op_string(op: dict[str, Any], field: str) -> str | None:
    value = op.get(field)
    return value if isinstance(value, str) else None


def _apply_op(doc: _Doc, op: dict[str, Any]) -> None:
    kind = op.get("op") if isinstance(op.get("op"), str) else "unknown"
    path = _op_string(op, "path")
    value = copy_json(op.get("value"))
    if kind == "add":
        if path is None:
            raise _OpError("add operation failed to decode path: missing value")
        found = _find(doc, path)
        if found is None:
            raise _OpError(f'add operation does not apply: doc is missing path: "{path}": missing value')
        try:
            _add(found[0], found[1], value)
        except _OpError as err:
            raise _OpError(f"error in add for path: '{path}': {err}") from None
    elif kind == "remove":
        if path is None:
            raise _OpError("remove operation failed to decode path: missing value")
        found = _find(doc, path)
        if found is None:
            raise _OpError(f'remove operation does not apply: doc is missing path: "{path}": missing value')
        try:
            _remove(found[0], found[1])
        except _OpError as err:
            raise _OpError(f"error in remove for path: '{path}': {err}") from None
    elif kind == "replace":
        if path is None:
            raise _OpError("replace operation failed to decode path: operation missing path field: missing value")
        if path == "":
            if not isinstance(value, (dict, list)):
                raise _OpError("replace operation value must be object or array: <nil>")
            doc.root = value
            return
        found = _find(doc, path)
        if found is None:
            raise _OpError(f"replace operation does not apply: doc is missing path: {path}: missing value")
        try:
            _get(found[0], found[1])
        except _OpError:
            raise _OpError(f"replace operation does not apply: doc is missing key: {path}: missing value") from None
        try:
            _set(found[0], found[1], value)
        except _OpError as err:
            raise _OpError(f"error in remove for path: '{path}': {err}") from None
    elif kind == "move":
        source = _op_string(op, "from")
        if source is None:
            raise _OpError("move operation failed to decode from: operation, missing from field: missing value")
        found = _find(doc, source)
        if found is None:
            raise _OpError(f"move operation does not apply: doc is missing from path: {source}: missing value")
        container, key = found
        try:
            moved = _get(container, key)
            _remove(container, key)
        except _OpError as err:
            raise _OpError(f"error in move for path: '{key}': {err}") from None
        if path is None:
            raise _OpError("move operation failed to decode path: operation missing path field: missing value")
        found = _find(doc, path)
        if found is None:
            raise _OpError(f"move operation does not apply: doc is missing destination path: {path}: missing value")
        try:
            _add(found[0], found[1], moved)
        except _OpError as err:
            raise _OpError(f"error in move for path: '{path}': {err}") from None
    elif kind == "copy":
        source = _op_string(op, "from")
        if source is None:
            raise _OpError("copy operation failed to decode from: operation, missing from field: missing value")
        found = _find(doc, source)
        if found is None:
            raise _OpError(f"copy operation does not apply: doc is missing from path: {source}: missing value")
        try:
            copied = copy_json(_get(found[0], found[1]))
        except _OpError as err:
            raise _OpError(f"error in copy for from: '{source}': {err}") from None
        if path is None:
            raise _OpError("copy operation failed to decode path: missing value")
        found = _find(doc, path)
        if found is None:
            raise _OpError(f"copy operation does not apply: doc is missing destination path: {path}: missing value")
        try:
            _add(found[0], found[1], copied)
        except _OpError as err:
            raise _OpError(f"error while adding value during copy: {err}") from None
    elif kind == "test":
        if path is None:
            raise _OpError("test operation failed to decode path: operation missing path field: missing value")
        if path == "":
            if _raw_equal(doc.root, value):
                return
            raise _OpError(f"testing value {path} failed: test failed")
        found = _find(doc, path)
        if found is None:
            raise _OpError(f"test operation does not apply: is missing path: {path}: missing value")
        try:
            current = _get(found[0], found[1])
        except _OpError as err:
            raise _OpError(f"error in test for path: '{path}': {err}") from None
        if current is None:
            if value is None:
                return
            raise _OpError(f"testing value {path} failed: test failed")
        if value is None or not _raw_equal(current, value):
            raise _OpError(f"testing value {path} failed: test failed")
    else:
        raise _OpError(f"Unexpected kind: {kind}")


def _raw_equal(current: Any, value: Any) -> bool:
    """The library's ``test`` equality: numbers compare as JSON text (the object's Go encoding against the
    patch's), so ``1.0`` in a patch doesn't equal a stored ``1``."""
    if isinstance(current, dict):
        return isinstance(value, dict) and len(current) == len(value) and all(
            k in value and _raw_equal(v, value[k]) for k, v in current.items())
    if isinstance(current, list):
        return isinstance(value, list) and len(current) == len(value) and all(
            _raw_equal(a, b) for a, b in zip(current, value))
    if isinstance(current, (int, float)) and not isinstance(current, bool):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        return go_json(current) == json.dumps(value)
    return json_equal(current, value)


def json_patch(obj: Any, operations: Any) -> Any:
    """``obj`` patched by the RFC 6902 ``operations`` (a list of operation objects).

    A patch that isn't a list of objects is malformed (400); an operation
    that fails (a ``test`` that doesn't match, a path that isn't there) is
    a 422 whose message is the library's (``testing value /spec/replicas
    failed: test failed``).
    """
    if not isinstance(operations, list):
        raise PatchError(f"json: cannot unmarshal {json_kind(operations)} into Go value of type jsonpatch.Patch", 400)
    for op in operations:
        if not isinstance(op, dict):
            raise PatchError(f"json: cannot unmarshal {json_kind(op)} into Go value of type jsonpatch.Operation", 400)
    if len(operations) > MAX_JSON_PATCH_OPERATIONS:
        raise PatchError(f"The allowed maximum operations in a JSON patch is {MAX_JSON_PATCH_OPERATIONS}, "
                         f"got {len(operations)}", 413)
    doc = _Doc(copy_json(obj))
    for op in operations:
        try:
            _apply_op(doc, op)
        except _OpError as err:
            raise PatchError(str(err), 422, status_message=GENERIC_422) from None
    return doc.root


def json_kind(value: Any) -> str:
    """The JSON type of a decoded value, as Go's decoder names it in errors (object, array, string...)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


# == JSON merge patch (RFC 7386) =============================================================
def _prune_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        for k in [k for k, v in value.items() if v is None]:
            del value[k]
        for v in value.values():
            _prune_nulls(v)
    elif isinstance(value, list):
        for v in value:
            if v is not None:
                _prune_nulls(v)
    return value


def _merge_docs(doc: dict[str, Any], patch: dict[str, Any]) -> None:
    for key, value in patch.items():
        if value is None:
            doc.pop(key, None)
            continue
        current = doc.get(key)
        if current is None:
            doc[key] = _prune_nulls(value)
        elif not isinstance(current, dict):
            doc[key] = _prune_nulls(value)
        elif not isinstance(value, dict):
            doc[key] = value
        else:
            _merge_docs(current, value)


def merge_patch(obj: Any, patch: Any) -> Any:
    """``obj`` patched by the JSON merge patch ``patch`` (RFC 7386): null deletes, objects merge, the rest replaces."""
    if isinstance(patch, list):
        return _prune_nulls(copy_json(patch))
    if not isinstance(patch, dict):
        raise PatchError("Invalid JSON Patch", 400)
    patch = copy_json(patch)
    if not isinstance(obj, dict):
        return _prune_nulls(patch)
    doc = copy_json(obj)
    _merge_docs(doc, patch)
    return doc


# == strategic merge patch =====================================================================
DIRECTIVE = "$patch"
RETAIN_KEYS = "$retainKeys"
DELETE_FROM_PRIMITIVE_LIST = "$deleteFromPrimitiveList"
SET_ELEMENT_ORDER = "$setElementOrder"

ERR_BAD_JSON_DOC = "invalid JSON document"
ERR_NO_LIST_OF_LISTS = "lists of lists are not supported"
ERR_PRIMITIVE_LIST = "invalid patch format of primitive list"
ERR_RETAIN_KEYS = "invalid patch format of retainKeys"
ERR_SET_ELEMENT_ORDER = "invalid patch format of setElementOrder list"


def _bad_request(message: str) -> PatchError:
    return PatchError(message, 400)


def _invalid(message: str) -> PatchError:
    return PatchError(message, 422)


def _err_bad_arg_type(expected: str, actual: Any) -> PatchError:
    return _invalid(f"expected a {expected}, but received a {go_type(actual)}")


def _err_no_merge_key(item: dict[str, Any], key: str) -> PatchError:
    return _invalid(f"map: {go_format(item)} does not contain declared merge key: {key}")


def _err_bad_patch_type(directive: Any, patch: dict[str, Any]) -> PatchError:
    return _invalid(f"unknown patch type: {go_format(directive)} in map: {go_format(patch)}")


_MAP = "map[string]interface {}"
_SLICE = "[]interface {}"


def strategic_merge_patch(obj: Any, patch: Any, node: SchemaNode | None) -> dict[str, Any]:
    """``obj`` patched by the strategic merge patch ``patch`` along the schema ``node``.

    ``node`` None or ``SchemaNode.UNKNOWN`` patches without strategies
    (maps merge, lists are replaced). Errors: 400 for a malformed patch or
    directive format, 422 for a patch that doesn't fit the object.
    """
    if not isinstance(patch, dict):
        raise _bad_request(ERR_BAD_JSON_DOC)
    if obj is not None and not isinstance(obj, dict):
        raise _bad_request(ERR_BAD_JSON_DOC)
    schema = node if node is not None else SchemaNode.UNKNOWN
    return _merge_map(copy_json(obj) if obj is not None else {}, copy_json(patch), schema)


def _strategy(node: SchemaNode) -> str:
    """The non-retainKeys strategy of a field (extractRetainKeysPatchStrategy)."""
    strategies = node.patch_strategies
    if len(strategies) == 0:
        return ""
    if len(strategies) == 1:
        return "" if strategies[0] == "retainKeys" else strategies[0]
    if len(strategies) == 2:
        if strategies[0] == "retainKeys":
            return strategies[1]
        if strategies[1] == "retainKeys":
            return strategies[0]
    raise _invalid(f"unexpected patch strategy: [{' '.join(strategies)}]")


def _items_of(node: SchemaNode) -> SchemaNode:
    items = node.items
    if items is None and node.kind == "map":
        return node  # a struct used as a list: its elements are the struct (Go's pointer Elem)
    return items if items is not None else SchemaNode.UNKNOWN


def _aliased_server_order(original: list[Any], patch: list[Any], merge_key: str) -> list[Any]:
    """The live list as Go's ``$setElementOrder`` code sees it after merging the list into it.

    The library deletes items and appends new ones in place, in the backing
    array of the live list, which the ordering step then reads back: deleted
    items shift the rest left (the last one staying behind) and appended ones
    fill the freed places. The final order depends on it.
    """
    n = len(original)
    backing = list(original)
    length = n
    replace = False
    for item in patch:
        if not isinstance(item, dict):
            return original
        directive = item.get(DIRECTIVE)
        if directive == "delete" and merge_key in item:
            while True:
                index = _find_map(backing[:length], merge_key, item[merge_key])
                if index < 0:
                    break
                backing[index:length - 1] = backing[index + 1:length]
                length -= 1
        elif directive == "replace":
            replace = True
    if replace:
        return backing
    grown: list[Any] | None = None
    for item in patch:
        if DIRECTIVE in item or merge_key not in item:
            continue
        current = grown if grown is not None else backing[:length]
        if _find_map(current, merge_key, item[merge_key]) >= 0:
            continue
        if grown is None and length < n:
            backing[length] = item
            length += 1
        else:
            if grown is None:
                grown = backing[:length]
            grown.append(item)
    return backing


def _handle_directive_in_map(directive: Any, patch: dict[str, Any]) -> dict[str, Any]:
    if directive == "replace":
        del patch[DIRECTIVE]
        return patch
    if directive == "delete":
        return {}
    raise _err_bad_patch_type(directive, patch)


def _merge_map(original: dict[str, Any] | None, patch: dict[str, Any], node: SchemaNode) -> dict[str, Any]:
    if DIRECTIVE in patch:
        return _handle_directive_in_map(patch[DIRECTIVE], patch)
    if original is None:
        original = {}
    _apply_retain_keys(original, patch)
    _merge_set_element_order(original, patch, node)

    for key in list(patch):
        patch_value = patch[key]
        is_delete_list = False
        if key.startswith(DELETE_FROM_PRIMITIVE_LIST):
            key = _extract_key(key, DELETE_FROM_PRIMITIVE_LIST)
            is_delete_list = True
        if patch_value is None:
            original.pop(key, None)
            continue
        if key not in original:
            if not is_delete_list:
                _discard_nulls(patch_value)
                value, keep = _remove_directives(patch_value)
                if keep:
                    original[key] = value
            continue
        current = original[key]
        if _go_kind(current) != _go_kind(patch_value) or (
                isinstance(current, (int, float)) and type(current) is not type(patch_value)):
            if not is_delete_list:
                _discard_nulls(patch_value)
                value, keep = _remove_directives(patch_value)
                if keep:
                    original[key] = value
                else:
                    del original[key]
            continue
        if isinstance(current, dict):
            sub = node.child(key)
            strategy = _strategy(sub)
            original[key] = patch_value if strategy == "replace" else _merge_map(current, patch_value, sub)
        elif isinstance(current, list):
            sub = node.child(key)
            strategy = _strategy(sub)
            if strategy == "merge" or is_delete_list:
                original[key] = _merge_slice(current, patch_value, _items_of(sub), sub.patch_merge_key, is_delete_list)
            else:
                original[key] = patch_value
        else:
            value, keep = _remove_directives(patch_value)
            if keep:
                original[key] = value
            else:
                del original[key]
    return original


def _extract_key(key: str, prefix: str) -> str:
    parts = key.split("/", 1)
    if len(parts) <= 1 or parts[0] != prefix:
        if prefix == DELETE_FROM_PRIMITIVE_LIST:
            raise _bad_request(ERR_PRIMITIVE_LIST)
        if prefix == SET_ELEMENT_ORDER:
            raise _bad_request(ERR_SET_ELEMENT_ORDER)
        raise _invalid(f"fail to find unknown prefix {json.dumps(prefix)} in {key}\n")
    return parts[1]


def _apply_retain_keys(original: dict[str, Any], patch: dict[str, Any]) -> None:
    if RETAIN_KEYS not in patch:
        return
    retain = patch.pop(RETAIN_KEYS)
    if not isinstance(retain, list):
        raise _bad_request(ERR_RETAIN_KEYS)
    allowed = {v for v in retain if isinstance(v, str)}
    for key, value in patch.items():
        if value is None or key.startswith(DELETE_FROM_PRIMITIVE_LIST) or key.startswith(SET_ELEMENT_ORDER):
            continue
        if key not in allowed:
            raise _bad_request(ERR_RETAIN_KEYS)
    for key in [k for k in original if k not in allowed]:
        del original[key]


def _discard_nulls(value: Any) -> None:
    if isinstance(value, dict):
        for key in [k for k, v in value.items() if v is None]:
            del value[key]
        for v in value.values():
            _discard_nulls(v)
    elif isinstance(value, list):
        for v in value:
            _discard_nulls(v)


def _remove_directives(value: Any) -> tuple[Any, bool]:
    """The value without directive maps (a map holding ``$patch`` is dropped), and whether to keep it."""
    if isinstance(value, dict):
        if DIRECTIVE in value:
            return None, False
        for key in list(value):
            new, keep = _remove_directives(value[key])
            if keep:
                value[key] = new
            else:
                del value[key]
        return value, True
    if isinstance(value, list):
        out = []
        for item in value:
            new, keep = _remove_directives(item)
            if keep:
                out.append(new)
        return out, True
    return value, True


def _slice_element_kind(*lists: list[Any]) -> str:
    """``map`` or ``scalar`` for lists whose elements share one type (sliceElementType)."""
    previous: str | None = None
    for items in lists:
        for item in items:
            kind = _go_kind(item)
            if kind == "number":
                kind = go_type(item)
            if previous is None:
                previous = kind
                if kind == "slice":
                    raise _invalid(ERR_NO_LIST_OF_LISTS)
            elif previous != kind:
                raise _invalid("list element types are not identical: " + go_format(list(lists)))
    if previous is None:
        raise _invalid("no elements in any of the given slices")
    return "map" if previous == "map" else "scalar"


def _merge_slice(original: Any, patch: Any, items: SchemaNode, merge_key: str, is_delete_list: bool) -> list[Any]:
    if not isinstance(original, list):
        raise _err_bad_arg_type(_SLICE, original)
    if not isinstance(patch, list):
        raise _err_bad_arg_type(_SLICE, patch)
    if not original and not patch:
        return original
    kind = _slice_element_kind(original, patch)
    if kind != "map":
        if is_delete_list:
            return [v for v in original if not any(_go_eq(v, d) for d in patch)]
        merged = _dedupe_scalars(original + patch)
    else:
        if not merge_key:
            raise _invalid(f"cannot merge lists without merge key for {items.target.name or 'struct'}")
        original, patch = _merge_special_elements(original, patch, merge_key)
        merged = _merge_without_special_elements(original, patch, merge_key, items)
    if not merge_key:
        patch_items = [v for v in merged if any(_go_eq(v, p) for p in patch)]
        server_only = [v for v in merged if not any(_go_eq(v, p) for p in patch)]
    else:
        patch_items, server_only = _partition_maps(merged, patch, merge_key)
    return _normalize_element_order(patch_items, server_only, patch, original, merge_key, kind)


def _dedupe_scalars(items: list[Any]) -> list[Any]:
    """Go's in-place deduplication (a duplicate is replaced by the last element)."""
    s = list(items)
    length = len(s) - 1
    i = 0
    while i < length:
        j = i + 1
        while j <= length:
            if _go_eq(s[i], s[j]):
                s[j] = s[length]
                s = s[:length]
                length -= 1
                j -= 1
            j += 1
        i += 1
    return s


def _find_map(items: list[Any], key: str, value: Any) -> int:
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise _invalid(f"value for key {index} is not a map")
        if key in item and _go_eq(item[key], value):
            return index
    return -1


def _merge_special_elements(original: list[Any], patch: list[Any], merge_key: str) -> tuple[list[Any], list[Any]]:
    without: list[Any] = []
    replace = False
    for item in patch:
        if DIRECTIVE not in item:
            without.append(item)
            continue
        directive = item[DIRECTIVE]
        if directive == "delete":
            if merge_key not in item:
                raise _err_no_merge_key(item, merge_key)
            while True:
                index = _find_map(original, merge_key, item[merge_key])
                if index < 0:
                    break
                original = original[:index] + original[index + 1:]
        elif directive == "replace":
            replace = True
        elif directive == "merge":
            raise _invalid("merging lists cannot yet be specified in the patch")
        else:
            raise _err_bad_patch_type(directive, item)
    if replace:
        return without, []
    return original, without


def _merge_without_special_elements(original: list[Any], patch: list[Any], merge_key: str,
                                    items: SchemaNode) -> list[Any]:
    merged = list(original)
    for item in patch:
        if merge_key not in item:
            raise _err_no_merge_key(item, merge_key)
        index = _find_map(merged, merge_key, item[merge_key])
        if index >= 0:
            merged[index] = _merge_map(merged[index], item, items)
            if index < len(original):
                original[index] = merged[index]
        else:
            # a new item: the API server's typed decoding drops its nulls and stray directives
            _discard_nulls(item)
            clean, keep = _remove_directives(item)
            merged.append(clean if keep else item)
    return merged


def _partition_maps(merged: list[Any], by: list[Any], merge_key: str) -> tuple[list[Any], list[Any]]:
    inside: list[Any] = []
    outside: list[Any] = []
    for item in merged:
        if not isinstance(item, dict):
            raise _err_bad_arg_type(_MAP, item)
        if merge_key not in item:
            raise _err_no_merge_key(item, merge_key)
        if _find_map(by, merge_key, item[merge_key]) >= 0:
            inside.append(item)
        else:
            outside.append(item)
    return inside, outside


def _index(items: list[Any], value: Any, merge_key: str, kind: str) -> int:
    if kind == "map":
        wanted = value.get(merge_key) if isinstance(value, dict) else None
        for i, item in enumerate(items):
            got = item.get(merge_key) if isinstance(item, dict) else None
            if _go_eq(wanted, got):
                return i
        return -1
    for i, item in enumerate(items):
        if _go_eq(value, item):
            return i
    return -1


def _go_stable_sort(data: list[Any], less: Any) -> None:
    """Go's sort.SliceStable (insertion sort of blocks of 20, then SymMerge), in place.

    Reproduced rather than using ``sorted`` because strategic merge patch
    sorts with a comparator that is not a strict order when items are
    missing from the order list; the result then depends on the algorithm.
    """
    n = len(data)

    def swap(i: int, j: int) -> None:
        data[i], data[j] = data[j], data[i]

    def lt(i: int, j: int) -> bool:
        return bool(less(data[i], data[j]))

    def insertion(a: int, b: int) -> None:
        for i in range(a + 1, b):
            j = i
            while j > a and lt(j, j - 1):
                swap(j, j - 1)
                j -= 1

    def swap_range(a: int, b: int, count: int) -> None:
        for i in range(count):
            swap(a + i, b + i)

    def rotate(a: int, m: int, b: int) -> None:
        i, j = m - a, b - m
        while i != j:
            if i > j:
                swap_range(m - i, m, j)
                i -= j
            else:
                swap_range(m - i, m + j - i, i)
                j -= i
        swap_range(m - i, m, i)

    def sym_merge(a: int, m: int, b: int) -> None:
        if m - a == 1:
            i, j = m, b
            while i < j:
                h = (i + j) >> 1
                if lt(h, a):
                    i = h + 1
                else:
                    j = h
            for k in range(a, i - 1):
                swap(k, k + 1)
            return
        if b - m == 1:
            i, j = a, m
            while i < j:
                h = (i + j) >> 1
                if not lt(m, h):
                    i = h + 1
                else:
                    j = h
            for k in range(m, i, -1):
                swap(k, k - 1)
            return
        mid = (a + b) >> 1
        nn = mid + m
        if m > mid:
            start, r = nn - b, mid
        else:
            start, r = a, m
        p = nn - 1
        while start < r:
            c = (start + r) >> 1
            if not lt(p - c, c):
                start = c + 1
            else:
                r = c
        end = nn - start
        if start < m < end:
            rotate(start, m, end)
        if a < start < mid:
            sym_merge(a, start, mid)
        if mid < end < b:
            sym_merge(mid, end, b)

    block = 20
    a, b = 0, block
    while b <= n:
        insertion(a, b)
        a, b = b, b + block
    insertion(a, n)
    while block < n:
        a, b = 0, 2 * block
        while b <= n:
            sym_merge(a, a + block, b)
            a, b = b, b + 2 * block
        m = a + block
        if m < n:
            sym_merge(a, m, n)
        block *= 2


def _normalize_slice_order(to_sort: list[Any], order: list[Any], merge_key: str, kind: str) -> list[Any]:
    to_delete: list[Any] = []
    if kind == "map":
        for items in (to_sort, order):
            for item in items:
                if not isinstance(item, dict):
                    raise _err_bad_arg_type(_MAP, item)
                if merge_key not in item:
                    raise _err_no_merge_key(item, merge_key)
        keep = []
        for item in to_sort:
            (to_delete if item.get(DIRECTIVE) == "delete" else keep).append(item)
        to_sort = keep
    to_sort = list(to_sort)

    def less(x: Any, y: Any) -> bool:
        ix = _index(order, x, merge_key, kind)
        if ix >= 0:
            iy = _index(order, y, merge_key, kind)
            if iy >= 0:
                return ix < iy
        return True

    _go_stable_sort(to_sort, less)
    return to_sort + to_delete


def _normalize_element_order(patch: list[Any], server_only: list[Any], patch_order: list[Any],
                             server_order: list[Any], merge_key: str, kind: str) -> list[Any]:
    patch = _normalize_slice_order(patch, patch_order, merge_key, kind)
    server_only = _normalize_slice_order(server_only, server_order, merge_key, kind)
    # merge: insert the server-only items among the patch items by their live order
    out: list[Any] = []
    i = j = 0
    while i < len(server_only) or j < len(patch):
        if i >= len(server_only):
            out.append(patch[j])
            j += 1
        elif j >= len(patch):
            out.append(server_only[i])
            i += 1
        else:
            li = _index(server_order, server_only[i], merge_key, kind)
            ri = _index(server_order, patch[j], merge_key, kind)
            if li >= 0 and ri >= 0 and li < ri:
                out.append(server_only[i])
                i += 1
            else:
                out.append(patch[j])
                j += 1
    return out


def _validate_set_order(patch_list: list[Any], order: list[Any], merge_key: str) -> None:
    if not order or not patch_list:
        return
    if merge_key:
        non_delete = []
        for item in patch_list:
            if not isinstance(item, dict):
                raise _err_bad_arg_type(_MAP, item)
            if item.get(DIRECTIVE) != "delete":
                non_delete.append(item)
    else:
        non_delete = list(patch_list)
    pi = oi = 0
    while pi < len(non_delete) and oi < len(order):
        item = non_delete[pi]
        if isinstance(item, dict) and DIRECTIVE in item:
            pi += 1
            continue
        if merge_key:
            left, right = item, order[oi]
            if not isinstance(left, dict):
                raise _err_bad_arg_type(_MAP, left)
            if not isinstance(right, dict):
                raise _err_bad_arg_type(_MAP, right)
            if merge_key not in left:
                raise _err_no_merge_key(left, merge_key)
            if merge_key not in right:
                raise _err_no_merge_key(right, merge_key)
            equal = _go_eq(left[merge_key], right[merge_key])
        else:
            equal = _go_eq(item, order[oi])
        if equal:
            pi += 1
        oi += 1
    if pi < len(non_delete) and oi >= len(order):
        raise _invalid(f"The order in patch list:\n{go_format(patch_list)}\n doesn't match "
                       f"{SET_ELEMENT_ORDER} list:\n{go_format(order)}\n")


def _merge_set_element_order(original: dict[str, Any], patch: dict[str, Any], node: SchemaNode) -> None:
    for key in [k for k in patch if k.startswith(SET_ELEMENT_ORDER)]:
        order = patch.pop(key)
        if not isinstance(order, list):
            raise _err_bad_arg_type(_SLICE, order)
        list_key = _extract_key(key, SET_ELEMENT_ORDER)
        found_original = list_key in original
        found_patch = list_key in patch
        original_list: list[Any] = []
        patch_list: list[Any] = []
        if found_original:
            if not isinstance(original[list_key], list):
                raise _err_bad_arg_type(_SLICE, original[list_key])
            original_list = original[list_key]
        if found_patch:
            if not isinstance(patch[list_key], list):
                raise _err_bad_arg_type(_SLICE, patch[list_key])
            patch_list = patch[list_key]
        sub = node.child(list_key)
        strategy = _strategy(sub)
        merge_key = sub.patch_merge_key
        _validate_set_order(patch_list, order, merge_key)
        if found_original and not found_patch:
            merged = original_list
        elif found_patch and not found_original:
            merged, _ = _remove_directives(patch_list)
        elif found_original and found_patch:
            if strategy == "merge":
                merged = _merge_slice(original_list, patch_list, _items_of(sub), merge_key, False)
            else:
                merged = patch_list
        else:
            continue
        if not merge_key:
            patch_items = [v for v in merged if any(_go_eq(v, o) for o in order)]
            server_only = [v for v in merged if not any(_go_eq(v, o) for o in order)]
        else:
            patch_items, server_only = _partition_maps(merged, order, merge_key)
        kind = _slice_element_kind(original_list, patch_list)
        server_order = original_list
        if found_original and found_patch and strategy == "merge" and merge_key and kind == "map":
            server_order = _aliased_server_order(original_list, patch_list, merge_key)
        original[list_key] = _normalize_element_order(patch_items, server_only, order, server_order, merge_key, kind)
        patch.pop(list_key, None)
