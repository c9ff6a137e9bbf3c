"""The External Secrets Operator (ESO): ExternalSecrets synced from AWS Secrets Manager, as an IRSA role.

Nothing happens until a Deployment of the operator (named ``external-secrets``
or labelled ``app.kubernetes.io/name: external-secrets``, as the
``external-secrets`` Helm chart labels it; any namespace) has a ready replica,
as on a cluster without the operator. Its pod template gives the operator's own
ServiceAccount and these arguments: ``--controller-class`` (``default``),
``--enable-cluster-store-reconciler`` (true), ``--enable-flood-gate`` (true) and
``--store-requeue-interval`` (``5m``). Then, for the ``external-secrets.io/v1``
kinds (their CRDs must be installed; nothing is done while they are not):

* **SecretStore** / **ClusterSecretStore** with ``spec.provider.aws``
  (``service: SecretsManager``, ``region``): the credentials are those of
  ``auth.jwt.serviceAccountRef`` (``name``; ``namespace`` for a
  ClusterSecretStore, else the ExternalSecret's: "referent" auth) or, without
  ``auth``, the operator's own ServiceAccount: the role of its
  ``eks.amazonaws.com/role-arn`` annotation, assumed through STS
  ``AssumeRoleWithWebIdentity`` with the cluster's OIDC issuer (the IAM OIDC
  provider must exist with the ``sts.amazonaws.com`` client ID, or the
  ServiceAccount's ``eks.amazonaws.com/audience``, and the role's trust policy
  must let ``system:serviceaccount:<namespace>:<name>`` in; :mod:`.iam`). A store
  gets ``status.capabilities: ReadWrite`` and the ``Ready`` condition ``True``,
  reason ``Valid``, message ``store validated`` (a Normal ``Valid`` Event); or
  ``False``, reason ``InvalidProviderConfig``, message ``unable to create
  client`` (ServiceAccount missing, no role annotation) or ``unable to validate
  store`` (no region, STS refuses, no IRSA role for the operator), with a
  Warning ``InvalidProviderConfig`` Event carrying the error. It is validated
  again after ``spec.refreshInterval`` (else the store requeue interval), a
  failure after controller-runtime's backoff (5 ms doubling, at most 1000 s).
* **ExternalSecret**: ``spec.secretStoreRef`` (``name``, ``kind`` SecretStore
  by default), ``spec.data[]`` (``secretKey``, ``remoteRef`` ``key``,
  ``property``, ``version``: a staging label, ``AWSCURRENT`` by default, or
  ``uuid/<VersionId>``; ``decodingStrategy``; ``nullBytePolicy``; ``sourceRef.storeRef``),
  ``spec.dataFrom[].extract`` (the same, a JSON object's members become keys:
  ``conversionStrategy``, ``decodingStrategy``, ``rewrite[].regexp``),
  ``spec.target`` (``name``, the ExternalSecret's by default; ``creationPolicy``
  Owner by default, Orphan, Merge, CreateOrMerge, None; ``deletionPolicy``
  Retain by default, Delete, Merge; ``immutable``; ``template.type`` and
  ``template.metadata``), ``spec.refreshInterval`` (a Go duration, ``1h`` by
  default, ``0`` reads once) and ``spec.refreshPolicy`` (Periodic, OnChange,
  CreatedOnce). Each remote key is read with ``GetSecretValue`` *as the role*:
  its identity policies must allow ``secretsmanager:GetSecretValue`` on the
  secret's ARN (:mod:`.iam`). The Secret (type Opaque unless the template
  says otherwise) gets the data, the ExternalSecret's labels and annotations
  (without a template), the labels ``reconcile.external-secrets.io/managed:
  "true"`` and (Owner) ``reconcile.external-secrets.io/created-by`` and the
  annotation ``reconcile.external-secrets.io/data-hash``, computed as ESO does
  (SHA3-224 of Go's ``%+v``), and with creationPolicy Owner a controller owner
  reference to the ExternalSecret (the garbage collector deletes it with the
  ExternalSecret). The ExternalSecret gets the finalizer
  ``externalsecrets.external-secrets.io/externalsecret-cleanup`` and the status
  ``refreshTime``, ``syncedResourceVersion`` (``<generation>-<hash of labels and
  annotations>``), ``binding.name`` and ``Ready`` ``True``/``SecretSynced``/
  ``secret synced`` (Normal ``Created``/``Updated`` Events), or ``False``/
  ``SecretSyncedError`` with ESO's message (``could not get secret data from
  provider``...) and a Warning ``UpdateFailed`` Event with the error, e.g.
  ``error processing spec.data[0] (key: app/db), err: SecretStore "aws" is not
  ready`` or ``... err: Secret does not exist`` or the Secrets Manager
  ``AccessDeniedException``, worded as the AWS SDK for Go v2 words it (the
  RequestID is derived from the error, so a failure repeated is one Event
  counted again). A failure is retried after the backoff above. The Secret is
  read again at ``refreshTime + refreshInterval``, when the ExternalSecret's
  spec, labels or annotations change (``external-secrets.io/force-sync`` as
  ``kubectl annotate`` sets it) and when its Secret changes or goes: a
  rotation (a new ``AWSCURRENT``) reaches the Secret at the next refresh.
  Intervals are in real time, as the other controllers' (CronJob schedules,
  HPA windows): the latency profile does not scale them; a short
  ``refreshInterval`` (``1s``) makes a rotation quick to see.

Wording (condition reasons and messages, events, errors, labels, hashes) is
ESO's, read in external-secrets/external-secrets at v2.9.0
(``cc5bfbc2234ace9cb0caff4ea89c435cf517b27b``):
``apis/externalsecrets/v1/externalsecret_types.go`` and
``secretstore_types.go`` (fields, reasons), ``secretstore_aws_types.go``,
``pkg/controllers/externalsecret/externalsecret_controller.go`` (``Reconcile``,
``shouldRefresh``, ``isSecretValid``, messages),
``externalsecret_controller_secret.go`` (``GetProviderSecretData``),
``externalsecret_controller_template.go``, ``pkg/controllers/secretstore/common.go``
and ``client_manager.go`` (validation, the flood gate),
``pkg/controllers/util/util.go`` and ``runtime/esutils/utils.go`` (hashes),
``providers/v1/aws/auth/auth.go`` and ``secretsmanager/secretsmanager.go``
(IRSA, ``GetSecret``, ``GetSecretMap``), ``cmd/controller/root.go`` (flags).

Not emulated (said in the status or an Event when used, never silently):
other providers and AWS services (ParameterStore, CertificateManager), static
credentials (``auth.secretRef``), ``role``/``additionalRoles`` chaining,
``dataFrom[].find``, generators, templates that render data
(``template.data``, ``templateFrom``), ``metadataPolicy: Fetch``, rewrite
``merge``/``transform``. Ignored: ``syncWindows``, ``sessionTags``, retry
settings, PushSecrets and ClusterExternalSecrets, the node's instance role as a
fallback of the default credential chain, and the Secret's managed fields (ESO
tracks the keys it owns there; here the Merge policies keep every other key).
Property paths are gjson's dotted keys and array indexes (no wildcards or
modifiers).
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import json
import logging
import math
import re
import time
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ..errors import ApiError
from .cloud import CloudError, SecretValue
from .iam import DEFAULT_AUDIENCE
from .runtime import Context
from .util import label_match, owner_ref, parse_time

LOG = logging.getLogger("emulator.k8s.controllers")

CONTROLLER = "external-secrets"
GROUP = "external-secrets.io"
API_VERSION = f"{GROUP}/v1"
FINALIZER = "externalsecrets.external-secrets.io/externalsecret-cleanup"
LABEL_MANAGED = "reconcile.external-secrets.io/managed"
LABEL_OWNER = "reconcile.external-secrets.io/created-by"
ANNOTATION_DATA_HASH = "reconcile.external-secrets.io/data-hash"
ROLE_ARN = "eks.amazonaws.com/role-arn"
AUDIENCE = "eks.amazonaws.com/audience"
JWT_SESSION = "external-secrets-provider-aws"  # providers/v1/aws/auth/auth.go DefaultJWTProvider
DEFAULT_REFRESH = 3600.0  # the CRD's default refreshInterval, 1h0m0s
STORE_REQUEUE = 300.0  # --store-requeue-interval
BACKOFF_BASE, BACKOFF_MAX = 0.005, 1000.0  # controller-runtime's per-item exponential backoff
NEVER = math.inf
KIND_PLURAL = {"SecretStore": "secretstores", "ClusterSecretStore": "clustersecretstores"}

# store conditions (secretstore/common.go)
MSG_STORE_VALIDATED = "store validated"
MSG_UNABLE_CREATE_CLIENT = "unable to create client"
MSG_UNABLE_VALIDATE_STORE = "unable to validate store"
# ExternalSecret conditions and events (externalsecret_controller.go)
MSG_SYNCED = "secret synced"
MSG_SYNCED_RETAIN = "secret retained due to DeletionPolicy=Retain"
MSG_DELETED = "secret deleted due to DeletionPolicy=Delete"
MSG_MISSING = "secret will not be created due to CreationPolicy=Merge"
MSG_ERROR_GET_SECRET_DATA = "could not get secret data from provider"
MSG_ERROR_DELETE_SECRET = "could not delete secret"
MSG_ERROR_DELETE_ORPHANED = "could not delete orphaned secrets"
MSG_ERROR_UPDATE_SECRET = "could not update secret"
MSG_ERROR_UPDATE_IMMUTABLE = "could not update secret, target is immutable"
MSG_ERROR_BECOME_OWNER = "failed to take ownership of target secret"
MSG_ERROR_IS_OWNED = "target is owned by another ExternalSecret"
NO_SECRET = "Secret does not exist"  # esv1.NoSecretErr
IMDS_NO_ROLE = ("failed to refresh cached credentials, no EC2 IMDS role found, operation error ec2imds: "
                "GetMetadata, http response error StatusCode: 404, request to EC2 IMDS failed")
_STS_STATUS = {"AccessDenied": 403, "InvalidIdentityToken": 400, "ExpiredTokenException": 400}


class SyncError(Exception):
    """A reconcile failure, worded as ESO's error (``error.Error()``)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NoSecret(SyncError):
    """``esv1.NoSecretErr``: the remote secret (or its version) does not exist."""

    def __init__(self) -> None:
        super().__init__(NO_SECRET)


