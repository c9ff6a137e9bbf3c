"""Service Quotas (``service-quotas``, json protocol): the quotas that stop EKS deploys.

moto answers ``GetServiceQuota`` for the ``vpc`` quotas only and lacks
``GetAWSDefaultServiceQuota``. Here both serve the ``vpc`` quotas of moto's
table and the EC2 quotas a cluster's nodes and NAT gateways count against
(:data:`EC2_DEFAULT_QUOTAS`), with the values AWS documents as defaults.
``GetServiceQuota`` answers the account's applied value: the one a test set
(:mod:`emulator.test_controls`, ``applied_quotas``), else the emulated
account's (:data:`ACCOUNT_APPLIED_QUOTAS`: 256 on-demand Standard vCPUs),
else the default, as Service Quotas does for a quota nobody raised. An unknown service or quota
code answers ``NoSuchResourceException``; ``ListAWSDefaultServiceQuotas``
stays moto's.
"""

from __future__ import annotations

from typing import Any

from moto.servicequotas.resources.default_quotas.vpc import VPC_DEFAULT_QUOTAS

from .protocols import ApiError, Call
from .test_controls import CONTROLS

EC2_SERVICE_NAME = "Amazon Elastic Compute Cloud (Amazon EC2)"


def _usage(resource: str, kind: str, klass: str = "None") -> dict[str, Any]:
    return {
        "MetricNamespace": "AWS/Usage",
        "MetricName": "ResourceCount",
        "MetricDimensions": {"Class": klass, "Resource": resource, "Service": "EC2", "Type": kind},
        "MetricStatisticRecommendation": "Maximum",
    }


# AWS's default values (GetAWSDefaultServiceQuota) of the EC2 quotas an EKS deploy counts against.
EC2_DEFAULT_QUOTAS = [
    {
        "ServiceCode": "ec2",
        "ServiceName": EC2_SERVICE_NAME,
        "QuotaCode": "L-0263D0A3",
        "QuotaName": "EC2-VPC Elastic IPs",
        "Value": 5.0,
        "Unit": "None",
        "Adjustable": True,
        "GlobalQuota": False,
        "UsageMetric": _usage("ElasticIP", "Resource"),
    },
    {
        "ServiceCode": "ec2",
        "ServiceName": EC2_SERVICE_NAME,
        "QuotaCode": "L-1216C47A",
        "QuotaName": "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances",
        "Value": 5.0,
        "Unit": "None",
        "Adjustable": True,
        "GlobalQuota": False,
        "UsageMetric": _usage("vCPU", "Resource", "Standard/OnDemand"),
    },
    {
        "ServiceCode": "ec2",
        "ServiceName": EC2_SERVICE_NAME,
        "QuotaCode": "L-34B43A08",
        "QuotaName": "All Standard (A, C, D, H, I, M, R, T, Z) Spot Instance Requests",
        "Value": 5.0,
        "Unit": "None",
        "Adjustable": True,
        "GlobalQuota": False,
        "UsageMetric": _usage("vCPU", "Resource", "Standard/Spot"),
    },
]

DEFAULT_QUOTAS = {"vpc": VPC_DEFAULT_QUOTAS, "ec2": EC2_DEFAULT_QUOTAS}

# The emulated account is an established one: AWS raised its on-demand vCPU quota from the default of 5 a new
# account starts with (the default inventory's on-demand node groups reach 64 vCPUs at their max sizes). The
# ``applied_quotas`` test control overrides these and sets others.
ACCOUNT_APPLIED_QUOTAS = {"ec2/L-1216C47A": 256.0}


def no_such_resource(message: str) -> ApiError:
    return ApiError(400, "NoSuchResourceException", message)


def _default(params: dict[str, Any]) -> dict[str, Any]:
    service_code, quota_code = str(params.get("ServiceCode")), str(params.get("QuotaCode"))
    quotas = DEFAULT_QUOTAS.get(service_code)
    if quotas is None:
        raise no_such_resource("This service is not available in the current Region. Choose a different Region or "
                               "a different service.")
    for quota in quotas:
        if quota["QuotaCode"] == quota_code:
            return dict(quota)
    raise no_such_resource(f"The request failed because the specified quota {quota_code} of service {service_code} "
                           "does not exist.")


def get_aws_default_service_quota(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    quota = _default(params)
    quota["QuotaArn"] = f"arn:aws:servicequotas:{call.region}::{quota['ServiceCode']}/{quota['QuotaCode']}"
    return {"Quota": quota}


def get_service_quota(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    quota = _default(params)
    quota["QuotaArn"] = (f"arn:aws:servicequotas:{call.region}:{call.account}:"
                         f"{quota['ServiceCode']}/{quota['QuotaCode']}")
    applied = CONTROLS.applied_quota(quota["ServiceCode"], quota["QuotaCode"])
    if applied is None:
        applied = ACCOUNT_APPLIED_QUOTAS.get(f"{quota['ServiceCode']}/{quota['QuotaCode']}")
    if applied is not None:
        quota["Value"] = applied
    quota["QuotaAppliedAtLevel"] = "ACCOUNT"
    return {"Quota": quota}


def refusal(call: Call) -> ApiError | None:
    """The error every Service Quotas call gets while the ``service_quotas_error`` test control is set."""
    error = CONTROLS.service_quotas_error()
    if error == "AccessDeniedException":
        return ApiError(400, error, f"User: arn:aws:sts::{call.account}:user/moto is not authorized to perform: "
                                    f"servicequotas:{call.operation} with an explicit deny in a service control policy")
    if error == "ServiceException":
        return ApiError(500, error, "Something went wrong.")
    return None


HANDLERS = {
    "GetServiceQuota": get_service_quota,
    "GetAWSDefaultServiceQuota": get_aws_default_service_quota,
}
