# -*- coding: utf-8 -*-
# Copyright: (c) 2026, llmhub.eks contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: forkserver
short_description: Run on the controller, Python modules in forks of a warm interpreter
version_added: 1.1.0
author:
  - LLM Analytics Hub platform team (@llmhub)
description:
  - The P(ansible.builtin.local#connection) connection, except that a pipelined Python module runs in a child
    forked from a long-lived interpreter that has already imported boto3 and botocore and parsed botocore's
    service models, instead of in a new Python process that does all of that again for every task.
  - Each module still runs in a process of its own, with the environment, working directory and standard
    streams it would have had, from the payload ansible-core built for it. Preloaded are site-packages
    libraries (boto3, botocore, the Kubernetes client) and ansible-core's C(ansible.module_utils.basic)
    when the interpreter's ansible-core is the controller's own installation (the very files the payload
    carries) and no configured module_utils path holds files; collections' module_utils always come from
    the payload.
  - One server per controller process and interpreter, on a Unix socket in a directory only the user can
    enter; it exits with the controller (or after 30 idle minutes).
  - Anything else (commands, file transfers, non-pipelined or C(become) runs) goes to the local connection
    unchanged; if the server cannot start, the task runs as with the local connection, with a warning.
  - Set O(enabled=false) to run every module as the local connection does.
options:
  enabled:
    description:
      - Run pipelined Python modules in the fork server. V(false) behaves exactly like P(ansible.builtin.local#connection).
    type: bool
    default: true
    env:
      - name: LLMHUB_FORKSERVER
    vars:
      - name: ansible_llmhub_forkserver
  become_success_timeout:
    description:
      - As for P(ansible.builtin.local#connection).
    type: int
    default: 10
    vars:
      - name: ansible_local_become_success_timeout
  become_strip_preamble:
    description:
      - As for P(ansible.builtin.local#connection).
    type: bool
    default: true
    vars:
      - name: ansible_local_become_strip_preamble
  pipelining:
    description:
      - Send the module to the interpreter on its standard input instead of copying it to a temporary file first.
      - On by default here, where P(ansible.builtin.local#connection) defaults to V(false). The fork server
        only runs pipelined modules, and pipelining conflicts only with C(become), which this plugin passes
        to the local connection unchanged.
    type: bool
    default: true
    env:
      - name: ANSIBLE_PIPELINING
    ini:
      - section: defaults
        key: pipelining
      - section: connection
        key: pipelining
    vars:
      - name: ansible_pipelining
notes:
  - With O(pipelining=false) modules run as with the local connection.
  - Measured in C(benchmarks/README.md).
"""

import os
import shlex

import ansible.module_utils
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.connection.local import Connection as LocalConnection
from ansible.plugins.loader import module_utils_loader
from ansible.utils.display import Display

from ansible_collections.llmhub.eks.plugins.plugin_utils import forkserver

display = Display()


def pipelined_python(cmd) -> tuple[str, dict[str, str]] | None:
    """The interpreter and environment of ``/bin/sh -c 'NAME=value ... /path/python'``, or None for anything else."""
    if not isinstance(cmd, (str, bytes)):
        return None
    try:
        outer = shlex.split(to_text(cmd))
    except ValueError:
        return None
    if len(outer) != 3 or outer[1] != "-c" or os.path.basename(outer[0]) not in ("sh", "bash"):
        return None
    try:
        words = shlex.split(outer[2])
    except ValueError:
        return None
    if not words:
        return None
    *assignments, interpreter = words
    env = {}
    for assignment in assignments:
        name, sep, value = assignment.partition("=")
        if not sep or not name.isidentifier():
            return None
        env[name] = value
    if not os.path.isabs(interpreter) or not os.path.basename(interpreter).startswith("python"):
        return None
    return interpreter, env


def controller_module_utils() -> str:
    """The directory of ansible-core's module_utils every payload carries, or "" when others may replace them
    (a configured module_utils path, or one next to the playbook or in a role, that holds files)."""
    core = os.path.dirname(ansible.module_utils.__file__)
    for extra in module_utils_loader.print_paths().split(os.pathsep):
        if extra and os.path.realpath(extra) != os.path.realpath(core) and os.path.isdir(extra) and os.listdir(extra):
            return ""  # files there are sent under ansible.module_utils, possibly instead of ansible-core's
    return core


class Connection(LocalConnection):
    """The local connection, with pipelined Python modules run by the fork server."""

    transport = "llmhub.eks.forkserver"

    def exec_command(self, cmd, in_data=None, sudoable=True):
        parsed = pipelined_python(cmd) if in_data is not None and not self.become else None
        if parsed is None or not self.get_option("enabled"):
            return super().exec_command(cmd, in_data=in_data, sudoable=sudoable)
        interpreter, assignments = parsed
        if not os.access(interpreter, os.X_OK):
            return super().exec_command(cmd, in_data=in_data, sudoable=sudoable)
        env = dict(os.environ)
        env.update(assignments)
        display.vvv(f"FORKSERVER {interpreter} (environment: {', '.join(sorted(assignments))})")
        try:
            path = forkserver.ensure_server(interpreter, os.getppid(), controller_module_utils())
            return forkserver.run(path, in_data, env, self.cwd or os.getcwd())
        except (forkserver.ForkServerError, OSError) as exc:
            display.warning(f"llmhub.eks.forkserver: {exc}; running the module in a new Python process instead")
            return super().exec_command(cmd, in_data=in_data, sudoable=sudoable)
