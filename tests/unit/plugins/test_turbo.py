"""Turbo mode's pieces that decide whether and where a module may run in a worker."""

from __future__ import annotations

import os
import sys
import types
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / ".collections"))

from ansible_collections.llmhub.eks.plugins.module_utils import turbo  # noqa: E402


def payload(path: Path, files: dict[str, str]) -> str:
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return str(path)


BASE = {name: f"# {name}\n" for name in turbo.KEY_FILES}


def test_worker_key_follows_the_preloaded_code_and_the_interpreter(tmp_path):
    first = turbo.worker_key(payload(tmp_path / "a.zip", {**BASE, "ansible_collections/x/module.py": "a"}))
    # Code the worker does not preload (the module itself, other module_utils) does not change the worker.
    assert turbo.worker_key(payload(tmp_path / "b.zip", {**BASE, "ansible_collections/x/module.py": "b"})) == first
    changed = {**BASE, "ansible_collections/llmhub/eks/plugins/module_utils/turbo.py": "# edited\n"}
    assert turbo.worker_key(payload(tmp_path / "c.zip", changed)) != first
    amazon = {**BASE, "ansible_collections/amazon/aws/plugins/module_utils/modules.py": "# 11.0.0\n"}
    assert turbo.worker_key(payload(tmp_path / "d.zip", amazon)) != first
    assert turbo.worker_key(str(tmp_path / "a.zip"), executable="/other/python") != first


def test_worker_key_follows_the_installed_sdk(tmp_path, monkeypatch):
    archive = payload(tmp_path / "a.zip", BASE)
    first = turbo.worker_key(archive)
    assert "boto3/__init__.py@" in turbo._sdk_stamp()  # pylint: disable=protected-access
    monkeypatch.setattr(turbo, "_sdk_stamp", lambda: "boto3 upgraded")
    assert turbo.worker_key(archive) != first


@pytest.mark.parametrize(("value", "expected"), [
    (None, True), ("1", True), ("yes", True), ("0", False), ("false", False), ("Off", False), ("no", False),
])
def test_enabled(value, expected):
    environ = {} if value is None else {"LLMHUB_TURBO": value}
    assert turbo.enabled(environ) is expected


def test_idle_seconds():
    assert turbo.idle_seconds({}) == turbo.DEFAULT_IDLE_SECONDS
    assert turbo.idle_seconds({"LLMHUB_TURBO_IDLE": "3"}) == 3.0
    assert turbo.idle_seconds({"LLMHUB_TURBO_IDLE": "0"}) == 1.0
    assert turbo.idle_seconds({"LLMHUB_TURBO_IDLE": "soon"}) == turbo.DEFAULT_IDLE_SECONDS


def test_runtime_dir_is_private(tmp_path):
    made = turbo.runtime_dir({"LLMHUB_TURBO_DIR": str(tmp_path / "new")})
    assert os.stat(made).st_mode & 0o777 == 0o700
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o755)
    with pytest.raises(turbo.Unavailable, match="only this user"):
        turbo.runtime_dir({"LLMHUB_TURBO_DIR": str(shared)})
    target = tmp_path / "target"
    target.mkdir(mode=0o700)
    (tmp_path / "link").symlink_to(target)
    with pytest.raises(turbo.Unavailable):
        turbo.runtime_dir({"LLMHUB_TURBO_DIR": str(tmp_path / "link")})


def test_a_plain_import_hands_nothing_over():
    """Imported outside an AnsiballZ run (tests, sanity, the worker itself) the module is inert."""
    assert turbo._hand_over_if_module_main() is None  # pylint: disable=protected-access


def worker_packages(monkeypatch, *names):
    """Packages as a worker started from /worker.zip has them (imported, with list paths), in sys.modules."""
    fake = {}
    for name in names:
        module = types.ModuleType(name)
        module.__path__ = [f"/worker.zip/{name.replace('.', '/')}"]
        fake[name] = module
    monkeypatch.setattr(sys, "modules", {**sys.modules, **fake})
    return fake


def test_package_paths_put_this_runs_collection_code_first(monkeypatch):
    fake = worker_packages(monkeypatch, "ansible_collections", "ansible_collections.llmhub",
                           "ansible_collections.llmhub.eks.plugins.module_utils",
                           "ansible_collections.amazon.aws.plugins.module_utils", "ansible.module_utils", "botocore")
    turbo._extend_package_paths("/run.zip")  # pylint: disable=protected-access
    for name in ("ansible_collections", "ansible_collections.llmhub",
                 "ansible_collections.llmhub.eks.plugins.module_utils"):
        assert fake[name].__path__[0] == os.path.join("/run.zip", *name.split(".")), name
    for name in ("ansible_collections.amazon.aws.plugins.module_utils", "ansible.module_utils"):
        assert fake[name].__path__ == [f"/worker.zip/{name.replace('.', '/')}",
                                       os.path.join("/run.zip", *name.split("."))], name
    assert fake["botocore"].__path__ == ["/worker.zip/botocore"]


