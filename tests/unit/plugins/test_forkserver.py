"""The fork server runs a payload as ``python`` runs its standard input, and the connection routes only those."""

from __future__ import annotations

import os
import sys
import textwrap
import time

import pytest

from ansible_collections.llmhub.eks.plugins.connection.forkserver import pipelined_python
from ansible_collections.llmhub.eks.plugins.plugin_utils import forkserver

PYTHON = sys.executable


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A server owned by this test process (it exits when pytest does)."""
    path = forkserver.ensure_server(PYTHON, os.getpid())
    yield path


def run(path, code: str, env=None, cwd=None):
    return forkserver.run(path, textwrap.dedent(code).encode(), env if env is not None else dict(os.environ),
                          cwd or os.getcwd())


class TestPipelinedPython:
    def test_environment_and_interpreter(self):
        cmd = "/bin/sh -c 'LANG=C.UTF-8 FOO='\"'\"'a b'\"'\"' /usr/bin/python3.12'"
        assert pipelined_python(cmd) == ("/usr/bin/python3.12", {"LANG": "C.UTF-8", "FOO": "a b"})

    def test_bare_interpreter(self):
        assert pipelined_python("/bin/sh -c '/work/.venv/bin/python'") == ("/work/.venv/bin/python", {})

    @pytest.mark.parametrize("cmd", [
        "/bin/sh -c 'echo ~root'",
        "/bin/sh -c '/usr/bin/python3 /root/.ansible/tmp/x/AnsiballZ_ping.py && sleep 0'",
        "/bin/sh -c 'python3'",                       # not an absolute path
        "/bin/sh -c 'rm -f -r /tmp/x/ > /dev/null 2>&1 && sleep 0'",
        "/usr/bin/env python3",
        "/bin/sh -c 'FOO=1 BAR /usr/bin/python3'",    # not an assignment
        "/bin/sh -c 'unbalanced",
        ["/bin/sh", "-c", "/usr/bin/python3"],        # argv lists are not what pipelining sends
    ])
    def test_anything_else_is_not_routed(self, cmd):
        assert pipelined_python(cmd) is None


class TestServer:
    def test_output_status_and_streams(self, server):
        rc, out, err = run(server, """
            import sys
            print("to stdout")
            print("to stderr", file=sys.stderr)
            sys.exit(3)
        """)
        assert (rc, out, err) == (3, b"to stdout\n", b"to stderr\n")

    def test_runs_as_a_script_with_its_own_environment_and_directory(self, server, tmp_path):
        rc, out, _err = run(server, """
            import os, sys
            print(__name__, os.environ.get("ONLY_HERE"), os.getcwd(), len(sys.argv), sys.stdin.read() == "")
        """, env={"ONLY_HERE": "yes", "PATH": os.environ["PATH"]}, cwd=str(tmp_path))
        assert rc == 0
        assert out.decode().split() == ["__main__", "yes", str(tmp_path), "1", "True"]

    def test_an_uncaught_exception_is_status_1_with_the_traceback(self, server):
        rc, out, err = run(server, "raise RuntimeError('boom')\n")
        assert rc == 1 and out == b""
        assert b"RuntimeError: boom" in err

    def test_a_string_exit_is_status_1_with_the_message(self, server):
        assert run(server, "import sys; sys.exit('bad input')\n") == (1, b"", b"bad input\n")

    def test_each_run_is_its_own_process(self, server):
        first = run(server, "import os; GLOBAL = 1; print(os.getpid())\n")
        second = run(server, "import os; print(os.getpid(), 'GLOBAL' in globals())\n")
        assert first[1].split()[0] != second[1].split()[0]
        assert second[1].split()[1] == b"False"

    def test_subprocesses_can_be_waited_for(self, server):
        # the server ignores SIGCHLD to reap its children; a payload must get it back (subprocess.run works)
        rc, out, _err = run(server, "import subprocess; print(subprocess.run(['true']).returncode)\n")
        assert (rc, out) == (0, b"0\n")

    def test_boto3_is_preloaded_but_payload_code_is_not(self, server):
        rc, out, _err = run(server, """
            import sys
            print("boto3" in sys.modules, "ansible.module_utils.basic" in sys.modules)
        """)
        assert (rc, out) == (0, b"True False\n")

    def test_the_kubernetes_client_reads_kubeconfig_from_the_payloads_environment(self, server):
        code = """
            import kubernetes.config, kubernetes.config.kube_config as kc
            print(kubernetes.config.KUBE_CONFIG_DEFAULT_LOCATION, kc.KUBE_CONFIG_DEFAULT_LOCATION)
        """
        env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
        assert run(server, code, env=dict(env, KUBECONFIG="/task/kubeconfig"))[:2] == (
            0, b"/task/kubeconfig /task/kubeconfig\n")
        assert run(server, code, env=env)[:2] == (0, b"~/.kube/config ~/.kube/config\n")

    def test_survives_probes_and_crashing_payloads(self, server):
        assert forkserver.ensure_server(PYTHON, os.getpid()) == server  # a probe connects and closes
        assert run(server, "import os; os._exit(9)\n") == (9, b"", b"")
        assert run(server, "import os, signal; os.kill(os.getpid(), signal.SIGKILL)\n")[0] == -9
        assert run(server, "print('still here')\n") == (0, b"still here\n", b"")

    def test_exits_with_its_owner(self, tmp_path):
        owner = os.fork()
        if owner == 0:  # an owner that lives until told to go
            time.sleep(60)
            os._exit(0)
        try:
            path = forkserver.ensure_server(PYTHON, owner)
            assert run(path, "print(1)\n")[0] == 0
        finally:
            os.kill(owner, 9)
            os.waitpid(owner, 0)
        deadline = time.monotonic() + 30
        while os.path.exists(path) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not os.path.exists(path)

    @pytest.mark.parametrize("same_installation", [True, False])
    def test_ansible_basic_is_preloaded_only_from_the_controllers_installation(self, same_installation, tmp_path):
        import ansible.module_utils

        controller = os.path.dirname(ansible.module_utils.__file__) if same_installation else str(tmp_path)
        owner = os.fork()
        if owner == 0:
            time.sleep(60)
            os._exit(0)
        try:
            path = forkserver.ensure_server(PYTHON, owner, controller)
            rc, out, _err = run(path, """
                import sys
                print("ansible.module_utils.basic" in sys.modules)
            """)
        finally:
            os.kill(owner, 9)
            os.waitpid(owner, 0)
        assert (rc, out) == (0, b"True\n" if same_installation else b"False\n")

    def test_the_connection_offers_ansible_core_module_utils_only_when_nothing_can_replace_them(self, tmp_path):
        import ansible.module_utils
        from ansible.plugins.loader import module_utils_loader

        from ansible_collections.llmhub.eks.plugins.connection.forkserver import controller_module_utils

        empty, extra = tmp_path / "empty", tmp_path / "extra"
        empty.mkdir()
        extra.mkdir()
        module_utils_loader.add_directory(str(empty))  # as for a module_utils directory next to a playbook
        assert controller_module_utils() == os.path.dirname(ansible.module_utils.__file__)
        (extra / "basic.py").write_text("")
        module_utils_loader.add_directory(str(extra))
        assert controller_module_utils() == ""

    def test_socket_directory_is_private(self, server):
        info = os.stat(os.path.dirname(server))
        assert info.st_mode & 0o777 == 0o700
        assert os.stat(server).st_mode & 0o777 == 0o600


@pytest.fixture
def owner():
    """A process standing for a controller (the servers it owns exit after it is killed)."""
    pid = os.fork()
    if pid == 0:
        time.sleep(60)
        os._exit(0)
    yield pid
    os.kill(pid, 9)
    os.waitpid(pid, 0)


def session_of_payloads(path):
    rc, out, _err = run(path, "import os; print(os.getsid(0))\n")
    assert rc == 0
    return int(out)


class TestStartedEarly:
    def test_start_does_not_wait_and_ensure_uses_that_server(self, owner):
        path = forkserver.start_server(PYTHON, owner)
        with open(path + ".starting", encoding="utf-8") as marker:
            server_pid = int(marker.read())
        assert forkserver.start_server(PYTHON, owner) == path  # starting already: nothing more spawned
        with open(path + ".starting", encoding="utf-8") as marker:
            assert int(marker.read()) == server_pid
        assert forkserver.ensure_server(PYTHON, owner) == path  # waits for that start, spawns nothing
        assert session_of_payloads(path) == server_pid  # the server started early runs the payloads

    def test_a_dead_starter_does_not_block_a_new_start(self, owner):
        path = forkserver.socket_path(owner, PYTHON)
        gone = os.fork()
        if gone == 0:
            os._exit(0)
        os.waitpid(gone, 0)
        with open(path + ".starting", "w", encoding="utf-8") as marker:
            marker.write(str(gone))
        assert forkserver.ensure_server(PYTHON, owner) == path
        assert session_of_payloads(path) != gone

    def test_one_server_per_preloading_decision(self, owner):
        import ansible.module_utils

        core = os.path.dirname(ansible.module_utils.__file__)
        assert forkserver.socket_path(owner, PYTHON, core) != forkserver.socket_path(owner, PYTHON, "")

    def test_the_callback_starts_the_connections_server(self, monkeypatch):
        from ansible_collections.llmhub.eks.plugins.callback.forkserver_start import CallbackModule
        from ansible_collections.llmhub.eks.plugins.connection.forkserver import controller_module_utils

        calls = []
        monkeypatch.setattr(forkserver, "start_server", lambda *args: calls.append(args) or "")
        CallbackModule().v2_playbook_on_start(None)
        assert calls == [(PYTHON, os.getpid(), controller_module_utils())]