class _Final(SyncError):
    """A failure ESO does not requeue (it cannot be fixed by retrying): ``condition`` is its condition message."""

    def __init__(self, condition: str, message: str) -> None:
        super().__init__(message)
        self.condition = condition


# -- Go's formatting, hashes, durations ---------------------------------------------------------------------

def object_hash(text: str) -> str:
    """``esutils.ObjectHash`` of a value whose ``%+v`` is ``text``: SHA3-224, hex."""
    return hashlib.sha3_224(text.encode()).hexdigest()


def _go_map(mapping: dict[str, Any] | None, value: Any = str) -> str:
    """``fmt.Sprintf("%+v", m)`` of a Go map with string keys (printed sorted)."""
    return "map[" + " ".join(f"{k}:{value(v)}" for k, v in sorted((mapping or {}).items())) + "]"


def data_hash(data: dict[str, bytes]) -> str:
    """The ``reconcile.external-secrets.io/data-hash`` of a Secret's data (a ``map[string][]byte``)."""
    return object_hash(_go_map(data, lambda v: "[" + " ".join(str(b) for b in v) + "]"))


def resource_version(meta: dict) -> str:
    """``ctrlutil.GetResourceVersion``: ``<generation>-<hash of the annotations and labels>``."""
    text = "{annotations:" + _go_map(meta.get("annotations")) + " labels:" + _go_map(meta.get("labels")) + "}"
    return f"{int(meta.get('generation') or 0)}-{object_hash(text)}"


_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION_PART = re.compile(r"(\d*\.?\d*)(ns|us|µs|μs|ms|s|m|h)")


def parse_duration(text: Any) -> float:
    """Go's ``time.ParseDuration`` (``1h0m0s``, ``15s``, ``1.5h``, ``0``) in seconds; ValueError otherwise."""
    value = str(text).strip()
    body = value.lstrip("+-")
    if body == "0":
        return 0.0
    total, position = 0.0, 0
    while position < len(body):
        match = _DURATION_PART.match(body, position)
        if match is None or match.group(1) in ("", "."):
            raise ValueError(f'time: invalid duration "{value}"')
        total += float(match.group(1)) * _UNITS[match.group(2)]
        position = match.end()
    if not body:
        raise ValueError(f'time: invalid duration "{value}"')
    return -total if value.startswith("-") else total


def _api_error(service: str, operation: str, status: int, code: str, message: str) -> str:
    """An error of the AWS SDK for Go v2 as ESO prints it (the RequestID derived from the error)."""
    request = uuid.uuid5(uuid.NAMESPACE_URL, f"{service}/{operation}/{code}/{message}")
    return (f"operation error {service}: {operation}, https response error StatusCode: {status}, "
            f"RequestID: {request}, api error {code}: {message}")


def _sts_error(error: CloudError) -> str:
    """A refused AssumeRoleWithWebIdentity as the SDK's credentials cache reports it."""
    return ("failed to refresh cached credentials, failed to retrieve credentials, "
            + _api_error("STS", "AssumeRoleWithWebIdentity", _STS_STATUS.get(error.reason, 400), error.reason,
                         error.message))


# -- JSON as ESO's gjson and encoding/json read it -------------------------------------------------------------

_DECODER = json.JSONDecoder()
_WS = re.compile(r"[ \t\n\r]*")


def _skip(text: str, index: int) -> int:
    return _WS.match(text, index).end()  # type: ignore[union-attr]


def _children(text: str, start: int) -> list[tuple[str, int, int]]:
    """The members of the object (or the elements of the array, keyed "0", "1"...) at ``text[start]``, as
    ``(key, value start, value end)``, in order. ``text`` is known to be valid JSON."""
    closing = "}" if text[start] == "{" else "]"
    result: list[tuple[str, int, int]] = []
    index = _skip(text, start + 1)
    if text[index] == closing:
        return result
    while True:
        if closing == "}":
            key, index = _DECODER.raw_decode(text, index)
            index = _skip(text, _skip(text, index) + 1)  # past the colon
        else:
            key = str(len(result))
        _value, end = _DECODER.raw_decode(text, index)
        result.append((str(key), index, end))
        index = _skip(text, end)
        if text[index] != ",":
            return result
        index = _skip(text, index + 1)


