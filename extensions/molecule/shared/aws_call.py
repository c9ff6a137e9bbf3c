"""AWS API calls through boto3, their responses printed as one JSON list.

The verify playbooks use it where amazon.aws has no _info module (EKS
clusters, add-ons, access entries, node groups; IAM OIDC providers), several
calls in one process:

    aws_call.py REGION SERVICE.OPERATION [PARAMETER=VALUE ...] [SERVICE.OPERATION ...]

    aws_call.py us-east-1 eks.describe_cluster name=c1 eks.list_addons clusterName=c1

A VALUE that parses as JSON is passed as such (lists, numbers), anything else
as a string. The endpoint and credentials come from the environment
(`python -m emulator run` exports AWS_ENDPOINT_URL and fake credentials).
"""

from __future__ import annotations

import json
import sys

import boto3


def parse_calls(words: list[str]) -> list[tuple[str, str, dict[str, object]]]:
    """(service, operation, parameters) of each SERVICE.OPERATION and the PARAMETER=VALUE words after it."""
    calls: list[tuple[str, str, dict[str, object]]] = []
    for word in words:
        if "=" not in word:
            service, _dot, operation = word.partition(".")
            if not service or not operation:
                raise ValueError(f"expected SERVICE.OPERATION or PARAMETER=VALUE, got {word!r}")
            calls.append((service, operation, {}))
            continue
        if not calls:
            raise ValueError(f"{word!r} comes before any SERVICE.OPERATION")
        key, _equals, value = word.partition("=")
        try:
            calls[-1][2][key] = json.loads(value)
        except ValueError:
            calls[-1][2][key] = value
    return calls


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    region, *words = argv
    try:
        calls = parse_calls(words)
    except ValueError as error:
        print(f"aws_call.py: {error}", file=sys.stderr)
        return 2
    session = boto3.session.Session(region_name=region)
    clients: dict[str, object] = {}
    responses = []
    for service, operation, parameters in calls:
        client = clients.setdefault(service, session.client(service))
        response = getattr(client, operation)(**parameters)
        response.pop("ResponseMetadata", None)
        responses.append(response)
    print(json.dumps(responses, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
