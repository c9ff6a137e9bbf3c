# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: forkserver_start
type: aggregate
short_description: Start the fork server of the llmhub.eks.forkserver connection when the playbook starts
version_added: 0.1.0
description:
  - The C(llmhub.eks.forkserver) connection starts its fork server (a Python that has imported boto3, botocore's
    models and the Kubernetes client) when the first module task of a run needs it, and that task waits for it
    (~0.4-1 s).
  - This callback starts the same server as soon as the playbook is loaded, without waiting for it, so that its
    start overlaps the first tasks that run on the controller (the preflight's validation in C(site.yml)). The
    first module task then finds it ready, or waits only for the rest of its start; it never starts a second one.
  - The server is started for the Python running ansible-playbook, the interpreter of hosts that set
    C(ansible_python_interpreter) to C({{ ansible_playbook_python }}) (this collection's inventories). Hosts with
    another interpreter, or without the C(llmhub.eks.forkserver) connection, are not affected; the server then
    stays idle and exits with ansible-playbook.
  - Enable it with C(callbacks_enabled = llmhub.eks.forkserver_start) in C(ansible.cfg) or
    C(ANSIBLE_CALLBACKS_ENABLED=llmhub.eks.forkserver_start).
author:
  - LLM Analytics Hub platform team (@llmhub)
requirements:
  - enable in configuration
"""

import os
import sys

from ansible.plugins.callback import CallbackBase
from ansible.utils.display import Display

from ansible_collections.llmhub.eks.plugins.connection.forkserver import controller_module_utils
from ansible_collections.llmhub.eks.plugins.plugin_utils import forkserver

display = Display()


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "llmhub.eks.forkserver_start"
    CALLBACK_NEEDS_ENABLED = True

    def v2_playbook_on_start(self, playbook):
        try:
            # the task processes are this process's children: the connection keys the server by their parent
            forkserver.start_server(sys.executable, os.getpid(), controller_module_utils())
        except (forkserver.ForkServerError, OSError) as exc:
            display.warning(f"llmhub.eks.forkserver_start: {exc}; the first module task will start it")
