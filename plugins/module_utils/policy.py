# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""IAM policy documents: a canonical form to compare them, and the IRSA trust policy.

AWS stores a policy document as it was sent, but the same policy can be
written many ways: statements and list values in any order, a single string
or a one-element list, a missing ``Version``. Comparing the canonical forms
of the wanted and the stored document tells a real change from a rewording,
so that a second run makes no call.

Why not amazon.aws's ``compare_policies``: it answers only "do they differ?",
while ``--diff`` needs the canonical document itself (the IAM and KMS modules
show before/after policies), so one normalisation serves both; it also treats
what ``compare_policies`` does not (an empty Sid, duplicate values), and the
unit tests hold it to ``compare_policies``' verdict on the cases both cover.
"""

from __future__ import annotations

import json
import re
from urllib.parse import unquote

# What AWS assumes when a document has no Version element.
DEFAULT_VERSION = "2008-10-17"
# The Version written into the documents this collection builds.
CURRENT_VERSION = "2012-10-17"
# Statement elements whose value is a string or a list of strings, order irrelevant.
_LIST_ELEMENTS = ("Action", "NotAction", "Resource", "NotResource")
_PRINCIPAL_ELEMENTS = ("Principal", "NotPrincipal")
_ROOT_ARN = re.compile(r"^arn:[\w-]+:iam::(\d{12}):root$")
STS_AUDIENCE = "sts.amazonaws.com"


class PolicyError(ValueError):
    """A policy document that is not a JSON object with a Statement."""


def parse_policy(doc):
    """A policy document as a dict, from a dict or a (possibly URL-encoded) JSON string."""
    if isinstance(doc, dict):
        return doc
    if isinstance(doc, bytes):
        doc = doc.decode("utf-8")
    if not isinstance(doc, str):
        raise PolicyError(f"must be a JSON object or a JSON string, got {type(doc).__name__}")
    text = doc.strip()
    if text.startswith("%7B") or text.startswith("%7b"):
        text = unquote(text)
    try:
        parsed = json.loads(text)
    except ValueError as e:
        raise PolicyError(f"is not valid JSON: {e}") from None
    if not isinstance(parsed, dict):
        raise PolicyError(f"must be a JSON object, got a JSON {type(parsed).__name__}")
    return parsed


def validate_policy(doc):
    """Return the parsed document, or raise PolicyError saying what is wrong with it."""
    policy = parse_policy(doc)
    statements = policy.get("Statement")
    if statements is None:
        raise PolicyError("has no Statement element")
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list) or not statements:
        raise PolicyError("Statement must be an object or a non-empty list of objects")
    for index, statement in enumerate(statements):
        if not isinstance(statement, dict):
            raise PolicyError(f"Statement[{index}] must be an object")
        if statement.get("Effect") not in ("Allow", "Deny"):
            raise PolicyError(f"Statement[{index}].Effect must be Allow or Deny")
    return policy


def _scalar(value):
    """Condition values: AWS compares them as strings (true/false in lower case)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return value


def _string_set(value):
    """A string or a list of strings as a sorted list without duplicates."""
    values = value if isinstance(value, list) else [value]
    unique = {json.dumps(_scalar(v), sort_keys=True): _scalar(v) for v in values}
    return [unique[key] for key in sorted(unique)]


def _principal(value):
    if value == "*":
        value = {"AWS": "*"}
    if not isinstance(value, dict):
        return value
    result = {}
    for kind, members in value.items():
        members = members if isinstance(members, list) else [members]
        result[kind] = _string_set([_ROOT_ARN.sub(r"\1", m) if isinstance(m, str) else m for m in members])
    return result


def _condition(value):
    if not isinstance(value, dict):
        return value
    return {
        operator: ({key: _string_set(v) for key, v in keys.items()} if isinstance(keys, dict) else keys)
        for operator, keys in value.items()
    }


