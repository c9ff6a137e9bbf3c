"""Authentication and authorization of an emulated EKS cluster's Kubernetes API.

**Authentication** (:func:`authenticate`) checks the bearer tokens EKS clients
send: ``k8s-aws-v1.`` followed by the unpadded base64url of an STS
``GetCallerIdentity`` URL presigned with SigV4 query parameters, the header
``x-k8s-aws-id: <cluster name>`` among the signed headers (``aws eks
get-token``, ``aws-iam-authenticator token``). The token is checked as
aws-iam-authenticator's server does (``pkg/token/token.go`` ``Verify``): size,
prefix, base64, an ``https`` URL on an STS host (for the emulator also
``http``/``https`` on 127.0.0.1, ``localhost`` or ``::1``, where its STS
answers), path ``/``, only the allowed parameters and each once,
``Action=GetCallerIdentity``, ``Version=2011-06-15``, ``x-k8s-aws-id``
signed, ``X-Amz-Expires`` 0-900, ``X-Amz-Date`` not older than 15 minutes.
Where the authenticator then calls STS, the emulator does what STS would:
it finds the secret of the access key in moto's IAM (an IAM user's active key)
or STS (an ``AssumeRole`` session, not expired, with its session token), or
takes the emulator's default credentials (:data:`DEFAULT_CREDENTIALS`, moto's
default identity ``arn:aws:sts::<account>:user/moto``), recomputes the
signature with botocore's SigV4 signer over the request the authenticator
would send (``x-k8s-aws-id`` set to *this* cluster's name) and compares.
Any other access key is unknown (STS's ``InvalidClientTokenId``).

The caller is then mapped like EKS does: an assumed role becomes its IAM role,
looked up in the cluster's access entries (authentication mode ``API`` or
``API_AND_CONFIG_MAP``), then, for modes with ``CONFIG_MAP``, in the
``aws-auth`` ConfigMap of ``kube-system`` (when a store is given), and in
``CONFIG_MAP`` mode the cluster creator (``bootstrapClusterCreatorAdminPermissions``)
is ``kubernetes-admin`` in ``system:masters``. A valid principal that maps to
nothing is not authenticated (EKS answers 401). The result is a
:class:`UserInfo`: the entry's username with its ``{{SessionName}}``-style
placeholders filled in, its Kubernetes groups plus ``system:authenticated``,
the associated access policies with their scopes, the IAM principal and the
``extra`` fields EKS's authenticator sets.

A token is a bearer credential: it is never logged, stored or put in an
exception message; rejections are logged (logger ``emulator.k8s.auth``, INFO)
with a fixed reason only.

**Authorization** (:func:`authorize`) answers ``(allowed, reason)`` for a
request's :class:`Attributes`, like EKS's chain: members of ``system:masters``
may do anything; then the EKS access policies of the caller's entry
(:data:`ACCESS_POLICY_RULES`, from AWS's documentation of each policy) within
their scope (``cluster``, or ``namespace`` with a list of namespaces, a
trailing ``*`` matching a prefix); then the default grants of every
authenticated user (``system:discovery``, ``system:basic-user``,
``system:public-info-viewer``); then Kubernetes RBAC: Roles, ClusterRoles,
RoleBindings and ClusterRoleBindings read through any object with
``list_objects(group, resource, namespace) -> list[dict]`` (subjects ``User``,
``Group``, ``ServiceAccount``; ``*`` wildcards, ``resourceNames``,
``nonResourceURLs``, aggregated ClusterRoles). :func:`bootstrap_rbac` returns
the ClusterRoles and ClusterRoleBindings a new cluster starts with
(``cluster-admin``, ``admin``, ``edit``, ``view``...), to seed a store with.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hmac
import logging
import os
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Protocol
from urllib.parse import parse_qsl, urlsplit

LOG = logging.getLogger("emulator.k8s.auth")

TOKEN_PREFIX = "k8s-aws-v1."
MAX_TOKEN_BYTES = 4096
CLUSTER_ID_HEADER = "x-k8s-aws-id"
PRESIGNED_URL_LIFETIME = datetime.timedelta(minutes=15)
MAX_CLOCK_SKEW = datetime.timedelta(minutes=15)
MAX_EXPIRES = 900
STS_ACTION, STS_VERSION = "GetCallerIdentity", "2011-06-15"
ALLOWED_PARAMETERS = frozenset({
    "action", "version", "x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-expires",
    "x-amz-security-token", "x-amz-signature", "x-amz-signedheaders",
})
# Access key -> secret of the credentials the emulator hands out (``python -m emulator run``,
# tests/conftest.py); moto answers them with its default identity.
DEFAULT_CREDENTIALS = {"testing": "testing"}
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
_STS_HOST = re.compile(
    r"^sts(-fips)?(\.[a-z0-9-]+)?\.(amazonaws\.com(\.cn)?|api\.aws|c2s\.ic\.gov|sc2s\.sgov\.gov"
    r"|cloud\.adc-e\.uk|csp\.hci\.ic\.gov)$"
)
_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")

AUTHENTICATED = "system:authenticated"
MASTERS = "system:masters"
POLICY_ARN_PREFIX = "arn:aws:eks::aws:cluster-access-policy/"


# -- user info ---------------------------------------------------------------------

@dataclass(frozen=True)
class AccessPolicy:
    """An EKS access policy associated with the caller's access entry, with its scope."""

    name: str
    scope: str = "cluster"  # or "namespace"
    namespaces: tuple[str, ...] = ()

    @property
    def arn(self) -> str:
        return POLICY_ARN_PREFIX + self.name

    def applies_to(self, namespace: str) -> bool:
        """Does the scope cover a request in ``namespace`` ("" for cluster-wide requests)?"""
        if self.scope == "cluster":
            return True
        if not namespace:
            return False
        return any(namespace == pattern or (pattern.endswith("*") and namespace.startswith(pattern[:-1]))
                   for pattern in self.namespaces)

    def describe(self) -> str:
        if self.scope == "cluster":
            return f"{self.name} (cluster scope)"
        return f"{self.name} (namespace scope: {', '.join(self.namespaces)})"


