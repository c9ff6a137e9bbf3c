# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Turbo mode: run this collection's modules in a warm worker process.

Every module invocation is a new Python process that compiles ansible's and
amazon.aws's module_utils from the AnsiballZ zip (no bytecode cache), imports
boto3 and botocore and parses botocore's JSON service models: about 0.4 s of
CPU before the first API call, most of the cost of an invocation that finds
its set of resources already as wanted. Like cloud.common's turbo mode (used
by kubernetes.core and vmware.vmware_rest), the first invocation starts a
per-user worker that does that work once; the next invocations hand it their
arguments and their stdout/stderr (SCM_RIGHTS over a Unix socket in a 0700
directory) and the worker forks a child that runs the module the way
AnsiballZ does, writing straight to the controller's pipes, then reports the
exit status. Nothing of the module's behaviour changes: same code, same
arguments, same output, the caller's environment and working directory.

Two callers hand runs over. With a local connection and the controller's own
Python, the module's action plugin (``plugins/plugin_utils/turbo_action.py``)
does it from the controller with ``run_from_controller`` - no AnsiballZ
payload, no module process - and starts a worker from the installed files if
none is up. Otherwise importing this module is what hands a run over (the
import is the first one of each llmhub.eks module): when AnsiballZ runs a
module of this collection and a worker for the same code is up; if none is,
the module runs in its own process as usual and starts a worker from its zip
for the next one. Nothing is handed over when ``LLMHUB_TURBO`` is ``0``. The worker is keyed by the Python interpreter, the
ansible-core and amazon.aws code it preloads and this file, so changed code
gets a new worker (so does an upgrade of boto3 or botocore); it exits after
``LLMHUB_TURBO_IDLE`` seconds (default 15) without work. ``LLMHUB_TURBO_DIR``
moves its directory (default ``<tmp>/llmhub-eks-turbo-<uid>``); ``<key>.log``
there lists what it served.
"""

from __future__ import annotations

import array
import json
import os
import socket
import stat
import struct
import sys
import tempfile
import time

COLLECTION_MODULES = "ansible_collections.llmhub.eks.plugins.modules."
OWN_PACKAGE = "ansible_collections.llmhub.eks"
# Files of the AnsiballZ zip whose content the worker preloads: they key it.
KEY_FILES = (
    "ansible/module_utils/ansible_release.py",
    "ansible/module_utils/basic.py",
    "ansible/module_utils/_internal/_ansiballz/_loader.py",
    "ansible_collections/amazon/aws/plugins/module_utils/common.py",
    "ansible_collections/amazon/aws/plugins/module_utils/modules.py",
    "ansible_collections/amazon/aws/plugins/module_utils/botocore.py",
    "ansible_collections/llmhub/eks/plugins/module_utils/turbo.py",
)
PRELOAD = (
    "ansible.module_utils.basic",
    "ansible.module_utils._internal._ansiballz._loader",
    "ansible_collections.amazon.aws.plugins.module_utils.modules",
    "ansible_collections.amazon.aws.plugins.module_utils.botocore",
    "ansible_collections.amazon.aws.plugins.module_utils.retries",
    "ansible_collections.amazon.aws.plugins.module_utils.exceptions",
    "ansible_collections.amazon.aws.plugins.module_utils.tagging",
    "ansible_collections.amazon.aws.plugins.module_utils.iam",
    "boto3",
    "botocore",
)
# In the order site.yml needs them after the first module (which starts the worker): VPC, EKS, ...
WARM_SERVICES = ("ec2", "eks", "iam", "logs", "kms", "sts")
STARTED = b"S"
HEADER = struct.Struct("!I")
STATUS = struct.Struct("!i")
DEFAULT_IDLE_SECONDS = 15.0
LOG_LIMIT_BYTES = 1 << 20
LISTEN_BACKLOG = 64
# A worker started from the controller imports from installed files (bytecode cached): listening in ~0.3 s.
STARTUP_SECONDS = 5.0
STARTUP_GRACE_SECONDS = 1.0
STARTUP_POLL_SECONDS = 0.02
WORKER_STOPPED = ("The llmhub.eks turbo worker stopped while running this module; run the task again, or set "
                  "LLMHUB_TURBO=0 to run modules without the worker.")

_IN_WORKER = False


class Unavailable(Exception):
    """No worker can take this run: the module runs in its own process."""


def enabled(environ=None):
    environ = os.environ if environ is None else environ
    return environ.get("LLMHUB_TURBO", "1").strip().lower() not in ("0", "false", "no", "off")


def idle_seconds(environ=None):
    environ = os.environ if environ is None else environ
    try:
        return max(1.0, float(environ.get("LLMHUB_TURBO_IDLE", DEFAULT_IDLE_SECONDS)))
    except ValueError:
        return DEFAULT_IDLE_SECONDS


def runtime_dir(environ=None):
    """The worker directory, created 0700; refused (Unavailable) if someone else could use it."""
    environ = os.environ if environ is None else environ
    path = environ.get("LLMHUB_TURBO_DIR") or os.path.join(tempfile.gettempdir(), f"llmhub-eks-turbo-{os.getuid()}")
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        info = os.lstat(path)
    except OSError as e:
        raise Unavailable(f"cannot create {path}: {e}") from e
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise Unavailable(f"{path} must be a directory of this user that only this user can use (mode 0700)")
    return path


def worker_key(modlib, executable=None):
    """Worker identity: the interpreter and the content of the preloaded files (their CRCs in the zip)."""
    import zipfile  # pylint: disable=import-outside-toplevel

    with zipfile.ZipFile(modlib) as archive:
        names = set(archive.namelist())
        crcs = {name: archive.getinfo(name).CRC for name in KEY_FILES if name in names}
    return _key(crcs, executable)


def installed_worker_key(paths, executable):
    """The same identity from installed files (``paths``: each of KEY_FILES to where the controller finds it)."""
    import zlib  # pylint: disable=import-outside-toplevel

    crcs = {}
    for name in KEY_FILES:
        try:
            with open(paths[name], "rb") as source:
                crcs[name] = zlib.crc32(source.read())
        except (KeyError, OSError):
            continue
    return _key(crcs, executable)


def _key(crcs, executable=None):
    import hashlib  # pylint: disable=import-outside-toplevel

    digest = hashlib.sha256((executable or sys.executable).encode())
    digest.update(sys.version.encode())
    digest.update(_sdk_stamp().encode())
    for name in KEY_FILES:
        digest.update(f"{name}={crcs.get(name, -1)};".encode())
    return digest.hexdigest()[:20]


def _sdk_stamp():
    """Where boto3 and botocore are installed and when (an upgrade gets a new worker), without importing them."""
    import importlib.util  # pylint: disable=import-outside-toplevel

    stamp = []
    for name in ("boto3", "botocore"):
        try:
            spec = importlib.util.find_spec(name)
            origin = spec.origin if spec else None
            stamp.append(f"{origin}@{os.stat(origin).st_mtime_ns}" if origin else f"{name}:none")
        except (ImportError, OSError, ValueError):
            stamp.append(f"{name}:none")
    return ";".join(stamp)


# --------------------------------------------------------------------------- the module's side


def _recv_exact(conn, size):
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def run_in_worker(module_fqn, modlib, params, profile, environ=None):
    """Run the module in the worker; returns its exit status. Raises Unavailable if no worker took it."""
    environ = os.environ if environ is None else environ
    directory = runtime_dir(environ)
    key = worker_key(modlib)
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        try:
            conn.connect(os.path.join(directory, key + ".sock"))
        except OSError as e:
            conn.close()
            start_worker(directory, key, modlib)
            raise Unavailable("no worker yet") from e
        sys.stdout.flush()
        sys.stderr.flush()
        _hand_over(conn, {"module_fqn": module_fqn, "modlib": modlib, "params": params, "profile": profile,
                          "env": environ, "cwd": os.getcwd()}, [1, 2])
        status = _recv_exact(conn, STATUS.size)
    except OSError as e:
        raise Unavailable(f"worker connection failed: {e}") from e
    finally:
        conn.close()
    if status is None:
        # The module started in the worker but its child vanished: say so instead of an empty answer.
        _write_failure(WORKER_STOPPED)
        return 1
    return STATUS.unpack(status)[0]


def run_from_controller(module_fqn, roots, key_paths, params, profile, environ, cwd, executable):
    """Hand a run to the worker straight from the controller (connection local): no AnsiballZ process.

    ``roots`` are where the controller found this collection (first), amazon.aws and ansible; ``key_paths``
    maps KEY_FILES to those installed files. Starts a worker from those files when none is up (and waits
    for it: quicker than a module process importing the same code from a zip). Returns ``(status, stdout,
    stderr)`` as the module's process would have produced them. Raises Unavailable when no worker took the
    run: nothing ran, the caller runs the module the usual way.
    """
    directory = runtime_dir(environ)
    key = installed_worker_key(key_paths, executable)
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    pipes = []
    try:
        try:
            _connect_starting_if_needed(conn, directory, key, roots, executable)
            out_read, out_write = os.pipe()
            err_read, err_write = os.pipe()
            pipes = [out_read, err_read]
            try:
                _hand_over(conn, {"module_fqn": module_fqn, "roots": list(roots), "params": params,
                                  "profile": profile, "env": environ, "cwd": cwd}, [out_write, err_write])
            finally:
                os.close(out_write)
                os.close(err_write)
        except OSError as e:
            raise Unavailable(f"no worker took the run: {e}") from e
        # The module runs from here on: whatever happens, it is not run a second time.
        return _collect(conn, out_read, err_read)
    finally:
        conn.close()
        for fd in pipes:
            os.close(fd)


def _hand_over(conn, request, fds):
    """Send a run (its stdout and stderr as ``fds``) and wait until the worker's child has taken it."""
    body = json.dumps({**request, "params": request["params"].decode("utf-8", "surrogateescape"),
                       "env": dict(request["env"]), "umask": _current_umask()}).encode()
    conn.sendmsg([HEADER.pack(len(body))], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))])
    conn.sendall(body)
    if _recv_exact(conn, 1) != STARTED:
        raise Unavailable("the worker did not take the run")


