# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Progress of a module's long wait, for the ``llmhub.eks.progress`` callback to print while the task runs.

A module's output reaches the controller only when the module ends, so a
ten-minute wait would be silent. When the controller runs the callback
``llmhub.eks.progress``, it exports ``LLMHUB_PROGRESS_DIR`` (a private
directory) before any task; a module that waits writes what it waits for, the
state of each member and when the wait began to ``<dir>/<pid>.json`` after
every poll, and removes the file when the wait ends. The callback prints every
file at least every 30 s. Without the variable (another controller, another
connection) nothing is written and nothing changes.
"""

from __future__ import annotations

import json
import os
import tempfile
import time

ENVIRONMENT_VARIABLE = "LLMHUB_PROGRESS_DIR"


def _path():
    directory = os.environ.get(ENVIRONMENT_VARIABLE)
    if not directory or not os.path.isdir(directory):
        return None
    return os.path.join(directory, f"{os.getpid()}.json")


def state_of(resource):
    """The lifecycle state of a described resource (EKS ``status``, EC2 ``State``/``state``), or None."""
    for key in ("status", "State", "state"):
        if isinstance(resource, dict) and resource.get(key):
            return str(resource[key])
    return None


def report(description, states, started_wall):
    """Write the wait's progress: ``description``, {member: state}, the wall-clock time the wait began."""
    path = _path()
    if path is None:
        return
    record = {"description": description, "states": states, "started": started_wall, "updated": time.time()}
    try:
        handle, temporary = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".tmp")
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(record, stream)
        os.replace(temporary, path)
    except OSError:
        pass  # progress is best effort: never fail a module over it


def finish():
    """The wait is over: remove this process's progress file."""
    path = _path()
    if path is not None:
        try:
            os.unlink(path)
        except OSError:
            pass