def test_installed_files_give_the_key_of_the_zip_ansible_packs_from_them(tmp_path):
    """The controller finds the worker an AnsiballZ run started: same files, same key."""
    installed = tmp_path / "installed"
    for name, text in BASE.items():
        (installed / name).parent.mkdir(parents=True, exist_ok=True)
        (installed / name).write_text(text, encoding="utf-8")
    paths = {name: str(installed / name) for name in turbo.KEY_FILES}
    archive = payload(tmp_path / "a.zip", {**BASE, "ansible_collections/x/module.py": "a"})
    assert turbo.installed_worker_key(paths, sys.executable) == turbo.worker_key(archive)
    (installed / turbo.KEY_FILES[-1]).write_text("# edited\n", encoding="utf-8")
    assert turbo.installed_worker_key(paths, sys.executable) != turbo.worker_key(archive)
    assert turbo.installed_worker_key({}, sys.executable) != turbo.worker_key(archive)


def test_a_root_of_other_collections_leaves_this_collections_packages_alone(monkeypatch):
    fake = worker_packages(monkeypatch, "ansible_collections", "ansible_collections.llmhub.eks.plugins.module_utils",
                           "ansible_collections.amazon.aws.plugins.module_utils")
    turbo._extend_package_paths("/site-packages", own=False)  # pylint: disable=protected-access
    assert fake["ansible_collections.llmhub.eks.plugins.module_utils"].__path__ == [
        "/worker.zip/ansible_collections/llmhub/eks/plugins/module_utils"]
    for name in ("ansible_collections", "ansible_collections.amazon.aws.plugins.module_utils"):
        assert fake[name].__path__[-1] == os.path.join("/site-packages", *name.split(".")), name


def test_every_module_runs_through_the_turbo_action_plugin():
    """A module without plugins/action/<name>.py would silently run the slow way."""
    modules = {path.stem for path in (ROOT / "plugins" / "modules").glob("*.py") if not path.stem.startswith("_")}
    actions = {path.stem for path in (ROOT / "plugins" / "action").glob("*.py")}
    assert modules == actions
    for name in actions:
        text = (ROOT / "plugins" / "action" / f"{name}.py").read_text(encoding="utf-8")
        assert "from ansible_collections.llmhub.eks.plugins.plugin_utils.turbo_action import ActionModule" in text
        # The action plugin serializes arguments with the profile of modules without METADATA ("legacy").
        assert "\nMETADATA" not in (ROOT / "plugins" / "modules" / f"{name}.py").read_text(encoding="utf-8")


def test_a_worker_started_from_installed_collections_gets_plain_package_path_lists(monkeypatch):
    """Installed collections import as namespace packages; the worker needs lists to put each run's code first."""
    ours = types.ModuleType("ansible_collections.llmhub.eks.plugins.module_utils")
    ours.__path__ = ("/installed/ansible_collections/llmhub/eks/plugins/module_utils",)  # not a list, as namespaces
    other = types.ModuleType("google")
    other.__path__ = ("/site-packages/google",)
    monkeypatch.setattr(sys, "modules", {**sys.modules, ours.__name__: ours, "google": other})
    turbo._freeze_namespace_paths()  # pylint: disable=protected-access
    assert ours.__path__ == ["/installed/ansible_collections/llmhub/eks/plugins/module_utils"]
    assert other.__path__ == ("/site-packages/google",)


def test_the_controller_does_not_wait_for_a_worker_that_cannot_start(tmp_path, monkeypatch):
    """A worker that failed to preload leaves a marker: the controller runs modules the usual way at once."""
    import socket

    directory = tmp_path / "turbo"
    directory.mkdir(mode=0o700)
    (directory / "k.broken").touch()
    monkeypatch.setattr(turbo, "_spawn", lambda *args: pytest.fail("started a worker"))
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn, pytest.raises(turbo.Unavailable):
        turbo._connect_starting_if_needed(conn, str(directory), "k", [], sys.executable)  # pylint: disable=protected-access


def test_the_controller_gives_up_on_a_worker_that_never_listens(tmp_path, monkeypatch):
    import socket

    directory = tmp_path / "turbo"
    directory.mkdir(mode=0o700)
    spawned = []
    monkeypatch.setattr(turbo, "_spawn", lambda *args: spawned.append(args))
    monkeypatch.setattr(turbo, "STARTUP_GRACE_SECONDS", 0.05)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn, pytest.raises(turbo.Unavailable):
        turbo._connect_starting_if_needed(conn, str(directory), "k", ["/r"], "/py")  # pylint: disable=protected-access
    assert [args[:3] for args in spawned] == [("/py", str(directory), "k")]