def _collect(conn, out_read, err_read):
    """Read the module's stdout and stderr until it exits, and its exit status."""
    import selectors  # pylint: disable=import-outside-toplevel

    output = {out_read: b"", err_read: b""}
    answer = b""
    try:
        with selectors.DefaultSelector() as selector:
            for fd in (out_read, err_read):
                selector.register(fd, selectors.EVENT_READ)
            selector.register(conn, selectors.EVENT_READ)
            open_streams = 3
            while open_streams:
                for item, _events in selector.select():
                    chunk = conn.recv(STATUS.size) if item.fileobj is conn else os.read(item.fd, 65536)
                    if not chunk:
                        selector.unregister(item.fileobj)
                        open_streams -= 1
                    elif item.fileobj is conn:
                        answer += chunk
                    else:
                        output[item.fd] += chunk
    except OSError:
        answer = b""
    stdout = output[out_read].decode("utf-8", "surrogateescape")
    stderr = output[err_read].decode("utf-8", "replace")
    if len(answer) != STATUS.size:
        return 1, stdout if stdout.strip() else _failure(WORKER_STOPPED), stderr
    return STATUS.unpack(answer)[0], stdout, stderr


def _failure(message):
    """A module result (what the controller reads from stdout) saying the run failed."""
    return json.dumps({"failed": True, "msg": message}) + "\n"


