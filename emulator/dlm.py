"""Placeholder: being written."""

HANDLERS: dict = {}


class _Store:
    def reset(self) -> None:
        pass


STORE = _Store()
