"""AWS Certificate Manager's DNS validation as AWS answers it, on moto's certificates.

moto (5.2.5) makes a requested certificate ``ISSUED`` 60 s after the request
(``MOTO_ACM_VALIDATION_WAIT``) whatever DNS says, gives every domain of every
account the same validation CNAME, answers ``IssuedAt``/``NotBefore``/
``NotAfter``/``Serial`` for a certificate not issued yet, ignores
``KeyAlgorithm`` (always ``RSA_2048``), lists every key type by default, and
deletes a certificate a load balancer still uses. Here, on moto's own
:class:`moto.acm.models.CertBundle` objects (so the ARNs, tags, idempotency
tokens, imports and resets stay moto's):

* ``RequestCertificate`` takes ``KeyAlgorithm`` (botocore's enum, else
  ``ValidationException``; ``RSA_2048`` when omitted) and ``ValidationMethod``
  (``EMAIL`` when omitted, as ACM; no mail is sent here, so an ``EMAIL``
  certificate stays ``PENDING_VALIDATION``), and checks ``DomainName`` and
  each name of ``SubjectAlternativeNames`` against the API's pattern;
* each domain's validation record is ACM's: a CNAME
  ``_<32 hex>.<domain>.`` -> ``_<32 hex>.<10 letters>.acm-validations.aws.``,
  the same for a domain and its wildcard and for every certificate of the
  domain in the account (as ACM reuses it), different across accounts;
* a ``DNS`` certificate becomes ``ISSUED`` only once every domain's CNAME, with
  its value, is in a public Route 53 hosted zone of the account: ACM sees it
  at the next look (a describe or list), and issues after the profile's
  ``acm_certificate_validation`` seconds. Without the records it stays
  ``PENDING_VALIDATION`` and becomes ``VALIDATION_TIMED_OUT`` 72 hours after the
  request, as ACM does;
* ``DescribeCertificate`` answers ``DomainValidationOptions[].ValidationStatus``
  ``PENDING_VALIDATION``/``SUCCESS``/``FAILED`` with the ``ResourceRecord``,
  and ``IssuedAt``, ``NotBefore``, ``NotAfter`` and ``Serial`` only once issued;
  ``InUseBy`` lists the ELBv2 load balancers whose listeners serve the
  certificate (``ListCertificates``' ``InUse`` follows);
* ``ListCertificates`` without ``Includes.keyTypes`` lists only ``RSA_1024``
  and ``RSA_2048`` certificates (ACM's default filter);
* ``DeleteCertificate`` of a certificate in use answers ``ResourceInUseException``.
"""

from __future__ import annotations

import datetime
import hashlib
import re
import time
from typing import Any

from .lifecycle import TRACKER, Timeline

KEY_ALGORITHMS = ("RSA_1024", "RSA_2048", "RSA_3072", "RSA_4096", "EC_prime256v1", "EC_secp384r1", "EC_secp521r1")
DEFAULT_KEY_TYPES = ("RSA_1024", "RSA_2048")
VALIDATION_METHODS = ("EMAIL", "DNS", "HTTP")
# RequestCertificate's DomainName pattern (botocore's acm model).
DOMAIN_PATTERN = re.compile(r"^(\*\.)?(((?!-)[A-Za-z0-9-]{0,62}[A-Za-z0-9])\.)+((?!-)[A-Za-z0-9-]{1,62}[A-Za-z0-9])$")
VALIDATION_TIMEOUT = 72 * 3600
_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def _normal(name: str) -> str:
    return name.lower().rstrip(".")


def validation_record(account_id: str, domain: str) -> dict[str, str]:
    """The CNAME ACM asks for ``domain`` in ``account_id`` (a wildcard shares its base name's)."""
    base = _normal(domain[2:] if domain.startswith("*.") else domain)
    digest = hashlib.sha256(f"{account_id}/{base}".encode()).hexdigest()
    target = "".join(_LETTERS[int(digest[64 - 2 * i - 2:64 - 2 * i], 16) % 26] for i in range(10))
    return {"Name": f"_{digest[:32]}.{base}.", "Type": "CNAME",
            "Value": f"_{digest[32:64]}.{target}.acm-validations.aws."}