def _write_failure(message):
    sys.stdout.write(_failure(message))
    sys.stdout.flush()


def _current_umask():
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _held(directory, key):
    """Whether a worker for ``key`` holds its lock (starting or running)."""
    import fcntl  # pylint: disable=import-outside-toplevel

    with open(os.path.join(directory, key + ".lock"), "a", encoding="utf-8") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.flock(lock, fcntl.LOCK_UN)
    return False


def start_worker(directory, key, modlib):
    """Start a detached worker for ``key`` from this AnsiballZ run's zip unless one is starting or running."""
    import shutil  # pylint: disable=import-outside-toplevel

    if _held(directory, key):
        return
    # A copy of this run's zip, the worker's own: the AnsiballZ temporary directory goes away with this process.
    archive = os.path.join(directory, f"{key}-{os.getpid()}.zip")
    shutil.copyfile(modlib, archive)
    _spawn(sys.executable, directory, key, archive, [archive])


def start_installed_worker(directory, key, roots, executable):
    """Start a detached worker for ``key`` from the installed files under ``roots`` (the controller's side)."""
    if not _held(directory, key):
        _spawn(executable, directory, key, "", roots)


def _spawn(executable, directory, key, archive, code_paths):
    import subprocess  # pylint: disable=import-outside-toplevel

    boot = ("import sys; sys.path[:0] = [path for path in sys.argv[4:] if path not in sys.path]; "
            "from ansible_collections.llmhub.eks.plugins.module_utils import turbo; "
            "turbo.serve(sys.argv[1], sys.argv[2], sys.argv[3])")
    subprocess.Popen(  # pylint: disable=consider-using-with
        [executable, "-c", boot, archive, directory, key, *code_paths],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        close_fds=True, start_new_session=True, cwd="/",
    )