def _format_float(raw: str) -> str:
    """Go's ``strconv.FormatFloat(f, 'f', -1, 64)``: the shortest form, without an exponent."""
    text = format(Decimal(repr(float(raw))), "f")
    return text[:-2] if text.endswith(".0") else text


def _gjson_string(raw: str) -> str:
    """``gjson.Result.String()`` of a raw JSON value."""
    if raw.startswith('"'):
        return json.loads(raw)
    if raw[0] in "{[" or raw in ("true", "false"):
        return raw
    if raw == "null":
        return ""
    return raw if re.fullmatch(r"-?\d+", raw) else _format_float(raw)


def _path(path: str) -> list[str]:
    parts, current, index = [], "", 0
    while index < len(path):
        char = path[index]
        if char == "\\" and index + 1 < len(path):
            current += path[index + 1]
            index += 2
            continue
        if char == ".":
            parts.append(current)
            current = ""
        else:
            current += char
        index += 1
    parts.append(current)
    return parts


def _lookup(payload: str, path: str) -> str | None:
    try:
        json.loads(payload)
    except ValueError:
        return None
    start = _skip(payload, 0)
    _value, end = _DECODER.raw_decode(payload, start)
    for part in _path(path):
        if payload[start] not in "{[":
            return None
        found = next(((s, e) for key, s, e in _children(payload, start) if key == part), None)
        if found is None:
            return None
        start, end = found
    return _gjson_string(payload[start:end])


def get_property(payload: str, prop: str) -> str | None:
    """A ``remoteRef.property`` of a JSON payload, as ESO reads it with gjson (None: it does not exist).

    A property with dots is first looked up as one key (``escapeDotsIfRequired``), then as a path.
    """
    if "." in prop:
        found = _lookup(payload, prop.replace(".", "\\."))
        if found is not None:
            return found
    return _lookup(payload, prop)


def _json_error(text: str, error: json.JSONDecodeError) -> str:
    """encoding/json's wording of a syntax error."""
    if error.pos >= len(text.rstrip()):
        return "unexpected end of JSON input"
    char = text[error.pos]
    where = {"Expecting ',' delimiter": "after object key:value pair", "Expecting ':' delimiter": "after object key",
             "Expecting property name enclosed in double quotes": "looking for beginning of object key string",
             "Extra data": "after top-level value"}.get(error.msg, "looking for beginning of value")
    return f"invalid character {char!r} {where}"


def secret_map(payload: bytes, key: str) -> dict[str, bytes]:
    """``GetSecretMap``: a JSON object's members (strings as they are, other values as raw JSON, null empty)."""
    text = payload.decode("utf-8", errors="replace")
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as error:
        raise SyncError(f"unable to unmarshal secret {key}: {_json_error(text, error)}") from None
    if parsed is None:
        return {}
    if not isinstance(parsed, dict):
        kind = {str: "string", bool: "bool", list: "array"}.get(type(parsed), "number")
        raise SyncError(f"unable to unmarshal secret {key}: json: cannot unmarshal {kind} into Go value of type "
                        "map[string]json.RawMessage")
    result: dict[str, bytes] = {}
    for name, start, end in _children(text, _skip(text, 0)):
        raw = text[start:end]
        value = json.loads(raw)
        result[name] = (value.encode() if isinstance(value, str) else b"" if value is None else raw.encode())
    return result


def _decode(strategy: str | None, value: bytes) -> bytes:
    """``decoding.Decode``: None (or unset), Base64, Base64URL, Auto."""
    strategy = strategy or "None"
    if strategy == "None":
        return value
    if strategy == "Auto":
        for attempt in ("Base64", "Base64URL"):
            try:
                return _decode(attempt, value)
            except SyncError:
                continue
        return value
    if strategy not in ("Base64", "Base64URL"):
        raise SyncError(f"decoding strategy {strategy} is not supported")
    alphabet = (b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
                + (b"+/" if strategy == "Base64" else b"-_"))
    text = value.replace(b"\r", b"").replace(b"\n", b"")
    for index, char in enumerate(text.rstrip(b"=")):
        if char not in alphabet:
            raise SyncError(f"illegal base64 data at input byte {index}")
    try:
        if strategy == "Base64":
            return base64.b64decode(text, validate=True)
        return base64.urlsafe_b64decode(text)
    except (binascii.Error, ValueError):
        raise SyncError(f"illegal base64 data at input byte {len(text)}") from None


def _check_null_bytes(policy: str | None, key: str, value: bytes) -> None:
    if policy == "Fail" and b"\x00" in value:
        raise SyncError(f'fetched secret value for key "{key}" contains null bytes; use a text-safe format such as '
                        "PEM/base64 or leave nullBytePolicy unset for intentional binary data")


def _convert_key(strategy: str | None, key: str) -> str:
    """``esutils.ConvertKeys``: characters other than letters, digits, ``-``, ``.``, ``_`` become ``_`` (Default)
    or ``_U<hex>_`` (Unicode)."""
    out = []
    for char in key:
        if char.isalpha() or char.isnumeric() or char in "-._":
            out.append(char)
        elif strategy == "Unicode":
            out.append(f"_U{ord(char):04x}_")
        else:
            out.append("_")
    return "".join(out)


def _validate_keys(data: dict[str, bytes]) -> dict[str, bytes]:
    result = {}
    for key, value in data.items():
        if not key:
            continue
        if len(key) > 253:
            raise SyncError(f"key has length {len(key)} but max is 253: (following is truncated): {key[:253]}")
        bad = next((c for c in key if not (c.isalpha() or c.isnumeric() or c in "-._")), None)
        if bad is not None:
            raise SyncError(f"key has invalid character {bad}, only alphanumeric, '-', '.' and '_' are allowed: "
                            f"{key}")
        result[key] = value
    return result


def _rewrite(operations: list, data: dict[str, bytes]) -> dict[str, bytes]:
    """``esutils.RewriteMap`` for ``regexp`` operations (Go's ``$1``/``${name}`` in the target)."""
    for index, operation in enumerate(operations or []):
        regexp = (operation or {}).get("regexp")
        if not regexp:
            raise SyncError(f"failed rewrite operation[{index}]: the emulator rewrites keys with regexp only "
                            "(not merge or transform)")
        target = re.sub(r"\$\$|\$\{(\w+)\}|\$(\w+)",
                        lambda m: "$" if m.group(0) == "$$" else "\\g<" + (m.group(1) or m.group(2)) + ">",
                        str(regexp.get("target", "")).replace("\\", "\\\\"))
        try:
            pattern = re.compile(str(regexp.get("source", "")))
            data = {pattern.sub(target, key): value for key, value in data.items()}
        except (re.error, IndexError) as error:
            raise SyncError(f"failed rewrite operation[{index}]: error parsing regexp: {error}") from None
    return data


# -- the operator and its state ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Operator:
    """The operator's Deployment as it runs: where, as which ServiceAccount, with which flags."""

    namespace: str
    service_account: str
    controller_class: str = "default"
    cluster_stores: bool = True
    flood_gate: bool = True
    store_requeue: float = STORE_REQUEUE


