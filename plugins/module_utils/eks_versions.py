# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Kubernetes versions the collection deploys, for the modules and the controller-side filters.

Standard library only: the eks filter runs in a fresh controller worker per
task, and importing boto3/botocore there (through eks.py) cost ~0.3 s a task.
"""

from __future__ import annotations

import re

# Kubernetes minor versions EKS offers for new clusters, standard and extended
# support (last checked 2026-12-02: 1.31's extended support ended in November
# 2026; 1.34 and 1.35 are in standard support). The collection is tested with them.
OLDEST_VERSION = "1.32"
NEWEST_VERSION = "1.35"
_VERSION_PATTERN = re.compile(r"^(\d+)\.(\d+)$")


def parse_version(version):
    """``"1.35"`` -> ``(1, 35)``; None for anything that is not a ``MAJOR.MINOR`` version."""
    match = _VERSION_PATTERN.match(str(version or "").strip())
    if not match:
        return None
    return int(match.group(1)), int(match.group(2))


def version_error(version, option="version", oldest=OLDEST_VERSION, newest=NEWEST_VERSION):
    """Why ``version`` is not a Kubernetes version this collection can deploy, or None."""
    parsed = parse_version(version)
    if parsed is None or parsed[0] != 1:
        return f"{option}: {version!r} is not a Kubernetes minor version such as {oldest} (write it as a quoted string)"
    if parsed < parse_version(oldest):
        hint = ""
        if parsed[1] < 10:
            hint = f" (an unquoted YAML number loses its trailing zero: write \"{version}0\" with quotes)"
        return f"{option}: Kubernetes {version} is no longer supported by EKS; use {oldest} or newer{hint}"
    if parsed > parse_version(newest):
        return (f"{option}: Kubernetes {version} is newer than any version this collection supports"
                f" ({oldest} to {newest}); use {newest} or older")
    return None
