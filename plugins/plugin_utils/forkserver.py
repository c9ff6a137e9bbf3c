# -*- coding: utf-8 -*-
# Copyright: (c) 2026, llmhub.eks contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A warm Python that runs module payloads in forked children.

Used by the ``llmhub.eks.forkserver`` connection plugin. Each AWS module run
normally pays for a new Python process importing boto3 and botocore and
parsing botocore's service models (~0.4 s of the ~0.7 s a module task costs
here). The server does that once; every module payload then runs in a child
forked from it, exactly as ``python`` would run the script it receives on
standard input: its own process, its own environment and working directory,
file descriptors 0/1/2 of its own, exit status from ``sys.exit``.

This file is standard library only and imports nothing from ansible: it is
loaded by the controller-side plugin *and* executed by the interpreter that
runs modules (``serve``). Preloaded are third-party libraries the modules
import themselves from site-packages (boto3, botocore and their models, the
Kubernetes client) and, only when the server's ansible-core is the
controller's own installation (same directory, so the same files the payload
carries), ``ansible.module_utils.basic`` (~0.08 s per module run); the
collections' module_utils always come from the payload, so a module runs the
code the controller sent.

Wire format on a Unix socket private to the user (directory mode 0700): the
client sends one JSON header line ``{"env": {...}, "cwd": "...", "size": N}``
then N bytes of payload; the child answers one JSON line ``{"rc": int,
"stdout": base64, "stderr": base64}`` and closes.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

# Services whose models the server parses once (what the collection's and
# amazon.aws's modules create clients for).
PRELOAD_SERVICES = ("ec2", "iam", "eks", "kms", "logs", "sts", "s3", "ssm", "dlm", "dynamodb", "elbv2",
                    "service-quotas", "autoscaling")
START_TIMEOUT = 30.0
IDLE_TIMEOUT = 1800.0


class ForkServerError(Exception):
    """The server could not be started or did not answer."""


def socket_dir() -> str:
    """A directory only this user can enter (created 0700; refused if someone else owns it)."""
    path = os.path.join(tempfile.gettempdir(), f"llmhub-forkserver-{os.getuid()}")
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    info = os.lstat(path)
    if info.st_uid != os.getuid() or info.st_mode & 0o077 or not os.path.isdir(path):
        raise ForkServerError(f"{path} must be a directory owned by uid {os.getuid()} with mode 0700")
    return path


def socket_path(owner_pid: int, interpreter: str, ansible_module_utils: str = "") -> str:
    """One server per controller process, interpreter and preloaded ansible-core (a caller that decides
    otherwise about preloading ``basic`` gets a server of its own, never one preloaded against its payloads)."""
    digest = hashlib.sha256(os.path.realpath(interpreter).encode() + b"\0" + ansible_module_utils.encode()).hexdigest()[:12]
    key = f"{owner_pid}-{digest}"
    return os.path.join(socket_dir(), f"{key}.sock")


def _send_all(sock: socket.socket, header: dict, payload: bytes) -> None:
    sock.sendall(json.dumps(header).encode() + b"\n" + payload)


def _read_line(sock_file) -> bytes:
    line = sock_file.readline()
    if not line.endswith(b"\n"):
        raise ForkServerError("the fork server closed the connection before answering")
    return line


def _connect(path: str) -> socket.socket | None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
    except OSError:
        sock.close()
        return None
    return sock


