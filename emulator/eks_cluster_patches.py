"""Placeholder: being written."""

HANDLERS: dict = {}


def install() -> None:
    """Patch moto EKS models."""
