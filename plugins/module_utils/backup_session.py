# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the backup modules share: the store of a module's options and the cluster it talks to."""

from __future__ import annotations

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code

from ansible_collections.llmhub.eks.plugins.module_utils import backup as bk
from ansible_collections.llmhub.eks.plugins.module_utils import eks_token
from ansible_collections.llmhub.eks.plugins.module_utils import kubeconfig as kc
from ansible_collections.llmhub.eks.plugins.module_utils.common import retrying_client


def open_store(module):
    """The store of the module's O(bucket)/O(prefix) or O(directory)."""
    params = module.params
    if params.get("directory"):
        return bk.DirectoryStore(params["directory"])
    prefix = params.get("prefix") or f"backups/{params['cluster_name']}"
    return bk.S3Store(retrying_client(module, "s3"), params["bucket"], prefix)


def describe_cluster(module, eks, purpose):
    name = module.params["cluster_name"]
    try:
        return eks.describe_cluster(name=name, aws_retry=True)["cluster"]
    except is_boto3_error_code("ResourceNotFoundException"):
        module.fail_json(msg=f"There is no EKS cluster {name} in {module.region}: nothing to {purpose}. Check "
                             "cluster_name and the region (llmhub_aws_region)")
    return None


def cluster_exists(eks, name):
    try:
        eks.describe_cluster(name=name, aws_retry=True)
        return True
    except is_boto3_error_code("ResourceNotFoundException"):
        return False


def kubernetes_api(module, cluster):
    sts = module.client("sts")
    return kc.KubernetesApi(cluster["endpoint"], cluster["certificateAuthority"]["data"],
                            lambda: eks_token.mint_token(sts, cluster["name"]))


def fail_kubernetes(module, error, cluster, doing):
    if error.status == 401:
        module.fail_json(msg=(f"The Kubernetes API of {cluster['name']} refused this module's credentials (401): "
                              "their principal has no access entry. Add it to eks_access_entries and run "
                              "`ansible-playbook playbooks/site.yml --tags eks`, or run with credentials that have one"))
    if error.status == 403:
        module.fail_json(msg=(f"This module's principal may not {doing} in {cluster['name']} ({error}): associate "
                              "AmazonEKSClusterAdminPolicy (cluster scope) with its access entry (eks_access_entries)"))
    module.fail_json(msg=f"The Kubernetes API of {cluster['name']} failed while the module tried to {doing}: {error}")
