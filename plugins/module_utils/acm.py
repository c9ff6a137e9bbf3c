# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pure parts of llmhub.eks.acm_certificate: names, identity, validation records, hosted zones.

No AWS call here (the module makes them), so the rules are unit tested alone.
"""

from __future__ import annotations

import hashlib
import re

# RequestCertificate's DomainName pattern (botocore's acm model), 1 to 253 characters.
DOMAIN_PATTERN = re.compile(r"^(\*\.)?(((?!-)[A-Za-z0-9-]{0,62}[A-Za-z0-9])\.)+((?!-)[A-Za-z0-9-]{1,62}[A-Za-z0-9])$")
# ACM's limit of names on a certificate (the domain name and its SANs) without a quota increase.
MAX_NAMES = 10
# States of a certificate that can still serve or become usable; the others (EXPIRED, VALIDATION_TIMED_OUT,
# FAILED, REVOKED, INACTIVE) are left alone and a new certificate is requested.
LIVE_STATUSES = ("ISSUED", "PENDING_VALIDATION")
# ListCertificates without Includes.keyTypes lists only these.
KEY_ALGORITHMS = ("RSA_1024", "RSA_2048", "RSA_3072", "RSA_4096", "EC_prime256v1", "EC_secp384r1", "EC_secp521r1")


def normal_name(name):
    """A DNS name compared as DNS does: lower case, without the final dot."""
    return (name or "").strip().lower().rstrip(".")


def bad_domain_names(names):
    """The names that are not valid certificate domain names (ACM's pattern, at most 253 characters)."""
    return [name for name in names if not isinstance(name, str) or len(name) > 253 or not DOMAIN_PATTERN.match(name)]


def certificate_names(domain_name, subject_alternative_names):
    """Every name of the certificate, the domain name first, each once (ACM adds the domain name to the SANs)."""
    names = [normal_name(domain_name)]
    for name in subject_alternative_names or []:
        if normal_name(name) not in names:
            names.append(normal_name(name))
    return names


def idempotency_token(domain_name, subject_alternative_names, key_algorithm, name=None, nonce=""):
    """RequestCertificate's IdempotencyToken (1-32 word characters): the same request within an hour (a retry after
    a lost answer) returns the same certificate instead of a second one.

    ``nonce`` is the module run's own: a later run (after a destroy deleted the certificate, say) is a new request,
    not the retry of one whose certificate is gone. A run interrupted after the request finds its certificate by
    names and tags instead (the tags go with the request).
    """
    names = sorted(certificate_names(domain_name, subject_alternative_names))
    seed = "|".join(names + [key_algorithm, name or "", nonce or ""])
    return hashlib.sha256(seed.encode()).hexdigest()[:32]


def normal_key_algorithm(value):
    """DescribeCertificate answers ``RSA-2048``, RequestCertificate and ListCertificates ``RSA_2048``."""
    return (value or "").replace("-", "_")


def matches(certificate, domain_name, names, key_algorithm, name_tag, tags):
    """Whether a described certificate (with ``Tags`` as a dict) is the one this task manages."""
    if certificate.get("Type") != "AMAZON_ISSUED" or normal_name(certificate.get("DomainName")) != names[0]:
        return False
    if name_tag is not None and tags.get("Name") != name_tag:
        return False
    have = sorted(normal_name(n) for n in certificate.get("SubjectAlternativeNames") or [certificate["DomainName"]])
    return have == sorted(names) and normal_key_algorithm(certificate.get("KeyAlgorithm")) == key_algorithm


def pick(candidates):
    """The certificate to keep among matching ones: an issued one before a pending one, then the newest."""
    ranked = sorted(candidates, key=lambda c: (c.get("Status") == "ISSUED", str(c.get("CreatedAt") or "")),
                    reverse=True)
    return ranked[0] if ranked else None


def validation_records(certificate):
    """The DNS validation records of a described certificate, one per record (a domain and its wildcard share
    one): name, type, value, the domains it validates and their status. ``None`` when ACM has not published
    every record yet (it does within seconds of the request)."""
    records = {}
    for option in certificate.get("DomainValidationOptions") or []:
        if option.get("ValidationMethod", "DNS") != "DNS":
            continue
        record = option.get("ResourceRecord")
        if not record:
            return None
        entry = records.setdefault(normal_name(record["Name"]), {
            "name": record["Name"], "type": record["Type"], "value": record["Value"], "domains": [],
            "validation_status": option.get("ValidationStatus")})
        entry["domains"].append(option["DomainName"])
        if option.get("ValidationStatus") != "SUCCESS":
            entry["validation_status"] = option.get("ValidationStatus")
    return sorted(records.values(), key=lambda r: r["name"])


def hosted_zone_id(value):
    """The zone id in ``value`` (``Z0123...`` or ``/hostedzone/Z0123...``), or None when ``value`` is a zone name
    (a name has a dot; an id has none)."""
    value = (value or "").strip()
    if not value or "." in value:
        return None
    return value.rsplit("/", 1)[-1]


def outside_zone(records, zone_name):
    """The record names not inside the zone ``zone_name`` (Route 53 refuses them)."""
    zone = normal_name(zone_name)
    return [r["name"] for r in records
            if normal_name(r["name"]) != zone and not normal_name(r["name"]).endswith("." + zone)]


def names_outside_zone(names, zone_name):
    """The certificate names whose validation record (``_<hash>.<name>``, a wildcard's on its base name) would not be
    inside the zone ``zone_name``."""
    zone = normal_name(zone_name)
    bases = [normal_name(n)[2:] if normal_name(n).startswith("*.") else normal_name(n) for n in names]
    return [name for name, base in zip(names, bases) if base != zone and not base.endswith("." + zone)]


def record_changes(records, existing, ttl):
    """The Route 53 UPSERT changes that make ``records`` exist; ``existing`` maps a normal record name to the
    value of the CNAME found there (or None)."""
    changes = []
    for record in records:
        if normal_name(existing.get(normal_name(record["name"]))) == normal_name(record["value"]):
            continue
        changes.append({"Action": "UPSERT", "ResourceRecordSet": {
            "Name": record["name"], "Type": record["type"], "TTL": ttl,
            "ResourceRecords": [{"Value": record["value"]}]}})
    return changes


def certificate_view(certificate, tags):
    """A described certificate in the module's RETURN shape (snake case, validation records, tags)."""
    return {
        "arn": certificate["CertificateArn"],
        "domain_name": certificate.get("DomainName"),
        "subject_alternative_names": certificate.get("SubjectAlternativeNames") or [],
        "status": certificate.get("Status"),
        "type": certificate.get("Type"),
        "key_algorithm": normal_key_algorithm(certificate.get("KeyAlgorithm")),
        "in_use_by": certificate.get("InUseBy") or [],
        "created_at": _iso(certificate.get("CreatedAt")),
        "issued_at": _iso(certificate.get("IssuedAt")),
        "not_after": _iso(certificate.get("NotAfter")),
        "renewal_eligibility": certificate.get("RenewalEligibility"),
        "failure_reason": certificate.get("FailureReason"),
        "validation_records": validation_records(certificate) or [],
        "tags": dict(tags),
    }


def diff_view(view):
    """What diff mode compares: the certificate's names, key, status, tags and validation records."""
    if not view:
        return {}
    return {key: view.get(key) for key in ("domain_name", "subject_alternative_names", "key_algorithm", "status",
                                           "tags", "validation_records")}


def _iso(value):
    if value is None or isinstance(value, str):
        return value
    return value.isoformat()