def _flags(args: list) -> dict[str, str]:
    flags = {}
    for arg in args or []:
        text = str(arg)
        if text.startswith("--"):
            key, eq, value = text[2:].partition("=")
            flags[key] = value if eq else "true"
    return flags


def find_operator(ctx: Context) -> Operator | None:
    """The ESO controller Deployment with a ready replica, if any."""
    for deployment in sorted(ctx.list("deployments"), key=lambda d: (d["metadata"].get("namespace", ""),
                                                                      d["metadata"]["name"])):
        meta = deployment["metadata"]
        if meta["name"] != CONTROLLER and (meta.get("labels") or {}).get("app.kubernetes.io/name") != CONTROLLER:
            continue
        if int((deployment.get("status") or {}).get("readyReplicas") or 0) <= 0:
            continue
        pod = ((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}
        containers = pod.get("containers") or [{}]
        flags = _flags(containers[0].get("args") or [])
        try:
            requeue = parse_duration(flags.get("store-requeue-interval", "5m"))
        except ValueError:
            requeue = STORE_REQUEUE
        return Operator(namespace=meta.get("namespace", "default"),
                        service_account=pod.get("serviceAccountName") or pod.get("serviceAccount") or "default",
                        controller_class=flags.get("controller-class") or "default",
                        cluster_stores=flags.get("enable-cluster-store-reconciler", "true") != "false",
                        flood_gate=flags.get("enable-flood-gate", "true") != "false", store_requeue=requeue)
    return None


def controller_ready(ctx: Context) -> bool:
    return find_operator(ctx) is not None


@dataclass
class _State:
    trigger: Any  # what, when it changes, is reconciled at once (as a watch event would)
    due: float  # when to reconcile again without a change (NEVER: not until one)
    failures: int = 0


@dataclass
class _Identity:
    """Whose credentials a store's client uses."""

    role_arn: str
    namespace: str  # of the service account
    service_account: str
    session: str
    audience: str = DEFAULT_AUDIENCE
    error: str | None = None  # credentials that cannot be retrieved at all: the SDK's message
    assumed: str | None = field(default=None, compare=False)


def _set_condition(conditions: list | None, kind: str, status: str, reason: str, message: str,
                   now: str) -> list[dict]:
    """ESO's ``SetExternalSecretCondition``: unchanged if equal; the transition time kept if the status is."""
    current = next((c for c in conditions or [] if c.get("type") == kind), None)
    if current is not None and (current.get("status"), current.get("reason"), current.get("message")) == (
            status, reason, message):
        return list(conditions or [])
    stamp = current.get("lastTransitionTime", now) if current is not None and current.get("status") == status \
        else now
    entry = {"type": kind, "status": status, "reason": reason, "message": message, "lastTransitionTime": stamp}
    return [c for c in conditions or [] if c.get("type") != kind] + [entry]


def _ready(obj: dict | None) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in ((obj or {}).get("status") or {}).get("conditions") or [])


def _b64decode(data: dict | None) -> dict[str, bytes]:
    result = {}
    for key, value in (data or {}).items():
        try:
            result[key] = base64.b64decode(value or "")
        except (binascii.Error, ValueError):
            result[key] = b""
    return result


