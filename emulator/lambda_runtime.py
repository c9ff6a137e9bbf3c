"""A Lambda runtime for Python functions, without containers.

moto runs a Lambda function's code in a Docker container; there is no Docker
here. :func:`install` replaces ``LambdaFunction._invoke_lambda`` for the
``python3.*`` runtimes: the function's deployment package (its ``.zip``) is
extracted into a temporary task root and its handler runs in a child Python
process (this interpreter, which has boto3 as the Lambda Python runtime does),
with the environment Lambda gives a function:

* the function's own ``Environment.Variables``;
* ``_HANDLER``, ``AWS_LAMBDA_FUNCTION_NAME``/``_VERSION``/``_MEMORY_SIZE``,
  ``AWS_LAMBDA_FUNCTION_TIMEOUT``, ``AWS_REGION``/``AWS_DEFAULT_REGION``,
  ``AWS_EXECUTION_ENV``, ``LAMBDA_TASK_ROOT``;
* credentials (placeholder keys: the emulator does not sign-check them) and
  ``AWS_ENDPOINT_URL``, the address of the emulator that received the
  invocation, so the function's boto3 calls come back here, as moto's
  containers do with ``MOTO_HTTP_ENDPOINT``.

The handler is called as ``handler(event, context)``; its return value is the
payload (JSON). An exception gives Lambda's error payload
(``errorMessage``, ``errorType``, ``stackTrace``) and the ``X-Amz-Function-Error``
header; running longer than the function's ``Timeout`` ends the process with
Lambda's ``Task timed out after N.NN seconds``. What the function prints goes to
its CloudWatch log group ``/aws/lambda/<name>`` between Lambda's ``START``,
``END`` and ``REPORT`` lines. Functions of other runtimes keep moto's
behaviour (they need Docker).

The callers that matter here are Secrets Manager's rotations: moto's
``RotateSecret`` invokes the rotation function's four steps synchronously
(real Secrets Manager does it asynchronously), and the function calls
``PutSecretValue``/``UpdateSecretVersionStage`` back on the emulator.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from typing import Any

# The emulator address that received the request being answered (an invocation
# runs in that request's thread): set by the middleware for every AWS call.
_REQUEST = threading.local()

# Runs in the child process: import the handler, call it, write the outcome as
# JSON to the file named by _LLMHUB_RESULT (stdout and stderr are the logs).
BOOTSTRAP = r"""
import importlib, json, os, sys, traceback

class LambdaContext:
    def __init__(self):
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = os.environ["AWS_LAMBDA_FUNCTION_VERSION"]
        self.memory_limit_in_mb = os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]
        self.invoked_function_arn = os.environ["_LLMHUB_FUNCTION_ARN"]
        self.aws_request_id = os.environ["_LLMHUB_REQUEST_ID"]
        self.log_group_name = "/aws/lambda/" + self.function_name
        self._deadline = float(os.environ["_LLMHUB_DEADLINE"])

    def get_remaining_time_in_millis(self):
        import time
        return max(int((self._deadline - time.time()) * 1000), 0)

sys.path.insert(0, os.environ["LAMBDA_TASK_ROOT"])
with open(os.environ["_LLMHUB_EVENT"]) as stream:
    event = json.load(stream)
try:
    module_name, function_name = os.environ["_HANDLER"].rsplit(".", 1)
    handler = getattr(importlib.import_module(module_name), function_name)
    outcome = {"payload": handler(event, LambdaContext())}
except Exception as exc:
    outcome = {"error": {"errorMessage": str(exc), "errorType": type(exc).__name__,
                         "stackTrace": traceback.format_tb(exc.__traceback__)}}
    traceback.print_exc()
with open(os.environ["_LLMHUB_RESULT"], "w") as stream:
    json.dump(outcome, stream, default=str)
