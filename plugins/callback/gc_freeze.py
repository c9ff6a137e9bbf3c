# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: gc_freeze
type: aggregate
short_description: Keep the controller's loaded objects out of the task processes' garbage collections
version_added: 0.1.0
description:
  - ansible-playbook forks a task process for every task. Python's cyclic garbage collector, running in that
    process, walks every object the controller had when it forked (the parsed playbook, roles, plugins, imported
    libraries) and writes to each one's header, so the kernel copies those memory pages into the task process
    and the walk itself costs CPU, task after task.
  - At the start of each play (once the playbook and its roles are loaded) this callback collects the
    controller's garbage once and freezes what is left with Python's C(gc.freeze()), as the Python documentation
    advises before forking. The collector of the controller and of every task process then skips those objects;
    objects made later are collected as before. Nothing else changes, and no ansible-core internals are used.
  - "Measured on no-op re-runs of the whole C(site.yml) against the local emulator (12 runs with it, 12 without,
    alternating): 0.90 of the wall time and 0.85 of the user CPU (C(benchmarks/README.md))."
  - Enable it with C(callbacks_enabled = llmhub.eks.gc_freeze) in C(ansible.cfg) or
    C(ANSIBLE_CALLBACKS_ENABLED=llmhub.eks.gc_freeze).
author:
  - LLM Analytics Hub platform team (@llmhub)
requirements:
  - enable in configuration
notes:
  - The frozen objects stay in memory until the next play starts (it unfreezes, collects and freezes again) or the
    run ends; they are the ones the controller holds for the whole play anyway.
"""

import gc

from ansible.plugins.callback import CallbackBase


def refreeze():
    """Collect everything, the objects frozen at the previous play included, then freeze what is left."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "llmhub.eks.gc_freeze"
    CALLBACK_NEEDS_ENABLED = True

    def v2_playbook_on_play_start(self, play):
        refreeze()

    def v2_playbook_on_stats(self, stats):
        gc.unfreeze()