def _statement(statement):
    if not isinstance(statement, dict):
        return statement
    result = {}
    for key, value in statement.items():
        if key in _LIST_ELEMENTS:
            result[key] = _string_set(value)
        elif key in _PRINCIPAL_ELEMENTS:
            result[key] = _principal(value)
        elif key == "Condition":
            result[key] = _condition(value)
        elif key == "Sid" and value in ("", None):
            continue  # an empty Sid is the same as none
        else:
            result[key] = value
    return dict(sorted(result.items()))


def normalize_policy(doc):
    """The canonical form of a policy document (dict or JSON string).

    Two documents meaning the same thing have equal canonical forms despite:
    the order of statements and of list values, a string versus a one-element
    list, duplicate list values, a missing Version (AWS's default,
    2008-10-17), booleans or numbers versus their strings in conditions,
    ``"Principal": "*"`` versus ``{"AWS": "*"}``, an account's root ARN
    versus its id. A statement's Sid is kept (it is part of what AWS stores);
    an empty Sid counts as none.
    """
    policy = parse_policy(doc)
    result = {key: value for key, value in policy.items() if key != "Statement"}
    result.setdefault("Version", DEFAULT_VERSION)
    statements = policy.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    if isinstance(statements, list):
        canonical = [_statement(s) for s in statements]
        result["Statement"] = sorted(canonical, key=lambda s: json.dumps(s, sort_keys=True))
    else:
        result["Statement"] = statements
    return dict(sorted(result.items()))


def policies_equal(a, b):
    """Whether two policy documents (dicts or JSON strings) mean the same."""
    return normalize_policy(a) == normalize_policy(b)


def issuer_host_path(issuer):
    """``https://oidc.eks.REGION.amazonaws.com/id/X`` -> ``oidc.eks.REGION.amazonaws.com/id/X``."""
    for scheme in ("https://", "http://"):
        if issuer.lower().startswith(scheme):
            issuer = issuer[len(scheme):]
            break
    return issuer.rstrip("/")


def oidc_provider_arn(partition, account, issuer):
    """ARN of the IAM OIDC identity provider of an issuer URL."""
    return f"arn:{partition}:iam::{account}:oidc-provider/{issuer_host_path(issuer)}"


def service_account_subject(namespace, name):
    return f"system:serviceaccount:{namespace}:{name}"


def build_irsa_trust_policy(provider_arn, issuer, service_accounts, audience=STS_AUDIENCE):
    """Trust policy letting Kubernetes service accounts assume a role through the cluster's OIDC provider (IRSA).

    ``service_accounts`` is a list of ``{"namespace": ..., "name": ...}`` (or
    ``(namespace, name)`` pairs). The subject condition is a string for one
    service account and a sorted list for several.
    """
    subjects = set()
    for account in service_accounts:
        if isinstance(account, dict):
            subjects.add(service_account_subject(account["namespace"], account["name"]))
        else:
            namespace, name = account
            subjects.add(service_account_subject(namespace, name))
    if not subjects:
        raise PolicyError("an IRSA trust policy needs at least one service account")
    subject = sorted(subjects)
    host = issuer_host_path(issuer)
    return {
        "Version": CURRENT_VERSION,
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": provider_arn},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        f"{host}:sub": subject[0] if len(subject) == 1 else subject,
                        f"{host}:aud": audience,
                    }
                },
            }
        ],
    }


def issuer_problem(url):
    """Why ``url`` is not an OIDC issuer URL (https://host[/path]), or None."""
    if not isinstance(url, str) or not url.startswith("https://"):
        return f"{url!r} must be an https:// URL, e.g. https://oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE"
    rest = url[len("https://"):]
    host = rest.split("/", 1)[0]
    if not host or any(c in url for c in " ?#") or not re.fullmatch(r"[A-Za-z0-9.:-]+", host):
        return f"{url!r} must be an https:// URL with a host name and no query or fragment"
    if len(url) > 255:
        return f"{url!r} is longer than 255 characters"
    return None
