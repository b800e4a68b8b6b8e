"""A secret value that never shows itself: its repr and str are `Secret('**********')`.

Stdlib only (pydantic's SecretStr costs a cold start its import, issue 15). Read the
value with `get_secret_value()`, at the one place that sends it.
"""

from __future__ import annotations

MASK = "Secret('**********')"


class Secret:
    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError(f"a secret is a string, not {type(value).__name__}")
        self._value = value

    @classmethod
    def of(cls, value: object) -> Secret | None:
        """A Secret from a str, a Secret or anything with `get_secret_value()` (pydantic's
        SecretStr, which callers and tests still pass); None stays None."""
        if value is None or isinstance(value, Secret):
            return value
        reveal = getattr(value, "get_secret_value", None)
        return cls(reveal() if callable(reveal) else value)  # type: ignore[arg-type]

    def get_secret_value(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return MASK

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return True
