# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: progress
type: aggregate
short_description: Print what a long AWS wait is waiting for, with states and elapsed time, while the task runs
version_added: 0.1.0
description:
  - EKS clusters, node groups, add-ons and NAT gateways take minutes. A module's output reaches the controller only
    when it ends, so without this callback the node-group step is silent for several minutes.
  - >-
    While a task of this collection waits, this callback prints, at least every O(interval) seconds, what it waits
    for, the state of each member and the time elapsed, as C(terraform apply) prints C(Still creating... [1m0s elapsed]),
    for example C(Still waiting [1m30s elapsed]: node groups of hub: system CREATING, application ACTIVE).
  - Works with any stdout callback (the default one, AWX's) and with the C(local) connection the inventories use
    (the modules run on the controller). It exports C(LLMHUB_PROGRESS_DIR), a private temporary directory, before
    the first task; the modules write their progress there (plugins/module_utils/progress.py).
  - Enable it with C(callbacks_enabled = llmhub.eks.progress) in C(ansible.cfg) or
    C(ANSIBLE_CALLBACKS_ENABLED=llmhub.eks.progress).
author:
  - LLM Analytics Hub platform team (@llmhub)
requirements:
  - enable in configuration
options:
  interval:
    description: Seconds between two progress lines of a wait.
    type: float
    default: 30
    env:
      - name: LLMHUB_PROGRESS_INTERVAL
    ini:
      - section: callback_llmhub_progress
        key: interval
"""

import json
import os
import shutil
import tempfile
import threading
import time

from ansible.plugins.callback import CallbackBase
from ansible.utils.display import Display

display = Display()

# A file not updated for this long belongs to a module that died without removing it.
STALE_AFTER_SECONDS = 120


def elapsed(seconds):
    """``90`` -> ``1m30s`` (Terraform's style)."""
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes}m{seconds}s" if minutes else f"{seconds}s"


def progress_line(record, now):
    states = ", ".join(f"{member} {state}" for member, state in sorted(record.get("states", {}).items()))
    line = f"Still waiting [{elapsed(now - record['started'])} elapsed]: {record['description']}"
    return f"{line}: {states}" if states else line


def read_records(directory, now):
    """The progress records of the waits under way, oldest wait first."""
    records = []
    for name in sorted(os.listdir(directory)):
        if not name.endswith(".json"):
            continue
        try:
            with open(os.path.join(directory, name), encoding="utf-8") as stream:
                record = json.load(stream)
        except (OSError, ValueError):
            continue  # removed or replaced meanwhile
        if now - record.get("updated", 0) <= STALE_AFTER_SECONDS:
            records.append(record)
    return sorted(records, key=lambda r: r.get("started", 0))


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "llmhub.eks.progress"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.directory = None
        self.stop = threading.Event()
        self.thread = None

    def v2_playbook_on_start(self, playbook):
        if self.directory is not None:
            return
        # Created before any task, so every worker process and module (local connection) inherits it.
        self.directory = tempfile.mkdtemp(prefix="llmhub-progress-")
        os.environ["LLMHUB_PROGRESS_DIR"] = self.directory
        self.thread = threading.Thread(target=self.watch, name="llmhub-progress", daemon=True)
        self.thread.start()

    def watch(self):
        interval = float(self.get_option("interval"))
        while not self.stop.wait(interval):
            now = time.time()
            for record in read_records(self.directory, now):
                display.display(progress_line(record, now))

    def v2_playbook_on_stats(self, stats):
        self.stop.set()
        if self.thread is not None:
            self.thread.join(timeout=5)
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
            os.environ.pop("LLMHUB_PROGRESS_DIR", None)