"""


def note_request(environ: dict[str, Any]) -> None:
    """Remember which emulator address the current request came to (called by the middleware)."""
    host = environ.get("HTTP_HOST") or f"{environ.get('SERVER_NAME', '127.0.0.1')}:{environ.get('SERVER_PORT', '')}"
    _REQUEST.endpoint = f"http://{host}"


def current_endpoint() -> str | None:
    """The emulator address of the request being answered in this thread, if any."""
    return getattr(_REQUEST, "endpoint", None)


def runs_here(function: Any) -> bool:
    """True for a zip-packaged function of a Python runtime (the ones this module runs)."""
    return str(getattr(function, "run_time", "") or "").startswith("python") and bool(
        getattr(function, "code_bytes", b""))


def invoke(function: Any, event: Any) -> tuple[str, bool, str]:
    """Run ``function`` on ``event``: ``(payload JSON, errored, log text)``, as ``_invoke_lambda`` answers."""
    request_id = str(uuid.uuid4())
    timeout = float(getattr(function, "timeout", 3) or 3)
    version = str(getattr(function, "version", "$LATEST"))
    with tempfile.TemporaryDirectory(prefix="lambda-task-") as root:
        task_root = os.path.join(root, "task")
        with zipfile.ZipFile(io.BytesIO(function.code_bytes)) as package:
            package.extractall(task_root)
        event_path, result_path = os.path.join(root, "event.json"), os.path.join(root, "result.json")
        with open(event_path, "w", encoding="utf-8") as stream:
            json.dump(event if event is not None else {}, stream)
        started = time.time()
        environment = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "TZ": ":UTC",
            "PYTHONDONTWRITEBYTECODE": "1",
            "AWS_ACCESS_KEY_ID": "ASIALAMBDAEMULATOR00",
            "AWS_SECRET_ACCESS_KEY": "lambda-emulator-secret",
            "AWS_SESSION_TOKEN": "lambda-emulator-session",
            **{key: str(value) for key, value in (getattr(function, "environment_vars", None) or {}).items()},
            "_HANDLER": function.handler,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{function.run_time}",
            "AWS_LAMBDA_FUNCTION_NAME": function.function_name,
            "AWS_LAMBDA_FUNCTION_VERSION": version,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(getattr(function, "memory_size", 128)),
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(int(timeout)),
            "AWS_REGION": function.region,
            "AWS_DEFAULT_REGION": function.region,
            "LAMBDA_TASK_ROOT": task_root,
            "_LLMHUB_FUNCTION_ARN": function.function_arn,
            "_LLMHUB_REQUEST_ID": request_id,
            "_LLMHUB_DEADLINE": str(started + timeout),
            "_LLMHUB_EVENT": event_path,
            "_LLMHUB_RESULT": result_path,
        }
        endpoint = current_endpoint()
        if endpoint:
            environment["AWS_ENDPOINT_URL"] = endpoint
        try:
            finished = subprocess.run([sys.executable, "-c", BOOTSTRAP], env=environment, cwd=task_root,
                                      capture_output=True, text=True, timeout=timeout, check=False)
            output = finished.stdout + finished.stderr
            timed_out = False
        except subprocess.TimeoutExpired as expired:
            output = (_text(expired.stdout) + _text(expired.stderr))
            timed_out = True
        elapsed_ms = (time.time() - started) * 1000
        if timed_out:
            outcome: dict[str, Any] = {"error": {
                "errorMessage": f"{time.strftime('%Y-%m-%dT%H:%M:%S.000Z', time.gmtime())} {request_id} "
                                f"Task timed out after {timeout:.2f} seconds"}}
        elif os.path.exists(result_path):
            with open(result_path, encoding="utf-8") as stream:
                outcome = json.load(stream)
        else:  # the process died before writing (syntax error in the bootstrap's imports, killed...)
            outcome = {"error": {"errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: "
                                                 f"exit status {finished.returncode}",
                                 "errorType": "Runtime.ExitError"}}
    logs = "\n".join([
        f"START RequestId: {request_id} Version: {version}",
        *output.splitlines(),
        f"END RequestId: {request_id}",
        f"REPORT RequestId: {request_id}\tDuration: {elapsed_ms:.2f} ms\tBilled Duration: {int(elapsed_ms) + 1} ms"
        f"\tMemory Size: {getattr(function, 'memory_size', 128)} MB",
    ])
    if "error" in outcome:
        return json.dumps(outcome["error"]), True, logs
    return json.dumps(outcome.get("payload")), False, logs


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def install() -> None:
    """Run Python functions with :func:`invoke`; other runtimes keep moto's (Docker) invocation."""
    from moto.awslambda.models import LambdaFunction

    original = LambdaFunction._invoke_lambda
    if getattr(original, "_llmhub_python_runtime", False):
        return

    def _invoke_lambda(self: Any, event: Any = None) -> tuple[str, bool, str]:
        if not runs_here(self):
            return original(self, event)
        self.logs_backend.ensure_log_group(self.logs_group_name)
        payload, errored, logs = invoke(self, event)
        self.save_logs(logs)
        return payload, errored, logs

    _invoke_lambda._llmhub_python_runtime = True  # type: ignore[attr-defined]
    LambdaFunction._invoke_lambda = _invoke_lambda

    # moto answers unset optional members as null (KMSKeyArn, VpcConfig, SigningJobArn...);
    # Lambda leaves them out, and a null where botocore's shape wants a string or an object
    # is not a FunctionConfiguration.
    configuration = LambdaFunction.get_configuration

    def get_configuration(self: Any, on_create: bool = False) -> dict[str, Any]:
        return {key: value for key, value in configuration(self, on_create).items() if value is not None}

    LambdaFunction.get_configuration = get_configuration
