"""Store URLs, parsed once where they enter (settings, ``create_store``) into ``StoreURL``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

#: The accepted forms of a store URL, by scheme (the schemes ``SUPPORTED_BACKENDS`` has).
FORMS = {
    "sqlite": "sqlite:///path/to.db (or sqlite:///:memory:)",
    "mongodb": "mongodb://[user:password@]host[:port][/database][?options]",
    "mongodb+srv": "mongodb+srv://[user:password@]host[/database][?options]",
}


@dataclass(frozen=True, slots=True, init=False)
class StoreURL:
    """A store URL: ``scheme://[user[:password]@]host/database?options``.

    ``str()`` and ``repr()`` hide the password (``mongodb://user:***@host/db``), so the
    value can be logged and shown; ``secret`` is the URL as given, for the driver alone.
    Raises ``ValueError`` for a scheme no backend serves."""

    secret: str = field(repr=False)
    scheme: str = field(compare=False)
    #: What comes before the path, without the user and password ("" for SQLite).
    host: str = field(compare=False)
    #: The path without its leading slash: the database file, or the database's name.
    database: str = field(compare=False)
    options: Mapping[str, str] = field(compare=False)

    def __init__(self, url: str | StoreURL) -> None:
        text = url.secret if isinstance(url, StoreURL) else url
        parts = urlsplit(text)
        set_ = object.__setattr__  # frozen: fields are set once, here
        set_(self, "secret", text)
        set_(self, "scheme", parts.scheme)
        set_(self, "host", parts.netloc.rpartition("@")[2])
        set_(self, "database", unquote(parts.path[1:]))
        set_(self, "options", dict(parse_qsl(parts.query)))
        if self.scheme not in FORMS or "://" not in text:
            forms = "; ".join(FORMS.values())
            raise ValueError(f"Unsupported store URL {str(self)!r}: expected {forms}")

    def with_options(self, defaults: Mapping[str, str]) -> StoreURL:
        """This URL with the ``defaults`` among its options that it does not set itself
        (names compared without regard to case, as MongoDB's are)."""
        given = {name.lower() for name in self.options}
        extra = {k: v for k, v in defaults.items() if k.lower() not in given}
        if not extra:
            return self
        parts = urlsplit(self.secret)
        query = "&".join(filter(None, [parts.query, urlencode(extra)]))
        return StoreURL(urlunsplit(parts._replace(query=query)))

    def __str__(self) -> str:
        """The URL with its password, if any, replaced by ``***``."""
        parts = urlsplit(self.secret)
        if parts.password is None:
            return self.secret
        user, _, host = parts.netloc.rpartition("@")
        name = user.partition(":")[0]
        return urlunsplit(parts._replace(netloc=f"{name}:***@{host}"))

    def __repr__(self) -> str:
        return f"StoreURL({str(self)!r})"