def _connect_starting_if_needed(conn, directory, key, roots, executable):
    """Connect to the worker for ``key``, starting one from the installed files and waiting for it if needed."""
    socket_path = os.path.join(directory, key + ".sock")
    try:
        conn.connect(socket_path)
        return
    except OSError:
        if os.path.exists(os.path.join(directory, key + ".broken")):
            raise Unavailable("the worker for this code cannot start (see its log)") from None
    start_installed_worker(directory, key, roots, executable)
    started = time.monotonic()
    while True:
        time.sleep(STARTUP_POLL_SECONDS)
        try:
            conn.connect(socket_path)
            return
        except OSError as e:
            waited = time.monotonic() - started
            if waited > STARTUP_SECONDS or (waited > STARTUP_GRACE_SECONDS and not _held(directory, key)):
                raise Unavailable(f"no worker came up: {e}") from e


def _hand_over_if_module_main():
    """Called on import: hand an AnsiballZ run of one of our modules to the worker, exit with its status."""
    if _IN_WORKER or not enabled():
        return
    main = sys.modules.get("__main__")
    module_fqn = getattr(main, "_module_fqn", None)
    modlib = getattr(main, "_modlib_path", None)
    basic = sys.modules.get("ansible.module_utils.basic")
    params = getattr(basic, "_ANSIBLE_ARGS", None)
    if not (isinstance(module_fqn, str) and module_fqn.startswith(COLLECTION_MODULES) and modlib and params):
        return
    try:
        status = run_in_worker(module_fqn, modlib, params, getattr(basic, "_ANSIBLE_PROFILE", None))
    except (Unavailable, OSError, KeyError, ValueError):
        return
    sys.stdout.flush()
    raise SystemExit(status)


# --------------------------------------------------------------------------- the worker


def _memoize_botocore_files():
    """Parse each botocore data file once per worker (botocore caches per session; modules make many sessions)."""
    from botocore import loaders  # pylint: disable=import-outside-toplevel

    original = loaders.JSONFileLoader.load_file
    parsed = {}

    def load_file(self, file_path):
        if file_path not in parsed:
            parsed[file_path] = original(self, file_path)
        return parsed[file_path]

    loaders.JSONFileLoader.load_file = load_file


