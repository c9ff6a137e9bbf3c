"""A small, honest IAM evaluator: what an emulated controller may do *as an IAM role*.

The External Secrets Operator emulation (:mod:`.external_secrets`) reads Secrets
Manager as the role of a ServiceAccount (IRSA). Both clouds (:class:`.cloud.StaticCloud`
and ``eks_bridge.MotoCloud``) gather the role (:class:`IamRole`) and call these
functions, so the decision and AWS's error messages are the same in both.

Evaluated, as IAM does for a principal of the same account:

* identity-based policies (inline and attached managed policies): ``Effect``
  ``Allow``/``Deny``, ``Action``/``NotAction`` (case-insensitive) and
  ``Resource``/``NotResource`` with the ``*`` and ``?`` wildcards; an explicit
  Deny beats any Allow, no Allow is an implicit deny;
* the role's permissions boundary, if any (it must allow too);
* trust policies for ``sts:AssumeRoleWithWebIdentity``: an ``Allow`` (and no
  ``Deny``) statement whose ``Principal`` ``Federated`` is the cluster's OIDC
  provider (or ``*``), whose ``Action`` matches, and whose ``Condition`` holds for
  the token's keys ``<issuer host/path>:sub`` (``system:serviceaccount:<ns>:<name>``),
  ``:aud`` and ``:amr``: operators ``StringEquals``, ``StringNotEquals``,
  ``StringEqualsIgnoreCase``, ``StringLike``, ``StringNotLike``, with the
  ``IfExists`` suffix and the ``ForAnyValue:``/``ForAllValues:`` prefixes; any
  other key or operator does not hold (fails closed).

Not evaluated: the ``Condition`` of *permission* policies (a statement with a
Condition counts as if it held), resource-based policies (a secret's resource
policy), service control and session policies, and KMS key policies (a secret
encrypted with a customer managed key needs no ``kms:Decrypt`` here).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterable
from urllib.parse import unquote

from .cloud import CloudError

WEB_IDENTITY = "sts:AssumeRoleWithWebIdentity"
DEFAULT_AUDIENCE = "sts.amazonaws.com"


@dataclass(frozen=True)
class IamRole:
    """An IAM role as far as the evaluator is concerned (documents as parsed JSON)."""

    arn: str
    name: str
    trust: Any = None
    policies: tuple[Any, ...] = ()  # inline and attached managed policy documents
    boundary: Any = None  # the permissions boundary's document, if any


def document(text: Any) -> dict:
    """A policy document from what IAM stores: a dict, JSON, or URL-encoded JSON ({} when unreadable)."""
    if isinstance(text, dict):
        return text
    if not isinstance(text, str) or not text.strip():
        return {}
    for candidate in (text, unquote(text)):
        try:
            parsed = json.loads(candidate)
        except ValueError:
            continue
        return parsed if isinstance(parsed, dict) else {}
    return {}


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


@lru_cache(maxsize=1024)
def _pattern(text: str, ignore_case: bool) -> re.Pattern:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in text)
    return re.compile(body, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def wildcard(pattern: str, value: str, ignore_case: bool = False) -> bool:
    """IAM's matching of ``*`` (any run) and ``?`` (one character)."""
    return _pattern(str(pattern), ignore_case).fullmatch(value) is not None


def _statements(doc: Any) -> list[dict]:
    return [s for s in _as_list(document(doc).get("Statement")) if isinstance(s, dict)]


def _matches(statement: dict, action: str, resource: str) -> bool:
    if "Action" in statement:
        if not any(wildcard(a, action, ignore_case=True) for a in _as_list(statement["Action"])):
            return False
    elif "NotAction" in statement:
        if any(wildcard(a, action, ignore_case=True) for a in _as_list(statement["NotAction"])):
            return False
    else:
        return False
    if "Resource" in statement:
        return any(wildcard(r, resource) for r in _as_list(statement["Resource"]))
    if "NotResource" in statement:
        return not any(wildcard(r, resource) for r in _as_list(statement["NotResource"]))
    return False


def decide(documents: Iterable[Any], action: str, resource: str) -> str:
    """``"Deny"`` (an explicit deny), ``"Allow"``, or ``""`` (nothing allows: implicit deny)."""
    allowed = False
    for doc in documents:
        for statement in _statements(doc):
            if not _matches(statement, action, resource):
                continue
            if statement.get("Effect") == "Deny":
                return "Deny"
            if statement.get("Effect") == "Allow":
                allowed = True
    return "Allow" if allowed else ""


def session_arn(role: IamRole, session: str) -> str:
    """``arn:aws:sts::<account>:assumed-role/<role name>/<session>``."""
    parts = role.arn.split(":")
    partition, account = (parts[1], parts[4]) if len(parts) > 4 else ("aws", "")
    return f"arn:{partition}:sts::{account}:assumed-role/{role.name}/{session}"


