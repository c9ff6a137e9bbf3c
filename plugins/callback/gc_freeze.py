# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: gc_freeze
type: aggregate
short_description: Load what every task process loads once, then keep it out of their garbage collections
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
  - Before that, with O(preload_plugins), it loads through ansible-core's plugin loaders the plugins that nearly
    every task process would otherwise import again from scratch, since it starts as a copy of a controller that
    never loaded them - ansible-core's filters and tests (any templating loads them), its common lookups and the
    action plugins of modules, C(set_fact), C(assert), C(debug) and C(set_stats), the C(sh) shell, the local and
    C(llmhub.eks.forkserver) connections, and this collection's filters and controller-side lookups (not
    C(llmhub.eks.aws_caller_identity), which imports boto3). A task process then finds them loaded (its copy of
    the controller's modules). A plugin that cannot be loaded is left to the task that needs it.
  - "Measured on no-op re-runs of the whole C(site.yml) against the local emulator (12 runs with it, 12 without,
    alternating): 0.90 of the wall time and 0.85 of the user CPU (C(benchmarks/README.md))."
  - Enable it with C(callbacks_enabled = llmhub.eks.gc_freeze) in C(ansible.cfg) or
    C(ANSIBLE_CALLBACKS_ENABLED=llmhub.eks.gc_freeze).
options:
  preload_plugins:
    description: Load the plugins nearly every task process loads before freezing (see above).
    type: bool
    default: true
    env:
      - name: LLMHUB_GC_FREEZE_PRELOAD_PLUGINS
    ini:
      - section: callback_llmhub_gc_freeze
        key: preload_plugins
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
from ansible.plugins.loader import action_loader
from ansible.plugins.loader import connection_loader
from ansible.plugins.loader import filter_loader
from ansible.plugins.loader import lookup_loader
from ansible.plugins.loader import shell_loader
from ansible.plugins.loader import test_loader

# What nearly every task process of this collection's playbooks loads (a task process's imports, listed on
# no-op re-runs of site.yml): by plugin loader, the names to load; "*" is every ansible-core plugin of that type.
# A collection's filters are one Python module per file, all loaded when one of them is: one name loads them.
PRELOAD = (
    ("filter", filter_loader, ("*", "llmhub.eks.llmhub_validate_common")),
    ("test", test_loader, ("*",)),
    ("lookup", lookup_loader, ("ansible.builtin.env", "ansible.builtin.file", "ansible.builtin.vars",
                               "ansible.builtin.varnames", "ansible.builtin.pipe", "llmhub.eks.policy_document",
                               "llmhub.eks.role_path", "llmhub.eks.role_variables", "llmhub.eks.role_argument_specs")),
    ("action", action_loader, ("ansible.builtin.normal", "ansible.builtin.set_fact", "ansible.builtin.assert",
                               "ansible.builtin.debug", "ansible.builtin.set_stats")),
    ("shell", shell_loader, ("ansible.builtin.sh",)),
    ("connection", connection_loader, ("ansible.builtin.local", "llmhub.eks.forkserver")),
)


def preload_plugins():
    """Load the plugins of PRELOAD (classes only, nothing instantiated); the names that loaded."""
    loaded = []
    for kind, loader, names in PRELOAD:
        for name in names:
            try:
                if name == "*":
                    found = list(loader.all(class_only=True))
                else:
                    found = [loader.get(name, class_only=True)]
            except Exception:  # pylint: disable=broad-except
                continue  # left to the task that needs it, which reports any error itself
            if all(found):
                loaded.append(f"{kind}:{name}")
    return loaded


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
        if self.get_option("preload_plugins"):
            preload_plugins()
        refreeze()

    def v2_playbook_on_stats(self, stats):
        gc.unfreeze()