def _starting(path: str) -> bool:
    """Whether a server for ``path`` was spawned less than START_TIMEOUT ago and its process is still there."""
    try:
        with open(path + ".starting", encoding="utf-8") as marker:
            pid = int(marker.read().strip() or 0)
            age = time.time() - os.fstat(marker.fileno()).st_mtime
    except (OSError, ValueError):
        return False
    if pid <= 0 or age > START_TIMEOUT:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def _spawn_locked(interpreter: str, path: str, owner_pid: int, ansible_module_utils: str) -> None:
    """Start a server for ``path`` unless one answers or is starting (the caller holds ``path``.lock)."""
    sock = _connect(path)
    if sock:
        sock.close()
        return
    if _starting(path):
        return
    if os.path.exists(path):
        os.unlink(path)
    bootstrap = ("import importlib.util, sys; "
                 "spec = importlib.util.spec_from_file_location('llmhub_forkserver', sys.argv[1]); "
                 "server = importlib.util.module_from_spec(spec); spec.loader.exec_module(server); "
                 "server.serve(sys.argv[2], int(sys.argv[3]), sys.argv[4])")
    with open(os.devnull, "rb") as devnull_in, open(os.devnull, "wb") as devnull_out:
        # pylint: disable-next=consider-using-with
        process = subprocess.Popen([interpreter, "-c", bootstrap, os.path.abspath(__file__), path, str(owner_pid),
                                    ansible_module_utils],
                                   stdin=devnull_in, stdout=devnull_out, stderr=devnull_out, start_new_session=True,
                                   close_fds=True)
    with open(path + ".starting.new", "w", encoding="utf-8") as marker:
        marker.write(str(process.pid))
    os.replace(path + ".starting.new", path + ".starting")


