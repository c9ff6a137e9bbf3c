"""The emulator as a WSGI server in a background thread."""

from __future__ import annotations

import os
import threading
from typing import Any, Iterable

os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")

from werkzeug.serving import BaseWSGIServer, make_server  # noqa: E402

from .config import FAULT_KINDS, EmulatorConfig  # noqa: E402
from .lifecycle import TRACKER  # noqa: E402


def install_patches() -> None:
    """Patch moto's models once: timed lifecycles and EKS fields."""
    from . import eks_cluster_patches, lifecycle

    lifecycle.install_ec2_patches()
    eks_cluster_patches.install()


def _QuietRequestHandler(base: type) -> type:  # noqa: N802 - a class factory
    """``base`` without the one-line-per-request access log."""

    class Quiet(base):  # type: ignore[misc, valid-type]
        def log_request(self, *args: Any, **kwargs: Any) -> None:
            pass

    return Quiet


class EmulatorServer:
    """moto + emulator middleware served on ``host:port`` (0 = a free port).

    Usable as a context manager; :attr:`url` is the endpoint to give boto3
    (``endpoint_url``) or Ansible (``AWS_ENDPOINT_URL``).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        profile: str | dict[str, Any] = "instant",
        scale: float = 1.0,
        fault_rate: float = 0.0,
        faults: Iterable[str] = FAULT_KINDS,
        seed: int | None = None,
        verbose: bool = False,
    ) -> None:
        self.host = host
        self.verbose = verbose
        self.port = port
        self.config = EmulatorConfig(profile=profile, scale=scale, fault_rate=fault_rate,
                                     faults=faults, seed=seed)
        self.app: Any = None
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("emulator not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> EmulatorServer:
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )

        from .middleware import EmulatorMiddleware

        install_patches()
        TRACKER.duration = self.config.seconds
        self.app = EmulatorMiddleware(DomainDispatcherApplication(create_backend_app), self.config)
        handler = MotoRequestHandler if self.verbose else _QuietRequestHandler(MotoRequestHandler)
        self._server = make_server(self.host, self.port, self.app, threaded=True,
                                   request_handler=handler)
        # A short poll interval makes stop() (shutdown) return quickly.
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="aws-emulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = None
        self._thread = None

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
