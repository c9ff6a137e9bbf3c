"""WSGI middleware in front of moto: control API, request log, faults, extra APIs.

For every AWS request it classifies (service, operation), sleeps the
profile's per-call latency, possibly answers with an injected fault (before
moto sees the request, so a faulted mutating call has no effect), then hands
the request to one of the emulator's own handlers (DLM, EKS add-ons, access
entries, updates...) or to moto. Requests under ``/_emulator/`` are the
control API, and ``/_emulator/charts/`` the chart repository of the stand-in
Helm charts (:mod:`emulator.charts.repo`); they are never faulted nor logged.

A call nobody serves never gets an HTML page: an operation moto does not
implement (``NotImplementedError``, Flask's "404 Not Found" page when moto
has no route for it, no moto backend for the service) is answered
``NotImplemented`` (501), any other exception ``InternalFailure`` (500,
traceback in the log), both in the call's protocol.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from typing import Any, Callable, Iterable

from . import dlm, eks_access, eks_addons, eks_cluster_patches, eks_versions, guardduty, lambda_runtime, service_quotas
from .charts.repo import REPOSITORY as CHART_REPOSITORY
from .config import EmulatorConfig
from .lifecycle import TRACKER
from .protocols import ApiError, Call, Response, classify, error_response, fault_response, internal_failure_response
from .test_controls import CONTROLS as TEST_CONTROLS
from .protocols import json_response, not_implemented_response, parse_rest_json_input, read_body

CONTROL_PREFIX = "/_emulator/"
LOG = logging.getLogger("emulator")

Handler = Callable[[Call, dict[str, Any]], dict[str, Any]]

HANDLERS: dict[tuple[str, str], Handler] = {
    **{("dlm", op): handler for op, handler in dlm.HANDLERS.items()},
    **{("eks", op): handler for op, handler in eks_addons.HANDLERS.items()},
    **{("eks", op): handler for op, handler in eks_access.HANDLERS.items()},
    **{("eks", op): handler for op, handler in eks_cluster_patches.HANDLERS.items()},
    **{("eks", op): handler for op, handler in eks_versions.HANDLERS.items()},
    **{("guardduty", op): handler for op, handler in guardduty.HANDLERS.items()},
    **{("servicequotas", op): handler for op, handler in service_quotas.HANDLERS.items()},
}

# How AWS refuses a call signed for a Region the account has not enabled, per protocol.
_DISABLED_REGION_ERRORS = {
    "ec2": (401, "AuthFailure", "AWS was not able to validate the provided access credentials"),
    "query": (403, "InvalidClientTokenId", "The security token included in the request is invalid."),
    "json": (400, "UnrecognizedClientException", "The security token included in the request is invalid."),
    "rest-json": (403, "UnrecognizedClientException", "The security token included in the request is invalid."),
    "rest-xml": (403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records."),
    "smithy-rpc-v2-cbor": (400, "UnrecognizedClientException", "The security token included in the request is invalid."),
}


def test_control_refusal(call: Call, environ: dict[str, Any]) -> Response | None:
    """The answer a test control imposes on this call (a disabled Region, Service Quotas denied), or None."""
    if TEST_CONTROLS.region_disabled(call.region):
        status, code, message = _DISABLED_REGION_ERRORS.get(call.protocol, _DISABLED_REGION_ERRORS["rest-json"])
        return error_response(call.protocol, status, code, message, model=call.model)
    if call.service == "servicequotas":
        call.account = account_id(call, environ)
        refused = service_quotas.refusal(call)
        if refused is not None:
            return error_response(call.protocol, refused.status, refused.code, refused.message, model=call.model)
    return None


class RequestLog:
    """In-order record of the AWS calls the emulator answered."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[dict[str, Any]] = []

    def add(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._entries.append(entry)

    def entries(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def account_id(call: Call, environ: dict[str, Any]) -> str:
    """The AWS account moto would use for this request."""
    if "MOTO_ACCOUNT_ID" in os.environ:
        return os.environ["MOTO_ACCOUNT_ID"]
    if environ.get("HTTP_X_MOTO_ACCOUNT_ID"):
        return environ["HTTP_X_MOTO_ACCOUNT_ID"]
    from moto.iam.models import get_account_id_from

    return get_account_id_from(call.access_key)


def reset_state() -> None:
    """Reset moto's backends and the emulator's own stores."""
    from moto.moto_api._internal.models import moto_api_backend

    from .k8s.clusters import REGISTRY

    REGISTRY.stop_all()  # the clusters' Kubernetes APIs go with them
    moto_api_backend.reset()
    dlm.STORE.reset()
    TRACKER.reset()
    TEST_CONTROLS.reset()  # applied quotas, offerings, enabled Regions are account state


def settle_state() -> int:
    """Let every scheduled transition happen now, and the Kubernetes APIs follow at once.

    Node replacements of node group version updates run to their end first (``eks_bridge.settle_rollouts``).
    """
    from .k8s.clusters import REGISTRY
    from .k8s.eks_bridge import settle_rollouts

    settled = TRACKER.settle()
    REGISTRY.reconcile()  # the timers scheduled for the old settle times fire later and find nothing to do
    if settle_rollouts():  # node replacements end (drains blocked by a budget time out), then their updates settle
        settled += TRACKER.settle()
        REGISTRY.reconcile()
    return settled


class EmulatorMiddleware:
    """The WSGI application served by :class:`emulator.server.EmulatorServer`."""

    def __init__(self, moto_app: Callable[..., Iterable[bytes]], config: EmulatorConfig):
        self.moto_app = moto_app
        self.config = config
        self.log = RequestLog()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "").startswith(CONTROL_PREFIX):
            return self._send(start_response, self.control(environ))
        started, ts = time.monotonic(), time.time()
        # Lifecycle durations follow the settings of the server answering the
        # call (several in-process servers share moto's models and TRACKER).
        TRACKER.duration = self.config.seconds
        lambda_runtime.note_request(environ)  # a Lambda invoked by this call calls back this address
        call = classify(environ)
        delay = self.config.api_delay()
        if delay:
            time.sleep(delay)
        fault = self.config.draw_fault()
        handler = HANDLERS.get((call.service, call.operation))
        status_holder: list[int] = []
        try:
            refusal = None if fault else test_control_refusal(call, environ)
            if fault:
                result = self._send(start_response, fault_response(call, fault), status_holder)
            elif refusal is not None:
                result = self._send(start_response, refusal, status_holder)
            elif handler is not None:
                result = self._send(start_response, self._run_handler(handler, call, environ), status_holder)
            else:
                result = self._run_moto(call, environ, start_response, status_holder)
        except NotImplementedError as exc:  # moto: "The <action> action has not been implemented", or a part of it
            detail = "" if str(exc).endswith("action has not been implemented") else str(exc)
            LOG.warning("%s is not implemented%s", call.name, f" ({detail})" if detail else "")
            result = self._send(start_response, not_implemented_response(call, detail), status_holder)
        except Exception as exc:
            LOG.exception("%s failed", call.name)
            result = self._send(start_response, internal_failure_response(call, f"{type(exc).__name__}: {exc}"),
                                status_holder)
        self.log.add({
            "ts": ts,
            "service": call.service,
            "operation": call.operation,
            "status": status_holder[-1] if status_holder else None,
            "duration_ms": round((time.monotonic() - started) * 1000, 3),
            "fault": fault,
        })
        return result

    @staticmethod
    def _send(start_response: Callable[..., Any], response: Response,
              status_holder: list[int] | None = None) -> list[bytes]:
        status, headers, body = response
        if status_holder is not None:
            status_holder.append(status)
        reason = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 409: "Conflict",
                  429: "Too Many Requests", 500: "Internal Server Error", 501: "Not Implemented",
                  503: "Service Unavailable"}.get(status, "Status")
        start_response(f"{status} {reason}", headers + [("Content-Length", str(len(body)))])
        return [body]

    def _run_moto(self, call: Call, environ: dict[str, Any], start_response: Callable[..., Any],
                  status_holder: list[int]) -> Iterable[bytes]:
        """moto's answer, but an HTML error page of Flask (no route...) becomes an AWS error."""
        held: list[Any] = []  # an error answered as text/html: status, headers, exc_info, written chunks

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            code = int(status.split()[0])
            content_type = next((value for name, value in headers if name.lower() == "content-type"), "")
            if code >= 400 and content_type.startswith("text/html"):
                held[:] = [status, headers, exc_info, []]
                return held[3].append
            status_holder.append(code)
            return start_response(status, headers, exc_info)

        result = self.moto_app(environ, capture)
        if not held:
            return result
        status, headers, exc_info, chunks = held
        try:
            body = b"".join(chunks) + b"".join(result)
        finally:
            if hasattr(result, "close"):
                result.close()
        if not body.lstrip()[:15].lower().startswith(b"<!doctype html"):  # moto's own error, typed text/html
            status_holder.append(int(status.split()[0]))
            start_response(status, headers, exc_info)
            return [body]
        if int(status.split()[0]) in (404, 405):  # Flask: moto has no route for this request
            request = f"{environ.get('REQUEST_METHOD')} {environ.get('PATH_INFO')}"
            raise NotImplementedError(request if call.operation == "Unknown" else "")
        raise RuntimeError(f"moto answered {status} with an HTML page")

    def _run_handler(self, handler: Handler, call: Call, environ: dict[str, Any]) -> Response:
        call.account = account_id(call, environ)
        try:
            params = parse_rest_json_input(call, environ)
            payload = handler(call, params)
        except ApiError as exc:
            return error_response(call.protocol, exc.status, exc.code, exc.message,
                                  model=call.model, fields=exc.fields)
        status = call.operation_model.http.get("responseCode", 200)
        return json_response(status, payload)

    # -- control API -------------------------------------------------------

    def control(self, environ: dict[str, Any]) -> Response:
        """Serve ``/_emulator/{config,requests,events,reset,test-controls}`` and the chart repository ``/_emulator/charts/``."""
        path = environ["PATH_INFO"][len(CONTROL_PREFIX):].strip("/")
        method = environ.get("REQUEST_METHOD", "GET").upper()
        if path == "charts" or path.startswith("charts/"):
            return CHART_REPOSITORY.serve(method, path[len("charts"):].lstrip("/"), environ)
        if (path, method) == ("config", "GET"):
            return self._json(200, self.config.as_dict())
        if (path, method) == ("config", "POST"):
            try:
                changes = json.loads(read_body(environ) or b"{}")
                if not isinstance(changes, dict):
                    raise ValueError("body must be a JSON object")
                self.config.update(**changes)
            except (ValueError, TypeError) as exc:
                return self._json(400, {"error": str(exc)})
            return self._json(200, self.config.as_dict())
        if (path, method) == ("requests", "GET"):
            return self._json(200, self.log.entries())
        if (path, method) == ("requests", "DELETE"):
            self.log.clear()
            return self._json(200, {"cleared": True})
        if path == "test-controls" and method in ("GET", "POST", "DELETE"):
            if method == "DELETE":
                TEST_CONTROLS.reset()
            elif method == "POST":
                try:
                    changes = json.loads(read_body(environ) or b"{}")
                    if not isinstance(changes, dict):
                        raise ValueError("body must be a JSON object")
                    TEST_CONTROLS.update(**changes)
                except (ValueError, TypeError) as exc:
                    return self._json(400, {"error": str(exc)})
            return self._json(200, TEST_CONTROLS.as_dict())
        if (path, method) == ("events", "GET"):
            return self._json(200, TRACKER.events())
        if (path, method) == ("settle", "POST"):
            return self._json(200, {"settled": settle_state()})
        if (path, method) == ("reset", "POST"):
            reset_state()
            self.log.clear()
            return self._json(200, {"reset": True})
        return self._json(404, {"error": f"no control endpoint {method} /_emulator/{path}"})

    @staticmethod
    def _json(status: int, payload: Any) -> Response:
        return status, [("Content-Type", "application/json")], json.dumps(payload).encode()