def _public_cname(account_id: str, name: str) -> str | None:
    """The value of the CNAME ``name`` in a public hosted zone of the account, or None."""
    from moto.route53.models import route53_backends

    wanted = _normal(name)
    for partition in list(route53_backends[account_id].keys()):
        for zone in list(route53_backends[account_id][partition].zones.values()):
            if zone.private_zone or not (wanted == _normal(zone.name) or wanted.endswith("." + _normal(zone.name))):
                continue
            for rrset in zone.rrsets:
                if rrset.type == "CNAME" and _normal(rrset.name) == wanted and rrset.records:
                    return str(rrset.records[0])
    return None


def _names(cert: Any) -> list[str]:
    names = [cert.common_name] if cert.common_name else []
    return names + [name for name in cert.sans if name not in names]


def _validated(cert: Any) -> bool:
    """Whether every domain's validation CNAME resolves to ACM's value (in a public zone of the account)."""
    for domain in _names(cert):
        record = validation_record(cert.emulator_account_id, domain)
        found = _public_cname(cert.emulator_account_id, record["Name"])
        if found is None or _normal(found) != _normal(record["Value"]):
            return False
    return True


def _timeline(cert: Any) -> Timeline:
    timeline = cert.__dict__.get("_emulator_validation")
    if timeline is None:
        timeline = TRACKER.track("acm_certificate", lambda: cert.arn)
        timeline.set("PENDING_VALIDATION")
        cert.__dict__["_emulator_validation"] = timeline
    return timeline


def _follow_validation(cert: Any) -> None:
    """Move a pending DNS certificate on: issue it once its records exist, time it out after 72 hours."""
    if cert.type != "AMAZON_ISSUED" or cert.status != "PENDING_VALIDATION":
        return
    timeline = _timeline(cert)
    if getattr(cert, "emulator_validation_method", "DNS") == "DNS" and not timeline.heading_to("ISSUED") \
            and _validated(cert):
        timeline.begin("PENDING_VALIDATION", "ISSUED", TRACKER.seconds("acm_certificate_validation"))
    if timeline.state() == "ISSUED":
        cert.status = "ISSUED"
        cert.emulator_issued_at = datetime.datetime.fromtimestamp(timeline.settle_time(), tz=datetime.timezone.utc)
    elif (time.time() - cert.created_at.replace(tzinfo=datetime.timezone.utc).timestamp()) > VALIDATION_TIMEOUT:
        cert.status = "VALIDATION_TIMED_OUT"


def _in_use_by(cert: Any) -> list[str]:
    """ARNs of the ELBv2 load balancers with a listener serving the certificate (account and region of it)."""
    from moto.elbv2.models import elbv2_backends

    region = cert.arn.split(":")[3]
    try:
        backend = elbv2_backends[cert.emulator_account_id][region]
    except KeyError:
        return []
    users = []
    for balancer in list(backend.load_balancers.values()):
        for listener in list(balancer.listeners.values()):
            if cert.arn in (listener.certificates or []) or cert.arn == listener.certificate:
                users.append(balancer.arn)
                break
    return users


