# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""EKS bearer tokens, minted as ``aws eks get-token`` and ``aws-iam-authenticator token`` mint them.

A token is ``k8s-aws-v1.`` followed by the unpadded URL-safe base64 of an STS
``GetCallerIdentity`` URL presigned with SigV4 query parameters, with the
header ``x-k8s-aws-id: <cluster name>`` among the signed headers and
``X-Amz-Expires=60`` (the AWS CLI's value; EKS accepts a token for 15 minutes
after its ``X-Amz-Date`` whatever it says). Presigning is local: no request
is sent. The STS client decides the credentials, Region and endpoint (a
client made with ``endpoint_url`` yields a URL on that endpoint, which is how
the local emulator's tokens are made).

This file has two uses, and therefore imports nothing but the standard
library and (lazily) botocore:

* ``llmhub.eks.eks_kubeconfig`` imports it to mint a token in-process, from
  the module's own STS client, for checking access to the cluster (the token
  only travels in an ``Authorization`` header, never in a result);
* the same module writes this file's source, unchanged, next to the
  kubeconfig as the token command of ``authenticator: collection`` (a
  kubeconfig ``exec`` entry running ``<module's python> <that file>
  --region R --cluster-name N [--role-arn A]``), so kubectl gets tokens
  without the AWS CLI. Run as a script it prints an ``ExecCredential`` like
  ``aws eks get-token --output json``; botocore takes the credentials, the
  profile (``AWS_PROFILE``) and the STS endpoint (``AWS_ENDPOINT_URL_STS``,
  ``AWS_ENDPOINT_URL``) from the environment, as the AWS CLI does.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import hashlib
import json
import os
import sys
import tempfile

TOKEN_PREFIX = "k8s-aws-v1."
CLUSTER_ID_HEADER = "x-k8s-aws-id"
# The AWS CLI's presigned URL lifetime (awscli/customizations/eks/get_token.py URL_TIMEOUT).
URL_TIMEOUT = 60
# The ExecCredential's expirationTimestamp: 14 minutes ahead, as the AWS CLI (a token is accepted for 15).
TOKEN_EXPIRATION = datetime.timedelta(minutes=14)
BETA_API = "client.authentication.k8s.io/v1beta1"
V1_API = "client.authentication.k8s.io/v1"
SUPPORTED_API_VERSIONS = (V1_API, BETA_API)
# The session name of an assumed role_arn (the AWS CLI's, so access entries with {{SessionName}} see the same).
ROLE_SESSION_NAME = "EKSGetTokenAuth"
_HANDLER_ID = "llmhub-eks-k8s-aws-id"
# A cached token is handed out while it has at least this long to live (a client may use it for a whole wait).
CACHE_MIN_REMAINING = datetime.timedelta(minutes=5)
# What decides whose token botocore would mint (besides the cluster, Region and role): part of the cache key.
CACHE_KEY_ENVIRONMENT = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SESSION_TOKEN",
                         "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_STS",
                         "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE")


def _keep_cluster_id(params, context, **kwargs):
    """provide-client-params: move ``x-k8s-aws-id`` out of the API parameters (STS has no such parameter)."""
    if CLUSTER_ID_HEADER in params:
        context[CLUSTER_ID_HEADER] = params.pop(CLUSTER_ID_HEADER)


def _sign_cluster_id(request, **kwargs):
    """before-sign: add ``x-k8s-aws-id`` as a header, so that SigV4 signs it."""
    if CLUSTER_ID_HEADER in request.context:
        request.headers[CLUSTER_ID_HEADER] = request.context[CLUSTER_ID_HEADER]


def presigned_url(sts_client, cluster_name):
    """The presigned ``GetCallerIdentity`` URL of a token for ``cluster_name`` (botocore or boto3 STS client)."""
    events = sts_client.meta.events
    events.register("provide-client-params.sts.GetCallerIdentity", _keep_cluster_id,
                    unique_id=_HANDLER_ID + "-params")
    events.register("before-sign.sts.GetCallerIdentity", _sign_cluster_id, unique_id=_HANDLER_ID + "-sign")
    return sts_client.generate_presigned_url(
        "get_caller_identity",
        Params={CLUSTER_ID_HEADER: cluster_name},
        ExpiresIn=URL_TIMEOUT,
        HttpMethod="GET",
    )


def token_from_url(url):
    """``k8s-aws-v1.`` + the unpadded URL-safe base64 of ``url``."""
    return TOKEN_PREFIX + base64.urlsafe_b64encode(url.encode("utf-8")).decode("ascii").rstrip("=")


def url_from_token(token):
    """The presigned URL inside a token (for tests and diagnostics; raises ValueError on anything else)."""
    if not token.startswith(TOKEN_PREFIX):
        raise ValueError("not an EKS token (no k8s-aws-v1. prefix)")
    encoded = token[len(TOKEN_PREFIX):]
    return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode("utf-8")


def mint_token(sts_client, cluster_name):
    """A bearer token for the Kubernetes API of EKS cluster ``cluster_name``, signed by ``sts_client``'s
    credentials. Keep it in memory: never log, return or print it."""
    return token_from_url(presigned_url(sts_client, cluster_name))


