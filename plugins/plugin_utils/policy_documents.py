# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""IAM and KMS policy documents from JSON files with ``${name}`` placeholders (controller side, no AWS call).

What Terraform's ``templatefile`` does for a policy, without a text template: the file is parsed as JSON
first, then each placeholder in a string (key or value) is replaced by the value given for it, so no value
can break the document's syntax (a quote in a name stays inside its string). A string that is exactly one
placeholder takes the value itself, whatever its type (a list of principals stays a list).

A placeholder is ``${`` + an identifier + ``}``. IAM's own policy variables (``${aws:username}``,
``${aws:PrincipalTag/team}``, ``${*}``) are not identifiers and are left as they are.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from collections.abc import Sequence

PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class PolicyDocumentError(ValueError):
    """A document that cannot be rendered; the message names the file and what to change."""


def plain(value):
    """``value`` as JSON-native types (dicts, lists, strings, numbers, booleans, None)."""
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, (str, bytes)):
        return value.decode() if isinstance(value, bytes) else str(value)
    if isinstance(value, Sequence):
        return [plain(item) for item in value]
    return value


def render(document, values, source="the policy document"):
    """``document`` (parsed JSON) with every placeholder replaced from ``values``.

    Raises PolicyDocumentError naming ``source`` and the placeholder when a value is missing, or when a value
    that is not a string or a number would be written into a longer string.
    """
    values = {str(name): plain(value) for name, value in (values or {}).items()}

    def text(string):
        whole = PLACEHOLDER.fullmatch(string)
        if whole:
            return lookup(whole.group(1))

        def one(match):
            value = lookup(match.group(1))
            if isinstance(value, bool) or not isinstance(value, (str, int, float)):
                raise PolicyDocumentError(
                    f"{source}: ${{{match.group(1)}}} is part of the string {string!r}, so its value must be a string "
                    f"or a number, not {type(value).__name__}")
            return str(value)

        return PLACEHOLDER.sub(one, string)

    def lookup(name):
        if name not in values:
            raise PolicyDocumentError(
                f"{source}: no value for ${{{name}}}; pass it in values (given: {', '.join(sorted(values)) or 'none'})")
        return values[name]

    def walk(node):
        if isinstance(node, dict):
            rendered = {}
            for key, item in node.items():
                new_key = text(key)
                if not isinstance(new_key, str):
                    raise PolicyDocumentError(f"{source}: the key {key!r} must render to a string")
                rendered[new_key] = walk(item)
            return rendered
        if isinstance(node, list):
            return [walk(item) for item in node]
        if isinstance(node, str):
            return text(node)
        return node

    return walk(document)


def load(path, values):
    """The JSON file at ``path``, parsed and rendered with ``values``."""
    try:
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
    except OSError as e:
        raise PolicyDocumentError(f"cannot read the policy document {path}: {e.strerror}") from e
    except json.JSONDecodeError as e:
        raise PolicyDocumentError(f"{path} is not JSON: {e}") from e
    return render(document, values, source=str(path))
