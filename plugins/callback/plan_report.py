# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: plan_report
type: aggregate
short_description: Record what a check-mode run would add, change and destroy, for the plan and drift reports
version_added: 0.1.0
description:
  - In a run with C(--check) (C(playbooks/plan.yml), C(playbooks/drift.yml)), records every result that would
    change something, with the resources it names (the C(created), C(updated), C(deleted) lists of this
    collection's modules, C(kubernetes.core.k8s)'s method, or the result's diff) and the role (the layer) of its
    task.
  - Before the first task it exports C(LLMHUB_PLAN_CHANGES), the path of a private JSON file that it rewrites at
    the start of every play; the report play of C(plan.yml) and C(drift.yml) reads it (lookup C(env)) and counts
    and renders it with the C(llmhub.eks.plan_report) filter. The file is removed when the run ends.
  - Does nothing in a run without C(--check).
  - Enable it with C(callbacks_enabled = llmhub.eks.plan_report) in C(ansible.cfg) or
    C(ANSIBLE_CALLBACKS_ENABLED=llmhub.eks.plan_report); C(plan.yml) stops with that hint when it is not.
author:
  - LLM Analytics Hub platform team (@llmhub)
requirements:
  - enable in configuration
"""

import json
import os
import tempfile

from ansible import context
from ansible.plugins.callback import CallbackBase

from ansible_collections.llmhub.eks.plugins.plugin_utils.plan_changes import changes_of
from ansible_collections.llmhub.eks.plugins.plugin_utils.plan_changes import split_task_name

# Roles whose results are not changes of the platform (validation, the lock, the report itself).
NOT_LAYERS = ("preflight", "deploy_lock", "plan", "setup")


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "llmhub.eks.plan_report"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.path = None
        self.records = {}

    def v2_playbook_on_start(self, playbook):
        if self.path is not None or not context.CLIARGS.get("check"):
            return
        # Made before any task, so every worker process (and its lookups) inherits the variable.
        handle, self.path = tempfile.mkstemp(prefix="llmhub-plan-", suffix=".json")
        os.close(handle)
        os.environ["LLMHUB_PLAN_CHANGES"] = self.path
        self.write()

    def write(self):
        if self.path is None:
            return
        temporary = self.path + ".tmp"
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump({"hosts": self.records}, handle, default=str)
        os.replace(temporary, self.path)

    def v2_playbook_on_play_start(self, play):
        self.write()

    def v2_runner_on_ok(self, result):
        if self.path is None or not result.is_changed():
            return
        layer, task = split_task_name(result.task.get_name())
        if layer in NOT_LAYERS:
            return
        host = result.host.get_name()
        module = str(result.task.action).rsplit(".", 1)[-1]
        for change in changes_of(result.result, task):
            self.records.setdefault(host, []).append(dict(change, layer=layer or "playbook", task=task, module=module))

    def v2_playbook_on_stats(self, stats):
        if self.path is not None:
            for path in (self.path, self.path + ".tmp"):
                if os.path.exists(path):
                    os.remove(path)
            os.environ.pop("LLMHUB_PLAN_CHANGES", None)
            self.path = None