def authorize(role: IamRole, session: str, action: str, resource_arn: str, shown: str | None = None,
              code: str = "AccessDeniedException") -> None:
    """Raise CloudError(``code``, AWS's message) unless ``role`` may do ``action`` on ``resource_arn``.

    ``shown``: the resource as the message names it (the SecretId as given), ``resource_arn`` by default.
    """
    shown = shown or resource_arn
    who = f"User: {session_arn(role, session)} is not authorized to perform: {action} on resource: {shown}"
    decision = decide(role.policies, action, resource_arn)
    if decision == "Deny":
        raise CloudError(code, f"{who} with an explicit deny in an identity-based policy")
    if decision != "Allow":
        raise CloudError(code, f"{who} because no identity-based policy allows the {action} action")
    if role.boundary is not None:
        bounded = decide([role.boundary], action, resource_arn)
        if bounded == "Deny":
            raise CloudError(code, f"{who} with an explicit deny in a permissions boundary")
        if bounded != "Allow":
            raise CloudError(code, f"{who} because no permissions boundary allows the {action} action")


# -- trust policies -------------------------------------------------------------------------------------

_STRING_OPERATORS = {
    "StringEquals": lambda want, have: want == have,
    "StringNotEquals": lambda want, have: want != have,
    "StringEqualsIgnoreCase": lambda want, have: want.lower() == have.lower(),
    "StringNotEqualsIgnoreCase": lambda want, have: want.lower() != have.lower(),
    "StringLike": lambda want, have: wildcard(want, have),
    "StringNotLike": lambda want, have: not wildcard(want, have),
}
_NEGATED = {"StringNotEquals", "StringNotEqualsIgnoreCase", "StringNotLike"}


def _condition_holds(block: Any, context: dict[str, list[str]]) -> bool:
    if not block:
        return True
    if not isinstance(block, dict):
        return False
    for operator, entries in block.items():
        qualifier, _, name = operator.rpartition(":")
        if_exists = name.endswith("IfExists")
        name = name[:-len("IfExists")] if if_exists else name
        test = _STRING_OPERATORS.get(name)
        if test is None or qualifier not in ("", "ForAnyValue", "ForAllValues") or not isinstance(entries, dict):
            return False
        for key, wanted in entries.items():
            values = context.get(key.lower())
            if values is None:
                if if_exists or (qualifier == "ForAllValues"):
                    continue
                return False
            wanted_values = [str(w) for w in _as_list(wanted)]
            if name in _NEGATED:
                matched = [all(test(w, v) for w in wanted_values) for v in values]
            else:
                matched = [any(test(w, v) for w in wanted_values) for v in values]
            if qualifier == "ForAllValues":
                if not all(matched):
                    return False
            elif not any(matched):
                return False
    return True


def _principal_matches(principal: Any, kind: str, arn: str) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False
    return any(p == "*" or p == arn for p in _as_list(principal.get(kind)))


def trusts_web_identity(trust: Any, provider_arn: str, issuer: str, subject: str,
                        audience: str = DEFAULT_AUDIENCE) -> bool:
    """Whether a role's trust policy lets a token of ``issuer`` for ``subject`` assume it through ``provider_arn``."""
    host_path = issuer.split("://", 1)[-1].rstrip("/")
    context = {f"{host_path}:sub".lower(): [subject], f"{host_path}:aud".lower(): [audience],
               f"{host_path}:amr".lower(): ["authenticated"]}
    allowed = False
    for statement in _statements(trust):
        if not any(wildcard(a, WEB_IDENTITY, ignore_case=True) for a in _as_list(statement.get("Action"))):
            continue
        if not _principal_matches(statement.get("Principal"), "Federated", provider_arn):
            continue
        if not _condition_holds(statement.get("Condition"), context):
            continue
        if statement.get("Effect") == "Deny":
            return False
        if statement.get("Effect") == "Allow":
            allowed = True
    return allowed


def assume_role_with_web_identity(role: IamRole | None, issuer: str, providers: dict[str, tuple[str, ...]],
                                  account: str, namespace: str, service_account: str, session: str,
                                  audience: str = DEFAULT_AUDIENCE, partition: str = "aws") -> str:
    """STS AssumeRoleWithWebIdentity with the service account's projected token (IRSA): the session's ARN.

    ``providers``: the account's IAM OIDC providers (ARN -> client IDs). Raises
    CloudError(``InvalidIdentityToken``/``AccessDenied``, STS's message) as STS refuses.
    """
    if not issuer:
        raise CloudError("InvalidIdentityToken", "No OpenIDConnect provider found in your account for ")
    host_path = issuer.split("://", 1)[-1].rstrip("/")
    provider_arn = f"arn:{partition}:iam::{account}:oidc-provider/{host_path}"
    if provider_arn not in providers:
        raise CloudError("InvalidIdentityToken", f"No OpenIDConnect provider found in your account for {issuer}")
    if audience not in providers[provider_arn]:
        raise CloudError("InvalidIdentityToken", "Incorrect token audience")
    subject = f"system:serviceaccount:{namespace}:{service_account}"
    if role is None or not trusts_web_identity(role.trust, provider_arn, issuer, subject, audience):
        raise CloudError("AccessDenied", f"Not authorized to perform {WEB_IDENTITY}")
    return session_arn(role, session)


__all__ = ["DEFAULT_AUDIENCE", "IamRole", "WEB_IDENTITY", "assume_role_with_web_identity", "authorize", "decide",
           "document", "session_arn", "trusts_web_identity", "wildcard"]