class ExternalSecretsController:
    """See the module docstring."""

    def __init__(self) -> None:
        self._running = False
        self._states: dict[tuple[str, str, str], _State] = {}
        self._sdk_session = ""  # the default credential chain's session name (aws-go-sdk-<nanos>)

    # -- the pass --------------------------------------------------------------------------------------------

    def reconcile(self, ctx: Context) -> None:
        operator = find_operator(ctx)
        if operator is None:
            self._running = False
            return
        if not self._running:  # (re)started: everything is reconciled, as after the informers' first list
            self._running = True
            self._states.clear()
            self._sdk_session = f"aws-go-sdk-{time.time_ns()}"
        seen: set[tuple[str, str, str]] = set()
        for kind in ("secretstores", "clustersecretstores"):
            if kind == "clustersecretstores" and not operator.cluster_stores:
                continue
            for store in ctx.list(kind):
                seen.add(self._store(ctx, operator, kind, store))
        for external_secret in ctx.list("externalsecrets"):
            seen.add(self._external_secret(ctx, operator, external_secret))
        for key in [k for k in self._states if k not in seen]:
            del self._states[key]

    def _due(self, ctx: Context, key: tuple[str, str, str], trigger: Any) -> bool:
        state = self._states.get(key)
        return state is None or state.trigger != trigger or ctx.now >= state.due

    def _schedule(self, ctx: Context, key: tuple[str, str, str], trigger: Any, due: float | None) -> None:
        """Remember when to look again: ``due``, or (None: it failed) after the backoff."""
        state = self._states.get(key)
        failures = (state.failures if state is not None else 0)
        if due is None:
            failures += 1
            due = ctx.now + min(BACKOFF_BASE * 2 ** (failures - 1), BACKOFF_MAX)
        else:
            failures = 0
        self._states[key] = _State(trigger, due, failures)
        if due != NEVER:
            ctx.wake_at(due)

    # -- stores ------------------------------------------------------------------------------------------------

    def _store(self, ctx: Context, operator: Operator, kind: str, store: dict) -> tuple[str, str, str]:
        meta = store["metadata"]
        key = (kind, meta.get("namespace", ""), meta["name"])
        trigger = (meta.get("uid"), meta.get("generation"), meta.get("deletionTimestamp"))
        if not self._due(ctx, key, trigger):
            return key
        spec = store.get("spec") or {}
        if spec.get("controller") not in (None, "", operator.controller_class) or meta.get("deletionTimestamp"):
            self._schedule(ctx, key, trigger, NEVER)
            return key
        try:
            self._validate(ctx, operator, kind, store, key, trigger)
        except Exception:  # noqa: BLE001 - moto's state may change under our feet: as a failure, backed off
            LOG.exception("%s %s: validation failed", kind, meta["name"])
            self._schedule(ctx, key, trigger, None)
        return key

    def _validate(self, ctx: Context, operator: Operator, kind: str, store: dict, key: tuple[str, str, str],
                  trigger: Any) -> None:
        """``validateStore`` and the status it leaves."""
        meta, spec = store["metadata"], store.get("spec") or {}
        component = "secret-store" if kind == "secretstores" else "cluster-secret-store"
        status = copy.deepcopy(store.get("status") or {})
        conditions = status.get("conditions")
        due: float | None = None
        try:
            identity = self._identity(ctx, operator, store, None if kind == "clustersecretstores"
                                      else meta.get("namespace", ""))
        except SyncError as error:  # validateStore: the client cannot be created
            conditions = _set_condition(conditions, "Ready", "False", "InvalidProviderConfig",
                                        MSG_UNABLE_CREATE_CLIENT, ctx.timestamp)
            ctx.event(store, "Warning", "InvalidProviderConfig", error.message, component)
        else:
            problem = None
            if not str(((spec.get("provider") or {}).get("aws") or {}).get("region") or ""):
                problem = "region not found: "
            elif identity is not None:  # None: referent auth, validated with each ExternalSecret
                problem = self._credentials_error(ctx, identity)
            if problem is not None:
                conditions = _set_condition(conditions, "Ready", "False", "InvalidProviderConfig",
                                            MSG_UNABLE_VALIDATE_STORE, ctx.timestamp)
                ctx.event(store, "Warning", "InvalidProviderConfig", problem, component)
            else:
                status["capabilities"] = "ReadWrite"
                conditions = _set_condition(conditions, "Ready", "True", "Valid", MSG_STORE_VALIDATED, ctx.timestamp)
                ctx.event(store, "Normal", "Valid", MSG_STORE_VALIDATED, component)
                due = ctx.now + self._store_interval(spec, operator)
        status["conditions"] = conditions
        if status != (store.get("status") or {}) and ctx.update_status(kind, dict(store, status=status)) is None:
            due = None  # the status was not written (a conflict): again soon
        self._schedule(ctx, key, trigger, due)

    @staticmethod
    def _store_interval(spec: dict, operator: Operator) -> float:
        interval = spec.get("refreshInterval")
        try:
            seconds = float(interval) if isinstance(interval, (int, float)) else parse_duration(interval) \
                if interval else 0.0
        except ValueError:
            seconds = 0.0
        return seconds if seconds > 0 else operator.store_requeue

    def _identity(self, ctx: Context, operator: Operator, store: dict, namespace: str | None) -> _Identity | None:
        """The credentials of a store's AWS client (``awsauth.New``); ``namespace``: the ExternalSecret's (None
        when a ClusterSecretStore is validated on its own). None: referent auth without a namespace.

        Raises SyncError with the client-creation error (``unable to create session: ...``).
        """
        provider = (store.get("spec") or {}).get("provider") or {}
        aws = provider.get("aws")
        if not isinstance(aws, dict):
            raise SyncError("the emulator's External Secrets Operator runs the aws provider only (not "
                            f"{', '.join(sorted(provider)) or 'an empty provider'})")
        service = aws.get("service") or ""
        if service != "SecretsManager":
            if service in ("ParameterStore", "CertificateManager"):
                raise SyncError(f"the emulator's External Secrets Operator does not emulate the aws service {service}"
                                " (only SecretsManager)")
            raise SyncError(f"unknown AWS Provider Service: {service}")
        if aws.get("role") or aws.get("additionalRoles"):
            raise SyncError("the emulator's External Secrets Operator does not emulate role/additionalRoles "
                            "(AssumeRole chaining)")
        auth = aws.get("auth") or {}
        if auth.get("secretRef"):
            raise SyncError("the emulator's External Secrets Operator does not emulate auth.secretRef (static "
                            "credentials); use auth.jwt (IRSA)")
        jwt = auth.get("jwt")
        if jwt:
            reference = jwt.get("serviceAccountRef") or {}
            name = str(reference.get("name") or "")
            if store.get("kind") == "ClusterSecretStore":
                if reference.get("namespace"):
                    namespace = reference["namespace"]
                elif namespace is None:
                    return None
            session = JWT_SESSION
        else:
            namespace, name, session = operator.namespace, operator.service_account, self._sdk_session
        account = ctx.get("serviceaccounts", namespace, name)
        annotations = (account or {}).get("metadata", {}).get("annotations") or {}
        role = annotations.get(ROLE_ARN) or ""
        audience = annotations.get(AUDIENCE) or DEFAULT_AUDIENCE
        if not jwt:  # the default chain: IRSA's environment, else the instance metadata (not emulated)
            return _Identity(role, str(namespace), name, session, audience,
                             error=None if role else IMDS_NO_ROLE)
        if account is None:
            raise SyncError(f'unable to create session: serviceaccounts "{name}" not found')
        if not role:
            raise SyncError(f"unable to create session: an IAM role must be associated with service account {name} "
                            f"(namespace: {namespace})")
        return _Identity(role, str(namespace), name, session, audience)

    def _credentials_error(self, ctx: Context, identity: _Identity) -> str | None:
        """Retrieve the credentials (``AssumeRoleWithWebIdentity``): None, or the SDK's error."""
        if identity.error is not None:
            return identity.error
        if identity.assumed is not None:
            return None
        try:
            identity.assumed = ctx.cloud.assume_role_with_web_identity(
                identity.role_arn, identity.namespace, identity.service_account, identity.session, identity.audience)
        except CloudError as error:
            return _sts_error(error)
        return None

    # -- ExternalSecrets -----------------------------------------------------------------------------------------

    def _external_secret(self, ctx: Context, operator: Operator, es: dict) -> tuple[str, str, str]:
        meta = es["metadata"]
        namespace = meta.get("namespace", "")
        key = ("externalsecrets", namespace, meta["name"])
        target = ((es.get("spec") or {}).get("target") or {}).get("name") or meta["name"]
        secret = ctx.get("secrets", namespace, target)
        watched = None
        if secret is not None and (secret["metadata"].get("labels") or {}).get(LABEL_MANAGED) == "true":
            watched = (secret["metadata"].get("uid"), secret["metadata"].get("resourceVersion"))
        trigger = (meta.get("uid"), meta.get("generation"), meta.get("labels"), meta.get("annotations"),
                   meta.get("finalizers"), meta.get("deletionTimestamp"), target, watched)
        if not self._due(ctx, key, trigger):
            return key
        try:
            due = self._sync(ctx, operator, es, target, secret)
        except ApiError as error:  # a write lost a race: look again soon
            LOG.debug("ExternalSecret %s/%s: %s", namespace, meta["name"], error.message)
            due = None
        except Exception:  # noqa: BLE001 - moto's state may change under our feet: as a failure, backed off
            LOG.exception("ExternalSecret %s/%s: reconcile failed", namespace, meta["name"])
            due = None
        self._schedule(ctx, key, trigger, due)
        return key

    @staticmethod
    def _interval(spec: dict) -> float:
        value = spec.get("refreshInterval")
        if value is None:
            return DEFAULT_REFRESH
        return parse_duration(value)

    def _requeue(self, es: dict, now: float) -> float:
        """``getRequeueResult``: when the refresh interval is next due."""
        interval = self._interval(es.get("spec") or {})
        if interval <= 0:
            return NEVER
        refreshed = parse_time((es.get("status") or {}).get("refreshTime"))
        if refreshed is None:
            return now + interval
        if refreshed > now:
            return now + BACKOFF_BASE
        if now - refreshed < interval:
            return refreshed + interval + 0.001
        return now + BACKOFF_BASE

    def _should_refresh(self, es: dict, now: float) -> bool:
        spec, status = es.get("spec") or {}, es.get("status") or {}
        synced = status.get("syncedResourceVersion") or ""
        refreshed = parse_time(status.get("refreshTime"))
        policy = spec.get("refreshPolicy") or "Periodic"
        if policy == "CreatedOnce":
            return not synced or refreshed is None
        if policy == "OnChange":
            return not synced or refreshed is None or synced != resource_version(es["metadata"])
        interval = self._interval(spec)
        if interval <= 0 and synced:
            return False
        if synced != resource_version(es["metadata"]) or refreshed is None or refreshed > now:
            return True
        return refreshed + interval < now

    @staticmethod
    def _secret_valid(es: dict, secret: dict | None) -> bool:
        """``isSecretValid``: the Secret is there, labelled as managed, and its data matches its hash."""
        if ((es.get("spec") or {}).get("target") or {}).get("creationPolicy") == "Orphan":
            return True
        if secret is None:
            return False
        meta = secret["metadata"]
        if (meta.get("labels") or {}).get(LABEL_MANAGED) != "true":
            return False
        return (meta.get("annotations") or {}).get(ANNOTATION_DATA_HASH) == data_hash(_b64decode(secret.get("data")))

    def _sync(self, ctx: Context, operator: Operator, es: dict, target: str, secret: dict | None) -> float | None:
        """ESO's ``Reconcile`` of one ExternalSecret: when to look again (None: it failed, back off)."""
        meta = es["metadata"]
        finalizers = list(meta.get("finalizers") or [])
        if meta.get("deletionTimestamp"):
            self._cleanup(ctx, es, target)
            if FINALIZER in finalizers:
                ctx.replace("externalsecrets", dict(es, metadata=dict(
                    meta, finalizers=[f for f in finalizers if f != FINALIZER])))
            return NEVER
        if FINALIZER not in finalizers:
            es = ctx.replace("externalsecrets", dict(es, metadata=dict(meta, finalizers=finalizers + [FINALIZER])))
            meta = es["metadata"]
        spec = es.get("spec") or {}
        if (spec.get("secretStoreRef") or {}).get("kind") == "ClusterSecretStore" and not operator.cluster_stores:
            return NEVER
        if self._unmanaged(ctx, operator, es):
            return NEVER
        if secret is not None and (secret["metadata"].get("labels") or {}).get(LABEL_MANAGED) != "true":
            labels = dict(secret["metadata"].get("labels") or {}, **{LABEL_MANAGED: "true"})
            ctx.replace("secrets", dict(secret, metadata=dict(secret["metadata"], labels=labels)))
            return ctx.now
        try:
            refresh = self._should_refresh(es, ctx.now)
        except ValueError as error:  # an unreadable refreshInterval: ESO cannot decode the object
            LOG.debug("ExternalSecret %s/%s: %s", meta.get("namespace"), meta["name"], error)
            return NEVER
        if not refresh and self._secret_valid(es, secret):
            return self._requeue(es, ctx.now)
        status = copy.deepcopy(es.get("status") or {})
        outcome = self._write(ctx, operator, es, target, secret, status)
        if status != (es.get("status") or {}):
            ordered = {k: status[k] for k in ("refreshTime", "syncedResourceVersion", "conditions", "binding")
                       if k in status}
            ordered.update({k: v for k, v in status.items() if k not in ordered})
            if ctx.update_status("externalsecrets", dict(es, status=ordered)) is None:
                return ctx.now + BACKOFF_BASE
        return outcome

    def _write(self, ctx: Context, operator: Operator, es: dict, target: str, secret: dict | None,
               status: dict) -> float | None:
        """Fetch the provider data and create/update the Secret; ``status`` is updated in place."""
        spec = es.get("spec") or {}
        target_spec = spec.get("target") or {}
        creation = target_spec.get("creationPolicy") or "Owner"
        deletion = target_spec.get("deletionPolicy") or "Retain"

        def failed(condition: str, message: str) -> None:
            ctx.event(es, "Warning", "UpdateFailed", message, CONTROLLER)
            status["conditions"] = _set_condition(status.get("conditions"), "Ready", "False", "SecretSyncedError",
                                                  condition, ctx.timestamp)

        def done(reason: str, message: str) -> float:
            status["conditions"] = _set_condition(status.get("conditions"), "Ready", "True", reason, message,
                                                  ctx.timestamp)
            status["refreshTime"] = ctx.timestamp
            status["syncedResourceVersion"] = resource_version(es["metadata"])
            return self._requeue(dict(es, status=status), ctx.now)

        try:
            data = _Fetcher(self, ctx, operator, es).provider_data()
        except SyncError as error:
            failed(MSG_ERROR_GET_SECRET_DATA, error.message)
            return None
        if not data:
            if deletion == "Delete":
                if creation != "Owner":
                    failed(MSG_ERROR_DELETE_SECRET, f"unable to delete secret {target}: creationPolicy={creation} "
                                                    "is not Owner")
                    return NEVER
                if secret is not None:
                    if not ctx.delete("secrets", es["metadata"].get("namespace"), target):
                        failed(MSG_ERROR_DELETE_SECRET, f'secrets "{target}" could not be deleted')
                        return None
                    ctx.event(es, "Normal", "Deleted", MSG_DELETED, CONTROLLER)
                return done("SecretDeleted", MSG_DELETED)
            if deletion == "Retain":
                return done("SecretSynced", MSG_SYNCED_RETAIN)
        try:
            if creation == "None":
                pass
            elif creation == "Merge" and secret is None:
                return done("SecretMissing", MSG_MISSING)
            else:
                if creation == "Owner":
                    self._delete_orphans(ctx, es, target)
                self._apply(ctx, es, target, secret, data, creation, status)
        except _Final as error:
            failed(error.condition, error.message)
            return NEVER
        except SyncError as error:
            failed(MSG_ERROR_UPDATE_SECRET, error.message)
            return None
        return done("SecretSynced", MSG_SYNCED)

    def _apply(self, ctx: Context, es: dict, target: str, existing: dict | None, data: dict[str, bytes],
               creation: str, status: dict) -> None:
        """``createSecret``/``updateSecret`` with ESO's mutation of the Secret."""
        meta = es["metadata"]
        target_spec = (es.get("spec") or {}).get("target") or {}
        template = target_spec.get("template")
        secret = copy.deepcopy(existing) if existing is not None else {
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": target, "namespace": meta.get("namespace"), "labels": {}, "annotations": {}},
            "type": "Opaque"}
        smeta = secret["metadata"]
        labels = dict(smeta.get("labels") or {})
        annotations = dict(smeta.get("annotations") or {})
        current = _b64decode(secret.get("data"))
        immutable = bool(target_spec.get("immutable"))
        if immutable:
            secret["immutable"] = True
        if existing is None or not immutable:
            # ApplyTemplate: the metadata, then the data
            if template is None:
                labels.update(meta.get("labels") or {})
                annotations.update(meta.get("annotations") or {})
            else:
                labels.update(((template.get("metadata") or {}).get("labels")) or {})
                annotations.update(((template.get("metadata") or {}).get("annotations")) or {})
                finalizers = list(smeta.get("finalizers") or [])
                for finalizer in (template.get("metadata") or {}).get("finalizers") or []:
                    if finalizer not in finalizers:
                        finalizers.append(finalizer)
                if finalizers:
                    smeta["finalizers"] = finalizers
            new_data = dict(current) if creation in ("Merge", "CreateOrMerge") else {}
            if template is None:
                new_data.update(data)
            else:
                if template.get("type"):
                    secret["type"] = template["type"]
                if template.get("data") or template.get("templateFrom"):
                    raise SyncError("could not apply template: the emulator does not render templates "
                                    "(target.template.data, templateFrom)")
                new_data.update(data)
            current = new_data
        # applyOwnership
        owners = list(smeta.get("ownerReferences") or [])
        controller = next((r for r in owners if r.get("controller")), None)
        owner_is_es = controller is not None and controller.get("kind") == "ExternalSecret" and str(
            controller.get("apiVersion", "")).split("/")[0] == GROUP
        if owner_is_es and controller.get("name") != meta["name"]:
            raise _Final(MSG_ERROR_IS_OWNED, f"secret is owned by another ExternalSecret: {controller['name']}")
        if creation == "Owner":
            if controller is not None and controller.get("uid") != meta.get("uid") and not owner_is_es:
                raise _Final(MSG_ERROR_BECOME_OWNER, "could not set controller reference on secret: Object "
                                                     f"{meta.get('namespace')}/{target} is already owned by another "
                                                     f"{controller.get('kind')} controller {controller.get('name')}")
            ours = owner_ref(es)  # SetControllerReference: in place of a reference to this ExternalSecret
            owners = [ours if r is controller else r for r in owners] if owner_is_es else owners + [ours]
            labels[LABEL_OWNER] = object_hash(f"{meta.get('namespace')}/{meta['name']}")
        else:
            if owner_is_es:
                owners = [r for r in owners if r is not controller]
            labels.pop(LABEL_OWNER, None)
        labels[LABEL_MANAGED] = "true"
        annotations[ANNOTATION_DATA_HASH] = data_hash(current)
        smeta["labels"], smeta["annotations"] = labels, annotations
        if owners:
            smeta["ownerReferences"] = owners
        else:
            smeta.pop("ownerReferences", None)
        secret["data"] = {k: base64.b64encode(v).decode() for k, v in current.items()}
        namespace = meta.get("namespace")
        if existing is None:
            try:
                ctx.create("secrets", secret)
            except ApiError as error:
                if error.status == 409:
                    raise
                raise SyncError(error.message) from None
            status["binding"] = {"name": target}
            ctx.event(es, "Normal", "Created", "secret created", CONTROLLER)
            return
        status["binding"] = {"name": target}
        if secret == existing:
            return
        if existing.get("immutable"):
            metadata_only = dict(existing, metadata=secret["metadata"])
            if metadata_only != existing:
                ctx.replace("secrets", metadata_only)
            if dict(secret, metadata=existing["metadata"]) != existing:
                raise _Final(MSG_ERROR_UPDATE_IMMUTABLE, f"unable to update secret {target}: secret is immutable")
            return
        try:
            ctx.replace("secrets", secret)
        except ApiError as error:
            if error.status == 409:
                raise
            raise SyncError(f"unable to update secret {target}: {error.message}") from None
        LOG.debug("ExternalSecret %s/%s: secret %s updated", namespace, meta["name"], target)
        ctx.event(es, "Normal", "Updated", "secret updated", CONTROLLER)

    def _delete_orphans(self, ctx: Context, es: dict, target: str) -> None:
        """Secrets this ExternalSecret created under another name (its target was renamed)."""
        meta = es["metadata"]
        owner = object_hash(f"{meta.get('namespace')}/{meta['name']}")
        for secret in ctx.list("secrets", meta.get("namespace")):
            if (secret["metadata"].get("labels") or {}).get(LABEL_OWNER) != owner:
                continue
            if secret["metadata"]["name"] == target:
                continue
            if not ctx.delete("secrets", meta.get("namespace"), secret["metadata"]["name"]):
                raise _Final(MSG_ERROR_DELETE_ORPHANED, f'secrets "{secret["metadata"]["name"]}" could not be '
                                                        "deleted")
            ctx.event(es, "Normal", "Deleted", "secret deleted because it was orphaned", CONTROLLER)

    def _cleanup(self, ctx: Context, es: dict, target: str) -> None:
        """``cleanupManagedSecrets``: with DeletionPolicy Delete, the Secret it controls goes with it."""
        if ((es.get("spec") or {}).get("target") or {}).get("deletionPolicy") != "Delete":
            return
        meta = es["metadata"]
        secret = ctx.get("secrets", meta.get("namespace"), target)
        if secret is None:
            return
        if any(r.get("controller") and r.get("uid") == meta.get("uid")
               for r in secret["metadata"].get("ownerReferences") or []):
            ctx.delete("secrets", meta.get("namespace"), target)

    def _unmanaged(self, ctx: Context, operator: Operator, es: dict) -> bool:
        """``shouldSkipUnmanagedStore``: a referenced store belongs to another controller class."""
        spec = es.get("spec") or {}
        references = [spec["secretStoreRef"]] if (spec.get("secretStoreRef") or {}).get("name") else []
        for item in spec.get("data") or []:
            if (item.get("sourceRef") or {}).get("storeRef"):
                references.append(item["sourceRef"]["storeRef"])
        for item in spec.get("dataFrom") or []:
            if (item.get("sourceRef") or {}).get("storeRef"):
                references.append(item["sourceRef"]["storeRef"])
        for reference in references:
            store = self._store_object(ctx, reference, es["metadata"].get("namespace", ""))
            controller = ((store or {}).get("spec") or {}).get("controller")
            if controller and controller != operator.controller_class:
                return True
        return False

    @staticmethod
    def _store_object(ctx: Context, reference: dict, namespace: str) -> dict | None:
        if reference.get("kind") == "ClusterSecretStore":
            return ctx.get("clustersecretstores", None, str(reference.get("name") or ""))
        return ctx.get("secretstores", namespace, str(reference.get("name") or ""))