def _preload():
    import importlib  # pylint: disable=import-outside-toplevel

    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    _memoize_botocore_files()


def _freeze_namespace_paths():
    """Installed collections are namespace packages (no ``__init__.py``): give the imported ones plain lists of
    directories, as in a worker started from a zip, so that each run can put its own code first."""
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__path__", None)
        if name.startswith("ansible_collections") and path is not None and not isinstance(path, list):
            module.__path__ = list(path)


def _warm(service):
    """Parse one service's botocore models (and the endpoint data) into the memo the children inherit."""
    import boto3  # pylint: disable=import-outside-toplevel

    boto3.session.Session(region_name="us-east-1").client(service, aws_access_key_id="warm",
                                                          aws_secret_access_key="warm")


def serve(archive, directory, key):
    """Worker main loop: accept runs, fork a child per run, exit when idle."""
    import fcntl  # pylint: disable=import-outside-toplevel
    import select  # pylint: disable=import-outside-toplevel

    global _IN_WORKER  # pylint: disable=global-statement
    _IN_WORKER = True
    lock = open(os.path.join(directory, key + ".lock"), "a", encoding="utf-8")  # pylint: disable=consider-using-with
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        _remove(archive)  # another worker for this key is up
        return
    socket_path = os.path.join(directory, key + ".sock")
    log_path = os.path.join(directory, key + ".log")
    if os.path.exists(log_path) and os.path.getsize(log_path) > LOG_LIMIT_BYTES:
        os.unlink(log_path)
    log = open(log_path, "a", encoding="utf-8")  # pylint: disable=consider-using-with
    broken_path = os.path.join(directory, key + ".broken")
    try:
        _preload()
    except Exception as e:  # pylint: disable=broad-exception-caught
        log.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} worker {os.getpid()} cannot preload: {e!r}\n")
        log.close()
        with open(broken_path, "w", encoding="utf-8"):
            pass  # the controller stops starting workers for this code
        _remove(archive)
        lock.close()
        return
    _remove(broken_path)
    if not archive:
        _freeze_namespace_paths()
    _remove(socket_path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(socket_path)
    os.chmod(socket_path, 0o600)
    listener.listen(LISTEN_BACKLOG)
    log.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} worker {os.getpid()} ready\n")
    log.flush()
    idle = idle_seconds()
    children = set()
    last_activity = time.monotonic()
    # Listening starts once the imports are done; the service models are parsed one at a time while no run
    # is waiting (a run that comes earlier parses what it needs itself, as a module in its own process would).
    cold_services = list(WARM_SERVICES)
    try:
        while True:
            ready, _w, _x = select.select([listener], [], [], 0 if cold_services else 0.5)
            _reap(children)
            if not ready and cold_services:
                try:
                    _warm(cold_services.pop(0))
                except Exception:  # pylint: disable=broad-exception-caught
                    pass  # a run needing it parses it itself
                continue
            if ready:
                conn, _address = listener.accept()
                pid = os.fork()
                if pid == 0:
                    listener.close()
                    _child(conn, log)
                conn.close()
                children.add(pid)
                last_activity = time.monotonic()
            elif children:
                last_activity = time.monotonic()
            elif time.monotonic() - last_activity > idle:
                break
    finally:
        listener.close()
        _remove(socket_path)
        _remove(archive)
        log.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} worker {os.getpid()} idle, stopped\n")
        log.close()
        lock.close()


def _remove(path):
    try:
        os.unlink(path)
    except OSError:
        pass


def _reap(children):
    for pid in list(children):
        try:
            done, _status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            done = pid
        if done:
            children.discard(pid)


def _receive_request(conn):
    fds = array.array("i")
    header, ancillary, _flags, _address = conn.recvmsg(HEADER.size, socket.CMSG_LEN(2 * fds.itemsize))
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[:len(data) - (len(data) % fds.itemsize)])
    if len(header) != HEADER.size or len(fds) != 2:
        raise OSError("malformed request")
    body = _recv_exact(conn, HEADER.unpack(header)[0])
    if body is None:
        raise OSError("truncated request")
    return json.loads(body), list(fds)


