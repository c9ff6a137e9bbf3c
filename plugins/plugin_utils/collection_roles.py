# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The installed collection's own roles, read from its files (controller side, no AWS call).

Shared by the lookups ``role_variables``, ``role_argument_specs`` and ``role_path``.
"""

from __future__ import annotations

from pathlib import Path

import yaml

ROLES = Path(__file__).resolve().parents[2] / "roles"
# libyaml's loader when PyYAML has it (ten times faster on these files)
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(path):
    """The data of a YAML file of the collection (None for an empty file)."""
    return yaml.load(Path(path).read_text(encoding="utf-8"), Loader=LOADER)


def role_names(roles=ROLES):
    """The names of the roles (directories with tasks), sorted."""
    return sorted(path.name for path in roles.iterdir() if (path / "tasks").is_dir())


def entry_points(role_dir):
    """A role's entry points from its ``meta/argument_specs.yml`` (``{}`` when it has none)."""
    specs = Path(role_dir) / "meta" / "argument_specs.yml"
    if not specs.is_file():
        return {}
    return (load_yaml(specs) or {}).get("argument_specs") or {}