class _Client:
    """A store's Secrets Manager client for one reconcile (its values cached, as ESO's client caches them)."""

    def __init__(self, controller: ExternalSecretsController, ctx: Context, store: dict, identity: _Identity) -> None:
        self.controller = controller
        self.ctx = ctx
        aws = ((store.get("spec") or {}).get("provider") or {}).get("aws") or {}
        self.region = str(aws.get("region") or "")
        self.prefix = str(aws.get("prefix") or "")
        self.identity = identity
        self.cache: dict[tuple[str, str], SecretValue] = {}

    def fetch(self, reference: dict) -> SecretValue:
        if reference.get("metadataPolicy") == "Fetch":
            raise SyncError("the emulator does not emulate remoteRef.metadataPolicy Fetch (the secret's tags)")
        version = str(reference.get("version") or "AWSCURRENT")
        key = self.prefix + str(reference.get("key") or "")
        if (key, version) in self.cache:
            return self.cache[(key, version)]
        if not self.region:
            raise SyncError("operation error Secrets Manager: GetSecretValue, failed to resolve service endpoint, "
                            "an AWS region is required, but was not found")
        problem = self.controller._credentials_error(self.ctx, self.identity)
        if problem is not None:
            raise SyncError(f"operation error Secrets Manager: GetSecretValue, get identity: get credentials: "
                            f"{problem}")
        stage, version_id = (None, version[len("uuid/"):]) if version.startswith("uuid/") else (version, None)
        try:
            value = self.ctx.cloud.get_secret_value(self.identity.role_arn, self.identity.session, key, self.region,
                                                    stage, version_id)
        except CloudError as error:
            if error.reason == "ResourceNotFoundException":
                raise NoSecret() from None
            raise SyncError(_api_error("Secrets Manager", "GetSecretValue", 400, error.reason, error.message)
                            ) from None
        self.cache[(key, version)] = value
        return value

    def get_secret(self, reference: dict) -> bytes:
        """``SecretsManager.GetSecret``: the value, or one property of its JSON."""
        value = self.fetch(reference)
        prop = str(reference.get("property") or "")
        if not prop:
            if value.string is not None:
                return value.string.encode()
            if value.binary is not None:
                return value.binary
            raise SyncError(f"invalid secret received. no secret string nor binary for key: {reference.get('key')}")
        payload = value.binary.decode("utf-8", errors="replace") if value.binary is not None else (value.string or "")
        found = get_property(payload, prop)
        if found is None:
            raise SyncError(f"key {prop} does not exist in secret {reference.get('key')}")
        return found.encode()


