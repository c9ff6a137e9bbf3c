# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: module_prebuild
type: aggregate
short_description: Build the payloads of a play's modules ahead of its tasks, in a process of its own
version_added: 1.2.0
description:
  - Before a task process runs a Python module for the first time in a run, ansible-core builds that module's
    payload (its AnsiballZ zip). It reads and parses the module and every module_utils file it imports, about
    80 files for a module built on amazon.aws, and keeps the payload for the rest of the run in its per-run
    temporary directory. A run of this collection's playbooks uses some twenty modules once each, so the first
    use of each costs its task this build, one task after another.
  - When a play starts, this callback forks one process from the controller that builds, with ansible-core's own
    C(modify_module()), the payloads of the modules of the play's tasks that the run's tags select, in the order
    the tasks come. The task processes then find most payloads already built (ansible-core locks each one while it
    is built, so a task process that needs a payload being built waits for it instead of building it twice).
    The payload is what the task process would have built itself; nothing about a module's arguments or a
    host's variables goes into it.
  - The builder uses CPU time the run leaves idle on a machine with more than one core (a task process waits on
    its module, the module waits on AWS). It runs at the controller's priority, not a lower one, because a task
    process that needs a payload being built waits for the builder. It is stopped when the next play starts or
    the run ends. If a build fails in it, or the builder falls behind, the task process builds the payload itself,
    as without it, and reports any error.
  - Which modules a play runs is known from the play as loaded. Modules of dynamic includes are left to their
    tasks, and so are ansible-core's own modules (C(ansible.builtin.*)), most of whose names belong to actions
    that run no module (C(set_fact), C(assert), C(include_tasks)). A task with templated tags counts as selected.
  - "Measured on no-op re-runs of the AWS layers against the local emulator (C(benchmarks/README.md))."
  - Enable it with C(callbacks_enabled = llmhub.eks.module_prebuild) in C(ansible.cfg) or
    C(ANSIBLE_CALLBACKS_ENABLED=llmhub.eks.module_prebuild).
options:
  enabled:
    description: Build the payloads ahead (V(false) leaves every build to the task that needs it).
    type: bool
    default: true
    env:
      - name: LLMHUB_MODULE_PREBUILD
    ini:
      - section: callback_llmhub_module_prebuild
        key: enabled
author:
  - LLM Analytics Hub platform team (@llmhub)
requirements:
  - enable in configuration
"""

import os
import signal
import sys

from ansible import constants as C
from ansible.executor.module_common import modify_module
from ansible.parsing.dataloader import DataLoader
from ansible.playbook.block import Block
from ansible.plugins.callback import CallbackBase
from ansible.plugins.loader import module_loader
from ansible.template import Templar

# ansible-core's own actions: most run no module (set_fact, assert, include_tasks, meta: their module files are
# documentation only), the others (command, copy, ...) are left to their tasks.
CORE_COLLECTIONS = ("ansible.builtin.", "ansible.legacy.")


def play_tasks(play):
    """Every task of the play known before it runs (roles and imports expanded, dynamic includes not), in order:
    the blocks ansible-core's play iterator runs (Play.compile())."""
    pending = list(play.compile())
    while pending:
        item = pending.pop(0)
        if isinstance(item, Block):
            pending[:0] = list(item.block or []) + list(item.rescue or []) + list(item.always or [])
        else:
            yield item


def selected_by_tags(task, play):
    """Whether the run's --tags/--skip-tags select the task, as ansible-core decides it for static tags."""
    if any("{{" in str(tag) for tag in task.tags or []):
        return True  # known only with the host's variables: counted as selected, never templated here
    return task.evaluate_tags(play.only_tags, play.skip_tags, all_vars={})


def module_paths(play):
    """(name, file) of each collection Python module the play's tag-selected tasks name, first use first."""
    paths = {}
    for task in play_tasks(play):
        action = task.resolved_action or task.action
        if not action or action.startswith(CORE_COLLECTIONS) or not selected_by_tags(task, play):
            continue
        found = module_loader.find_plugin_with_context(action, mod_type=".py", collection_list=task.collections)
        if found.resolved and (found.plugin_resolved_path or "").endswith(".py"):
            paths.setdefault(found.resolved_fqcn or action, found.plugin_resolved_path)
    return list(paths.items())


def build(modules):
    """Build each module's payload with ansible-core's modify_module(), as a task process would; the names built.

    The payload (the module and its module_utils) does not depend on the arguments or the host's variables given
    here; ansible-core keeps it for the run and adds each task's own arguments when the task runs.
    """
    templar = Templar(loader=DataLoader())
    compression = C.config.get_config_value("DEFAULT_MODULE_COMPRESSION")
    built = []
    for name, path in modules:
        try:
            modify_module(module_name=name, module_path=path, module_args={}, templar=templar,
                          task_vars={"ansible_python_interpreter": sys.executable},
                          module_compression=compression, remote_is_local=True)
        except Exception:  # pylint: disable=broad-except
            continue  # the task process builds it and reports any error itself
        built.append(name)
    return built


def run_builder(modules):
    """The forked builder: build, then leave without running the controller's exit handlers (they would remove
    the run's temporary directory). Not niced: a task process waiting for a payload would wait for a starved builder."""
    try:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        build(modules)
    finally:
        os._exit(0)


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "llmhub.eks.module_prebuild"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.builder_pid = None

    def stop_builder(self):
        """Stop the builder if it still runs, and reap it."""
        if self.builder_pid:
            try:
                os.kill(self.builder_pid, signal.SIGTERM)
            except OSError:
                pass
            try:
                os.waitpid(self.builder_pid, 0)
            except OSError:
                pass
            self.builder_pid = None

    def v2_playbook_on_play_start(self, play):
        self.stop_builder()
        if not self.get_option("enabled"):
            return
        try:
            modules = module_paths(play)
        except Exception:  # pylint: disable=broad-except
            return  # the task processes build their payloads, as without this callback
        if not modules:
            return
        try:
            pid = os.fork()
        except OSError:
            return  # no process to spare: the task processes build their payloads
        if pid == 0:
            run_builder(modules)
        self.builder_pid = pid

    def v2_playbook_on_stats(self, stats):
        self.stop_builder()