def _extend_package_paths(modlib, own=True):
    """Let the preloaded packages find modules under ``modlib`` (a zip or a directory): ours first (fresh code),
    the others after. ``own=False`` leaves this collection's packages alone (a root the controller took only
    other code from)."""
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__path__", None)
        # Namespace packages (not a list) follow sys.path by themselves.
        if not isinstance(path, list) or not (name == "ansible" or name.startswith(("ansible.", "ansible_collections"))):
            continue
        entry = os.path.join(modlib, *name.split("."))
        if entry in path:
            continue
        ours = name.startswith(OWN_PACKAGE) or OWN_PACKAGE.startswith(name + ".")
        if ours and not own and name != "ansible_collections":
            continue
        if own and ours:
            path.insert(0, entry)
        else:
            path.append(entry)


def _use_installed(roots):
    """Code from the controller's installed files: this collection from ``roots[0]``, the rest after the zip."""
    import importlib  # pylint: disable=import-outside-toplevel

    for index, root in enumerate(roots):
        sys.path.append(root)
        _extend_package_paths(root, own=index == 0)
    # The modules package is not preloaded: import it, then put the installed directory ahead of the zip's copy.
    importlib.import_module(COLLECTION_MODULES[:-1])
    _extend_package_paths(roots[0])


def _child(conn, log):
    """In the forked child: take the caller's pipes, environment and directory, run the module, report."""
    status = 1
    started = time.monotonic()
    request = {}
    try:
        request, fds = _receive_request(conn)
        os.dup2(fds[0], 1)
        os.dup2(fds[1], 2)
        for fd in fds:
            os.close(fd)
        os.environ.clear()
        os.environ.update(request["env"])
        os.chdir(request["cwd"])
        os.umask(request["umask"])
        conn.sendall(STARTED)
    except Exception:  # pylint: disable=broad-exception-caught
        os._exit(1)  # nothing ran: the caller runs the module itself
    _exit_with_caller(conn)
    try:
        status = _run_module(request)
    except Exception as e:  # pylint: disable=broad-exception-caught
        _write_failure(f"The llmhub.eks turbo worker could not run the module: {e!r}; set LLMHUB_TURBO=0 to run "
                       "modules without the worker.")
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
            handed_by = "the controller" if request.get("roots") else "AnsiballZ"
            log.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} ran {request.get('module_fqn')} for {handed_by} in"
                      f" process {os.getpid()}: exit {status} after {time.monotonic() - started:.2f}s\n")
            log.flush()
            conn.sendall(STATUS.pack(status))
        finally:
            os._exit(0)


def _exit_with_caller(conn):
    """Stop the run if the module's own process goes away (task timeout, Ctrl-C): it never sends after the request."""
    import threading  # pylint: disable=import-outside-toplevel

    def watch():
        try:
            conn.recv(1)
        except OSError:
            pass
        os._exit(1)

    threading.Thread(target=watch, name="caller-watch", daemon=True).start()


def _run_module(request):
    from ansible.module_utils._internal._ansiballz import _loader  # pylint: disable=import-outside-toplevel

    if request.get("roots"):
        modlib = request["roots"][0]
        _use_installed(request["roots"])
    else:
        modlib = request["modlib"]
        sys.path.insert(0, modlib)
        _extend_package_paths(modlib)
    try:
        _loader.run_module(json_params=request["params"].encode("utf-8", "surrogateescape"),
                           profile=request["profile"], module_fqn=request["module_fqn"], modlib_path=modlib,
                           extensions={})
    except SystemExit as e:
        if e.code is None:
            return 0
        return e.code if isinstance(e.code, int) else 1
    return 1


_hand_over_if_module_main()
