#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: acm_certificate
short_description: A public ACM certificate validated by DNS, its Route 53 validation records, and the wait for it
version_added: 0.1.0
description:
  - Ensures a public certificate of AWS Certificate Manager (ACM) for O(domain_name) and
    O(subject_alternative_names), validated by DNS, as Terraform's C(aws_acm_certificate),
    C(aws_route53_record) (the validation records) and C(aws_acm_certificate_validation) do together.
  - Finds the certificate first (ACM C(ListCertificates) and C(DescribeCertificate)), an C(ISSUED) or
    C(PENDING_VALIDATION) certificate of the same names and key algorithm (and the C(Name) tag O(name) when given)
    is the one managed; otherwise it requests one (C(RequestCertificate) with an idempotency token of its own, so a
    retried request does not make a second one).
  - ACM cannot change the names or the key algorithm of a certificate; a change requests a new certificate. The
    older ones of the same O(name) are returned in RV(superseded) and left as they are (a load balancer may still
    use them); delete them with O(state=absent) once nothing uses them.
  - With O(hosted_zone) the validation CNAME records are written (C(UPSERT)) into that public Route 53 hosted
    zone; without it they are returned (RV(certificate.validation_records)) for whoever runs the domain's DNS.
  - With O(wait) the module waits until ACM has issued the certificate (botocore's C(certificate_validated)
    waiter's conditions, polled more often than its 60 s), reporting each domain's validation status to the
    C(llmhub.eks.progress) callback while it waits. ACM validates once it resolves the records, usually within
    minutes of their creation.
  - With O(state=absent) the certificates of O(domain_name) (with the C(Name) tag O(name), whatever their names and
    key algorithm; without O(name), those of the same names and key algorithm) are deleted, and their validation
    records in O(hosted_zone) unless another certificate of the account still uses them. ACM refuses to delete a
    certificate a load balancer uses (C(ResourceInUseException)); delete the listener (the Ingress) first.
  - No module of amazon.aws manages ACM certificates; C(community.aws.acm_certificate) only imports them.
author:
  - LLM Analytics Hub platform team (@llmhub)
options:
  state:
    description: V(present) ensures the certificate; V(absent) deletes it and its validation records.
    type: str
    choices: [present, absent]
    default: present
  domain_name:
    description:
      - The fully qualified domain name of the certificate (its subject), for example C(llm-analytics.example.com),
        or a wildcard (C(*.example.com)).
    type: str
    required: true
  subject_alternative_names:
    description:
      - Other names of the certificate (the domain name is always one). At most 9 besides the domain name (ACM's
        default quota of 10 names).
    type: list
    elements: str
    default: []
    aliases: [sans]
  key_algorithm:
    description: Algorithm and size of the certificate's key pair.
    type: str
    choices: [RSA_1024, RSA_2048, RSA_3072, RSA_4096, EC_prime256v1, EC_secp384r1, EC_secp521r1]
    default: RSA_2048
  name:
    description:
      - Value of the certificate's C(Name) tag, which tells this certificate from others of the same domain in the
        account (another team's, another cluster's). Recommended.
    type: str
  hosted_zone:
    description:
      - The public Route 53 hosted zone to write the validation records into, by id (C(Z0123456789ABCDEFGHIJ)) or by
        name (C(example.com)). Every validation record must be inside it.
      - Omitted, no record is written (they are returned in RV(certificate.validation_records)).
    type: str
  validation_record_ttl:
    description: TTL of the validation records written into O(hosted_zone), in seconds.
    type: int
    default: 300
  wait:
    description:
      - Wait until ACM has issued the certificate. Without O(hosted_zone), the records must have been made elsewhere
        or the wait ends at O(wait_timeout) with an error naming them.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait for the certificate to be issued (Terraform's C(aws_acm_certificate_validation) waits
      75 minutes).
    type: int
    default: 1800
  purge_tags:
    description: Remove tags not in O(tags) (the C(Name) tag of O(name) is kept).
    type: bool
    default: true
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.tags
  - amazon.aws.boto3
notes:
  - Only DNS validation is supported (ACM renews a DNS-validated certificate by itself while the records stay).
  - A certificate for an ALB must be in the ALB's Region; a CloudFront certificate must be in C(us-east-1).
  - Diff mode shows the certificate's names, key algorithm, status, tags and validation records.
"""

EXAMPLES = r"""
- name: Certificate of the ingress, validated through the example.com zone, waiting until ACM issues it
  llmhub.eks.acm_certificate:
    domain_name: llm-analytics.example.com
    subject_alternative_names: ["*.llm-analytics.example.com"]
    name: llm-analytics-hub-prod-eks-tls
    hosted_zone: example.com
    tags:
      Project: llm-analytics-hub
  register: tls

- name: DNS run elsewhere; show the records to create, do not wait
  llmhub.eks.acm_certificate:
    domain_name: llm-analytics.example.com
    name: llm-analytics-hub-prod-eks-tls
    wait: false
  register: tls

- name: Show them
  ansible.builtin.debug:
    msg: "{{ tls.certificate.validation_records }}"

- name: Delete the certificate (after its load balancer) and its validation records
  llmhub.eks.acm_certificate:
    domain_name: llm-analytics.example.com
    name: llm-analytics-hub-prod-eks-tls
    hosted_zone: example.com
    state: absent
"""

RETURN = r"""
certificate:
  description:
    - The certificate after the change (in check mode as it would be, with C(arn) V((known after apply\)) when it
      would be requested). Null with O(state=absent).
  returned: always
  type: dict
  contains:
    arn:
      description: ARN of the certificate (the ALB Ingress's C(alb.ingress.kubernetes.io/certificate-arn)).
      type: str
      sample: arn:aws:acm:us-east-1:123456789012:certificate/12345678-1234-1234-1234-123456789012
    domain_name:
      description: The certificate's domain name.
      type: str
      sample: llm-analytics.example.com
    subject_alternative_names:
      description: Every name of the certificate, the domain name included.
      type: list
      elements: str
    status:
      description: C(PENDING_VALIDATION) until ACM has seen the validation records, then C(ISSUED).
      type: str
      sample: ISSUED
    type:
      description: C(AMAZON_ISSUED).
      type: str
    key_algorithm:
      description: Algorithm of the key pair.
      type: str
      sample: RSA_2048
    in_use_by:
      description: ARNs of the load balancers (and other AWS resources) using the certificate.
      type: list
      elements: str
    created_at:
      description: When the certificate was requested (ISO 8601).
      type: str
    issued_at:
      description: When ACM issued it (ISO 8601), null before.
      type: str
    not_after:
      description: End of its validity (ISO 8601), null before it is issued; ACM renews it before.
      type: str
    renewal_eligibility:
      description: Whether ACM can renew it (C(ELIGIBLE) once in use).
      type: str
    failure_reason:
      description: Why ACM could not issue it, when it failed.
      type: str
    validation_records:
      description:
        - The DNS records ACM resolves to validate the names (one per record; a name and its wildcard share one).
      type: list
      elements: dict
      contains:
        name:
          description: Name of the CNAME record.
          type: str
          sample: _3b1c6b6fd4cf1e0dd1c3da1d8bb4a6e4.llm-analytics.example.com.
        type:
          description: C(CNAME).
          type: str
        value:
          description: Value of the CNAME record.
          type: str
          sample: _6c0e9ad8f0ea7b3b8e9cd0aa5a1a2f77.zfyfvmchrl.acm-validations.aws.
        domains:
          description: The certificate's names this record validates.
          type: list
          elements: str
        validation_status:
          description: C(PENDING_VALIDATION), C(SUCCESS) or C(FAILED).
          type: str
    tags:
      description: Tags of the certificate.
      type: dict
hosted_zone_id:
  description: Id of the hosted zone of O(hosted_zone), null without it.
  returned: always
  type: str
  sample: Z0123456789ABCDEFGHIJ
superseded:
  description: ARNs of other certificates of the domain with the same C(Name) tag (older names or key algorithm),
    left as they are.
  returned: always
  type: list
  elements: str
actions:
  description: What was done (or would be in check mode), in order.
  returned: always
  type: list
  elements: str
  sample:
    - request certificate for llm-analytics.example.com
    - write 1 validation record into example.com
    - wait until ACM issues the certificate
"""

import time
import uuid

try:
    import botocore
except ImportError:
    pass  # AnsibleAWSModule reports the missing library.

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.exceptions import AnsibleAWSError
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.tagging import ansible_dict_to_boto3_tag_list
from ansible_collections.amazon.aws.plugins.module_utils.tagging import boto3_tag_list_to_ansible_dict
from ansible_collections.amazon.aws.plugins.module_utils.tagging import compare_aws_tags

from ansible_collections.llmhub.eks.plugins.module_utils import progress
from ansible_collections.llmhub.eks.plugins.module_utils.acm import KEY_ALGORITHMS
from ansible_collections.llmhub.eks.plugins.module_utils.acm import LIVE_STATUSES
from ansible_collections.llmhub.eks.plugins.module_utils.acm import MAX_NAMES
from ansible_collections.llmhub.eks.plugins.module_utils.acm import bad_domain_names
from ansible_collections.llmhub.eks.plugins.module_utils.acm import certificate_names
from ansible_collections.llmhub.eks.plugins.module_utils.acm import certificate_view
from ansible_collections.llmhub.eks.plugins.module_utils.acm import diff_view
from ansible_collections.llmhub.eks.plugins.module_utils.acm import hosted_zone_id
from ansible_collections.llmhub.eks.plugins.module_utils.acm import idempotency_token
from ansible_collections.llmhub.eks.plugins.module_utils.acm import matches
from ansible_collections.llmhub.eks.plugins.module_utils.acm import names_outside_zone
from ansible_collections.llmhub.eks.plugins.module_utils.acm import normal_name
from ansible_collections.llmhub.eks.plugins.module_utils.acm import outside_zone
from ansible_collections.llmhub.eks.plugins.module_utils.acm import pick
from ansible_collections.llmhub.eks.plugins.module_utils.acm import record_changes
from ansible_collections.llmhub.eks.plugins.module_utils.acm import validation_records
from ansible_collections.llmhub.eks.plugins.module_utils.common import KNOWN_AFTER_APPLY
from ansible_collections.llmhub.eks.plugins.module_utils.common import POLL_FIRST_DELAY
from ansible_collections.llmhub.eks.plugins.module_utils.common import POLL_FRACTION
from ansible_collections.llmhub.eks.plugins.module_utils.common import POLL_MAX_DELAY
from ansible_collections.llmhub.eks.plugins.module_utils.common import paginate
from ansible_collections.llmhub.eks.plugins.module_utils.common import retrying_client
from ansible_collections.llmhub.eks.plugins.module_utils.common import run_module

# ACM publishes a new certificate's validation records within seconds of the request.
RECORDS_TIMEOUT = 60


def validate(module):
    params = module.params
    names = [params["domain_name"]] + list(params["subject_alternative_names"])
    bad = bad_domain_names(names)
    if bad:
        module.fail_json(msg=f"domain_name and subject_alternative_names must be fully qualified domain names (labels "
                             f"of letters, digits and '-', a leading '*.' for a wildcard); not: {', '.join(map(str, bad))}")
    if len(certificate_names(params["domain_name"], params["subject_alternative_names"])) > MAX_NAMES:
        module.fail_json(msg=f"subject_alternative_names: a certificate has at most {MAX_NAMES} names with the domain "
                             "name (ACM's default quota); request a quota increase or fewer names")
    if params["wait_timeout"] < 0 or not 0 < params["validation_record_ttl"] <= 2147483647:
        module.fail_json(msg="wait_timeout must be 0 or more and validation_record_ttl 1 or more seconds")
    if params["name"] is not None and not 0 < len(params["name"]) <= 256:
        module.fail_json(msg="name (the Name tag) must be 1 to 256 characters")


def wanted_tags(params):
    tags = dict(params["tags"] or {})
    if params["name"] is not None:
        tags["Name"] = params["name"]
    return tags


def describe(acm, arn):
    return acm.describe_certificate(aws_retry=True, CertificateArn=arn)["Certificate"]


def read_tags(acm, arn):
    return boto3_tag_list_to_ansible_dict(acm.list_tags_for_certificate(aws_retry=True, CertificateArn=arn)
                                          .get("Tags", []))


def domain_certificates(acm, domain_name, statuses, key_types):
    """Every certificate of ``domain_name`` with those statuses and key types, described, with ``Tags``."""
    query = {"Includes": {"keyTypes": list(key_types)}}
    if statuses:
        query["CertificateStatuses"] = list(statuses)
    summaries = paginate(acm, "list_certificates", "CertificateSummaryList", **query)
    found = []
    for summary in summaries:
        if normal_name(summary.get("DomainName")) != normal_name(domain_name):
            continue
        try:
            certificate = describe(acm, summary["CertificateArn"])
            certificate["Tags"] = read_tags(acm, summary["CertificateArn"])
        except is_boto3_error_code("ResourceNotFoundException"):
            continue  # deleted meanwhile
        found.append(certificate)
    return found


def wait_for_records(acm, arn, sleep=time.sleep, clock=time.monotonic):
    """The certificate once ACM has published every validation record."""
    deadline = clock() + RECORDS_TIMEOUT
    while True:
        certificate = describe(acm, arn)
        if validation_records(certificate) is not None or clock() > deadline:
            return certificate
        sleep(1)


def resolve_zone(module, route53):
    """(zone id, zone name) of O(hosted_zone): a public zone, found by id or by name."""
    value = module.params["hosted_zone"]
    zone_id = hosted_zone_id(value)
    if zone_id:
        try:
            zone = route53.get_hosted_zone(aws_retry=True, Id=zone_id)["HostedZone"]
        except is_boto3_error_code("NoSuchHostedZone"):
            module.fail_json(msg=f"hosted_zone: no Route 53 hosted zone {zone_id} in this account")
        if zone.get("Config", {}).get("PrivateZone"):
            module.fail_json(msg=f"hosted_zone: {zone_id} is a private zone; ACM validates through public DNS")
        return zone_id, zone["Name"]
    wanted = normal_name(value)
    answer = route53.list_hosted_zones_by_name(aws_retry=True, DNSName=wanted + ".", MaxItems="100")
    public = [z for z in answer.get("HostedZones", [])
              if normal_name(z["Name"]) == wanted and not z.get("Config", {}).get("PrivateZone")]
    if not public and module.check_mode:
        # check mode: an earlier task of the run (the hardening role's route53_zone) would create it
        return KNOWN_AFTER_APPLY, wanted + "."
    if not public:
        module.fail_json(msg=f"hosted_zone: no public Route 53 hosted zone named {wanted} in this account; create it "
                             "(and delegate the domain to its name servers) or give its id")
    if len(public) > 1:
        module.fail_json(msg=f"hosted_zone: {len(public)} public zones are named {wanted} "
                             f"({', '.join(hosted_zone_id(z['Id']) for z in public)}); give the id of the delegated one")
    return hosted_zone_id(public[0]["Id"]), public[0]["Name"]


def existing_cnames(route53, zone_id, records):
    """{normal name: value or None} of the CNAME records at the records' names in the zone."""
    found = {}
    for record in records:
        answer = route53.list_resource_record_sets(aws_retry=True, HostedZoneId=zone_id,
                                                   StartRecordName=record["name"], StartRecordType="CNAME",
                                                   MaxItems="1")
        sets = [s for s in answer.get("ResourceRecordSets", [])
                if normal_name(s["Name"]) == normal_name(record["name"]) and s["Type"] == "CNAME"]
        found[normal_name(record["name"])] = sets[0] if sets else None
    return found


def ensure_records(module, route53, zone, certificate, actions):
    zone_id, zone_name = zone
    records = validation_records(certificate) or []
    outside = outside_zone(records, zone_name)
    if outside:
        module.fail_json(msg=f"hosted_zone: the validation records {', '.join(outside)} are not inside the zone "
                             f"{normal_name(zone_name)}; give the zone of the certificate's domain")
    existing = existing_cnames(route53, zone_id, records)
    values = {name: (rrset["ResourceRecords"][0]["Value"] if rrset and rrset.get("ResourceRecords") else None)
              for name, rrset in existing.items()}
    changes = record_changes(records, values, module.params["validation_record_ttl"])
    if changes:
        actions.append(f"write {len(changes)} validation record(s) into {normal_name(zone_name)}")
        if not module.check_mode:
            route53.change_resource_record_sets(aws_retry=True, HostedZoneId=zone_id, ChangeBatch={
                "Comment": f"ACM DNS validation of {module.params['domain_name']}", "Changes": changes})


def wait_issued(module, acm, arn, sleep=time.sleep, clock=time.monotonic):
    """Wait until ACM issues the certificate: botocore's certificate_validated waiter, one attempt a round, the
    domains' validation status reported to the progress callback between rounds."""
    timeout = module.params["wait_timeout"]
    waiter = acm.get_waiter("certificate_validated")
    started, started_wall = clock(), time.time()
    try:
        while True:
            try:
                waiter.wait(CertificateArn=arn, WaiterConfig={"Delay": 1, "MaxAttempts": 1})
                return
            except botocore.exceptions.WaiterError as e:
                certificate = (e.last_response or {}).get("Certificate") or {}
                status = certificate.get("Status")
                if status != "PENDING_VALIDATION":
                    raise AnsibleAWSError(message=f"ACM did not issue {arn}: it is {status or 'unknown'}"
                                                  f"{' (' + certificate['FailureReason'] + ')' if certificate.get('FailureReason') else ''}: "
                                                  f"{e}") from None
                elapsed = clock() - started
                delay = min(POLL_MAX_DELAY, max(POLL_FIRST_DELAY, elapsed * POLL_FRACTION))
                if elapsed + delay > timeout:
                    records = validation_records(certificate) or []
                    raise AnsibleAWSError(message=(
                        f"ACM has not issued {arn} after {timeout} s (still PENDING_VALIDATION): it has not resolved "
                        "the validation records " + "; ".join(f"{r['name']} CNAME {r['value']}" for r in records)
                        + ". Create them in the domain's public DNS (or set hosted_zone), check the domain is "
                        "delegated to that zone, or raise wait_timeout."))
                progress.report(f"ACM validation of {module.params['domain_name']}",
                                {option["DomainName"]: option.get("ValidationStatus", "PENDING_VALIDATION")
                                 for option in certificate.get("DomainValidationOptions") or []}, started_wall)
                sleep(delay)
    finally:
        progress.finish()


def ensure_present(module, acm, route53):
    params = module.params
    names = certificate_names(params["domain_name"], params["subject_alternative_names"])
    algorithm = params["key_algorithm"]
    tags = wanted_tags(params)
    zone = resolve_zone(module, route53) if params["hosted_zone"] else None
    outside = names_outside_zone(names, zone[1]) if zone else []
    if outside:
        module.fail_json(msg=f"hosted_zone: the validation records of {', '.join(outside)} would not be inside the "
                             f"zone {normal_name(zone[1])}; give the zone of the certificate's domain")
    found = domain_certificates(acm, names[0], LIVE_STATUSES, [algorithm])
    same_name = [c for c in domain_certificates(acm, names[0], LIVE_STATUSES, KEY_ALGORITHMS)
                 if params["name"] is not None and c["Tags"].get("Name") == params["name"]]
    mine = [c for c in found if matches(c, names[0], names, algorithm, params["name"], c["Tags"])]
    current = pick(mine)
    actions = []
    before = certificate_view(current, current["Tags"]) if current else None
    if current is None:
        actions.append(f"request certificate for {', '.join(names)}")
        if module.check_mode:
            after = {"arn": KNOWN_AFTER_APPLY, "domain_name": names[0], "subject_alternative_names": names,
                     "status": "PENDING_VALIDATION", "type": "AMAZON_ISSUED", "key_algorithm": algorithm,
                     "in_use_by": [], "created_at": KNOWN_AFTER_APPLY, "issued_at": None, "not_after": None,
                     "renewal_eligibility": "INELIGIBLE", "failure_reason": None,
                     "validation_records": KNOWN_AFTER_APPLY, "tags": tags}
            if zone:
                actions.append(f"write the validation records into {normal_name(zone[1])}")
            if params["wait"]:
                actions.append("wait until ACM issues the certificate")
            module.exit_json(changed=True, actions=actions, certificate=after, superseded=[c["CertificateArn"]
                             for c in same_name], hosted_zone_id=zone[0] if zone else None,
                             diff=dict(before={}, after=diff_view(after)))
        request = {"DomainName": names[0], "ValidationMethod": "DNS", "KeyAlgorithm": algorithm,
                   "IdempotencyToken": idempotency_token(names[0], names, algorithm, params["name"],
                                                         nonce=uuid.uuid4().hex)}
        if len(names) > 1:
            request["SubjectAlternativeNames"] = names
        if tags:
            request["Tags"] = ansible_dict_to_boto3_tag_list(tags)
        arn = acm.request_certificate(aws_retry=True, **request)["CertificateArn"]
        current = wait_for_records(acm, arn)
        current["Tags"] = read_tags(acm, arn)
    arn = current["CertificateArn"]
    if params["tags"] is not None or params["name"] is not None:
        to_set, to_remove = compare_aws_tags(current["Tags"], tags, purge_tags=params["purge_tags"])
        to_remove = [key for key in to_remove if not (key == "Name" and params["name"] is not None)]
        if to_set:
            actions.append(f"tag certificate {', '.join(sorted(to_set))}")
            if not module.check_mode:
                acm.add_tags_to_certificate(aws_retry=True, CertificateArn=arn,
                                            Tags=ansible_dict_to_boto3_tag_list(to_set))
        if to_remove:
            actions.append(f"untag certificate {', '.join(sorted(to_remove))}")
            if not module.check_mode:
                acm.remove_tags_from_certificate(aws_retry=True, CertificateArn=arn,
                                                 Tags=[{"Key": key} for key in to_remove])
        current["Tags"] = {**{k: v for k, v in current["Tags"].items() if k not in to_remove}, **to_set}
    if zone and zone[0] != KNOWN_AFTER_APPLY:
        ensure_records(module, route53, zone, current, actions)
    elif zone:
        actions.append(f"write the validation records into {normal_name(zone[1])}")
    if params["wait"] and current.get("Status") == "PENDING_VALIDATION":
        actions.append("wait until ACM issues the certificate")
        if not module.check_mode:
            wait_issued(module, acm, arn)
    if not module.check_mode:
        tags_now = current["Tags"]
        current = describe(acm, arn)
        current["Tags"] = tags_now
    after = certificate_view(current, current["Tags"])
    superseded = [c["CertificateArn"] for c in same_name if c["CertificateArn"] != arn]
    # waiting for an issued certificate is not a change of AWS
    changed = any(not action.startswith("wait ") for action in actions)
    module.exit_json(changed=changed, actions=actions, certificate=after, superseded=superseded,
                     hosted_zone_id=zone[0] if zone else None,
                     diff=dict(before=diff_view(before), after=diff_view(after)))


def delete_records(module, route53, zone, doomed, remaining, actions):
    """Delete the validation records of the deleted certificates that no remaining certificate shares."""
    zone_id, zone_name = zone
    kept = {normal_name(r["name"]) for c in remaining for r in validation_records(c) or []}
    records = {normal_name(r["name"]): r for c in doomed for r in validation_records(c) or []
               if normal_name(r["name"]) not in kept and not outside_zone([r], zone_name)}
    existing = existing_cnames(route53, zone_id, list(records.values()))
    changes = [{"Action": "DELETE", "ResourceRecordSet": rrset} for name, rrset in existing.items()
               if rrset and normal_name(rrset["ResourceRecords"][0]["Value"]) == normal_name(records[name]["value"])]
    if changes:
        actions.append(f"delete {len(changes)} validation record(s) from {normal_name(zone_name)}")
        if not module.check_mode:
            route53.change_resource_record_sets(aws_retry=True, HostedZoneId=zone_id, ChangeBatch={
                "Comment": f"ACM DNS validation of {module.params['domain_name']} (certificate deleted)",
                "Changes": changes})


def ensure_absent(module, acm, route53):
    params = module.params
    names = certificate_names(params["domain_name"], params["subject_alternative_names"])
    algorithm = params["key_algorithm"]
    zone = resolve_zone(module, route53) if params["hosted_zone"] else None
    every = domain_certificates(acm, names[0], None, KEY_ALGORITHMS)
    if params["name"] is not None:
        doomed = [c for c in every if c.get("Type") == "AMAZON_ISSUED" and c["Tags"].get("Name") == params["name"]]
    else:
        doomed = [c for c in every if matches(c, names[0], names, algorithm, None, c["Tags"])]
    actions = [f"delete certificate {c['CertificateArn']}" for c in doomed]
    in_use = [f"{c['CertificateArn']} (used by {', '.join(c['InUseBy'])})" for c in doomed if c.get("InUseBy")]
    if in_use and module.check_mode:
        # check mode: the run's earlier steps (eks_cloud_resources, the Ingress's deletion) would free it first
        actions += [f"(in use now: {use}; its load balancer goes first)" for use in in_use]
    elif in_use:
        module.fail_json(msg=f"ACM cannot delete a certificate in use: {'; '.join(in_use)}. Delete the load balancers' "
                             "HTTPS listeners first (the Ingress, or the apps role's objects), then run again.")
    if not module.check_mode:
        for certificate in doomed:
            try:
                acm.delete_certificate(aws_retry=True, CertificateArn=certificate["CertificateArn"])
            except is_boto3_error_code("ResourceNotFoundException"):
                pass
    if zone and zone[0] != KNOWN_AFTER_APPLY:
        doomed_arns = {c["CertificateArn"] for c in doomed}
        remaining = [c for c in every if c["CertificateArn"] not in doomed_arns and c.get("Status") in LIVE_STATUSES]
        delete_records(module, route53, zone, doomed, remaining, actions)
    before = certificate_view(doomed[0], doomed[0]["Tags"]) if doomed else None
    module.exit_json(changed=bool(actions), actions=actions, certificate=None, superseded=[],
                     hosted_zone_id=zone[0] if zone else None,
                     diff=dict(before=diff_view(before), after={}))


def main():
    argument_spec = dict(
        state=dict(type="str", choices=["present", "absent"], default="present"),
        domain_name=dict(type="str", required=True),
        subject_alternative_names=dict(type="list", elements="str", default=[], aliases=["sans"]),
        key_algorithm=dict(type="str", choices=list(KEY_ALGORITHMS), default="RSA_2048", no_log=False),
        name=dict(type="str"),
        hosted_zone=dict(type="str"),
        validation_record_ttl=dict(type="int", default=300),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=1800),
        tags=dict(type="dict", aliases=["resource_tags"]),
        purge_tags=dict(type="bool", default=True),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    validate(module)
    acm = retrying_client(module, "acm")
    route53 = retrying_client(module, "route53")
    handler = ensure_present if module.params["state"] == "present" else ensure_absent
    run_module(module, handler, module, acm, route53)


if __name__ == "__main__":
    main()
