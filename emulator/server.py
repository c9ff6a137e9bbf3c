"""The emulator as a WSGI server in a background thread."""

from __future__ import annotations

import os
import threading
from typing import Any, Iterable

os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")

from werkzeug.serving import BaseWSGIServer, make_server  # noqa: E402

from . import check_moto_version  # noqa: E402
from .config import FAULT_KINDS, EmulatorConfig  # noqa: E402
from .lifecycle import TRACKER  # noqa: E402


def install_patches() -> None:
    """Patch moto's models once: timed lifecycles, EKS fields, faster IAM."""
    from . import acm, ec2_offerings, eks_amis, eks_cluster_patches, lambda_runtime, lifecycle
    from .k8s import clusters, eks_bridge

    lifecycle.install_ec2_patches()
    eks_cluster_patches.install()
    eks_amis.install()  # the EKS optimized AMI releases in SSM's public parameters
    clusters.install()
    eks_bridge.install()  # each cluster's controllers follow its API (Registry.subscribe)
    install_iam_speedups()
    install_ec2_speedups()
    install_launch_template_fixes()
    install_security_group_rule_fixes()
    install_kms_fixes()
    install_dynamodb_fixes()
    install_secretsmanager_fixes()
    ec2_offerings.install()
    lambda_runtime.install()  # Python functions run without Docker (Secrets Manager rotations)
    acm.install()  # DNS validation through the account's Route 53 zones


def install_ec2_speedups() -> None:
    """Generate moto's EC2 ids with one ``choices`` call instead of one call per digit.

    Creating an EC2 backend (after every reset) registers ~1,300 default AMIs
    and spent most of its 0.3 s drawing their ids digit by digit. Same
    alphabet, lengths and random source (moto's ``mock_random``).
    """
    from moto.ec2 import utils as ec2_utils

    if getattr(ec2_utils, "_emulator_speedups", False):
        return
    ec2_utils._emulator_speedups = True
    hex_chars = list(ec2_utils.HEX_CHARS)

    def random_resource_id(size: int = 8) -> str:
        return "".join(ec2_utils.random.choices(hex_chars, k=size))

    ec2_utils.random_resource_id = random_resource_id


def install_security_group_rule_fixes() -> None:
    """``DescribeSecurityGroupRules`` gives every rule its ``Description``, as EC2 does.

    moto read a rule's description from its CIDR range only: a rule whose source
    is another security group or a prefix list came back without the
    description it was authorized with (Terraform's
    ``aws_vpc_security_group_ingress_rule`` then plans an update on every run).
    """
    from moto.ec2.models import security_groups

    rule_class = security_groups.SecurityGroupRule
    if getattr(rule_class, "_emulator_descriptions", False):
        return
    rule_class._emulator_descriptions = True
    original_init = rule_class.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        prefix_list = kwargs.get("prefix_list_id") if "prefix_list_id" in kwargs else (
            args[7] if len(args) > 7 else None)
        self.prefix_list_description = (prefix_list or {}).get("Description")

    def description(self: Any) -> str | None:
        for source in (self.ip_range, self.source_group):
            if source.get("Description") is not None:
                return source["Description"]
        return getattr(self, "prefix_list_description", None)

    rule_class.__init__ = __init__
    rule_class.description = property(description)


