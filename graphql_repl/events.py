"""Events an operator may want to know of: each is logged as one line (its fields as the
line's fields, in JSON logs one key each) and handed to the listeners, such as the metrics.

The layers define their events (``replication/events.py``, ``api/events.py``) as frozen
dataclasses; ``Events`` is the one object they are emitted through, one per repository.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True, slots=True)
class Event:
    """An event: ``kind`` names it in its log line (the ``event`` field); the dataclass
    fields are the line's other fields, except those whose metadata says ``log=False``."""

    kind: ClassVar[str] = "event"
    level: ClassVar[int] = logging.INFO

    def message(self) -> str:
        """The line's message (its text, in text logs)."""
        return self.kind

    def log_level(self) -> int:
        return self.level

    def log_fields(self) -> dict[str, Any]:
        fields = {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if f.metadata.get("log", True)
        }
        return {"event": self.kind, **fields}


Listener = Callable[[Event], None]


class Events:
    """Logs each event with the logger of the module that defines it, and hands it to every
    listener (in the order they were added)."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    def listen(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def emit(self, event: Event) -> None:
        logger = logging.getLogger(type(event).__module__)
        level = event.log_level()
        if logger.isEnabledFor(level):
            logger.log(level, event.message(), extra=event.log_fields())
        for listener in self._listeners:
            listener(event)
