# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: aws_caller_identity
short_description: The account, partition and principal of the AWS credentials in use
version_added: 0.1.0
description:
  - One C(sts:GetCallerIdentity) call, made by the controller itself. The same facts as
    M(amazon.aws.aws_caller_info) (without the account alias) without starting a module process, which matters
    before the EKS cluster request, on the critical path of a deploy.
  - The partition (C(aws), C(aws-cn), C(aws-us-gov)) is read from the principal's ARN, for the ARNs of policies.
author:
  - LLM Analytics Hub platform team (@llmhub)
extends_documentation_fragment:
  - amazon.aws.boto3
  - amazon.aws.common.plugins
  - amazon.aws.region.plugins
"""

EXAMPLES = r"""
- name: Account facts for the policy templates
  ansible.builtin.set_fact:
    caller: "{{ lookup('llmhub.eks.aws_caller_identity', region='us-east-1') }}"
# caller.account: '123456789012', caller.partition: aws,
# caller.arn: arn:aws:iam::123456789012:user/deployer, caller.user_id: AIDA...
"""

RETURN = r"""
_raw:
  description: The caller identity.
  type: list
  elements: dict
  contains:
    account:
      description: Account id.
      type: str
    arn:
      description: ARN of the principal.
      type: str
    user_id:
      description: Unique id of the principal.
      type: str
    partition:
      description: Partition of the account.
      type: str
"""

from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.plugin_utils.lookup import AWSLookupBase

try:
    import botocore
except ImportError:
    pass  # Handled by AWSLookupBase


class LookupModule(AWSLookupBase):
    def run(self, terms, variables, **kwargs):
        super().run(terms, variables, **kwargs)
        client = self.client("sts", AWSRetry.jittered_backoff(catch_extra_error_codes=["ThrottlingException"]))
        try:
            identity = client.get_caller_identity(aws_retry=True)
        except botocore.exceptions.EndpointConnectionError as e:
            self.fail_aws(f"Cannot reach the AWS endpoint {client.meta.endpoint_url} (region {client.meta.region_name}):"
                          " check the endpoint (llmhub_aws_endpoint_url; is the emulator running?) and the network,"
                          " not the credentials", e)
        except botocore.exceptions.NoCredentialsError as e:
            self.fail_aws("No AWS credentials found: set AWS_PROFILE, or run with an instance role or an AWX AWS"
                          " credential", e)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
            self.fail_aws("Failed to look up the caller identity (sts:GetCallerIdentity): check the credentials", e)
        return [{
            "account": identity["Account"],
            "arn": identity["Arn"],
            "user_id": identity["UserId"],
            "partition": identity["Arn"].split(":")[1],
        }]