def install_kms_fixes() -> None:
    """KMS takes a key id or key ARN everywhere; moto's key state calls only took ids (KeyError -> 500)."""
    from moto.kms.models import KmsBackend

    if getattr(KmsBackend, "_emulator_any_key_id", False):
        return
    for name in ("enable_key", "disable_key", "cancel_key_deletion", "schedule_key_deletion"):
        original = getattr(KmsBackend, name)

        def by_any_id(self: Any, key_id: str, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            return _original(self, KmsBackend.get_key_id(key_id), *args, **kwargs)

        setattr(KmsBackend, name, by_any_id)
    KmsBackend._emulator_any_key_id = True


def install_secretsmanager_fixes() -> None:
    """DescribeSecret/ListSecrets in Secrets Manager's shapes.

    moto answers both from one dict: unset dates and keys as null, and the
    version map under both names (``VersionIdsToStages`` is DescribeSecret's,
    ``SecretVersionsToStages`` a ListSecrets entry's).
    """
    import json

    from moto.secretsmanager.responses import SecretsManagerResponse

    if getattr(SecretsManagerResponse, "_emulator_shapes", False):
        return

    def shaped(entry: dict[str, Any], drop: str) -> dict[str, Any]:
        return {key: value for key, value in entry.items() if value is not None and key != drop}

    describe, listing = SecretsManagerResponse.describe_secret, SecretsManagerResponse.list_secrets

    def describe_secret(self: Any) -> str:
        return json.dumps(shaped(json.loads(describe(self)), "SecretVersionsToStages"))

    def list_secrets(self: Any) -> str:
        answer = json.loads(listing(self))
        answer["SecretList"] = [shaped(entry, "VersionIdsToStages") for entry in answer["SecretList"]]
        if not answer.get("NextToken"):
            answer.pop("NextToken", None)
        return json.dumps(answer)

    SecretsManagerResponse.describe_secret = describe_secret
    SecretsManagerResponse.list_secrets = list_secrets
    SecretsManagerResponse._emulator_shapes = True

    # RotateSecret with RotateImmediately=false only tests the function: "The test creates an AWSPENDING version
    # of the secret and then removes it" (RotateSecret's API reference). moto kept that version, and the next
    # rotation found a pending one.
    from moto.secretsmanager.models import SecretsManagerBackend

    rotate = SecretsManagerBackend.rotate_secret

    def rotate_secret(self: Any, secret_id: str, *args: Any, rotate_immediately: bool = True, **kwargs: Any) -> str:
        # A rotation function ends with AWSPENDING on no version or on the AWSCURRENT one; only AWSPENDING on
        # another version means a rotation still in progress (moto refused the finished state instead).
        found = self.secrets[secret_id] if secret_id in self.secrets else None
        # Without RotationLambdaARN, RotateSecret rotates with the function already configured (moto dropped it
        # and then made the empty pending version current).
        if found is not None and not kwargs.get("rotation_lambda_arn") and getattr(found, "rotation_lambda_arn", ""):
            kwargs["rotation_lambda_arn"] = found.rotation_lambda_arn
        for version in getattr(found, "versions", {}).values():
            if {"AWSPENDING", "AWSCURRENT"} <= set(version["version_stages"]):
                version["version_stages"].remove("AWSPENDING")
        if rotate_immediately or secret_id not in self.secrets:
            return rotate(self, secret_id, *args, rotate_immediately=rotate_immediately, **kwargs)
        secret = self.secrets[secret_id]
        known = set(getattr(secret, "versions", {}))
        answer = rotate(self, secret_id, *args, rotate_immediately=rotate_immediately, **kwargs)
        for version_id in set(secret.versions) - known:
            if secret.versions[version_id]["version_stages"] == ["AWSPENDING"]:
                del secret.versions[version_id]
        return answer

    SecretsManagerBackend.rotate_secret = rotate_secret


def install_dynamodb_fixes() -> None:
    """``DescribeTable`` answers the table's ``TableId`` (a UUID AWS assigns at creation; botocore's
    ``TableDescription`` has it, community.aws's dynamodb_table reads it); moto left it out."""
    import uuid

    from moto.dynamodb.models.table import Table

    if getattr(Table, "_emulator_table_id", False):
        return
    original = Table.describe

    def describe(self: Any, base_key: str = "TableDescription") -> dict[str, Any]:
        answer = original(self, base_key)
        if not hasattr(self, "emulator_table_id"):
            self.emulator_table_id = str(uuid.uuid4())
        answer[base_key]["TableId"] = self.emulator_table_id
        return answer

    Table.describe = describe
    Table._emulator_table_id = True


def install_launch_template_fixes() -> None:
    """Two moto launch template bugs that break idempotent reconciliation.

    * ``DescribeLaunchTemplates`` answered the tags the template had when it
      was created (moto stored a snapshot): tags changed later by
      ``CreateTags``/``DeleteTags`` never showed. Now they are read live.
    * ``CreateLaunchTemplate`` copied its ``TagSpecifications`` (the tags of
      the template itself, resource type ``launch-template``) into the first
      version's ``LaunchTemplateData``, where AWS does not put them (and
      refuses that resource type).
    """
    from moto.ec2.models.launch_templates import LaunchTemplate, LaunchTemplateBackend

    if isinstance(LaunchTemplate.__dict__.get("tags"), property):
        return

    def live_tags(self: Any) -> list[dict[str, str]]:
        return self.get_tags()

    def ignore(self: Any, value: Any) -> None:
        pass

    LaunchTemplate.tags = property(live_tags, ignore)
    original_create = LaunchTemplateBackend.create_launch_template

    def create_launch_template(self: Any, name: str, description: str, template_data: dict[str, Any],
                               tag_spec: dict[str, Any]) -> Any:
        specs = template_data.get("TagSpecifications")
        if isinstance(specs, list):
            kept = [spec for spec in specs if spec.get("ResourceType") != "launch-template"]
            if kept:
                template_data["TagSpecifications"] = kept
            else:
                template_data.pop("TagSpecifications")
        return original_create(self, name, description, template_data, tag_spec)

    LaunchTemplateBackend.create_launch_template = create_launch_template


def install_iam_speedups() -> None:
    """Make moto's IAM backends cheap to create, so resets stay fast.

    With ``MOTO_IAM_LOAD_MANAGED_POLICIES`` every IAM backend parses ~1,500
    AWS managed policies (about 0.2 s), and moto's account lookup, run on
    every request, created the IAM backends of all five partitions: each
    reset cost about 2 s. Here the parsed policies are cached (each backend
    still gets its own policy objects), and the account lookup only looks at
    IAM backends that exist (a backend that does not exist holds no access
    keys, so the answer is the same).
    """
    import functools
    import json
    from datetime import datetime

    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.iam import models as iam_models

    if getattr(iam_models, "_emulator_speedups", False):
        return
    iam_models._emulator_speedups = True

    @functools.lru_cache(maxsize=1)
    def policy_data() -> list[tuple[Any, ...]]:
        parsed = json.loads(iam_models.aws_managed_policies_data)
        return [
            (name, d.get("DefaultVersionId"), d.get("Path"), json.dumps(d.get("Document")),
             datetime.fromisoformat(d["CreateDate"]), datetime.fromisoformat(d["UpdateDate"]))
            for name, d in parsed.items()
        ]

    def init_aws_policies(self: Any) -> list[Any]:
        if not iam_models.load_iam_aws_managed_policies():
            return []
        return [
            iam_models.AWSManagedPolicy(
                name, account_id=self.account_id, region=self.region_name,
                default_version_id=version, path=path, document=document,
                create_date=created, update_date=updated,
            )
            for name, version, path, document, created, updated in policy_data()
        ]

    def get_account_id_from(access_key: str) -> str:
        for account_id, account in list(iam_models.iam_backends.items()):
            for backend in list(dict.values(account)):
                if access_key in backend.access_keys:
                    return account_id
        return DEFAULT_ACCOUNT_ID

    iam_models.IAMBackend._init_aws_policies = init_aws_policies
    iam_models.get_account_id_from = get_account_id_from


def _QuietRequestHandler(base: type) -> type:  # noqa: N802 - a class factory
    """``base`` without the one-line-per-request access log."""

    class Quiet(base):  # type: ignore[misc, valid-type]
        def log_request(self, *args: Any, **kwargs: Any) -> None:
            pass

    return Quiet


class EmulatorServer:
    """moto + emulator middleware served on ``host:port`` (0 = a free port).

    Usable as a context manager; :attr:`url` is the endpoint to give boto3
    (``endpoint_url``) or Ansible (``AWS_ENDPOINT_URL``). Construction raises
    :class:`emulator.MotoVersionError` if the installed moto is not the one
    the patches are written for, ``ValueError`` on invalid settings.
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
        check_moto_version()
        self.host = host
        self.verbose = verbose
        self.port = port
        self.config = EmulatorConfig(profile=profile, scale=scale, fault_rate=fault_rate,
                                     faults=faults, seed=seed)
        self.app: Any = None
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._registry_acquired = False

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

        def create_app(service: str | None) -> Any:
            if service is None:  # moto found no backend for the request (it crashed on None)
                raise NotImplementedError("moto has no such service")
            return create_backend_app(service)

        install_patches()
        TRACKER.duration = self.config.seconds
        self.app = EmulatorMiddleware(DomainDispatcherApplication(create_app), self.config)
        handler = MotoRequestHandler if self.verbose else _QuietRequestHandler(MotoRequestHandler)
        self._server = make_server(self.host, self.port, self.app, threaded=True,
                                   request_handler=handler)
        # A short poll interval makes stop() (shutdown) return quickly.
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="aws-emulator", daemon=True)
        self._thread.start()
        from .k8s.clusters import REGISTRY

        REGISTRY.acquire()  # ACTIVE EKS clusters get a Kubernetes API while a server runs
        self._registry_acquired = True
        return self

    def stop(self) -> None:
        if self._registry_acquired:
            from .k8s.clusters import REGISTRY

            self._registry_acquired = False
            REGISTRY.release()
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
