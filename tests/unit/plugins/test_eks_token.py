"""EKS tokens of module_utils/eks_token.py: the format of ``aws eks get-token`` / aws-iam-authenticator, checked
by decoding them, by the emulator's verifier (aws-iam-authenticator's checks and a recomputed SigV4 signature)
and side by side with the AWS CLI's own generator. Presigning is local: no request is sent."""

from __future__ import annotations

import base64
import datetime
import io
import json
import runpy
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import botocore.session
import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / ".collections"))

from ansible_collections.llmhub.eks.plugins.module_utils import eks_token  # noqa: E402

CLUSTER = "llm-analytics-hub-prod-eks"
SCRIPT = ROOT / "plugins" / "module_utils" / "eks_token.py"


def sts(endpoint_url=None, region="us-east-1"):
    session = botocore.session.get_session()
    return session.create_client("sts", region_name=region, endpoint_url=endpoint_url, aws_access_key_id="testing",
                                 aws_secret_access_key="testing")  # noqa: S106 - the emulator's fake credentials


def query(token):
    url = eks_token.url_from_token(token)
    parts = urlsplit(url)
    return parts, {key: values[0] for key, values in parse_qs(parts.query).items()}


class TestToken:
    def test_prefix_and_unpadded_urlsafe_base64_of_a_presigned_get_caller_identity(self):
        token = eks_token.mint_token(sts(), CLUSTER)
        assert token.startswith("k8s-aws-v1.")
        body = token[len("k8s-aws-v1."):]
        assert "=" not in body and "+" not in body and "/" not in body
        url = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()
        assert url == eks_token.url_from_token(token)
        assert eks_token.token_from_url(url) == token
        parts, params = query(token)
        assert (parts.scheme, parts.hostname, parts.path) == ("https", "sts.us-east-1.amazonaws.com", "/")
        assert params["Action"] == "GetCallerIdentity"
        assert params["Version"] == "2011-06-15"
        assert params["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
        assert params["X-Amz-Credential"].split("/")[0] == "testing"
        assert params["X-Amz-Credential"].split("/")[2:] == ["us-east-1", "sts", "aws4_request"]
        assert len(params["X-Amz-Signature"]) == 64

    def test_the_cluster_header_is_signed_and_the_url_expires_in_60_seconds(self):
        _parts, params = query(eks_token.mint_token(sts(), CLUSTER))
        assert params["X-Amz-SignedHeaders"].split(";") == ["host", "x-k8s-aws-id"]
        assert params["X-Amz-Expires"] == "60"
        assert "x-k8s-aws-id" not in {key.lower() for key in params}  # a signed header, not a parameter
        date = datetime.datetime.strptime(params["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)
        assert abs((datetime.datetime.now(datetime.timezone.utc) - date).total_seconds()) < 60

    def test_the_client_endpoint_is_the_url_host_as_for_the_emulator(self):
        parts, _params = query(eks_token.mint_token(sts("http://127.0.0.1:4566"), CLUSTER))
        assert (parts.scheme, parts.netloc, parts.path) == ("http", "127.0.0.1:4566", "/")

    def test_the_emulator_verifier_accepts_it_for_its_cluster_only(self):
        from emulator.k8s.auth import TokenRejected, verify_token

        token = eks_token.mint_token(sts("http://127.0.0.1:4566"), CLUSTER)
        caller = verify_token(token, CLUSTER)
        assert caller.arn == "arn:aws:sts::123456789012:user/moto"
        assert caller.access_key_id == "testing"
        with pytest.raises(TokenRejected, match="signature does not match"):
            verify_token(token, "another-cluster")
        later = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=16)
        with pytest.raises(TokenRejected, match="expired"):
            verify_token(token, CLUSTER, now=later)

    def test_the_same_request_as_the_aws_cli_signs(self):
        from awscli.customizations.eks.get_token import STSClientFactory, TokenGenerator

        session = botocore.session.get_session()
        session.set_credentials("testing", "testing")
        theirs = TokenGenerator(STSClientFactory(session).get_sts_client(region_name="us-east-1")).get_token(CLUSTER)
        ours = eks_token.mint_token(sts(), CLUSTER)
        (their_parts, their_params), (our_parts, our_params) = query(theirs), query(ours)
        assert our_parts.netloc == their_parts.netloc
        volatile = {"X-Amz-Date", "X-Amz-Signature", "X-Amz-Credential"}
        assert {k: v for k, v in our_params.items() if k not in volatile} == {
            k: v for k, v in their_params.items() if k not in volatile}

    def test_a_client_can_mint_again_without_registering_twice(self):
        client = sts()
        first, second = eks_token.mint_token(client, CLUSTER), eks_token.mint_token(client, "other")
        assert query(first)[1]["X-Amz-SignedHeaders"] == query(second)[1]["X-Amz-SignedHeaders"]
        from emulator.k8s.auth import verify_token

        assert verify_token(second, "other").access_key_id == "testing"

    def test_anything_else_is_not_a_token(self):
        with pytest.raises(ValueError, match="k8s-aws-v1"):
            eks_token.url_from_token("Bearer abc")


class TestExecCredential:
    def test_shape_and_expiry_14_minutes_ahead_as_the_aws_cli(self):
        now = datetime.datetime(2026, 12, 2, 10, 0, 5, tzinfo=datetime.timezone.utc)
        credential = eks_token.exec_credential("k8s-aws-v1.abc", now=now)
        assert credential == {"kind": "ExecCredential", "apiVersion": "client.authentication.k8s.io/v1beta1",
                              "spec": {}, "status": {"expirationTimestamp": "2026-12-02T10:14:05Z",
                                                     "token": "k8s-aws-v1.abc"}}

    @pytest.mark.parametrize("info, expected", [
        ("", "client.authentication.k8s.io/v1beta1"),
        ('{"apiVersion": "client.authentication.k8s.io/v1"}', "client.authentication.k8s.io/v1"),
        ('{"apiVersion": "client.authentication.k8s.io/v1beta1"}', "client.authentication.k8s.io/v1beta1"),
        ('{"apiVersion": "client.authentication.k8s.io/v1alpha1"}', "client.authentication.k8s.io/v1beta1"),
        ("not json", "client.authentication.k8s.io/v1beta1"),
        ("[]", "client.authentication.k8s.io/v1beta1"),
    ])
    def test_api_version_follows_kubernetes_exec_info(self, info, expected):
        assert eks_token.exec_api_version({"KUBERNETES_EXEC_INFO": info}) == expected


class TestScript:
    """The file run as the kubeconfig's token command (authenticator: collection)."""

    def test_main_prints_an_exec_credential_with_the_sts_endpoint_of_the_environment(self, monkeypatch):
        monkeypatch.setenv("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:4566")
        out = io.StringIO()
        assert eks_token.main(["--region", "us-east-1", "--cluster-name", CLUSTER], stdout=out, environ={}) == 0
        credential = json.loads(out.getvalue())
        assert credential["kind"] == "ExecCredential"
        assert credential["apiVersion"] == "client.authentication.k8s.io/v1beta1"
        parts, _params = query(credential["status"]["token"])
        assert parts.netloc == "127.0.0.1:4566"
        from emulator.k8s.auth import verify_token

        assert verify_token(credential["status"]["token"], CLUSTER).access_key_id == "testing"

    def test_without_credentials_it_fails_with_a_message_and_no_output(self, monkeypatch, capsys):
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
        monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
        out = io.StringIO()
        assert eks_token.main(["--region", "us-east-1", "--cluster-name", CLUSTER], stdout=out) == 1
        assert out.getvalue() == ""
        assert f"cannot mint a token for {CLUSTER}" in capsys.readouterr().err

    def test_the_file_runs_as_a_script(self, monkeypatch, capsys):
        monkeypatch.setattr(sys, "argv", [str(SCRIPT), "--region", "us-east-1", "--cluster-name", CLUSTER])
        with pytest.raises(SystemExit) as exit_:
            runpy.run_path(str(SCRIPT), run_name="__main__")
        assert exit_.value.code == 0
        assert json.loads(capsys.readouterr().out)["status"]["token"].startswith("k8s-aws-v1.")

    def test_it_imports_only_the_standard_library_and_botocore(self):
        import ast

        tree = ast.parse(SCRIPT.read_text(encoding="utf-8"))
        imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                    for alias in node.names}
        imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                     if isinstance(node, ast.ImportFrom) and node.module}
        assert imported - set(sys.stdlib_module_names) == {"botocore"}


