"""Amazon GuardDuty detectors as AWS answers them: features, tags, publishing destinations.

moto (5.2.5) keeps a detector's ``features`` as the request sent them and
answers them back as they were: an ``UpdateDetector`` replaced the whole
list (AWS changes only the features named), ``updatedAt`` never appeared,
``dataSources`` did not follow the features, unknown feature names were
taken, and a second ``CreateDetector`` in the same account and Region made a
second detector (AWS allows one). It had no tag operations and no publishing
destinations. Here, on moto's own :class:`moto.guardduty.models.Detector`
objects (so ``ListDetectors``, ``DeleteDetector``, filters and resets stay
moto's):

* ``CreateDetector`` refuses a second detector (``BadRequestException``,
  AWS's message), checks ``features`` against botocore's enums and the
  additional configurations each feature takes, refuses ``dataSources``
  together with ``features``, and maps the legacy ``dataSources`` onto their
  features (``s3Logs`` -> ``S3_DATA_EVENTS``, ``kubernetes.auditLogs`` ->
  ``EKS_AUDIT_LOGS``, ``malwareProtection`` -> ``EBS_MALWARE_PROTECTION``);
* ``GetDetector`` answers every feature AWS lists for a detector
  (``DetectorFeatureConfigurationResult``: ``name``, ``status``,
  ``updatedAt``, ``additionalConfiguration``), the foundational sources
  (``CLOUD_TRAIL``, ``DNS_LOGS``, ``FLOW_LOGS``) always ``ENABLED``, and
  ``dataSources`` derived from the features. A feature nobody enabled is
  ``DISABLED`` (an emulator choice: AWS may turn some protection plans on for
  a new account, so a client must name the features it wants);
* ``UpdateDetector`` merges: only the features (and additional
  configurations) named change, each one's ``updatedAt`` moves when its
  status does;
* ``TagResource``/``UntagResource``/``ListTagsForResource`` on the detector
  ARN ``arn:<partition>:guardduty:<region>:<account>:detector/<id>``;
* publishing destinations (``S3`` only, as botocore's enum): the bucket of
  ``destinationArn`` (``arn:aws:s3:::bucket[/prefix]``) must exist in moto's
  S3 and ``kmsKeyArn`` is required (GuardDuty encrypts exported findings);
  one destination per detector; a destination is ``PUBLISHING`` at once.

Errors are GuardDuty's: ``BadRequestException`` (400) with its
``message``/``__type`` body.
"""

from __future__ import annotations

import re
import secrets
import time
from typing import Any, Callable

from .protocols import ApiError, Call

FOUNDATIONAL = ("CLOUD_TRAIL", "DNS_LOGS", "FLOW_LOGS")
# The features a detector answers, with the additional configurations each takes (botocore's enums).
FEATURES: dict[str, tuple[str, ...]] = {
    "S3_DATA_EVENTS": (),
    "EKS_AUDIT_LOGS": (),
    "EBS_MALWARE_PROTECTION": (),
    "RDS_LOGIN_EVENTS": (),
    "EKS_RUNTIME_MONITORING": ("EKS_ADDON_MANAGEMENT",),
    "LAMBDA_NETWORK_LOGS": (),
    "RUNTIME_MONITORING": ("EKS_ADDON_MANAGEMENT", "ECS_FARGATE_AGENT_MANAGEMENT", "EC2_AGENT_MANAGEMENT"),
}
STATUSES = ("ENABLED", "DISABLED")
FREQUENCIES = ("FIFTEEN_MINUTES", "ONE_HOUR", "SIX_HOURS")
INVALID_INPUT = "The request is rejected because an invalid or out-of-range value is specified as an input parameter."
_DETECTOR_ARN = re.compile(r"^arn:(aws(?:-[a-z]+)*):guardduty:([a-z0-9-]+):(\d{12}):detector/([0-9a-f]{32})$")
_BUCKET_ARN = re.compile(r"^arn:aws(?:-[a-z]+)*:s3:::([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(/.*)?$")


def bad_request(message: str) -> ApiError:
    # GuardDuty's body: {"message": ..., "__type": "InvalidInputException"}, the code in x-amzn-ErrorType
    return ApiError(400, "BadRequestException", message, **{"__type": "InvalidInputException"})


def _backend(call: Call) -> Any:
    from moto.guardduty.models import guardduty_backends

    return guardduty_backends[call.account][call.region]