class _Fetcher:
    """``GetProviderSecretData`` of one ExternalSecret: ``dataFrom`` first, then ``data``."""

    def __init__(self, controller: ExternalSecretsController, ctx: Context, operator: Operator, es: dict) -> None:
        self.controller = controller
        self.ctx = ctx
        self.operator = operator
        self.es = es
        self.namespace = es["metadata"].get("namespace", "")
        self.spec = es.get("spec") or {}
        self.clients: dict[tuple[str, str], _Client] = {}

    def client(self, source: dict | None) -> _Client:
        """``Manager.Get``: the store of ``sourceRef.storeRef`` or ``spec.secretStoreRef``, checked."""
        reference = (source or {}).get("storeRef") or self.spec.get("secretStoreRef") or {}
        kind = reference.get("kind") or "SecretStore"
        name = str(reference.get("name") or "")
        if (kind, name) in self.clients:
            return self.clients[(kind, name)]
        store = self.controller._store_object(self.ctx, dict(reference, kind=kind), self.namespace)
        if store is None:
            plural = KIND_PLURAL.get(kind, "secretstores")
            raise SyncError(f'could not get {kind} "{name}", {plural}.{GROUP} "{name}" not found')
        controller = (store.get("spec") or {}).get("controller")
        if controller and controller != self.operator.controller_class:
            raise SyncError("can not reference unmanaged store")
        if kind == "ClusterSecretStore" and not self._allowed(store):
            raise SyncError(f'using cluster store "{name}" is not allowed from namespace "{self.namespace}": denied '
                            "by spec.condition")
        if self.operator.flood_gate and not _ready(store):
            raise SyncError(f'{kind} "{name}" is not ready')
        identity = self.controller._identity(self.ctx, self.operator, store, self.namespace)
        assert identity is not None  # with a namespace there is always one
        client = _Client(self.controller, self.ctx, store, identity)
        self.clients[(kind, name)] = client
        return client

    def _allowed(self, store: dict) -> bool:
        """``shouldProcessSecret``: a ClusterSecretStore's ``spec.conditions`` admit the namespace."""
        conditions = (store.get("spec") or {}).get("conditions") or []
        if not conditions:
            return True
        namespace = self.ctx.get("namespaces", None, self.namespace)
        if namespace is None:
            raise SyncError(f'failed to get a namespace "{self.namespace}": namespaces "{self.namespace}" not found')
        labels = namespace["metadata"].get("labels") or {}
        for condition in conditions:
            selectors = [condition["namespaceSelector"]] if condition.get("namespaceSelector") else []
            selectors += [{"matchLabels": {"kubernetes.io/metadata.name": n}}
                          for n in condition.get("namespaces") or []]
            if any(label_match(selector, labels) for selector in selectors):
                return True
            if any(re.search(str(pattern), self.namespace) for pattern in condition.get("namespaceRegexes") or []):
                return True
        return False

    def provider_data(self) -> dict[str, bytes]:
        deletion = (self.spec.get("target") or {}).get("deletionPolicy") or "Retain"
        data: dict[str, bytes] = {}
        for index, item in enumerate(self.spec.get("dataFrom") or []):
            if item.get("find"):
                what, error = "find", SyncError("the emulator does not emulate dataFrom[].find")
            elif item.get("extract"):
                what, error = "extract", None
            elif (item.get("sourceRef") or {}).get("generatorRef"):
                what, error = "sourceRef.generatorRef", SyncError("the emulator does not emulate generators")
            else:
                continue
            try:
                if error is not None:
                    raise error
                data.update(self._extract(item))
            except NoSecret:
                if deletion != "Retain":
                    self.ctx.event(self.es, "Normal", "MissingProviderSecret",
                                   f"secret does not exist at provider using spec.dataFrom[{index}]", CONTROLLER)
                    continue
                raise SyncError(f"error processing spec.dataFrom[{index}].{what}, err: {NO_SECRET}") from None
            except SyncError as failure:
                raise SyncError(f"error processing spec.dataFrom[{index}].{what}, err: {failure.message}") from None
        for index, item in enumerate(self.spec.get("data") or []):
            reference = item.get("remoteRef") or {}
            remote_key = reference.get("key", "")
            try:
                source = {"storeRef": (item.get("sourceRef") or {}).get("storeRef")} \
                    if (item.get("sourceRef") or {}).get("storeRef") else None
                value = self.client(source).get_secret(reference)
                try:
                    value = _decode(reference.get("decodingStrategy"), value)
                except SyncError as failure:
                    raise SyncError(f"error applying decoding strategy {reference.get('decodingStrategy')} to data: "
                                    f"{failure.message}") from None
                _check_null_bytes(reference.get("nullBytePolicy"), item.get("secretKey", ""), value)
            except NoSecret:
                if deletion != "Retain":
                    self.ctx.event(self.es, "Normal", "MissingProviderSecret",
                                   f"secret does not exist at provider using spec.dataFrom[{index}] (key={remote_key})",
                                   CONTROLLER)
                    continue
                raise SyncError(f"error processing spec.data[{index}] (key: {remote_key}), err: {NO_SECRET}") from None
            except SyncError as failure:
                raise SyncError(f"error processing spec.data[{index}] (key: {remote_key}), err: "
                                f"{failure.message}") from None
            data[str(item.get("secretKey") or "")] = value
        return data

    def _extract(self, item: dict) -> dict[str, bytes]:
        """``handleExtractSecrets``: the JSON members of one secret, keys converted, values decoded."""
        reference = item.get("extract") or {}
        members = secret_map(self.client(item.get("sourceRef")).get_secret(reference), reference.get("key", ""))
        if item.get("rewrite"):
            try:
                members = _rewrite(item["rewrite"], members)
            except SyncError as failure:
                raise SyncError(f"error applying rewrite to keys: {failure.message}") from None
        else:
            members = {_convert_key(reference.get("conversionStrategy"), k): v for k, v in members.items()}
        try:
            members = _validate_keys(members)
        except SyncError as failure:
            raise SyncError("invalid secret keys (TIP: use rewrite or conversionStrategy to change keys): "
                            f"{failure.message}") from None
        decoded = {}
        for key, value in members.items():
            try:
                decoded[key] = _decode(reference.get("decodingStrategy"), value)
            except SyncError as failure:
                raise SyncError(f"error applying decoding strategy {reference.get('decodingStrategy')} to data: "
                                f"failure decoding key {key}: {failure.message}") from None
        for key in sorted(decoded):
            _check_null_bytes(reference.get("nullBytePolicy"), key, decoded[key])
        return decoded


__all__ = ["ExternalSecretsController", "Operator", "controller_ready", "data_hash", "find_operator",
           "get_property", "object_hash", "parse_duration", "resource_version", "secret_map"]