class TestCache:
    """--cache-dir: a token is minted once and printed again while it has 5 minutes or more to live."""

    ARGS = ["--region", "us-east-1", "--cluster-name", CLUSTER]

    def run(self, cache, environ, monkeypatch, minted):
        def mint(_client, cluster_name):
            minted.append(cluster_name)
            return f"k8s-aws-v1.token-{len(minted)}"

        monkeypatch.setattr(eks_token, "mint_token", mint)
        monkeypatch.setattr(eks_token, "sts_client", lambda *a, **k: None)
        out = io.StringIO()
        assert eks_token.main([*self.ARGS, "--cache-dir", str(cache)], stdout=out, environ=environ) == 0
        return json.loads(out.getvalue())

    def test_the_second_call_prints_the_cached_token_and_mints_nothing(self, tmp_path, monkeypatch):
        minted, cache = [], tmp_path / "cache" / "llmhub-eks-tokens"
        environ = {"AWS_ACCESS_KEY_ID": "AKIA1", "KUBERNETES_EXEC_INFO": json.dumps(
            {"apiVersion": "client.authentication.k8s.io/v1"})}
        first = self.run(cache, environ, monkeypatch, minted)
        second = self.run(cache, environ, monkeypatch, minted)
        assert minted == [CLUSTER]
        assert second == first and second["status"]["token"] == "k8s-aws-v1.token-1"
        assert second["apiVersion"] == "client.authentication.k8s.io/v1"
        [stored] = list(cache.iterdir())
        assert stored.stat().st_mode & 0o777 == 0o600 and cache.stat().st_mode & 0o777 == 0o700
        # the file is named by a hash: nothing of the identity or the token in the name
        assert "AKIA1" not in stored.name and CLUSTER not in stored.name

    def test_another_identity_or_cluster_gets_its_own_token(self, tmp_path, monkeypatch):
        minted = []
        self.run(tmp_path, {"AWS_ACCESS_KEY_ID": "AKIA1"}, monkeypatch, minted)
        other = self.run(tmp_path, {"AWS_ACCESS_KEY_ID": "AKIA2"}, monkeypatch, minted)
        profile = self.run(tmp_path, {"AWS_ACCESS_KEY_ID": "AKIA1", "AWS_PROFILE": "ops"}, monkeypatch, minted)
        assert len(minted) == 3
        assert other["status"]["token"] != profile["status"]["token"]
        assert eks_token.cache_file("d", CLUSTER, "us-east-1", None, {}) != eks_token.cache_file(
            "d", "other", "us-east-1", None, {}) != eks_token.cache_file("d", "other", "us-east-1", "arn:r", {})

    def test_a_token_with_less_than_5_minutes_left_or_a_damaged_file_is_minted_again(self, tmp_path):
        now = datetime.datetime(2026, 12, 3, 12, 0, tzinfo=datetime.timezone.utc)
        path = tmp_path / "t.json"
        eks_token.write_cached(str(path), "k8s-aws-v1.x", "2026-12-03T12:06:00Z")
        assert eks_token.read_cached(str(path), now) == ("k8s-aws-v1.x", "2026-12-03T12:06:00Z")
        assert eks_token.read_cached(str(path), now + datetime.timedelta(minutes=1, seconds=1)) is None
        path.write_text("{not json", encoding="utf-8")
        assert eks_token.read_cached(str(path), now) is None
        path.write_text(json.dumps({"token": "other", "expirationTimestamp": "2026-12-03T13:00:00Z"}),
                        encoding="utf-8")
        assert eks_token.read_cached(str(path), now) is None
        assert eks_token.read_cached(str(tmp_path / "missing.json"), now) is None

    def test_an_unwritable_cache_still_prints_the_token(self, tmp_path, monkeypatch):
        blocker = tmp_path / "file"
        blocker.write_text("", encoding="utf-8")
        minted = []
        credential = self.run(blocker / "cache", {}, monkeypatch, minted)
        assert credential["status"]["token"] == "k8s-aws-v1.token-1"
