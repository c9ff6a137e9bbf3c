# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The action plugin of every llmhub.eks module (``plugins/action/<module>.py`` imports it).

With a ``local`` connection and the module's interpreter being the
controller's own Python, the controller hands the module's arguments straight
to the turbo worker (see ``plugins/module_utils/turbo.py``): the
module runs exactly as AnsiballZ would run it (same code from the same
installed files, same arguments including check mode, diff and no_log, the
task's environment, the directory and umask a local connection runs it in) but
without building an AnsiballZ payload (compiling ~80 module_utils files to
find imports), a temporary directory and a Python process that imports
ansible's module_utils from a zip: about 0.5 s of the 0.6-0.8 s a module
task costs. In every other case (another connection, become, async, another
interpreter, PYTHON_MODULE_RLIMIT_NOFILE set, ``LLMHUB_TURBO=0``) the module runs
the usual way, as the ``normal`` action plugin runs it. With no worker up, the
controller starts one from the installed files and waits for it (~0.3 s).
"""

from __future__ import annotations

import json
import os
import sys

from ansible import constants as C
from ansible.module_utils.common.json import Direction, get_module_encoder
from ansible.plugins.action import ActionBase
from ansible.utils.vars import merge_hash
from ansible.vars.clean import remove_internal_keys

from ansible_collections.llmhub.eks.plugins.module_utils import turbo

# Our modules declare no METADATA: ansible-core serializes their arguments and results with this profile.
SERIALIZATION_PROFILE = "legacy"
COLLECTION = ("llmhub", "eks")


class ActionModule(ActionBase):
    """Run an llmhub.eks module in the turbo worker when the controller can, the usual way otherwise."""

    _supports_check_mode = True
    _supports_async = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp  # tmp no longer has any effect
        task_vars = task_vars or {}
        wrap_async = self._task.async_val and not self._connection.has_native_async
        direct = None if wrap_async else self._run_in_worker(task_vars)
        if direct is not None:
            return merge_hash(result, direct)
        result = merge_hash(result, self._execute_module(task_vars=task_vars, wrap_async=wrap_async))
        if not wrap_async:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return result

    def _run_in_worker(self, task_vars):
        """The module's result from the worker, or None when the module must run the usual way."""
        task_environment = {}
        self._compute_environment_string(task_environment)
        environ = dict(os.environ)
        environ.update((str(name), str(value)) for name, value in task_environment.items())
        if not turbo.enabled(environ) or self._connection.transport != "local" or self._play_context.become:
            return None
        interpreter = task_vars.get("ansible_python_interpreter")
        if interpreter is None or str(self._templar.template(interpreter)) != sys.executable:
            return None
        if C.config.get_config_value("PYTHON_MODULE_RLIMIT_NOFILE", variables=task_vars) not in (0, "0", None):
            return None  # the AnsiballZ wrapper sets that limit in the module's process
        found = self._shared_loader_obj.module_loader.find_plugin_with_context(
            self._task.action, collection_list=self._task.collections)
        places = _installed_places(found.plugin_resolved_path if found.resolved else None)
        if places is None:
            return None
        roots, key_paths, module_fqn = places

        module_args = self._task.args.copy()
        self._update_module_args(self._task.action, module_args, task_vars)
        encoder = get_module_encoder(SERIALIZATION_PROFILE, Direction.CONTROLLER_TO_MODULE)
        params = json.dumps({"ANSIBLE_MODULE_ARGS": module_args}, cls=encoder).encode()
        try:
            status, stdout, stderr = turbo.run_from_controller(
                module_fqn, roots, key_paths, params, SERIALIZATION_PROFILE, environ,
                self._loader.get_basedir(), sys.executable)
        except turbo.Unavailable:
            return None
        self._used_interpreter = f"#!{sys.executable}"
        data = self._parse_returned_data({"rc": status, "stdout": stdout, "stderr": stderr}, SERIALIZATION_PROFILE)
        # What _execute_module does with a parsed result (our modules return no stdout/results keys).
        data.pop("_ansible_suppress_tmpdir_delete", None)
        remove_internal_keys(data)
        return data


def _installed_places(module_path):
    """Where the controller found this module, amazon.aws and ansible: ``(roots, key_paths, module_fqn)``."""
    if not module_path:
        return None
    name = os.path.splitext(os.path.basename(module_path))[0]
    relative = os.path.join("ansible_collections", *COLLECTION, "plugins", "modules", name + ".py")
    if not module_path.endswith(os.sep + relative):
        return None
    places = installed_places(module_path[:-len(relative) - 1])
    if places is None:
        return None
    module_fqn = ".".join(("ansible_collections",) + COLLECTION + ("plugins", "modules", name))
    return places + (module_fqn,)


def installed_places(own_root=None):
    """``(roots, key_paths)``: the directories holding this collection (``own_root``, by default where the
    controller finds it), amazon.aws and ansible, and where each of turbo.KEY_FILES is under them."""
    own_root = own_root or _collection_root(*COLLECTION)
    amazon_root = _collection_root("amazon", "aws")
    if own_root is None or amazon_root is None:
        return None
    ansible_root = os.path.dirname(os.path.dirname(os.path.abspath(sys.modules["ansible"].__file__)))
    roots = [own_root] + [root for root in (amazon_root, ansible_root) if root != own_root]
    key_paths = {}
    for key_file in turbo.KEY_FILES:
        if key_file.startswith("ansible/"):
            key_paths[key_file] = os.path.join(ansible_root, key_file)
        elif key_file.startswith(os.path.join("ansible_collections", *COLLECTION) + os.sep):
            key_paths[key_file] = os.path.join(own_root, key_file)
        else:
            key_paths[key_file] = os.path.join(amazon_root, key_file)
    return roots, key_paths


def warm_worker(environ, interpreter):
    """Start the turbo worker in the background for the modules that will run with ``interpreter``, unless it
    is up or turbo mode is off. For controller-side code that runs before the first module (a lookup)."""
    if not turbo.enabled(environ) or interpreter != sys.executable:
        return
    places = installed_places()
    if places is None:
        return
    roots, key_paths = places
    try:
        directory = turbo.runtime_dir(environ)
        key = turbo.installed_worker_key(key_paths, sys.executable)
        if not os.path.exists(os.path.join(directory, key + ".sock")):
            turbo.start_installed_worker(directory, key, roots, sys.executable)
    except (turbo.Unavailable, OSError):
        pass  # the first module starts it


def _collection_root(namespace, name):
    """The directory holding ``ansible_collections/<namespace>/<name>`` as the controller resolves it."""
    import importlib  # pylint: disable=import-outside-toplevel

    try:
        package = importlib.import_module(f"ansible_collections.{namespace}.{name}")
    except ImportError:
        return None
    for path in list(getattr(package, "__path__", [])):
        suffix = os.path.join("ansible_collections", namespace, name)
        if path.rstrip(os.sep).endswith(os.sep + suffix):
            return path.rstrip(os.sep)[:-len(suffix) - 1]
    return None