def _detector(call: Call, detector_id: str) -> Any:
    detector = _backend(call).detectors.get(detector_id)
    if detector is None:
        raise bad_request("The request is rejected because the input detectorId is not owned by the current account.")
    return detector


def _state(detector: Any) -> dict[str, Any]:
    """The detector's features: name -> {status, updatedAt, additional: name -> {status, updatedAt}}."""
    state = getattr(detector, "emulator_features", None)
    if state is None:
        now = time.time()
        state = {
            name: {"status": "DISABLED", "updatedAt": now,
                   "additional": {extra: {"status": "DISABLED", "updatedAt": now} for extra in extras}}
            for name, extras in FEATURES.items()
        }
        detector.emulator_features = state
        detector.emulator_destinations = {}
    return state


def _check_features(features: Any) -> list[dict[str, Any]]:
    if not isinstance(features, list):
        raise bad_request(f"{INVALID_INPUT} features must be a list.")
    seen: set[str] = set()
    for feature in features:
        name = feature.get("name") if isinstance(feature, dict) else None
        if name not in FEATURES:
            raise bad_request(f"{INVALID_INPUT} Unknown feature name {name!r}; valid: {', '.join(FEATURES)}.")
        if name in seen:
            raise bad_request(f"{INVALID_INPUT} Feature {name} is given more than once.")
        seen.add(name)
        if feature.get("status") is not None and feature["status"] not in STATUSES:
            raise bad_request(f"{INVALID_INPUT} Invalid status {feature['status']!r} of feature {name}.")
        extras_seen: set[str] = set()
        for extra in feature.get("additionalConfiguration") or []:
            extra_name = extra.get("name")
            if extra_name not in FEATURES[name] or extra_name in extras_seen:
                raise bad_request(f"{INVALID_INPUT} Additional configuration {extra_name!r} is not valid for "
                                  f"feature {name}" + (f" (valid: {', '.join(FEATURES[name])})." if FEATURES[name]
                                                       else " (it takes none)."))
            extras_seen.add(extra_name)
            if extra.get("status") not in STATUSES:
                raise bad_request(f"{INVALID_INPUT} Invalid status {extra.get('status')!r} of additional "
                                  f"configuration {extra_name}.")
    return features


def _features_from_data_sources(data_sources: Any) -> list[dict[str, Any]]:
    if not isinstance(data_sources, dict):
        raise bad_request(f"{INVALID_INPUT} dataSources must be an object.")

    def status(flag: Any) -> str:
        return "ENABLED" if flag else "DISABLED"

    features = []
    if "s3Logs" in data_sources:
        features.append({"name": "S3_DATA_EVENTS", "status": status((data_sources["s3Logs"] or {}).get("enable"))})
    audit = ((data_sources.get("kubernetes") or {}).get("auditLogs"))
    if audit is not None:
        features.append({"name": "EKS_AUDIT_LOGS", "status": status(audit.get("enable"))})
    ebs = (((data_sources.get("malwareProtection") or {}).get("scanEc2InstanceWithFindings") or {})
           .get("ebsVolumes"))
    if ebs is not None:
        features.append({"name": "EBS_MALWARE_PROTECTION", "status": status(ebs)})
    return features


def _requested_features(params: dict[str, Any]) -> list[dict[str, Any]]:
    if params.get("features") is not None and params.get("dataSources") is not None:
        raise bad_request(f"{INVALID_INPUT} dataSources and features cannot be used together; use features.")
    if params.get("features") is not None:
        return _check_features(params["features"])
    if params.get("dataSources") is not None:
        return _features_from_data_sources(params["dataSources"])
    return []


def _apply(detector: Any, features: list[dict[str, Any]]) -> None:
    state, now = _state(detector), time.time()
    for feature in features:
        current = state[feature["name"]]
        if feature.get("status") and feature["status"] != current["status"]:
            current.update(status=feature["status"], updatedAt=now)
        for extra in feature.get("additionalConfiguration") or []:
            entry = current["additional"][extra["name"]]
            if extra["status"] != entry["status"]:
                entry.update(status=extra["status"], updatedAt=now)
    if features:
        detector.updated_at = _utcnow()


def _utcnow() -> Any:
    from moto.core.utils import utcnow

    return utcnow()


