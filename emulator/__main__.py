"""Command line: ``python -m emulator serve`` / ``python -m emulator run -- CMD``.

``serve`` runs the emulator in the foreground until SIGINT/SIGTERM and writes
its endpoint to ``--endpoint-file`` once it accepts connections. ``run``
starts it, runs CMD with the environment pointing every AWS SDK at it
(``AWS_ENDPOINT_URL``, fake credentials, region), stops it and exits with
CMD's status.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

from . import MotoVersionError, check_moto_version
from .config import FAULT_KINDS
from .profiles import BUILTIN_PROFILES


def _add_server_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port (default 0: a free one)")
    parser.add_argument("--profile", default="instant",
                        help=f"latency profile: {', '.join(BUILTIN_PROFILES)} or a JSON file")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every profile duration")
    parser.add_argument("--fault-rate", type=float, default=0.0,
                        help="share of AWS calls answered with an injected fault (0..1)")
    parser.add_argument("--faults", default=",".join(FAULT_KINDS),
                        help="comma-separated fault kinds: throttle,5xx")
    parser.add_argument("--seed", type=int, default=None, help="random seed for faults and latency")
    parser.add_argument("--endpoint-file", type=Path, default=None,
                        help="write the endpoint URL to this file once serving")


def emulator_environment(url: str, base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment that sends boto3/botocore (and so Ansible) to the emulator."""
    env = dict(os.environ if base is None else base)
    env.update({
        "AWS_ENDPOINT_URL": url,
        "LLMHUB_EMULATOR_URL": url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",  # noqa: S105 - emulator's fake credentials
        "AWS_DEFAULT_REGION": env.get("AWS_DEFAULT_REGION", "us-east-1"),
        "AWS_REGION": env.get("AWS_REGION", env.get("AWS_DEFAULT_REGION", "us-east-1")),
    })
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        env.pop(name, None)
    return env


def _server(args: argparse.Namespace):
    from .server import EmulatorServer

    return EmulatorServer(host=args.host, port=args.port, profile=args.profile, scale=args.scale,
                          fault_rate=args.fault_rate, faults=args.faults.split(","), seed=args.seed)


def _write_endpoint(path: Path, url: str) -> None:
    """Write ``url`` to ``path`` atomically (a poller never reads half a URL)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(url + "\n", encoding="utf-8")
    os.replace(tmp, path)


def cmd_serve(args: argparse.Namespace) -> int:
    server = _server(args).start()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        if args.endpoint_file:
            _write_endpoint(args.endpoint_file, server.url)
        print(f"AWS emulator listening on {server.url} (profile {args.profile})", flush=True)
        while not stop.wait(1.0):
            pass
    finally:
        server.stop()
        if args.endpoint_file:
            args.endpoint_file.unlink(missing_ok=True)
        print("AWS emulator stopped", flush=True)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        print("emulator run: nothing to run (usage: python -m emulator run [options] -- CMD ...)",
              file=sys.stderr)
        return 2
    if shutil.which(command[0]) is None:
        print(f"emulator run: cannot run {command[0]!r}: command not found or not executable", file=sys.stderr)
        return 127
    with _server(args) as server:
        try:
            if args.endpoint_file:
                _write_endpoint(args.endpoint_file, server.url)
            print(f"AWS emulator listening on {server.url} (profile {args.profile})", flush=True)
            status = _run_child(command, emulator_environment(server.url))
        finally:
            if args.endpoint_file:
                args.endpoint_file.unlink(missing_ok=True)
    print("AWS emulator stopped", flush=True)
    return status


def _run_child(command: list[str], env: dict[str, str]) -> int:
    """Run ``command`` and return its exit status.

    SIGTERM is forwarded to it; SIGINT is left to it (Ctrl-C already reaches
    the whole foreground process group), so the emulator outlives the child
    and stops after it.
    """
    try:
        child = subprocess.Popen(command, env=env)  # noqa: S603
    except OSError as exc:
        print(f"emulator run: cannot run {command[0]!r}: {exc.strerror or exc}", file=sys.stderr)
        return 127 if isinstance(exc, FileNotFoundError) else 126

    def forward(signum: int, _frame: object) -> None:
        if child.poll() is None:
            child.send_signal(signum)

    previous = {signal.SIGINT: signal.signal(signal.SIGINT, signal.SIG_IGN),
                signal.SIGTERM: signal.signal(signal.SIGTERM, forward)}
    try:
        status = child.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    # Like a shell: a child killed by signal N exits 128 + N.
    return 128 - status if status < 0 else status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m emulator", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="action", required=True)
    serve = sub.add_parser("serve", help="run the emulator in the foreground")
    _add_server_options(serve)
    serve.set_defaults(func=cmd_serve)
    run = sub.add_parser("run", help="run a command against a fresh emulator")
    _add_server_options(run)
    run.add_argument("command", nargs=argparse.REMAINDER, help="-- command and arguments")
    run.set_defaults(func=cmd_run)
    args = parser.parse_args(argv)
    try:
        check_moto_version()  # before importing anything of moto
        return args.func(args)
    except MotoVersionError as exc:
        print(f"python -m emulator: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:  # bad profile, scale, fault rate
        parser.error(str(exc))
    return 2


if __name__ == "__main__":
    sys.exit(main())
