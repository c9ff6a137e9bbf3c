"""Label and field selectors, parsed and matched as kube-apiserver does.

Label selectors: ``a=b``, ``a==b``, ``a!=b``, ``a in (x,y)``, ``a notin (x)``,
``a`` (exists) and ``!a`` (does not exist), comma-separated (AND). Field
selectors: ``path=value``, ``path==value``, ``path!=value`` on the fields a
resource supports (``metadata.name`` and ``metadata.namespace`` everywhere).
"""

from __future__ import annotations

import re
from typing import Any, Callable

from .errors import ApiError

__all__ = [
    "FieldSelector",
    "LabelSelector",
    "field_value",
    "label_selector_from_dict",
    "selector_string",
]

_KEY = r"(?:[a-z0-9A-Z]([-a-z0-9A-Z_.]*[a-z0-9A-Z])?/)?[a-z0-9A-Z]([-a-z0-9A-Z_.]*[a-z0-9A-Z])?"
_KEY_RE = re.compile(_KEY)
_VALUE_RE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")


def _bad(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


class LabelSelector:
    """A parsed label selector: a list of requirements (key, operator, values)."""

    def __init__(self, requirements: list[tuple[str, str, tuple[str, ...]]] | None = None) -> None:
        self.requirements = requirements or []

    @classmethod
    def parse(cls, text: str | None) -> "LabelSelector":
        text = (text or "").strip()
        requirements: list[tuple[str, str, tuple[str, ...]]] = []
        position = 0
        length = len(text)

        def skip_spaces() -> None:
            nonlocal position
            while position < length and text[position] == " ":
                position += 1

        while position < length:
            skip_spaces()
            negate = False
            if position < length and text[position] == "!":
                negate = True
                position += 1
                skip_spaces()
            match = re.compile(r"[^\s,!=()]+").match(text, position)
            if not match:
                raise _bad(f'unable to parse requirement: found \'{text[position:position + 1]}\', expected: identifier')
            key = match.group(0)
            position = match.end()
            if not _KEY_RE.fullmatch(key) or len(key.split("/")[-1]) > 63:
                raise _bad(f"unable to parse requirement: invalid label key \"{key}\": name part must consist of "
                           "alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric "
                           "character")
            skip_spaces()
            if negate:
                requirements.append((key, "!", ()))
            elif position >= length or text[position] == ",":
                requirements.append((key, "exists", ()))
            else:
                rest = text[position:]
                op_match = re.match(r"(==|!=|=|notin\b|in\b)", rest)
                if not op_match:
                    raise _bad(f"unable to parse requirement: found '{rest.split()[0] if rest.split() else rest}', "
                               "expected: in, notin, =, ==, !=, gt, lt")
                operator = op_match.group(1)
                position += len(operator)
                skip_spaces()
                if operator in ("in", "notin"):
                    if position >= length or text[position] != "(":
                        raise _bad("unable to parse requirement: found '', expected: '('")
                    close = text.find(")", position)
                    if close < 0:
                        raise _bad("unable to parse requirement: found '', expected: ')'")
                    values = tuple(v.strip() for v in text[position + 1:close].split(",") if v.strip() != "")
                    position = close + 1
                    requirements.append((key, operator, values))
                else:
                    value_match = re.compile(r"[^\s,]*").match(text, position)
                    value = value_match.group(0) if value_match else ""
                    position += len(value)
                    if not _VALUE_RE.fullmatch(value) or len(value) > 63:
                        raise _bad(f"unable to parse requirement: invalid label value: \"{value}\": at key: "
                                   f"\"{key}\": a valid label must be an empty string or consist of alphanumeric "
                                   "characters, '-', '_' or '.', and must start and end with an alphanumeric "
                                   "character")
                    requirements.append((key, "!=" if operator == "!=" else "=", (value,)))
            skip_spaces()
            if position < length:
                if text[position] != ",":
                    raise _bad(f"unable to parse requirement: found '{text[position]}', expected: ','")
                position += 1
                if position >= length:
                    raise _bad("found '', expected: identifier after ','")
        return cls(requirements)

    def __bool__(self) -> bool:
        return bool(self.requirements)

    def matches(self, labels: dict[str, str] | None) -> bool:
        labels = labels or {}
        for key, operator, values in self.requirements:
            present = key in labels
            value = labels.get(key)
            if operator == "exists" and not present:
                return False
            if operator == "!" and present:
                return False
            if operator in ("=", "in") and (not present or value not in values):
                return False
            if operator in ("!=", "notin") and present and value in values:
                return False
        return True

    def __str__(self) -> str:
        parts = []
        for key, operator, values in self.requirements:
            if operator == "exists":
                parts.append(key)
            elif operator == "!":
                parts.append("!" + key)
            elif operator in ("in", "notin"):
                parts.append(f"{key} {operator} ({','.join(values)})")
            else:
                parts.append(f"{key}{operator}{values[0]}")
        return ",".join(parts)


def label_selector_from_dict(selector: dict | None) -> LabelSelector:
    """A metav1.LabelSelector (matchLabels/matchExpressions) as a LabelSelector."""
    requirements: list[tuple[str, str, tuple[str, ...]]] = []
    if not selector:
        return LabelSelector(requirements)
    for key, value in sorted((selector.get("matchLabels") or {}).items()):
        requirements.append((key, "=", (str(value),)))
    for expression in selector.get("matchExpressions") or []:
        operator = expression.get("operator", "")
        key = expression.get("key", "")
        values = tuple(expression.get("values") or ())
        requirements.append(
            (key, {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}.get(operator, "in"), values)
        )
    return LabelSelector(requirements)


def selector_string(selector: dict | None) -> str:
    """``app=web,tier in (a,b)`` for a metav1.LabelSelector; ``<none>`` for none."""
    if selector is None:
        return "<none>"
    text = str(label_selector_from_dict(selector))
    return text or "<none>"


def field_value(obj: dict, path: str) -> Any:
    """The value at a dotted field path (``spec.nodeName``), None when absent."""
    current: Any = obj
    for part in path.split("."):
        if not isinstance(current, dict):
            return None
        current = current.get(part)
    return current


def _as_field_string(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class FieldSelector:
    """A parsed field selector: ``(path, operator, value)`` requirements."""

    def __init__(self, requirements: list[tuple[str, str, str]] | None = None) -> None:
        self.requirements = requirements or []

    @classmethod
    def parse(cls, text: str | None, supported: Callable[[str], bool] | None = None) -> "FieldSelector":
        requirements = []
        for part in (text or "").split(","):
            part = part.strip()
            if not part:
                continue
            match = re.fullmatch(r"([^=!]+?)\s*(==|!=|=)\s*(.*)", part)
            if not match:
                raise _bad(f"invalid selector: '{text}'; can't understand '{part}'")
            path, operator, value = match.groups()
            if supported is not None and not supported(path):
                raise _bad(f'field label not supported: {path}')
            requirements.append((path, "!=" if operator == "!=" else "=", value))
        return cls(requirements)

    def __bool__(self) -> bool:
        return bool(self.requirements)

    def matches(self, obj: dict) -> bool:
        for path, operator, value in self.requirements:
            actual = _as_field_string(field_value(obj, path))
            if operator == "=" and actual != value:
                return False
            if operator == "!=" and actual == value:
                return False
        return True

    def single_value(self, path: str) -> str | None:
        for field_path, operator, value in self.requirements:
            if field_path == path and operator == "=":
                return value
        return None