def _check_frequency(frequency: Any) -> None:
    if frequency is not None and frequency not in FREQUENCIES:
        raise bad_request(f"{INVALID_INPUT} findingPublishingFrequency must be one of {', '.join(FREQUENCIES)}.")


def _check_tags(tags: Any) -> dict[str, str]:
    if tags is None:
        return {}
    if not isinstance(tags, dict) or len(tags) > 50:
        raise bad_request(f"{INVALID_INPUT} tags must be a map of at most 50 tags.")
    for key, value in tags.items():
        if not 1 <= len(key) <= 128 or key.lower().startswith("aws:") or not isinstance(value, str) \
                or len(value) > 256:
            raise bad_request(f"{INVALID_INPUT} Invalid tag {key!r}.")
    return tags


def detector_arn(call: Call, detector_id: str) -> str:
    from moto.utilities.utils import get_partition

    return f"arn:{get_partition(call.region)}:guardduty:{call.region}:{call.account}:detector/{detector_id}"


# -- detectors -------------------------------------------------------------------


def create_detector(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(params.get("enable"), bool):
        raise bad_request(f"{INVALID_INPUT} enable is required.")
    backend = _backend(call)
    if backend.detectors:
        raise bad_request("The request is rejected because a detector already exists for the current account.")
    _check_frequency(params.get("findingPublishingFrequency"))
    tags = _check_tags(params.get("tags"))
    features = _requested_features(params)
    detector_id = backend.create_detector(params["enable"], params.get("findingPublishingFrequency") or "SIX_HOURS",
                                          None, dict(tags), None)
    detector = backend.detectors[detector_id]
    _state(detector)
    _apply(detector, features)
    detector.updated_at = detector.created_at
    return {"detectorId": detector_id}


def _features_result(detector: Any) -> list[dict[str, Any]]:
    created = detector.created_at.timestamp()
    answer = [{"name": name, "status": "ENABLED", "updatedAt": created} for name in FOUNDATIONAL]
    for name, entry in _state(detector).items():
        feature = {"name": name, "status": entry["status"], "updatedAt": entry["updatedAt"]}
        if entry["additional"]:
            feature["additionalConfiguration"] = [
                {"name": extra, "status": value["status"], "updatedAt": value["updatedAt"]}
                for extra, value in entry["additional"].items()
            ]
        answer.append(feature)
    return answer


def get_detector(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    detector = _detector(call, params["DetectorId"])
    state = _state(detector)
    answer = detector.to_json()
    answer.pop("features", None)
    data_sources = answer["dataSources"]
    data_sources.update(cloudTrail={"status": "ENABLED"}, dnsLogs={"status": "ENABLED"},
                        flowLogs={"status": "ENABLED"}, s3Logs={"status": state["S3_DATA_EVENTS"]["status"]},
                        kubernetes={"auditLogs": {"status": state["EKS_AUDIT_LOGS"]["status"]}})
    ebs = state["EBS_MALWARE_PROTECTION"]["status"]
    data_sources["malwareProtection"] = {
        "scanEc2InstanceWithFindings": {"ebsVolumes": {"status": ebs}},
        "serviceRole": detector.service_role.replace("AWSServiceRoleForAmazonGuardDuty",
                                                     "AWSServiceRoleForAmazonGuardDutyMalwareProtection")
        .replace("guardduty.amazonaws.com", "malware-protection.guardduty.amazonaws.com"),
    }
    answer["features"] = _features_result(detector)
    answer["tags"] = dict(detector.tags)
    return answer


def update_detector(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    detector = _detector(call, params["DetectorId"])
    _check_frequency(params.get("findingPublishingFrequency"))
    features = _requested_features(params)
    if params.get("enable") is not None:
        detector.enabled = bool(params["enable"])
    if params.get("findingPublishingFrequency") is not None:
        detector.finding_publish_freq = params["findingPublishingFrequency"]
    _apply(detector, features)
    detector.updated_at = _utcnow()
    return {}


# -- tags ------------------------------------------------------------------------------


def _tagged(call: Call, arn: str) -> Any:
    match = _DETECTOR_ARN.match(arn or "")
    if not match or match.group(2) != call.region or match.group(3) != call.account:
        raise bad_request(f"{INVALID_INPUT} The resource ARN {arn!r} is not valid.")
    detector = _backend(call).detectors.get(match.group(4))
    if detector is None:
        raise bad_request("The request is rejected because the resource could not be found.")
    return detector


def tag_resource(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    detector = _tagged(call, params["ResourceArn"])
    tags = _check_tags(params.get("tags"))
    if not tags:
        raise bad_request(f"{INVALID_INPUT} tags is required.")
    if len({**detector.tags, **tags}) > 50:
        raise bad_request(f"{INVALID_INPUT} A resource has at most 50 tags.")
    detector.tags.update(tags)
    return {}


def untag_resource(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    detector = _tagged(call, params["ResourceArn"])
    if not params.get("TagKeys"):
        raise bad_request(f"{INVALID_INPUT} tagKeys is required.")
    for key in params["TagKeys"]:
        detector.tags.pop(key, None)
    return {}


def list_tags_for_resource(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    return {"tags": dict(_tagged(call, params["ResourceArn"]).tags)}


# -- publishing destinations ---------------------------------------------------------------


def _check_destination(call: Call, properties: Any) -> dict[str, Any]:
    if not isinstance(properties, dict):
        raise bad_request(f"{INVALID_INPUT} destinationProperties is required.")
    match = _BUCKET_ARN.match(properties.get("destinationArn") or "")
    if not match:
        raise bad_request(f"{INVALID_INPUT} destinationArn must be the ARN of an S3 bucket (arn:aws:s3:::bucket) "
                          "or of a folder in it.")
    if not properties.get("kmsKeyArn"):
        raise bad_request(f"{INVALID_INPUT} kmsKeyArn is required: GuardDuty encrypts the exported findings.")
    from moto.s3.models import s3_backends
    from moto.utilities.utils import get_partition

    if match.group(1) not in s3_backends[call.account][get_partition(call.region)].buckets:
        raise bad_request(f"The request failed because the destination bucket {match.group(1)} does not exist.")
    return {key: properties[key] for key in ("destinationArn", "kmsKeyArn", "expectedBucketOwner")
            if properties.get(key)}


def _destination(call: Call, params: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    detector = _detector(call, params["DetectorId"])
    _state(detector)
    destination = detector.emulator_destinations.get(params["DestinationId"])
    if destination is None:
        raise bad_request("The request is rejected because the one or more input parameters have invalid values. "
                          f"Destination {params['DestinationId']} does not exist.")
    return detector, destination


def create_publishing_destination(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    detector = _detector(call, params["DetectorId"])
    _state(detector)
    if params.get("destinationType") != "S3":
        raise bad_request(f"{INVALID_INPUT} destinationType must be S3.")
    properties = _check_destination(call, params.get("destinationProperties"))
    if detector.emulator_destinations:
        raise bad_request("The request is rejected because a publishing destination already exists for this "
                          "detector.")
    destination_id = secrets.token_hex(16)
    detector.emulator_destinations[destination_id] = {
        "destinationId": destination_id, "destinationType": "S3", "status": "PUBLISHING",
        "publishingFailureStartTimestamp": 0, "destinationProperties": properties,
        "tags": _check_tags(params.get("tags")),
    }
    return {"destinationId": destination_id}


def describe_publishing_destination(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    return dict(_destination(call, params)[1])


def list_publishing_destinations(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    detector = _detector(call, params["DetectorId"])
    _state(detector)
    return {"destinations": [{key: d[key] for key in ("destinationId", "destinationType", "status")}
                             for d in detector.emulator_destinations.values()]}


def update_publishing_destination(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    _, destination = _destination(call, params)
    if params.get("destinationProperties") is not None:
        destination["destinationProperties"] = _check_destination(call, params["destinationProperties"])
    return {}


def delete_publishing_destination(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    detector, destination = _destination(call, params)
    detector.emulator_destinations.pop(destination["destinationId"])
    return {}


HANDLERS: dict[str, Callable[[Call, dict[str, Any]], dict[str, Any]]] = {
    "CreateDetector": create_detector,
    "GetDetector": get_detector,
    "UpdateDetector": update_detector,
    "TagResource": tag_resource,
    "UntagResource": untag_resource,
    "ListTagsForResource": list_tags_for_resource,
    "CreatePublishingDestination": create_publishing_destination,
    "DescribePublishingDestination": describe_publishing_destination,
    "ListPublishingDestinations": list_publishing_destinations,
    "UpdatePublishingDestination": update_publishing_destination,
    "DeletePublishingDestination": delete_publishing_destination,
}
