#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: eks_kubeconfig
short_description: Write the kubeconfig entry of an EKS cluster (exec authentication) and check that it reaches the API
version_added: 0.1.0
description:
  - Writes what C(aws eks update-kubeconfig) writes, idempotently and with check mode and diff, then checks access to
    the cluster's Kubernetes API the way kubectl would get it, without printing a token.
  - Describes the cluster once. It has to exist and be C(ACTIVE) (or C(UPDATING)); otherwise the module fails and
    says what to run first. In check mode a missing or still C(CREATING) cluster is a warning and the entries are
    planned with V((known after apply\)) for its endpoint and certificate.
  - Puts three entries into the kubeconfig file O(path), by name, leaving every other entry alone. A cluster named
    by the cluster ARN with the endpoint and certificate authority data, a user O(user_alias) whose C(exec) plugin
    mints an EKS token (apiVersion C(client.authentication.k8s.io/v1beta1)), and a context O(alias) joining them.
    O(set_current_context) makes it kubectl's current context.
  - The file is written only when its content changes, through a temporary file renamed over it, with mode C(0600).
    An existing file with a wider mode is set to C(0600). Comments and key order of an existing file are not kept
    (kubectl does not keep them either).
  - The token command (O(authenticator)) is the AWS CLI (C(aws --region R eks get-token --cluster-name N --output
    json), as C(aws eks update-kubeconfig) writes it) or the collection's own token command, which needs no AWS CLI.
    The module writes that command next to the kubeconfig as C(llmhub-eks-get-token.py), mode C(0700), from the
    collection's C(module_utils/eks_token.py). It is standard library plus botocore only. The kubeconfig runs it
    with the Python that runs this module (which has botocore), by absolute path. Both commands print the same
    C(ExecCredential) and take the credentials, profile and STS endpoint from the environment of kubectl.
  - When O(endpoint_url) is set (the local emulator), it is written into the user's C(exec.env) as
    C(AWS_ENDPOINT_URL_STS). Then the token command presigns against the same STS as this module, and with
    O(role_arn) assumes the role there. When O(profile) is set it is written as C(AWS_PROFILE), as
    C(aws eks update-kubeconfig --profile) does. Credentials are never written to the kubeconfig.
  - With O(verify=true) the module then calls the API itself, in-process. It mints a token from its own STS client
    (the same signature the kubeconfig's command makes, with O(role_arn) assumed first), sends it only in an
    C(Authorization) header over HTTPS verified with the cluster's CA, reads C(/version) and lists the nodes.
    The token never appears in the result, the diff, warnings or the module arguments.
  - O(wait_for_nodes) waits until at least that many nodes are C(Ready).
  - O(state=absent) removes the cluster, user and context entries this module writes for O(name) (by name) and
    nothing else, and empties C(current-context) when it was that context.
author:
  - LLM Analytics Hub platform team (@llmhub)
options:
  name:
    description: Name of the EKS cluster.
    type: str
    required: true
    aliases: [cluster_name]
  path:
    description:
      - The kubeconfig file to write.
      - Defaults to the first entry of C($KUBECONFIG) in the module's environment (the file kubectl writes to),
        else C(~/.kube/config).
      - A missing file is created (and its directory, mode C(0700)).
    type: path
  alias:
    description: Name of the context. Defaults to the cluster ARN, as C(aws eks update-kubeconfig) names it.
    type: str
  user_alias:
    description: Name of the user entry. Defaults to the cluster ARN, as C(aws eks update-kubeconfig) names it.
    type: str
  role_arn:
    description:
      - IAM role assumed to sign the tokens (C(--role-arn) of C(aws eks get-token)), by the kubeconfig's command
        and by the module's own check. Its principal needs an access entry of the cluster.
    type: str
  authenticator:
    description:
      - The token command of the kubeconfig.
      - V(aws-cli) runs C(aws eks get-token). The command is O(aws_cli_path) if given, else C(aws) looked up on
        kubectl's C(PATH) when kubectl runs.
      - V(collection) runs the collection's C(llmhub-eks-get-token.py) (written next to the kubeconfig) with this
        module's Python. No AWS CLI needed.
      - V(auto) picks V(aws-cli) when O(aws_cli_path) is given or C(aws) is on the module's C(PATH), else
        V(collection).
    type: str
    choices: [auto, aws-cli, collection]
    default: auto
  token_cache:
    description:
      - With O(authenticator=collection), the token command keeps each token in C(cache/llmhub-eks-tokens/) next to
        the kubeconfig (directory mode C(0700), files C(0600), named by a hash of the cluster, Region, role and
        credentials' environment) and hands it out again while it has 5 minutes or more to live, as
        aws-iam-authenticator caches. A helm or kubectl run, or a kubernetes.core task, then starts no AWS SDK.
      - No effect with O(authenticator=aws-cli) (C(aws eks get-token) mints a token at every call).
    type: bool
    default: true
  aws_cli_path:
    description:
      - The AWS CLI to write as the command for O(authenticator=aws-cli), instead of C(aws) from C(PATH).
      - Must be an executable file.
    type: path
  set_current_context:
    description: Make O(alias) kubectl's current context. When false, the current context changes only if none is set.
    type: bool
    default: true
  state:
    description:
      - V(present) writes the entries; V(absent) removes them (and the module does not call the Kubernetes API).
      - The token command file stays with V(absent), since another kubeconfig may use it.
    type: str
    choices: [present, absent]
    default: present
  verify:
    description:
      - Check access after writing. The module reads C(/version) of the API and lists the nodes, with a token minted
        in-process. Not done with O(state=absent).
      - Connection errors and server errors are retried until O(verify_timeout). A refused token (401) or a refused
        node list (403) is retried for 30 seconds at most (or O(verify_timeout) if shorter), the time EKS takes to
        propagate a new access entry.
    type: bool
    default: true
  verify_timeout:
    description: Seconds to keep trying the API (and to wait for O(wait_for_nodes)).
    type: int
    default: 180
  wait_for_nodes:
    description:
      - The fewest C(Ready) nodes to wait for, during O(verify_timeout); V(0) does not wait.
      - Needs O(verify=true).
    type: int
    default: 0
notes:
  - The module's check of access uses the module's AWS credentials (O(profile), O(access_key)... or the
    environment). The kubeconfig's command uses the credentials of whoever runs kubectl. O(access_key),
    O(secret_key) and O(session_token) are never written to the file.
  - In check mode the file is not written, and the API is still checked (read-only) when the cluster is ACTIVE.
  - The kubeconfig names the Python of the module by absolute path for O(authenticator=collection). Recreating
    that virtualenv elsewhere needs the module to run again.
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Kubeconfig entry of the cluster, checked, with every node group's nodes Ready
  llmhub.eks.eks_kubeconfig:
    name: llm-analytics-hub-prod-eks
    wait_for_nodes: 12
  register: kubeconfig

- name: Use it with kubernetes.core
  kubernetes.core.k8s_info:
    kubeconfig: "{{ kubeconfig.kubeconfig }}"
    context: "{{ kubeconfig.context }}"
    kind: Namespace

- name: A separate file, a short context name, a role for the tokens, no AWS CLI needed
  llmhub.eks.eks_kubeconfig:
    name: llm-analytics-hub-prod-eks
    path: /srv/deploy/kubeconfig
    alias: prod
    role_arn: arn:aws:iam::123456789012:role/platform-admins
    authenticator: collection
    set_current_context: false

- name: Remove the entries of a destroyed cluster
  llmhub.eks.eks_kubeconfig:
    name: llm-analytics-hub-prod-eks
    state: absent
"""

RETURN = r"""
kubeconfig:
  description: The kubeconfig file (absolute path).
  returned: always
  type: str
  sample: /home/deploy/.kube/config
context:
  description: The context of the cluster (O(alias), or the cluster ARN).
  returned: always
  type: str
  sample: arn:aws:eks:us-east-1:123456789012:cluster/llm-analytics-hub-prod-eks
user:
  description: The user entry of the cluster (O(user_alias), or the cluster ARN).
  returned: always
  type: str
cluster:
  description:
    - The cluster as described. In check mode, for a cluster that does not exist yet, the values AWS assigns are
      V((known after apply\)).
  returned: always
  type: dict
  contains:
    name:
      description: Cluster name.
      type: str
      sample: llm-analytics-hub-prod-eks
    arn:
      description: Cluster ARN, the name of the kubeconfig's cluster entry.
      type: str
    endpoint:
      description: Kubernetes API endpoint.
      type: str
      sample: https://0123456789ABCDEF0123456789ABCDEF.gr7.us-east-1.eks.amazonaws.com
    version:
      description: Kubernetes version of the control plane.
      type: str
      sample: "1.35"
    status:
      description: Cluster status (null when it does not exist).
      type: str
      sample: ACTIVE
    vpc_id:
      description: VPC of the cluster (null when it does not exist); the addons role gives it to the AWS Load Balancer Controller.
      type: str
      sample: vpc-0123456789abcdef0
    encryption_key_arn:
      description: KMS key that encrypts the cluster's secrets (null without envelope encryption); the storage role encrypts volumes with it.
      type: str
      sample: arn:aws:kms:us-east-1:123456789012:key/0b5c1a8e-8c51-4a5e-9d3b-2c0f3d0c6a11
authenticator:
  description: The token command written, V(aws-cli) or V(collection) (what V(auto) chose).
  returned: when O(state=present)
  type: str
  sample: collection
exec:
  description: The C(exec) of the user entry (command, args, env); it holds no secret.
  returned: when O(state=present)
  type: dict
  sample:
    apiVersion: client.authentication.k8s.io/v1beta1
    command: aws
    args: [--region, us-east-1, eks, get-token, --cluster-name, llm-analytics-hub-prod-eks, --output, json]
token_script:
  description: The collection's token command next to the kubeconfig (with O(authenticator=collection)), else null.
  returned: when O(state=present)
  type: str
  sample: /home/deploy/.kube/llmhub-eks-get-token.py
server_version:
  description: C(gitVersion) of the API's C(/version) (null without O(verify)).
  returned: when O(state=present)
  type: str
  sample: v1.35.2-eks-3a10415
nodes:
  description: The cluster's nodes when verified (null without O(verify)).
  returned: when O(state=present)
  type: dict
  contains:
    total:
      description: Nodes.
      type: int
      sample: 12
    ready:
      description: Nodes whose C(Ready) condition is C(True).
      type: int
      sample: 12
    by_nodegroup:
      description:
        - Ready nodes of each managed node group (label C(eks.amazonaws.com/nodegroup)).
        - Nodes without that label count in RV(nodes.total) and RV(nodes.ready) only.
      type: dict
      sample: {"application": 5, "database": 4, "system": 3}
"""

import os
import shutil
import sys
import time

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.llmhub.eks.plugins.module_utils import eks_token
from ansible_collections.llmhub.eks.plugins.module_utils import kubeconfig as kc
from ansible_collections.llmhub.eks.plugins.module_utils import progress
from ansible_collections.llmhub.eks.plugins.module_utils.common import KNOWN_AFTER_APPLY
from ansible_collections.llmhub.eks.plugins.module_utils.common import retrying_client
from ansible_collections.llmhub.eks.plugins.module_utils.common import run_module
from ansible_collections.llmhub.eks.plugins.module_utils.eks import describe_cluster
from ansible_collections.llmhub.eks.plugins.module_utils.eks import eks_client

# Statuses whose API answers (UPDATING: a version or config update; the endpoint keeps serving).
SERVING_STATUSES = ("ACTIVE", "UPDATING")
# A refused token or node list is retried this long at most: EKS takes seconds to propagate a new access entry.
AUTH_RETRY_SECONDS = 30
BUILD_FIRST = "run `ansible-playbook playbooks/site.yml --tags eks` (then `--tags nodegroups`) first"


def token_script_source():
    """eks_token.py's source, as the module carries it (zipimport's ``get_source``, or the file)."""
    loader = getattr(eks_token, "__loader__", None)
    source = None
    if loader is not None and hasattr(loader, "get_source"):
        source = loader.get_source(eks_token.__name__)
    if source is None:
        with open(eks_token.__file__, encoding="utf-8") as stream:
            source = stream.read()
    return source


class Kubeconfig:
    """One run: the cluster, the entries wanted, the file and its token command."""

    def __init__(self, module):
        self.module = module
        params = module.params
        self.name = params["name"]
        self.region = module.region
        self.path = os.path.abspath(params["path"]) if params["path"] else kc.default_path()
        self.cluster = None
        self.arn = None
        # what a failed access check still reports: the file was written (or not) before it
        self.written = {}

    # -- the cluster --------------------------------------------------------------------------

    def caller_arn_prefix(self):
        """(partition, account) of the caller, for the ARN of a cluster that does not exist (check mode, absent)."""
        identity = retrying_client(self.module, "sts").get_caller_identity(aws_retry=True)
        return identity["Arn"].split(":")[1], identity["Account"]

    def planned_arn(self):
        partition, account = self.caller_arn_prefix()
        return f"arn:{partition}:eks:{self.region}:{account}:cluster/{self.name}"

    def require_cluster(self):
        """The described cluster, serving its API; in check mode a missing or CREATING one is planned (None)."""
        cluster = describe_cluster(eks_client(self.module), self.name)
        if cluster is None:
            message = (f"name: EKS cluster {self.name} does not exist in {self.region}; {BUILD_FIRST}, or fix "
                       "name/region")
            if not self.module.check_mode:
                self.module.fail_json(msg=message)
            self.module.warn(f"EKS cluster {self.name} does not exist (yet): its kubeconfig entries are planned with "
                             f"{KNOWN_AFTER_APPLY} as endpoint and certificate, and the API is not checked")
            return None
        status = cluster.get("status")
        if status not in SERVING_STATUSES:
            if status in ("CREATING", "PENDING"):
                message = (f"name: EKS cluster {self.name} is {status}; its API answers once it is ACTIVE: "
                           "run `ansible-playbook playbooks/site.yml --tags eks` (it waits for it) and run this again")
            else:
                message = (f"name: EKS cluster {self.name} is {status}; a kubeconfig needs an ACTIVE cluster "
                           f"({BUILD_FIRST})")
            if not self.module.check_mode:
                self.module.fail_json(msg=message)
            self.module.warn(message)
            self.arn = cluster.get("arn")
            return None
        return cluster

    def cluster_view(self, planned=True):
        """What the result says of the cluster; a cluster still to be built has its values ``(known after apply)``
        when ``planned`` (state present), null otherwise."""
        cluster = self.cluster or {}
        unknown = KNOWN_AFTER_APPLY if planned else None
        return {
            "name": self.name,
            "arn": self.arn,
            "endpoint": cluster.get("endpoint") or unknown,
            "version": cluster.get("version") or unknown,
            "status": cluster.get("status"),
            "vpc_id": (cluster.get("resourcesVpcConfig") or {}).get("vpcId"),
            "encryption_key_arn": next((c.get("provider", {}).get("keyArn") for c in cluster.get("encryptionConfig") or []
                                        if c.get("provider", {}).get("keyArn")), None),
        }

    # -- the entries --------------------------------------------------------------------------

    def names(self):
        params = self.module.params
        return self.arn, params["user_alias"] or self.arn, params["alias"] or self.arn

    def authenticator(self):
        params = self.module.params
        choice = params["authenticator"]
        cli = params["aws_cli_path"]
        if cli is not None and not (os.path.isfile(cli) and os.access(cli, os.X_OK)):
            self.module.fail_json(msg=f"aws_cli_path: {cli} is not an executable file; give the path of the AWS CLI "
                                      "(`command -v aws`) or leave it out (authenticator: collection needs no AWS CLI)")
        if choice == "auto":
            return "aws-cli" if cli or shutil.which("aws") else "collection"
        if choice == "aws-cli" and not cli and not shutil.which("aws"):
            self.module.warn("authenticator: aws-cli, but there is no `aws` on this PATH: kubectl will need the AWS "
                             "CLI on its PATH (or set aws_cli_path, or authenticator: collection)")
        return choice

    def exec_env(self):
        params = self.module.params
        env = {}
        if params.get("endpoint_url"):
            env["AWS_ENDPOINT_URL_STS"] = params["endpoint_url"]
        if params.get("profile"):
            env["AWS_PROFILE"] = params["profile"]
        return env

    def exec_config(self, authenticator, script):
        params = self.module.params
        if authenticator == "collection":
            cache_dir = kc.token_cache_dir(self.path) if params["token_cache"] else None
            return kc.collection_exec(self.name, self.region, sys.executable, script, params["role_arn"],
                                      self.exec_env(), cache_dir)
        return kc.aws_cli_exec(self.name, self.region, params["role_arn"], params["aws_cli_path"] or "aws",
                               self.exec_env())

    # -- the file -----------------------------------------------------------------------------

    def read(self):
        try:
            return kc.read(self.path)
        except kc.KubeconfigError as e:
            self.module.fail_json(msg=f"path: {e}")

    def write(self, config, action):
        if self.module.check_mode or action is None:
            return
        try:
            if action == "write":
                kc.write_atomic(self.path, kc.dump(config))
            else:
                os.chmod(os.path.realpath(self.path), kc.FILE_MODE)
        except (kc.KubeconfigError, OSError) as e:
            self.module.fail_json(msg=f"path: {e}")

    def ensure_script(self, script):
        """Write the token command when missing or different (mode 0700); True when it was (or would be)."""
        source = token_script_source()
        current = kc.read_text(script)
        mode = os.stat(script).st_mode & 0o7777 if current is not None else None
        if current == source and mode == kc.TOKEN_SCRIPT_MODE:
            return False
        if not self.module.check_mode:
            try:
                kc.write_atomic(script, source, mode=kc.TOKEN_SCRIPT_MODE)
            except kc.KubeconfigError as e:
                self.module.fail_json(msg=f"path: the token command: {e}")
        return True

    # -- the API ------------------------------------------------------------------------------

    def sts_for_tokens(self):
        role_arn = self.module.params["role_arn"]
        if not role_arn:
            return self.module.client("sts")
        credentials = retrying_client(self.module, "sts").assume_role(
            aws_retry=True, RoleArn=role_arn, RoleSessionName=eks_token.ROLE_SESSION_NAME)["Credentials"]
        return self.module.client("sts", aws_access_key_id=credentials["AccessKeyId"],
                                  aws_secret_access_key=credentials["SecretAccessKey"],
                                  aws_session_token=credentials["SessionToken"])

    def caller(self, sts):
        try:
            return sts.get_caller_identity()["Arn"]
        except Exception:  # pylint: disable=broad-exception-caught
            return "this module's AWS principal"

    def verify(self):
        """(server_version, nodes) read with an in-process token; fails with what to change."""
        params = self.module.params
        timeout, wanted = params["verify_timeout"], params["wait_for_nodes"]
        sts = self.sts_for_tokens()
        api = kc.KubernetesApi(self.cluster["endpoint"], self.cluster["certificateAuthority"]["data"],
                               lambda: eks_token.mint_token(sts, self.name), timeout=min(30, timeout))
        started, started_wall = time.monotonic(), time.time()
        version = counts = None
        last_error = None
        try:
            while True:
                try:
                    if version is None:
                        version = api.server_version()
                    counts = kc.node_counts(api.nodes())
                    last_error = None
                    if counts["ready"] >= wanted:
                        return version, counts
                except kc.KubernetesApiError as e:
                    last_error = e
                elapsed = time.monotonic() - started
                refused = last_error is not None and last_error.status in (401, 403)
                if elapsed >= timeout or (refused and elapsed >= AUTH_RETRY_SECONDS):
                    break
                state = (f"{counts['ready']}/{wanted} Ready" if counts is not None and last_error is None
                         else str(last_error))
                progress.report(f"Kubernetes API of {self.name}", {"nodes": state}, started_wall)
                time.sleep(min(5.0, max(1.0, elapsed * 0.1), max(0.0, timeout - elapsed)))
        finally:
            progress.finish()
        if last_error is not None:
            self.fail_access(last_error, sts, timeout)
        self.module.fail_json(
            msg=f"wait_for_nodes: {counts['ready']} of the {wanted} expected Ready nodes of {self.name} after "
                f"{timeout}s (Ready by node group: {counts['by_nodegroup'] or 'none'}, {counts['total']} nodes in "
                "all); "
                "check the node groups (`ansible-playbook playbooks/site.yml --tags nodegroups`), raise "
                "verify_timeout or lower wait_for_nodes",
            server_version=version, nodes=counts, **self.written)

    def fail_access(self, error, sts, timeout):
        endpoint = self.cluster["endpoint"]
        if error.status == 401:
            self.module.fail_json(msg=(
                f"The Kubernetes API of {self.name} refused the token of {self.caller(sts)} (401 Unauthorized): that "
                "principal has no access entry in the cluster. Add it to eks_access_entries (or keep "
                "eks_access_include_deployer: true) and run `ansible-playbook playbooks/site.yml --tags eks`, or set "
                "role_arn to a role that has one"), **self.written)
        if error.status == 403:
            self.module.fail_json(msg=(
                f"{self.caller(sts)} may not list the nodes of {self.name} (403 Forbidden: "
                f"{error.reason or 'no reason'}): associate an access policy such as AmazonEKSViewPolicy or "
                "AmazonEKSClusterAdminPolicy (cluster scope) with its access entry (eks_access_entries), or set "
                "verify: false"), **self.written)
        vpc = self.cluster.get("resourcesVpcConfig") or {}
        if vpc.get("endpointPublicAccess"):
            hint = (f"its public endpoint admits only {', '.join(vpc.get('publicAccessCidrs') or [])} "
                    "(eks_public_access_cidrs): add this machine's address there")
            if vpc.get("endpointPrivateAccess"):
                hint += ", or run from inside the VPC (private endpoint)"
        else:
            hint = "its endpoint is private only: run from inside the VPC (or a peered network or VPN)"
        self.module.fail_json(msg=(f"Cannot check access to the Kubernetes API of {self.name} at {endpoint} within "
                                   f"{timeout}s: {error}. {hint}, raise verify_timeout, or set verify: false"),
                              **self.written)

    # -- the states ---------------------------------------------------------------------------

    def present(self):
        params = self.module.params
        if params["wait_for_nodes"] < 0:
            self.module.fail_json(msg="wait_for_nodes: must be 0 (do not wait) or more")
        if params["verify_timeout"] <= 0:
            self.module.fail_json(msg="verify_timeout: must be a positive number of seconds")
        if params["wait_for_nodes"] and not params["verify"]:
            self.module.fail_json(msg="wait_for_nodes needs verify: true (the nodes are counted through the API)")
        self.cluster = self.require_cluster()
        if self.cluster is not None:
            self.arn = self.cluster["arn"]
        elif self.arn is None:
            self.arn = self.planned_arn()
        cluster_name, user_name, context_name = self.names()
        authenticator = self.authenticator()
        script = kc.token_script_path(self.path) if authenticator == "collection" else None
        exec_config = self.exec_config(authenticator, script)
        cluster = self.cluster or {}
        entries = kc.cluster_entries(cluster_name, cluster.get("endpoint") or KNOWN_AFTER_APPLY,
                                     (cluster.get("certificateAuthority") or {}).get("data") or KNOWN_AFTER_APPLY,
                                     context_name, user_name, exec_config)
        with kc.locked(self.path, self.module.check_mode):  # a fleet's hosts share one file: read-merge-write in turn
            current, mode = self.read()
            wanted = kc.merge(current, *entries, set_current_context=params["set_current_context"])
            action = kc.plan_file(current, mode, wanted)
            script_changed = self.ensure_script(script) if script else False
            self.write(wanted, action)

        before = dict(kc.entries_view(current, cluster_name, user_name, context_name),
                      mode=None if mode is None else f"{mode:04o}")
        after = dict(kc.entries_view(wanted, cluster_name, user_name, context_name), mode=f"{kc.FILE_MODE:04o}")
        if script:
            after["token_script"] = script
            before["token_script"] = None if script_changed else script
        version = nodes = None
        self.written = dict(changed=action is not None or script_changed, kubeconfig=self.path, context=context_name)
        if params["verify"] and self.cluster is not None:
            version, nodes = self.verify()
        self.module.exit_json(
            changed=action is not None or script_changed,
            kubeconfig=self.path, context=context_name, user=user_name, cluster=self.cluster_view(),
            authenticator=authenticator, exec=exec_config, token_script=script, server_version=version, nodes=nodes,
            diff=dict(before=before, after=after))

    def absent(self):
        cluster = describe_cluster(eks_client(self.module), self.name)
        self.cluster = cluster
        self.arn = cluster["arn"] if cluster else self.planned_arn()
        cluster_name, user_name, context_name = self.names()
        with kc.locked(self.path, self.module.check_mode):
            current, mode = self.read()
            if current is None:
                wanted = None
                action = None
            else:
                wanted = kc.remove(current, cluster_name, user_name, context_name)
                action = "write" if kc.normalise(current) != wanted else None
            self.write(wanted, action)
        before = kc.entries_view(current, cluster_name, user_name, context_name)
        after = kc.entries_view(wanted, cluster_name, user_name, context_name)
        self.module.exit_json(changed=action is not None, kubeconfig=self.path, context=context_name, user=user_name,
                              cluster=self.cluster_view(planned=False), diff=dict(before=before, after=after))


def main():
    argument_spec = dict(
        name=dict(type="str", required=True, aliases=["cluster_name"]),
        path=dict(type="path"),
        alias=dict(type="str"),
        user_alias=dict(type="str"),
        role_arn=dict(type="str"),
        authenticator=dict(type="str", choices=["auto", "aws-cli", "collection"], default="auto"),
        aws_cli_path=dict(type="path"),
        token_cache=dict(type="bool", default=True, no_log=False),
        set_current_context=dict(type="bool", default=True),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        verify=dict(type="bool", default=True),
        verify_timeout=dict(type="int", default=180),
        wait_for_nodes=dict(type="int", default=0),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    if not kc.HAS_YAML:
        module.fail_json(msg="PyYAML is needed on the Python that runs this module (pip install pyyaml)")
    if not module.region:
        module.fail_json(msg="region: the kubeconfig's token command needs the cluster's Region; set region "
                             "(or AWS_REGION)")
    run = Kubeconfig(module)
    run_module(module, run.present if module.params["state"] == "present" else run.absent)


if __name__ == "__main__":
    main()
