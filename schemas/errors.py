"""The one exception the schemas package raises for bad input: :class:`InvalidEvent`.

Processors catch exactly this type and turn the record into a dead letter, so every
decoding failure (bad JSON, unknown type, wrong field type...) must surface as it and
nothing else; a stray ``KeyError`` would instead crash the consumer and stall a partition.
"""

from __future__ import annotations


class InvalidEvent(ValueError):
    """A record (or a payload being encoded) does not satisfy its contract.

    ``field`` is the dotted path of the offending field (``payload.derivatives[2].width``),
    or ``None`` when the record as a whole is bad; ``str(exc)`` is ``"field: reason"`` so
    a dead-letter entry tells an operator exactly what to fix upstream.
    """

    def __init__(self, reason: str, field: str | None = None) -> None:
        # Both go to args so the exception pickles (process pools) and reprs faithfully.
        super().__init__(reason, field)
        self.reason = reason
        self.field = field

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}" if self.field else self.reason

    def within(self, segment: str) -> InvalidEvent:
        """The same error seen from the enclosing object (``segment`` is a name or ``[i]``).

        Paths are built on the way out of a failure, so the success path never formats
        a string.
        """
        if self.field is None:
            path = segment
        elif self.field.startswith("["):
            path = segment + self.field
        else:
            path = f"{segment}.{self.field}"
        return InvalidEvent(self.reason, path)
