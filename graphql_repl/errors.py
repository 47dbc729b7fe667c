"""Errors raised by graphql_repl.

    ReplError                 base class; ``code`` is the contract's error code
    ├── BadInput              BAD_USER_INPUT: the caller sent something we cannot use
    │   ├── UnknownModel      no model of that name is registered
    │   ├── BadCheckpoint     a malformed checkpoint, or one this store's log does not hold
    │   │                     (``resync``: start again without one)
    │   ├── BadFilter         a ``where`` filter that names an unknown field or operator
    │   ├── InvalidDocument   a document that does not fit its model
    │   └── StateError        a replication state file that cannot be used: unreadable, not
    │                         ours, for another replication, or in use by another run
    ├── Unauthenticated       UNAUTHENTICATED: no token, or one we do not know
    ├── Forbidden             FORBIDDEN: a known token without the permission
    ├── NotFound              NOT_FOUND: the document or conflict does not exist
    ├── FeedOverflow          INTERNAL_SERVER_ERROR: a subscriber fell too far behind
    ├── StoreError            INTERNAL_SERVER_ERROR: the store failed; the message is safe to show
    │   └── MissingDriver     the store's driver is not installed (``extra``: what installs it)
    └── RemoteError           a request to a remote server failed (``remote/``); ``url``,
        │                     and ``code``: the server's ``extensions.code`` when it gave one
        ├── TransientError    may succeed if retried: connection refused or reset, timeout,
        │                     HTTP 5xx, INTERNAL_SERVER_ERROR, the connection closed
        └── PermanentError    retrying cannot help: UNAUTHENTICATED, FORBIDDEN, BAD_USER_INPUT
            │                 (unknown model...), NOT_FOUND, HTTP 4xx, not a GraphQL answer
            └── ResyncRequired  the remote cannot continue from the checkpoint it was given
                                (``extensions.resync``): start again without one

Every backend maps its driver's exceptions to ``StoreError`` in one place, so code above
the store never sees ``sqlite3`` or ``pymongo`` exceptions; likewise ``remote/failures.py`` maps
the GraphQL client's and the network's exceptions to ``RemoteError`` in one place.
"""

from __future__ import annotations


class ReplError(Exception):
    """Base class of every error graphql_repl raises on purpose."""

    code = "INTERNAL_SERVER_ERROR"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadInput(ReplError):
    code = "BAD_USER_INPUT"


class UnknownModel(BadInput):
    """``hint`` follows the message: the name that was likely meant, if any."""

    def __init__(self, name: str, hint: str = "") -> None:
        super().__init__(f"Unknown model {name!r}{hint}")
        self.name = name


class BadCheckpoint(BadInput):
    """``resync`` is set when the checkpoint is well formed but this store cannot continue
    from it (issued by another store, or by this one before it was restored from an older
    copy): the client must start again from no checkpoint."""

    def __init__(self, message: str, resync: bool = False) -> None:
        super().__init__(message)
        self.resync = resync


class BadFilter(BadInput):
    pass


class InvalidDocument(BadInput):
    pass


class StateError(BadInput):
    """The state file given to ``graphql-repl replicate`` cannot be used: unreadable, not
    ours, for another replication, or in use by another run."""


class Unauthenticated(ReplError):
    code = "UNAUTHENTICATED"


class Forbidden(ReplError):
    code = "FORBIDDEN"


class NotFound(ReplError):
    code = "NOT_FOUND"


class FeedOverflow(ReplError):
    """The subscriber did not keep up; it can resubscribe from ``checkpoint``."""

    def __init__(self, checkpoint: str | None) -> None:
        super().__init__(
            "The subscriber fell too far behind the change feed; "
            "subscribe again with since set to the last checkpoint received"
        )
        self.checkpoint = checkpoint


class StoreError(ReplError):
    pass


class MissingDriver(StoreError):
    """The driver of a store's backend is not installed; ``extra`` is the package extra
    that installs it (``pip install graphql-repl[<extra>]``)."""

    def __init__(self, scheme: str, driver: str, extra: str | None) -> None:
        install = f": pip install 'graphql-repl[{extra}]'" if extra else ""
        local = f" (in a clone of the repository: pip install -e '.[{extra}]')" if extra else ""
        super().__init__(
            f"The {scheme} store needs {driver}, which is not installed{install}{local}"
        )
        self.driver = driver
        self.extra = extra


class RemoteError(ReplError):
    """A request to a remote graphql_repl server failed. ``code`` is the server's
    ``extensions.code`` when it answered with one, else the contract code that fits best."""

    def __init__(self, message: str, url: str, code: str = "INTERNAL_SERVER_ERROR") -> None:
        super().__init__(message)
        self.url = url
        self.code = code


class TransientError(RemoteError):
    """The server could not be reached or failed on its side: the same request may
    succeed later. ``attempts`` is how many were made before giving up."""

    attempts = 1


class PermanentError(RemoteError):
    """The server refused the request itself (authentication, permission, input): sending
    it again cannot succeed."""


class ResyncRequired(PermanentError):
    """The server cannot continue from the checkpoint it was given (issued by another store,
    or before the store was restored from an older copy): start again from no checkpoint."""

    def __init__(self, message: str, url: str) -> None:
        super().__init__(message, url, "BAD_USER_INPUT")