def expiration_timestamp(now=None):
    """RFC 3339 UTC time 14 minutes after ``now`` (default: the current time), as the AWS CLI writes it."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    return (now + TOKEN_EXPIRATION).strftime("%Y-%m-%dT%H:%M:%SZ")


def exec_api_version(environ=None):
    """The ExecCredential apiVersion kubectl asked for in ``KUBERNETES_EXEC_INFO`` (v1beta1 when absent or
    unknown, as the AWS CLI answers)."""
    raw = (environ if environ is not None else os.environ).get("KUBERNETES_EXEC_INFO", "")
    try:
        version = json.loads(raw).get("apiVersion") if raw else None
    except (ValueError, AttributeError):
        version = None
    return version if version in SUPPORTED_API_VERSIONS else BETA_API


def exec_credential(token, api_version=BETA_API, now=None):
    """The ``ExecCredential`` a kubeconfig exec plugin prints (what ``aws eks get-token --output json`` prints)."""
    return {
        "kind": "ExecCredential",
        "apiVersion": api_version,
        "spec": {},
        "status": {"expirationTimestamp": expiration_timestamp(now), "token": token},
    }


def sts_client(region=None, role_arn=None, session=None, **client_kwargs):
    """A botocore STS client (the default credential chain; ``role_arn`` assumed first, as ``--role-arn`` of
    ``aws eks get-token``). ``client_kwargs`` go to ``create_client`` (e.g. ``endpoint_url``)."""
    if session is None:
        import botocore.session  # pylint: disable=import-outside-toplevel

        session = botocore.session.get_session()
    if role_arn:
        credentials = session.create_client("sts", region_name=region, **client_kwargs).assume_role(
            RoleArn=role_arn, RoleSessionName=ROLE_SESSION_NAME)["Credentials"]
        client_kwargs = dict(client_kwargs, aws_access_key_id=credentials["AccessKeyId"],
                             aws_secret_access_key=credentials["SecretAccessKey"],
                             aws_session_token=credentials["SessionToken"])
    return session.create_client("sts", region_name=region, **client_kwargs)


def cache_file(cache_dir, cluster_name, region, role_arn, environ):
    """The cache file of a token: named by a SHA-256 of everything that decides the token (cluster, Region, role,
    and the credentials' environment: profile, access key id, session token, endpoint...), never by a secret."""
    identity = [cluster_name, region, role_arn] + [environ.get(name) for name in CACHE_KEY_ENVIRONMENT]
    digest = hashlib.sha256(json.dumps(identity).encode("utf-8")).hexdigest()
    return os.path.join(cache_dir, digest + ".json")


def _parse_time(text):
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)


def read_cached(path, now=None):
    """(token, expirationTimestamp) of a cached token with at least CACHE_MIN_REMAINING to live, else None."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    try:
        with open(path, encoding="utf-8") as f:
            cached = json.load(f)
        token, expiration = cached["token"], cached["expirationTimestamp"]
        if not token.startswith(TOKEN_PREFIX) or _parse_time(expiration) - now < CACHE_MIN_REMAINING:
            return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return token, expiration


def write_cached(path, token, expiration):
    """Keep a token for the next runs of the command: the directory 0700, the file 0600, written atomically.
    A cache that cannot be written is skipped (the token is still printed)."""
    directory = os.path.dirname(path)
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=directory, prefix=".token-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump({"token": token, "expirationTimestamp": expiration}, f)
            os.replace(temporary, path)
        except BaseException:
            os.unlink(temporary)
            raise
    except OSError:
        pass


def main(argv=None, stdout=None, environ=None):
    """The token command of a kubeconfig: prints an ExecCredential; 1 with a message on stderr on failure."""
    parser = argparse.ArgumentParser(
        prog="llmhub-eks-get-token",
        description="Print an ExecCredential with an EKS token (llmhub.eks; the same as aws eks get-token).")
    parser.add_argument("--cluster-name", required=True, help="EKS cluster name")
    parser.add_argument("--region", help="AWS Region of the cluster (default: the botocore configuration)")
    parser.add_argument("--role-arn", help="IAM role to assume for signing the token")
    parser.add_argument("--cache-dir", help="keep each token in this directory (0700, files 0600) and print it again "
                                            "while it has 5 minutes or more to live, without minting a new one")
    args = parser.parse_args(argv)
    environ = os.environ if environ is None else environ
    out = stdout or sys.stdout
    api_version = exec_api_version(environ)
    path = cache_file(args.cache_dir, args.cluster_name, args.region, args.role_arn, environ) if args.cache_dir else None
    cached = read_cached(path) if path else None
    if cached:
        credential = exec_credential(cached[0], api_version)
        credential["status"]["expirationTimestamp"] = cached[1]
    else:
        try:
            token = mint_token(sts_client(args.region, args.role_arn), args.cluster_name)
        except Exception as e:  # pylint: disable=broad-exception-caught
            # botocore's messages name the missing credentials or the refused AssumeRole, never a token
            sys.stderr.write(f"llmhub-eks-get-token: cannot mint a token for {args.cluster_name}: {e}\n")
            return 1
        credential = exec_credential(token, api_version)
        if path:
            write_cached(path, token, credential["status"]["expirationTimestamp"])
    out.write(json.dumps(credential) + "\n")
    out.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