def install() -> None:
    """Patch moto's ACM models and responses (once)."""
    from moto.acm import models, responses
    from moto.core.exceptions import AWSError

    if getattr(models.CertBundle, "_emulator_acm", False):
        return
    models.CertBundle._emulator_acm = True

    class ResourceInUse(AWSError):
        TYPE = "ResourceInUseException"

    class Validation(AWSError):
        TYPE = "ValidationException"

    original_init = models.CertBundle.__init__

    def cert_init(self: Any, account_id: str, *args: Any, **kwargs: Any) -> None:
        original_init(self, account_id, *args, **kwargs)
        self.emulator_account_id = account_id

    models.CertBundle.__init__ = cert_init
    original_check = models.CertBundle.check

    def check(self: Any) -> None:
        if self.type != "AMAZON_ISSUED" or self.status != "PENDING_VALIDATION":
            original_check(self)  # expiry
            return
        _follow_validation(self)

    models.CertBundle.check = check
    original_describe = models.CertBundle.describe

    def describe(self: Any) -> dict[str, Any]:
        answer = original_describe(self)
        detail = answer["Certificate"]
        if getattr(self, "emulator_key_algorithm", None):
            detail["KeyAlgorithm"] = self.emulator_key_algorithm
        detail["InUseBy"] = _in_use_by(self)
        if self.type != "AMAZON_ISSUED":
            return answer
        method = getattr(self, "emulator_validation_method", "DNS")
        status = {"ISSUED": "SUCCESS", "PENDING_VALIDATION": "PENDING_VALIDATION"}.get(self.status, "FAILED")
        options = []
        for domain in _names(self):
            option = {"DomainName": domain, "ValidationDomain": domain, "ValidationStatus": status,
                      "ValidationMethod": method}
            if method == "DNS":
                option["ResourceRecord"] = validation_record(self.emulator_account_id, domain)
            else:
                option["ValidationEmails"] = [f"{who}@{_normal(domain).removeprefix('*.')}"
                                              for who in ("admin", "administrator", "hostmaster", "postmaster",
                                                          "webmaster")]
            options.append(option)
        detail["DomainValidationOptions"] = options
        if self.status == "ISSUED":
            issued = getattr(self, "emulator_issued_at", None)
            if issued is not None:
                detail["IssuedAt"] = issued.timestamp()
        else:
            for key in ("IssuedAt", "NotBefore", "NotAfter", "Serial"):
                detail.pop(key, None)
        if self.status == "VALIDATION_TIMED_OUT":
            detail["FailureReason"] = "OTHER"
        return answer

    models.CertBundle.describe = describe
    original_list = models.AWSCertificateManagerBackend.list_certificates

    def list_certificates(self: Any, statuses: list[str], includes: dict[str, Any]) -> Any:
        includes = dict(includes or {})
        if "keyTypes" not in includes:
            includes["keyTypes"] = list(DEFAULT_KEY_TYPES)
        return original_list(self, statuses, includes)

    models.AWSCertificateManagerBackend.list_certificates = list_certificates
    original_delete = models.AWSCertificateManagerBackend.delete_certificate

    def delete_certificate(self: Any, arn: str) -> None:
        if arn in self._certificates and _in_use_by(self._certificates[arn]):
            raise ResourceInUse(f"Certificate {arn} in account {self.account_id} is in use.")
        original_delete(self, arn)
        # moto kept the request's idempotency token pointing at the deleted certificate (a KeyError on the next
        # request with that token): the token goes with its certificate
        for token in [t for t, entry in self._idempotency_tokens.items() if entry.get("arn") == arn]:
            del self._idempotency_tokens[token]

    models.AWSCertificateManagerBackend.delete_certificate = delete_certificate
    original_request = responses.AWSCertificateManagerResponse.request_certificate

    def request_certificate(self: Any) -> Any:
        domain = self._get_param("DomainName") or ""
        names = [domain] + list(self._get_param("SubjectAlternativeNames") or [])
        bad = [name for name in names if len(name) > 253 or not DOMAIN_PATTERN.match(name)]
        if bad:
            raise Validation(f"1 validation error detected: Value '{bad[0]}' at 'domainName' failed to satisfy "
                             f"constraint: Member must satisfy regular expression pattern: {DOMAIN_PATTERN.pattern}")
        algorithm = self._get_param("KeyAlgorithm") or "RSA_2048"
        if algorithm not in KEY_ALGORITHMS:
            raise Validation(f"1 validation error detected: Value '{algorithm}' at 'keyAlgorithm' failed to satisfy "
                             f"constraint: Member must satisfy enum value set: [{', '.join(KEY_ALGORITHMS)}]")
        method = self._get_param("ValidationMethod") or "EMAIL"
        if method not in VALIDATION_METHODS:
            raise Validation(f"1 validation error detected: Value '{method}' at 'validationMethod' failed to "
                             f"satisfy constraint: Member must satisfy enum value set: [{', '.join(VALIDATION_METHODS)}]")
        known = set(self.acm_backend._certificates)
        result = original_request(self)
        arn = result.result["CertificateArn"]
        if arn not in known:
            cert = self.acm_backend._certificates[arn]
            cert.emulator_key_algorithm = algorithm
            cert.emulator_validation_method = method
        return result

    responses.AWSCertificateManagerResponse.request_certificate = request_certificate