@dataclass(frozen=True)
class UserInfo:
    """Who a request comes from, as the Kubernetes API sees it."""

    username: str
    groups: tuple[str, ...] = (AUTHENTICATED,)
    uid: str = ""
    extra: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    principal_arn: str = ""  # the IAM principal (an assumed role as its role ARN)
    access_policies: tuple[AccessPolicy, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The ``UserInfo`` of ``authentication.k8s.io`` (TokenReview, SelfSubjectReview)."""
        info: dict[str, Any] = {"username": self.username, "groups": list(self.groups)}
        if self.uid:
            info["uid"] = self.uid
        if self.extra:
            info["extra"] = {key: list(values) for key, values in self.extra.items()}
        return info


@dataclass(frozen=True)
class Caller:
    """The AWS identity a verified token was signed by (what ``GetCallerIdentity`` answers)."""

    arn: str  # as STS reports it (``...:assumed-role/Role/session``)
    account: str
    user_id: str  # ``AIDA...``, ``AROA...`` (without the session name)
    access_key_id: str
    session_name: str = ""
    role_arn: str = ""  # an assumed role's IAM role ARN as moto knows it (with its path)
    region: str = "us-east-1"

    @property
    def canonical_arn(self) -> str:
        from ..eks_access import canonical_arn

        return canonical_arn(self.arn)


class TokenRejected(Exception):
    """A token that does not authenticate; ``reason`` never contains the token or its parts."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ClusterRef:
    """Where an EKS cluster lives in moto: its account, Region and name."""

    account_id: str
    region: str
    name: str

    @classmethod
    def of(cls, cluster: Any) -> ClusterRef:
        """The reference of a moto ``Cluster`` (from its ARN)."""
        _, _, _, region, account, _ = cluster.arn.split(":", 5)
        return cls(account, region, cluster.name)

    def cluster(self) -> Any:
        """The live moto cluster, or None once it is gone (deleted, reset)."""
        from moto.eks.models import eks_backends

        regions = dict.get(eks_backends, self.account_id)
        backend = dict.get(regions, self.region) if regions is not None else None
        if backend is None:
            return None
        return backend.clusters.get(self.name)


# -- authentication -----------------------------------------------------------------

def authenticate(token: str, cluster: Any, store: Any = None,
                 now: datetime.datetime | None = None) -> UserInfo | None:
    """The :class:`UserInfo` of an EKS bearer token for ``cluster``, or None (401).

    ``cluster`` is a :class:`ClusterRef` or a moto ``Cluster``; ``store`` (a
    ``list_objects`` reader, optional) is where the ``aws-auth`` ConfigMap is
    read from. Never raises for a bad token.
    """
    name = getattr(cluster, "name", "?")
    try:
        live = cluster.cluster() if isinstance(cluster, ClusterRef) else cluster
        if live is None:
            raise TokenRejected("the cluster does not exist")
        caller = verify_token(token, live.name, now=now)
        user = map_caller(caller, live, store)
        if user is None:
            raise TokenRejected(f"{caller.canonical_arn} has no access entry or mapping in the cluster")
        return user
    except TokenRejected as exc:
        LOG.info("cluster %s: token rejected: %s", name, exc.reason)
    except Exception as exc:  # noqa: BLE001 - a bad token must never become a 500; messages may quote it
        LOG.warning("cluster %s: token verification failed (%s)", name, type(exc).__name__)
    return None


def _decode(token: str) -> str:
    if not isinstance(token, str):
        raise TokenRejected("the token is not a string")
    if len(token) > MAX_TOKEN_BYTES:
        raise TokenRejected("the token is too large")
    if not token.startswith(TOKEN_PREFIX):
        raise TokenRejected(f"the token is missing the {TOKEN_PREFIX!r} prefix")
    body = token[len(TOKEN_PREFIX):]
    if "=" in body or not re.fullmatch(r"[A-Za-z0-9_-]*", body):
        raise TokenRejected("the token is not unpadded base64url")
    try:
        return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise TokenRejected("the token is not valid base64url") from None


def _check_host(scheme: str, host: str) -> None:
    if host in LOCAL_HOSTS:
        if scheme not in ("http", "https"):
            raise TokenRejected("unexpected scheme in the presigned URL")
        return
    if scheme != "https":
        raise TokenRejected("unexpected scheme in the presigned URL")
    if not _STS_HOST.match(host):
        raise TokenRejected("unexpected hostname in the presigned URL")


def _parse_date(value: str) -> datetime.datetime:
    try:
        return datetime.datetime.strptime(value, _DATE_FORMAT).replace(tzinfo=datetime.timezone.utc)
    except ValueError:
        raise TokenRejected("X-Amz-Date is not a valid date") from None


def verify_token(token: str, cluster_name: str, now: datetime.datetime | None = None) -> Caller:
    """The :class:`Caller` who signed ``token`` for ``cluster_name``; :class:`TokenRejected` otherwise."""
    url = _decode(token)
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        raise TokenRejected("the presigned URL does not parse") from None
    _check_host(parts.scheme, host)
    if parts.path != "/":
        raise TokenRejected("unexpected path in the presigned URL")
    if parts.fragment or parts.username or parts.password:
        raise TokenRejected("unexpected parts in the presigned URL")
    try:
        pairs = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        raise TokenRejected("malformed query in the presigned URL") from None
    params: dict[str, str] = {}
    for key, value in pairs:
        lower = key.lower()
        if lower not in ALLOWED_PARAMETERS:
            raise TokenRejected("a query parameter of the presigned URL is not allowed")
        if lower in params:
            raise TokenRejected("a query parameter of the presigned URL is repeated")
        params[lower] = value
    if params.get("action") != STS_ACTION:
        raise TokenRejected("unexpected action in the presigned URL")
    if params.get("version") != STS_VERSION:
        raise TokenRejected("unexpected version in the presigned URL")
    signed_headers = params.get("x-amz-signedheaders", "").split(";")
    if CLUSTER_ID_HEADER not in [header.lower() for header in signed_headers]:
        raise TokenRejected(f"the {CLUSTER_ID_HEADER} header is not signed in the presigned URL")
    expires = params.get("x-amz-expires", "")
    if not expires.isdigit() or int(expires) > MAX_EXPIRES:
        raise TokenRejected("invalid X-Amz-Expires in the presigned URL")
    if not params.get("x-amz-date"):
        raise TokenRejected("X-Amz-Date is missing from the presigned URL")
    date = _parse_date(params["x-amz-date"])
    now = now or datetime.datetime.now(datetime.timezone.utc)
    if now > date + PRESIGNED_URL_LIFETIME:
        raise TokenRejected("the token has expired (X-Amz-Date is more than 15 minutes old)")
    if date > now + MAX_CLOCK_SKEW:
        raise TokenRejected("X-Amz-Date is in the future")
    if params.get("x-amz-algorithm") != "AWS4-HMAC-SHA256":
        raise TokenRejected("unexpected X-Amz-Algorithm in the presigned URL")
    scope = params.get("x-amz-credential", "").split("/")
    if len(scope) != 5 or scope[3] != "sts" or scope[4] != "aws4_request" or scope[1] != params["x-amz-date"][:8]:
        raise TokenRejected("malformed X-Amz-Credential in the presigned URL")
    access_key, region = scope[0], scope[2]
    if not access_key or not re.fullmatch(r"[a-z0-9-]+", region):
        raise TokenRejected("malformed X-Amz-Credential in the presigned URL")

    secret, caller = resolve_access_key(access_key, region, params.get("x-amz-security-token"), now)
    expected = _signature(parts, pairs, signed_headers, cluster_name, access_key, secret,
                          params.get("x-amz-security-token"), region, params["x-amz-date"])
    if not hmac.compare_digest(expected.encode(), params.get("x-amz-signature", "").encode("utf-8")):
        raise TokenRejected("the signature does not match (wrong secret, cluster or altered token)")
    return caller


def _signature(parts: Any, pairs: list[tuple[str, str]], signed_headers: list[str],
               cluster_name: str, access_key: str, secret: str, session_token: str | None,
               region: str, timestamp: str) -> str:
    """The SigV4 query signature of the request the authenticator would send to STS."""
    from botocore.auth import SigV4QueryAuth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    headers: dict[str, str] = {}
    for name in signed_headers:
        lower = name.lower()
        if lower == "host":
            continue  # botocore derives it from the URL, as the HTTP client sends it
        if lower != CLUSTER_ID_HEADER:
            raise TokenRejected("the presigned URL signs a header the authenticator does not send")
        headers[CLUSTER_ID_HEADER] = cluster_name
    if "host" not in [name.lower() for name in signed_headers]:
        raise TokenRejected("the host header is not signed in the presigned URL")
    request = AWSRequest(method="GET", url=f"{parts.scheme}://{parts.netloc}/", headers=headers,
                         params=[(key, value) for key, value in pairs if key.lower() != "x-amz-signature"])
    request.context["timestamp"] = timestamp
    signer = SigV4QueryAuth(Credentials(access_key, secret, session_token), "sts", region)
    canonical_request = signer.canonical_request(request)
    return signer.signature(signer.string_to_sign(request, canonical_request), request)


def _account_of(access_key: str) -> str:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.iam.models import get_account_id_from

    account = get_account_id_from(access_key)
    if account == DEFAULT_ACCOUNT_ID:
        account = os.environ.get("MOTO_ACCOUNT_ID", DEFAULT_ACCOUNT_ID)
    return account


def resolve_access_key(access_key: str, region: str, session_token: str | None,
                       now: datetime.datetime) -> tuple[str, Caller]:
    """The secret of ``access_key`` and the identity STS answers for it; TokenRejected if unknown."""
    from moto.iam.models import iam_backends
    from moto.sts.models import sts_backends
    from moto.utilities.utils import get_partition

    partition = get_partition(region)
    account = _account_of(access_key)
    accounts = dict.get(sts_backends, account)
    sts = dict.get(accounts, partition) if accounts is not None else None
    assumed = sts.get_assumed_role_from_access_key(access_key) if sts is not None else None
    if assumed is not None:
        if not session_token or not hmac.compare_digest(session_token.encode("utf-8"),
                                                        assumed.session_token.encode("utf-8")):
            raise TokenRejected("the session token does not match the access key")
        if assumed.expiration.replace(tzinfo=datetime.timezone.utc) <= now:
            raise TokenRejected("the session credentials have expired")
        role_id = assumed.user_id.split(":", 1)[0]
        return assumed.secret_access_key, Caller(
            arn=assumed.arn, account=assumed.account_id, user_id=role_id, access_key_id=access_key,
            session_name=assumed.session_name, role_arn=assumed.role_arn, region=region,
        )
    accounts = dict.get(iam_backends, account)
    iam = dict.get(accounts, partition) if accounts is not None else None
    key = dict.get(iam.access_keys, access_key) if iam is not None else None
    if key is not None and key.user_name is not None:
        user = iam.users.get(key.user_name)
        if user is None or key not in user.access_keys:
            raise TokenRejected("the access key does not exist")
        if key.status != "Active":
            raise TokenRejected("the access key is not active")
        if session_token:
            raise TokenRejected("a session token was given with a long-term access key")
        return key.secret_access_key, Caller(arn=user.arn, account=user.account_id, user_id=user.id,
                                             access_key_id=access_key, region=region)
    if access_key in DEFAULT_CREDENTIALS:  # moto's default identity (see its GetCallerIdentity)
        return DEFAULT_CREDENTIALS[access_key], Caller(
            arn=f"arn:{partition}:sts::{account}:user/moto", account=account, user_id="AKIAIOSFODNN7EXAMPLE",
            access_key_id=access_key, region=region,
        )
    raise TokenRejected("the access key is not known to the emulator's IAM or STS")


# -- mapping the caller to a Kubernetes user ----------------------------------------------

def _strip_path(arn: str) -> str:
    """``arn:aws:iam::1:role/a/b/Name`` -> ``arn:aws:iam::1:role/Name``."""
    match = re.match(r"^(arn:[^:]+:iam::\d{12}:(?:role|user))/(?:.*/)?([^/]+)$", arn)
    return f"{match.group(1)}/{match.group(2)}" if match else arn


def _entry_for(entries: Mapping[str, Any], caller: Caller) -> Any:
    candidates = [caller.role_arn, caller.canonical_arn] if caller.role_arn else [caller.arn]
    for arn in candidates:
        if arn and arn in entries:
            return entries[arn]
    wanted = {_strip_path(arn).lower() for arn in candidates if arn}
    for principal, entry in entries.items():
        if _strip_path(principal).lower() in wanted:
            return entry
    return None


def _ec2_private_dns_name(caller: Caller) -> str | None:
    """The private DNS name of the EC2 instance whose role session signed the token."""
    from moto.ec2.models import ec2_backends

    if not caller.session_name.startswith("i-"):
        return None
    regions = dict.get(ec2_backends, caller.account)
    ec2 = dict.get(regions, caller.region) if regions is not None else None
    if ec2 is None:
        return None
    try:
        return ec2.get_instance(caller.session_name).private_dns_name
    except Exception:  # noqa: BLE001 - moto's InvalidInstanceIdError
        return None


def render(template: str, caller: Caller) -> str | None:
    """An access entry's (or aws-auth's) username template with its placeholders filled in."""
    values = {
        "AccountID": caller.account,
        "SessionName": caller.session_name.replace("@", "-"),
        "SessionNameRaw": caller.session_name,
        "AccessKeyID": caller.access_key_id,
    }
    missing = False

    def fill(match: re.Match[str]) -> str:
        nonlocal missing
        key = match.group(1)
        if key == "EC2PrivateDNSName":
            value = _ec2_private_dns_name(caller)
        else:
            value = values.get(key)
        if value is None:
            missing = True
            return ""
        return value

    result = _PLACEHOLDER.sub(fill, template)
    return None if missing else result


def _extra(caller: Caller) -> dict[str, tuple[str, ...]]:
    return {
        "accessKeyId": (caller.access_key_id,),
        "arn": (caller.arn,),
        "canonicalArn": (caller.canonical_arn,),
        "principalId": (caller.user_id,),
        "sessionName": (caller.session_name,),
        "sigs.k8s.io/aws-iam-authenticator/principalId": (caller.user_id,),
    }


def _user(caller: Caller, username: str | None, groups: Iterable[str],
          policies: tuple[AccessPolicy, ...] = ()) -> UserInfo | None:
    if not username:
        return None
    rendered = [render(group, caller) for group in groups]
    all_groups = [group for group in rendered if group] + [AUTHENTICATED]
    return UserInfo(
        username=username,
        groups=tuple(dict.fromkeys(all_groups)),
        uid=f"aws-iam-authenticator:{caller.account}:{caller.user_id}",
        extra=_extra(caller),
        principal_arn=caller.role_arn or caller.canonical_arn,
        access_policies=policies,
    )


def _aws_auth(store: Any) -> dict[str, Any] | None:
    """The parsed ``data`` of ``kube-system/aws-auth``, if the store has it."""
    import yaml

    for obj in _list(store, "", "configmaps", "kube-system"):
        if (obj.get("metadata") or {}).get("name") == "aws-auth":
            data = obj.get("data") or {}
            parsed: dict[str, Any] = {}
            for key in ("mapRoles", "mapUsers", "mapAccounts"):
                try:
                    parsed[key] = yaml.safe_load(data.get(key) or "[]") or []
                except yaml.YAMLError:
                    LOG.warning("aws-auth: %s is not valid YAML; ignored", key)
                    parsed[key] = []
            return parsed
    return None


def _from_aws_auth(caller: Caller, store: Any) -> UserInfo | None:
    config = _aws_auth(store)
    if config is None:
        return None
    canonical = caller.canonical_arn.lower()
    key, field_name = ("mapRoles", "rolearn") if caller.role_arn else ("mapUsers", "userarn")
    for mapping in config[key]:
        if isinstance(mapping, dict) and str(mapping.get(field_name, "")).lower() == canonical:
            username = mapping.get("username") or caller.canonical_arn
            return _user(caller, render(str(username), caller), [str(g) for g in mapping.get("groups") or []])
    if caller.account in [str(account) for account in config["mapAccounts"]]:
        return _user(caller, caller.arn, [])
    return None


def map_caller(caller: Caller, cluster: Any, store: Any = None) -> UserInfo | None:
    """The Kubernetes user of ``caller`` in ``cluster`` (access entries, aws-auth, creator), or None."""
    from .. import eks_access

    mode = eks_access.authentication_mode(cluster)
    entry = _entry_for(eks_access.entries_for_authentication(cluster), caller)
    if entry is not None:
        policies = tuple(
            AccessPolicy(name=arn.rsplit("/", 1)[-1], scope=policy.scope.get("type", "cluster"),
                         namespaces=tuple(policy.scope.get("namespaces") or ()))
            for arn, policy in sorted(entry.policies.items())
        )
        return _user(caller, render(entry.username, caller), entry.kubernetes_groups, policies)
    if "CONFIG_MAP" not in mode:
        return None
    if mode == "CONFIG_MAP":
        creator = eks_access.creator_admin(cluster)
        if creator and _entry_for({creator: True}, caller):
            return _user(caller, "kubernetes-admin", [MASTERS])
    if store is not None:
        return _from_aws_auth(caller, store)
    return None


# -- authorization --------------------------------------------------------------------

@dataclass(frozen=True)
class Attributes:
    """What a request does, as Kubernetes authorizers see it.

    A resource request has ``resource`` (plural, e.g. ``pods``), maybe a
    ``subresource`` (``log``), ``api_group`` ("" for the core group), the
    ``namespace`` ("" for cluster-scoped resources; for ``namespaces`` the
    namespace is the object's name, as kube-apiserver sets it) and ``name``.
    A non-resource request has ``path`` (``/version``) and the lowercase HTTP
    method as ``verb``.
    """

    verb: str
    api_group: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    path: str = ""

    @property
    def is_resource_request(self) -> bool:
        return bool(self.resource)

    @classmethod
    def coerce(cls, value: Any) -> Attributes:
        """An :class:`Attributes` from itself or a mapping (snake_case or camelCase keys)."""
        if isinstance(value, cls):
            return value
        aliases = {"apiGroup": "api_group", "group": "api_group"}
        values = {aliases.get(key, key): item or "" for key, item in dict(value).items()}
        return cls(**{key: values[key] for key in cls.__dataclass_fields__ if key in values})

    def describe(self) -> str:
        if not self.is_resource_request:
            return f'{self.verb} path "{self.path}"'
        resource = f"{self.resource}/{self.subresource}" if self.subresource else self.resource
        text = f'{self.verb} resource "{resource}" in API group "{self.api_group}"'
        if self.name:
            text += f' named "{self.name}"'
        return text + (f' in the namespace "{self.namespace}"' if self.namespace else " at the cluster scope")


class ObjectReader(Protocol):
    """What authorization reads RBAC objects (and ``aws-auth``) through."""

    def list_objects(self, group: str, resource: str, namespace: str | None) -> list[dict[str, Any]]:
        ...  # pragma: no cover - a protocol


def _rule(groups: Iterable[str], resources: Iterable[str], verbs: Iterable[str]) -> dict[str, Any]:
    return {"apiGroups": list(groups), "resources": list(resources), "verbs": list(verbs)}


_READ = ("get", "list", "watch")
_WRITE = ("create", "delete", "deletecollection", "patch", "update")
_VIEW_RULES = [
    _rule([""], ["configmaps", "endpoints", "persistentvolumeclaims", "persistentvolumeclaims/status", "pods",
                 "replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts", "services",
                 "services/status"], _READ),
    _rule([""], ["bindings", "events", "limitranges", "namespaces/status", "pods/log", "pods/status",
                 "replicationcontrollers/status", "resourcequotas", "resourcequotas/status"], _READ),
    _rule([""], ["namespaces"], _READ),
    _rule(["discovery.k8s.io"], ["endpointslices"], _READ),
    _rule(["apps"], ["controllerrevisions", "daemonsets", "daemonsets/status", "deployments", "deployments/scale",
                     "deployments/status", "replicasets", "replicasets/scale", "replicasets/status", "statefulsets",
                     "statefulsets/scale", "statefulsets/status"], _READ),
    _rule(["autoscaling"], ["horizontalpodautoscalers", "horizontalpodautoscalers/status"], _READ),
    _rule(["batch"], ["cronjobs", "cronjobs/status", "jobs", "jobs/status"], _READ),
    _rule(["extensions"], ["daemonsets", "daemonsets/status", "deployments", "deployments/scale",
                           "deployments/status", "ingresses", "ingresses/status", "networkpolicies", "replicasets",
                           "replicasets/scale", "replicasets/status", "replicationcontrollers/scale"], _READ),
    _rule(["policy"], ["poddisruptionbudgets", "poddisruptionbudgets/status"], _READ),
    _rule(["networking.k8s.io"], ["ingresses", "ingresses/status", "networkpolicies"], _READ),
]
_EDIT_ONLY_RULES = [  # AWS's AmazonEKSEditPolicy beyond view (Kubernetes' edit has a few more)
    _rule([""], ["pods/attach", "pods/exec", "pods/portforward", "pods/proxy", "secrets", "services/proxy"], _READ),
    _rule([""], ["serviceaccounts"], ["impersonate"]),
    _rule([""], ["pods", "pods/attach", "pods/exec", "pods/portforward", "pods/proxy"], _WRITE),
    _rule([""], ["configmaps", "events", "persistentvolumeclaims", "replicationcontrollers",
                 "replicationcontrollers/scale", "secrets", "serviceaccounts", "services", "services/proxy"], _WRITE),
    _rule(["apps"], ["daemonsets", "deployments", "deployments/rollback", "deployments/scale", "replicasets",
                     "replicasets/scale", "statefulsets", "statefulsets/scale"], _WRITE),
    _rule(["autoscaling"], ["horizontalpodautoscalers"], _WRITE),
    _rule(["batch"], ["cronjobs", "jobs"], _WRITE),
    _rule(["extensions"], ["daemonsets", "deployments", "deployments/rollback", "deployments/scale", "ingresses",
                           "networkpolicies", "replicasets", "replicasets/scale", "replicationcontrollers/scale"],
          _WRITE),
    _rule(["policy"], ["poddisruptionbudgets"], _WRITE),
    _rule(["networking.k8s.io"], ["ingresses", "networkpolicies"], _WRITE),
]
_ADMIN_ONLY_RULES = [
    _rule(["authorization.k8s.io"], ["localsubjectaccessreviews"], ["create"]),
    _rule(["rbac.authorization.k8s.io"], ["rolebindings", "roles"], _READ + _WRITE),
]
_ALL = [_rule(["*"], ["*"], ["*"]), {"nonResourceURLs": ["*"], "verbs": ["*"]}]

# EKS access policies as Kubernetes rules (AWS's "Review access policy permissions" page).
ACCESS_POLICY_RULES: dict[str, list[dict[str, Any]]] = {
    "AmazonEKSClusterAdminPolicy": _ALL,
    "AmazonEKSAdminPolicy": _VIEW_RULES + _EDIT_ONLY_RULES + _ADMIN_ONLY_RULES,
    "AmazonEKSEditPolicy": _VIEW_RULES + _EDIT_ONLY_RULES,
    "AmazonEKSViewPolicy": _VIEW_RULES,
    "AmazonEKSAdminViewPolicy": [_rule(["*"], ["*"], _READ)],
    "AmazonEKSSecretReaderPolicy": [_rule([""], ["secrets"], _READ)],
}

# What every authenticated user may do (Kubernetes' bootstrap bindings to system:authenticated).
_DISCOVERY_URLS = ["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi", "/openapi/*",
                   "/readyz", "/version", "/version/"]
_PUBLIC_INFO_URLS = ["/healthz", "/livez", "/readyz", "/version", "/version/"]
_BASIC_USER_RULES = [
    _rule(["authorization.k8s.io"], ["selfsubjectaccessreviews", "selfsubjectrulesreviews"], ["create"]),
    _rule(["authentication.k8s.io"], ["selfsubjectreviews"], ["create"]),
]
_AUTHENTICATED_RULES = [{"nonResourceURLs": _DISCOVERY_URLS, "verbs": ["get"]}] + _BASIC_USER_RULES
UNAUTHENTICATED = "system:unauthenticated"
_PUBLIC_RULES = [{"nonResourceURLs": _PUBLIC_INFO_URLS, "verbs": ["get"]}]  # system:public-info-viewer


def _matches(values: Iterable[str], wanted: str) -> bool:
    values = list(values or [])
    return "*" in values or wanted in values


def _resource_matches(rule_resources: Iterable[str], resource: str, subresource: str) -> bool:
    combined = f"{resource}/{subresource}" if subresource else resource
    for rule_resource in rule_resources or []:
        if rule_resource in ("*", combined):
            return True
        if subresource and rule_resource == f"*/{subresource}":
            return True
    return False


def _url_matches(rule_urls: Iterable[str], path: str) -> bool:
    for rule_url in rule_urls or []:
        if rule_url == "*" or rule_url == path:
            return True
        if rule_url.endswith("*") and path.startswith(rule_url[:-1]):
            return True
    return False


def rule_allows(rule: Mapping[str, Any], attributes: Attributes) -> bool:
    """Does one RBAC ``PolicyRule`` allow the request (Kubernetes' ``RuleAllows``)?"""
    if not _matches(rule.get("verbs") or [], attributes.verb):
        return False
    if not attributes.is_resource_request:
        return _url_matches(rule.get("nonResourceURLs") or [], attributes.path)
    if not rule.get("resources"):
        return False
    names = rule.get("resourceNames") or []
    return (_matches(rule.get("apiGroups") or [], attributes.api_group)
            and _resource_matches(rule.get("resources") or [], attributes.resource, attributes.subresource)
            and (not names or attributes.name in names))


class StoreReader:
    """:class:`ObjectReader` over the apiserver's ``store.Store`` (``resources`` + ``list(rt, namespace)``)."""

    def __init__(self, store: Any) -> None:
        self.store = store

    def list_objects(self, group: str, resource: str, namespace: str | None) -> list[dict[str, Any]]:
        types = [rt for rt in self.store.resources.all() if rt.group == group and rt.plural == resource]
        rt = next((rt for rt in types if rt.preferred), types[0] if types else None)
        if rt is None:
            return []
        return list(self.store.list(rt, namespace or None)[0])


def as_reader(store: Any) -> Any:
    """``store`` as an :class:`ObjectReader`: itself if it has ``list_objects``, a ``Store`` wrapped, None."""
    if store is None or hasattr(store, "list_objects"):
        return store
    return StoreReader(store)


def _list(store: Any, group: str, resource: str, namespace: str | None) -> list[dict[str, Any]]:
    reader = as_reader(store)
    if reader is None:
        return []
    return list(reader.list_objects(group, resource, namespace) or [])


def _selector_matches(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression.get("key"), expression.get("operator"), expression.get("values") or []
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and key in labels and labels[key] in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def _cluster_role_rules(name: str, cluster_roles: Mapping[str, dict[str, Any]],
                        seen: set[str] | None = None) -> list[dict[str, Any]]:
    """A ClusterRole's rules, with those of the ClusterRoles its aggregationRule selects."""
    seen = set() if seen is None else seen
    if name in seen or name not in cluster_roles:
        return []
    seen.add(name)
    role = cluster_roles[name]
    rules = list(role.get("rules") or [])
    selectors = (role.get("aggregationRule") or {}).get("clusterRoleSelectors") or []
    for other_name, other in cluster_roles.items():
        labels = (other.get("metadata") or {}).get("labels") or {}
        if other_name != name and any(_selector_matches(s, labels) for s in selectors):
            rules += _cluster_role_rules(other_name, cluster_roles, seen)
    return rules


def _subject_applies(subject: Mapping[str, Any], user: UserInfo, binding_namespace: str) -> bool:
    kind, name = subject.get("kind"), subject.get("name")
    if kind == "User":
        return name == user.username
    if kind == "Group":
        return name in user.groups
    if kind == "ServiceAccount":
        namespace = subject.get("namespace") or binding_namespace
        return bool(namespace) and user.username == f"system:serviceaccount:{namespace}:{name}"
    return False


def _bindings(user: UserInfo, namespace: str, store: Any) -> Iterable[tuple[dict[str, Any], str, list]]:
    """(binding, kind, rules) of every binding that applies to ``user`` for ``namespace``."""
    rbac = "rbac.authorization.k8s.io"
    cluster_roles = {(role.get("metadata") or {}).get("name"): role
                     for role in _list(store, rbac, "clusterroles", None)}
    for binding in _list(store, rbac, "clusterrolebindings", None):
        if any(_subject_applies(s, user, "") for s in binding.get("subjects") or []):
            ref = binding.get("roleRef") or {}
            if ref.get("kind") == "ClusterRole":
                yield binding, "ClusterRoleBinding", _cluster_role_rules(ref.get("name"), cluster_roles)
    if not namespace:
        return
    roles = {(role.get("metadata") or {}).get("name"): role for role in _list(store, rbac, "roles", namespace)}
    for binding in _list(store, rbac, "rolebindings", namespace):
        if (binding.get("metadata") or {}).get("namespace", namespace) != namespace:
            continue
        if not any(_subject_applies(s, user, namespace) for s in binding.get("subjects") or []):
            continue
        ref = binding.get("roleRef") or {}
        if ref.get("kind") == "ClusterRole":
            rules = _cluster_role_rules(ref.get("name"), cluster_roles)
        elif ref.get("kind") == "Role" and ref.get("name") in roles:
            rules = list(roles[ref["name"]].get("rules") or [])
        else:
            continue
        yield binding, "RoleBinding", rules


def _subject_text(binding: Mapping[str, Any], user: UserInfo) -> str:
    for subject in binding.get("subjects") or []:
        if _subject_applies(subject, user, (binding.get("metadata") or {}).get("namespace", "")):
            return f'{subject.get("kind")} "{subject.get("name")}"'
    return "?"


def authorize(user: UserInfo, attributes: Any, store: Any = None) -> tuple[bool, str]:
    """``(allowed, reason)`` for ``user`` doing ``attributes`` (an :class:`Attributes` or a mapping).

    ``store`` is an :class:`ObjectReader` of the cluster's RBAC objects, or the
    apiserver's ``Store`` itself (None: no RBAC objects).
    """
    attributes = Attributes.coerce(attributes)
    if MASTERS in user.groups:
        return True, f"allowed: {MASTERS} may do anything"
    for policy in getattr(user, "access_policies", ()):
        rules = ACCESS_POLICY_RULES.get(policy.name, [])
        in_scope = policy.applies_to(attributes.namespace) if attributes.is_resource_request \
            else policy.scope == "cluster"
        if in_scope and any(rule_allows(rule, attributes) for rule in rules):
            return True, f"allowed by EKS access policy {policy.describe()}"
    if AUTHENTICATED in user.groups and any(rule_allows(rule, attributes) for rule in _AUTHENTICATED_RULES):
        return True, f"allowed by the default grants of {AUTHENTICATED}"
    if UNAUTHENTICATED in user.groups and any(rule_allows(rule, attributes) for rule in _PUBLIC_RULES):
        return True, f"allowed by the default grants of {UNAUTHENTICATED}"
    namespace = attributes.namespace if attributes.is_resource_request else ""
    for binding, kind, rules in _bindings(user, namespace, store):
        if any(rule_allows(rule, attributes) for rule in rules):
            meta = binding.get("metadata") or {}
            ref = binding.get("roleRef") or {}
            where = f"{meta.get('namespace')}/" if kind == "RoleBinding" else ""
            return True, (f'RBAC: allowed by {kind} "{where}{meta.get("name")}" of {ref.get("kind")} '
                          f'"{ref.get("name")}" to {_subject_text(binding, user)}')
    policies = ", ".join(policy.describe() for policy in getattr(user, "access_policies", ())) or "none"
    return False, (f'no EKS access policy (associated: {policies}) or RBAC binding allows user '
                   f'"{user.username}" to {attributes.describe()}')


def rules_for(user: UserInfo, namespace: str, store: Any = None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(resource rules, non-resource rules) ``user`` has in ``namespace`` (SelfSubjectRulesReview)."""
    rules: list[dict[str, Any]] = []
    if MASTERS in user.groups:
        rules += _ALL
    for policy in getattr(user, "access_policies", ()):
        if policy.applies_to(namespace) if namespace else policy.scope == "cluster":
            rules += ACCESS_POLICY_RULES.get(policy.name, [])
    if AUTHENTICATED in user.groups:
        rules += _AUTHENTICATED_RULES
    if UNAUTHENTICATED in user.groups:
        rules += _PUBLIC_RULES
    for _, _, binding_rules in _bindings(user, namespace, store):
        rules += binding_rules
    resource_rules = [{key: value for key, value in rule.items() if key != "nonResourceURLs"}
                      for rule in rules if rule.get("resources")]
    non_resource_rules = [{"verbs": rule["verbs"], "nonResourceURLs": rule["nonResourceURLs"]}
                          for rule in rules if rule.get("nonResourceURLs")]
    return resource_rules, non_resource_rules


# -- bootstrap RBAC objects ---------------------------------------------------------------

_AGGREGATE_TO_VIEW = _VIEW_RULES
_AGGREGATE_TO_EDIT = _EDIT_ONLY_RULES + [
    _rule([""], ["pods/eviction"], ["create"]),
    _rule([""], ["serviceaccounts/token"], ["create"]),
    _rule(["coordination.k8s.io"], ["leases"], _READ + _WRITE),
]
_AGGREGATE_TO_ADMIN = _ADMIN_ONLY_RULES


def _cluster_role(name: str, rules: list[dict[str, Any]], labels: Mapping[str, str] | None = None,
                  aggregate: str | None = None) -> dict[str, Any]:
    role: dict[str, Any] = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {
            "name": name,
            "labels": {"kubernetes.io/bootstrapping": "rbac-defaults", **(labels or {})},
            "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"},
        },
        "rules": [dict(rule) for rule in rules],
    }
    if aggregate:
        role["aggregationRule"] = {"clusterRoleSelectors": [
            {"matchLabels": {f"rbac.authorization.k8s.io/aggregate-to-{aggregate}": "true"}}]}
    return role


def _cluster_role_binding(name: str, role: str, groups: Iterable[str]) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {
            "name": name,
            "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"},
            "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"},
        },
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": group} for group in groups],
    }


def bootstrap_rbac() -> list[dict[str, Any]]:
    """The ClusterRoles and ClusterRoleBindings a new cluster has (Kubernetes' bootstrap policy, in part).

    ``admin``, ``edit`` and ``view`` carry their ``aggregationRule`` and the
    rules the aggregation controller fills in.
    """
    view = _AGGREGATE_TO_VIEW
    edit = _AGGREGATE_TO_EDIT + view
    admin = _AGGREGATE_TO_ADMIN + edit
    return [
        _cluster_role("cluster-admin", _ALL),
        _cluster_role("admin", admin, aggregate="admin"),
        _cluster_role("edit", edit, {"rbac.authorization.k8s.io/aggregate-to-admin": "true"}, aggregate="edit"),
        _cluster_role("view", view, {"rbac.authorization.k8s.io/aggregate-to-edit": "true"}, aggregate="view"),
        _cluster_role("system:aggregate-to-admin", _AGGREGATE_TO_ADMIN,
                      {"rbac.authorization.k8s.io/aggregate-to-admin": "true"}),
        _cluster_role("system:aggregate-to-edit", _AGGREGATE_TO_EDIT,
                      {"rbac.authorization.k8s.io/aggregate-to-edit": "true"}),
        _cluster_role("system:aggregate-to-view", _AGGREGATE_TO_VIEW,
                      {"rbac.authorization.k8s.io/aggregate-to-view": "true"}),
        _cluster_role("system:discovery", [{"nonResourceURLs": _DISCOVERY_URLS, "verbs": ["get"]}]),
        _cluster_role("system:public-info-viewer", [{"nonResourceURLs": _PUBLIC_INFO_URLS, "verbs": ["get"]}]),
        _cluster_role("system:basic-user", _BASIC_USER_RULES),
        _cluster_role_binding("cluster-admin", "cluster-admin", [MASTERS]),
        _cluster_role_binding("system:discovery", "system:discovery", [AUTHENTICATED]),
        _cluster_role_binding("system:basic-user", "system:basic-user", [AUTHENTICATED]),
        _cluster_role_binding("system:public-info-viewer", "system:public-info-viewer",
                              [AUTHENTICATED, "system:unauthenticated"]),
    ]


__all__ = [
    "ACCESS_POLICY_RULES", "AccessPolicy", "Attributes", "Caller", "ClusterRef", "DEFAULT_CREDENTIALS",
    "ObjectReader", "StoreReader", "TokenRejected", "as_reader", "UserInfo", "authenticate", "authorize", "bootstrap_rbac", "map_caller",
    "render", "resolve_access_key", "rule_allows", "rules_for", "verify_token",
]