def start_server(interpreter: str, owner_pid: int, ansible_module_utils: str = "") -> str:
    """Start the server ``ensure_server`` would use, without waiting for it (its start overlaps the caller's work).

    ``ensure_server`` with the same arguments then waits for this server instead of starting another.
    """
    path = socket_path(owner_pid, interpreter, ansible_module_utils)
    with open(path + ".lock", "w", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _spawn_locked(interpreter, path, owner_pid, ansible_module_utils)
    return path


def ensure_server(interpreter: str, owner_pid: int, ansible_module_utils: str = "") -> str:
    """The socket of a running server for this controller, started under a lock if needed.

    ``ansible_module_utils`` is the directory of the controller's ``ansible.module_utils`` when the
    payloads carry exactly those files (no other module_utils path configured): the server then
    preloads them too, if its interpreter's ansible-core is that very installation.
    """
    path = socket_path(owner_pid, interpreter, ansible_module_utils)
    sock = _connect(path)
    if sock:
        sock.close()
        return path
    with open(path + ".lock", "w", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _spawn_locked(interpreter, path, owner_pid, ansible_module_utils)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            sock = _connect(path)
            if sock:
                sock.close()
                return path
            time.sleep(0.02)
    raise ForkServerError(f"the fork server for {interpreter} did not start within {START_TIMEOUT:.0f} s")


def run(path: str, payload: bytes, env: dict[str, str], cwd: str) -> tuple[int, bytes, bytes]:
    """Run a payload in a child of the server at ``path``: (rc, stdout, stderr)."""
    sock = _connect(path)
    if sock is None:
        raise ForkServerError(f"cannot connect to the fork server at {path}")
    with sock, sock.makefile("rb") as answers:
        _send_all(sock, {"env": env, "cwd": cwd, "size": len(payload)}, payload)
        sock.shutdown(socket.SHUT_WR)
        answer = json.loads(_read_line(answers))
    return answer["rc"], base64.b64decode(answer["stdout"]), base64.b64decode(answer["stderr"])


# ---------------------------------------------------------------- server side

def _preload_ansible(controller_module_utils: str) -> None:
    """Import ansible-core's ``basic`` when it is the controller's own installation (same directory)."""
    if not controller_module_utils:
        return
    try:
        import ansible.module_utils  # pylint: disable=import-outside-toplevel
    except ImportError:
        return
    here = os.path.realpath(os.path.dirname(ansible.module_utils.__file__))
    if here != os.path.realpath(controller_module_utils):
        return
    try:
        import ansible.module_utils.basic  # noqa: F401 pylint: disable=unused-import,import-outside-toplevel
    except Exception:  # pylint: disable=broad-except
        return


def _preload() -> None:
    """Import what every AWS module imports from site-packages and parse the service models once."""
    try:
        import boto3  # noqa: F401 pylint: disable=unused-import,import-outside-toplevel
        import botocore.loaders  # pylint: disable=import-outside-toplevel
        import botocore.session  # pylint: disable=import-outside-toplevel
    except ImportError:
        return
    # One loader for every session created in a child: botocore caches parsed
    # models per loader instance, and a loader per session re-parses ~20 MB of
    # JSON per module run. The cache is copied into each child by fork.
    shared = botocore.loaders.create_loader()
    botocore.session.create_loader = lambda search_path_string=None: shared
    for service in PRELOAD_SERVICES:
        # What creating a client, paginating and waiting load, called as botocore calls them (the loader's cache
        # is keyed by the arguments): the service model and its endpoint rules (a model type not loaded yet first
        # lists every service directory of botocore: ~1,000 stat calls), then paginators and waiters.
        try:
            model = shared.load_service_model(service, "service-2", api_version=None)
            shared.load_service_model(service, "endpoint-rule-set-1", api_version=None)
        except Exception:  # pylint: disable=broad-except
            continue
        for type_name in ("paginators-1", "waiters-2"):
            try:
                shared.load_service_model(service, type_name, model["metadata"]["apiVersion"])
            except Exception:  # pylint: disable=broad-except
                continue
    for name in ("endpoints", "partitions", "sdk-default-configuration", "_retry"):
        try:
            shared.load_data(name)
        except Exception:  # pylint: disable=broad-except
            continue
    try:
        # kubernetes.core's modules import the Kubernetes client (~0.3 s each time)
        import kubernetes.dynamic  # noqa: F401 pylint: disable=unused-import,import-outside-toplevel
    except Exception:  # pylint: disable=broad-except
        pass


def _reread_environment() -> None:
    """Re-read, in a child, what a preloaded library read from the server's environment when imported.

    The Kubernetes client reads ``KUBECONFIG`` once, at import (``kube_config.py`` and the copy
    ``kubernetes.config`` takes of it): in the child it must be the task's, as in a new process.
    """
    default = os.environ.get("KUBECONFIG", "~/.kube/config")  # the client's own expression
    for name in ("kubernetes.config.kube_config", "kubernetes.config"):
        module = sys.modules.get(name)
        if module is not None and hasattr(module, "KUBE_CONFIG_DEFAULT_LOCATION"):
            module.KUBE_CONFIG_DEFAULT_LOCATION = default


def _with_filename(code, filename: str):
    """``code`` and every code object nested in it, as compiled from ``filename``."""
    consts = tuple(_with_filename(const, filename) if isinstance(const, type(code)) else const
                   for const in code.co_consts)
    return code.replace(co_filename=filename, co_consts=consts)


def install_code_cache(directory: str) -> None:
    """Compile each module a payload's zip carries once per distinct source, not once per task.

    Python cannot write ``.pyc`` files into a zip, so every module run
    recompiles ansible's and the collections' module_utils from the payload
    (~0.2 s of a ~0.25 s run here). This path hook is zipimport's own
    importer with a cache in front of ``get_code``: the key is the SHA-256 of
    the interpreter's bytecode magic, the file's path inside the zip and its
    source, so a cached code object is used only for byte-identical source;
    it is then given the file name it has in this payload (tracebacks stay
    true).
    """
    import importlib.util  # pylint: disable=import-outside-toplevel
    import marshal  # pylint: disable=import-outside-toplevel
    import zipimport  # pylint: disable=import-outside-toplevel

    os.makedirs(directory, mode=0o700, exist_ok=True)

    class CachingZipImporter(zipimport.zipimporter):
        """zipimport's importer; compiled code comes from the cache when the source is unchanged."""

        def _source_file(self, fullname):
            """(path inside the archive, source) of a module zipimport would load from source, else None."""
            try:
                source = self.get_source(fullname)
                package = self.is_package(fullname)
            except zipimport.ZipImportError:
                return None
            if source is None:
                return None
            # zipimport's own layout: <prefix><name>/__init__.py or <prefix><name>.py inside the archive
            return self.prefix + fullname.rpartition(".")[2] + ("/__init__.py" if package else ".py"), source

        def get_filename(self, fullname):
            # zipimport's get_filename compiles the module to find its name (importlib asks for it in find_spec)
            found = self._source_file(fullname)
            return os.path.join(self.archive, found[0]) if found else super().get_filename(fullname)

        def get_code(self, fullname):
            found = self._source_file(fullname)
            if found is None:
                return super().get_code(fullname)
            inner, source = found
            filename = os.path.join(self.archive, inner)
            key = hashlib.sha256(importlib.util.MAGIC_NUMBER + inner.encode() + b"\0" + source.encode()).hexdigest()
            cached = os.path.join(directory, key)
            try:
                with open(cached, "rb") as handle:
                    return _with_filename(marshal.load(handle), filename)
            except (OSError, EOFError, ValueError, TypeError):
                pass
            code = compile(source, filename, "exec", dont_inherit=True)
            partial = f"{cached}.{os.getpid()}"
            try:
                with open(partial, "wb") as handle:
                    marshal.dump(code, handle)
                os.replace(partial, cached)
            except OSError:
                pass
            return code

    sys.path_hooks.insert(0, CachingZipImporter)
    sys.path_importer_cache.clear()


def _execute(header: dict, payload: bytes, out, err) -> None:
    """In the payload's own process: set it up as ``python`` would and run it; never returns."""
    import runpy  # pylint: disable=import-outside-toplevel

    rc = 1
    try:
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        os.environ.clear()
        os.environ.update(header["env"])
        _reread_environment()
        os.chdir(header["cwd"])
        with tempfile.NamedTemporaryFile("wb", suffix=".py", prefix="llmhub_payload_", delete=False) as script:
            script.write(payload)
        sys.argv = [""]
        try:
            runpy.run_path(script.name, run_name="__main__")
            rc = 0
        except SystemExit as exc:
            if exc.code is None:
                rc = 0
            elif isinstance(exc.code, int):
                rc = exc.code & 0xFF
            else:
                print(exc.code, file=sys.stderr)
        finally:
            os.unlink(script.name)
    except BaseException:  # pylint: disable=broad-except
        import traceback  # pylint: disable=import-outside-toplevel

        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(rc)


def _supervise(conn: socket.socket) -> None:
    """Read one request, run it in a child of its own, answer with its status and output."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    with conn.makefile("rb") as requests:
        line = requests.readline()
        if not line.endswith(b"\n"):
            return  # a liveness probe (ensure_server) connects and closes without a request
        header = json.loads(line)
        payload = requests.read(header["size"])
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        pid = os.fork()
        if pid == 0:
            conn.close()
            _execute(header, payload, out, err)
        _pid, status = os.waitpid(pid, 0)
        rc = os.waitstatus_to_exitcode(status)  # negative for a signal, as subprocess reports it
        out.seek(0)
        err.seek(0)
        answer = {"rc": rc, "stdout": base64.b64encode(out.read()).decode(),
                  "stderr": base64.b64encode(err.read()).decode()}
    conn.sendall(json.dumps(answer).encode() + b"\n")
    conn.close()


def serve(path: str, owner_pid: int, controller_module_utils: str = "") -> None:
    """Accept payloads until the controller process ``owner_pid`` is gone (or idle for 30 minutes)."""
    if sys.path and sys.path[0] in ("", os.path.dirname(os.path.abspath(__file__))):
        sys.path.pop(0)
    _preload()
    _preload_ansible(controller_module_utils)
    install_code_cache(os.path.join(os.path.dirname(path), "code"))
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path + ".new")
    os.chmod(path + ".new", 0o600)
    os.rename(path + ".new", path)
    listener.listen(64)
    listener.settimeout(1.0)
    last_used = time.monotonic()
    try:
        while time.monotonic() - last_used < IDLE_TIMEOUT:
            try:
                os.kill(owner_pid, 0)
            except ProcessLookupError:
                break
            try:
                conn, _address = listener.accept()
            except socket.timeout:
                continue
            last_used = time.monotonic()
            if os.fork() == 0:
                # the child never returns into this loop: whatever happens, it exits here
                status = 1
                try:
                    listener.close()
                    conn.settimeout(None)
                    _supervise(conn)
                    status = 0  # the module's own status travels in the answer
                finally:
                    os._exit(status)
            conn.close()
    finally:
        listener.close()
        for leftover in (path, path + ".lock", path + ".starting"):
            try:
                os.unlink(leftover)
            except OSError:
                pass
