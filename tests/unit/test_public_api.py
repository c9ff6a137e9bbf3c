"""The collection uses only ansible-core's public API.

Private names (``ansible._internal``, underscore-prefixed modules, functions
and methods, AnsiballZ's ``__main__`` globals) change without notice between
ansible-core releases: 2.21 removed ``ansible.vars.clean.remove_internal_keys``
and the collection stopped loading. This test walks every Python file the
collection ships (plugins/) and fails on any such use.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((ROOT / "plugins").rglob("*.py"))


def private_part(dotted: str) -> str | None:
    """The first underscore-prefixed (non-dunder) part of a dotted name, or None."""
    for part in dotted.split("."):
        if part.startswith("_") and not (part.startswith("__") and part.endswith("__")):
            return part
    return None


def own_attributes(tree: ast.AST) -> set[str]:
    """Attributes a file defines itself (``self._x = ...``, methods and class attributes named ``_x``)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Attribute):
                    names.add(target.attr)
                elif isinstance(target, ast.Name):
                    names.add(target.id)
    return names


def violations(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    own = own_attributes(tree)
    for node in ast.walk(tree):
        where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "ansible":
            part = private_part(node.module)
            if part:
                found.append(f"{where}: imports from private module {node.module}")
            found.extend(f"{where}: imports private name {alias.name} from {node.module}"
                         for alias in node.names if private_part(alias.name))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "__main__":
                    found.append(f"{where}: imports __main__ (AnsiballZ's globals are not an interface)")
                elif alias.name.split(".")[0] == "ansible" and private_part(alias.name):
                    found.append(f"{where}: imports private module {alias.name}")
        elif (isinstance(node, ast.Constant) and node.value == "__main__" and not _is_main_guard(tree, node)
              and not _is_run_path_as_script(tree, node)):
            found.append(f"{where}: refers to __main__")
        elif (isinstance(node, ast.Attribute) and private_part(node.attr) and node.attr not in own
              and ast.unparse(node) not in PUBLIC_STDLIB):
            # self._templar, module._load_params, ActionBase._execute_module...: someone else's private member
            found.append(f"{where}: uses private attribute {node.attr} it does not define")
    return found


# Underscore-named but public, documented standard-library API.
PUBLIC_STDLIB = {"os._exit"}


def _is_run_path_as_script(tree: ast.AST, constant: ast.Constant) -> bool:
    """``runpy.run_path(path, run_name="__main__")`` runs a file as the interpreter runs a script (public stdlib)."""
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "run_path"
                and any(keyword.arg == "run_name" and keyword.value is constant for keyword in node.keywords)):
            return True
    return False


def _is_main_guard(tree: ast.AST, constant: ast.Constant) -> bool:
    """``if __name__ == "__main__":`` is the usual module entry point, not a use of AnsiballZ's globals."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare) and constant in node.comparators:
            return isinstance(node.left, ast.Name) and node.left.id == "__name__"
    return False


@pytest.mark.parametrize("path", SHIPPED, ids=[str(p.relative_to(ROOT)) for p in SHIPPED])
def test_no_private_ansible_api(path):
    assert violations(path) == []


def test_the_check_finds_private_use(tmp_path):
    sample = tmp_path / "plugins" / "action" / "sample.py"
    sample.parent.mkdir(parents=True)
    sample.write_text(
        "import __main__\n"
        "from ansible._internal._templating import _engine\n"
        "from ansible.vars.clean import remove_internal_keys, _clean\n"
        "from ansible.plugins.action import ActionBase\n"
        "class ActionModule(ActionBase):\n"
        "    def run(self, tmp=None, task_vars=None):\n"
        "        self._own = 1\n"
        "        return self._execute_module(module_args=self._own)\n"
        "import os, runpy\n"
        "runpy.run_path('x.py', run_name='__main__')\n"
        "os._exit(0)\n"
        "os._private_thing()\n",
        encoding="utf-8")
    global ROOT  # noqa: PLW0603 - report paths relative to the sample tree
    saved, ROOT = ROOT, tmp_path
    try:
        found = violations(sample)
    finally:
        ROOT = saved
    assert any("imports __main__" in f for f in found)
    assert any("private module ansible._internal._templating" in f for f in found)
    assert any("private name _clean" in f for f in found)
    assert any("_execute_module" in f for f in found)
    assert not any("_own" in f for f in found)
    assert not any("remove_internal_keys" in f for f in found)
    assert not any("refers to __main__" in f for f in found)  # run_path(run_name="__main__") runs a script
    assert not any("_exit" in f for f in found)
    assert any("_private_thing" in f for f in found)
