"""``graphql-repl token create | list | revoke``: access tokens in the store."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TypeVar

import click
import orjson

from ..auth import ROLES, create_token, token_id_of
from ..errors import ReplError
from .exits import EXIT_STORE, EXIT_UNAVAILABLE, CommandWithExitCodes
from .failures import debug_wanted
from .options import settings_of, store_option
from .startup import check_file, new_store, open_store, shown

if TYPE_CHECKING:
    from ..stores.tokens import TokenStore

T = TypeVar("T")

_DURATION = re.compile(r"(\d+)\s*([smhdw])", re.IGNORECASE)
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


@click.group()
def token() -> None:
    """Manage access tokens."""


def _with_tokens(
    store: str | None, work: Callable[[TokenStore], Awaitable[T]], *, create: bool = False
) -> T:
    """Run ``work`` on the store's tokens (the store opened, then closed), errors as one
    line. A SQLite store that does not exist is created only when ``create`` (and then
    said on stderr, with its absolute path); otherwise that is an error."""
    settings = settings_of(store=store)
    backend = new_store(settings)
    existed = check_file(settings.store, create=create)
    debug = debug_wanted()

    async def run() -> T:
        await open_store(backend, settings, debug=debug)
        try:
            return await work(backend.tokens)
        finally:
            await backend.close()

    try:
        result = asyncio.run(run())
    except ReplError as exc:
        raise click.ClickException(exc.message) from exc
    if not existed:
        where = shown(settings.store)
        click.echo(f"Created a new store {where} (serve it with --store {where})", err=True)
    return result


def _expiry(value: str | None) -> float | None:
    """``--expires``: a duration from now (``90m``, ``12h``, ``30d``, ``1w``, or combined:
    ``1d12h``) or an ISO 8601 date and time (UTC unless it gives an offset)."""
    if value is None:
        return None
    text = value.strip()
    if _DURATION.sub("", text).strip() == "" and _DURATION.search(text):
        seconds = sum(int(n) * _SECONDS[unit.lower()] for n, unit in _DURATION.findall(text))
        return time.time() + seconds
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(
            "expected a duration such as 30d, 12h or 90m, or an ISO 8601 time "
            "such as 2027-01-31T12:00:00Z",
            param_hint="--expires",
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _when(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@token.command("create", cls=CommandWithExitCodes, exit_codes=(EXIT_UNAVAILABLE, EXIT_STORE))
@click.option("--role", required=True, type=click.Choice(list(ROLES)))
@click.option("--tenant", help="Bind the token to one tenant (tenantId).")
@click.option(
    "--expires",
    metavar="WHEN",
    help="Expiry: a duration from now (90m, 12h, 30d, 1w) or an ISO 8601 time. "
    "Default: never (until revoked).",
)
@store_option
def token_create(role: str, tenant: str | None, expires: str | None, store: str | None) -> None:
    """Create a token and print it (alone, on stdout). Only its hash is stored. A SQLite
    store that does not exist yet is created (and said so on stderr)."""
    expires_at = _expiry(expires)
    click.echo(
        _with_tokens(store, lambda t: create_token(t, role, tenant, expires_at), create=True)
    )


@token.command("list", cls=CommandWithExitCodes, exit_codes=(EXIT_UNAVAILABLE, EXIT_STORE))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@store_option
def token_list(as_json: bool, store: str | None) -> None:
    """List tokens: id, role, tenant, times and status. Secrets are never shown (only
    their hashes are stored)."""
    now = time.time()
    records = _with_tokens(store, lambda t: t.list())
    rows = []
    for record in records:
        if record.revoked_at is not None:
            status = "revoked"
        elif not record.active(now):
            status = "expired"
        else:
            status = "active"
        rows.append(
            {
                "id": record.token_id,
                "role": record.role,
                "tenant": record.tenant,
                "created": _when(record.created_at),
                "expires": _when(record.expires_at) if record.expires_at else None,
                "revoked": _when(record.revoked_at) if record.revoked_at else None,
                "status": status,
            }
        )
    if as_json:
        for row in rows:
            click.echo(orjson.dumps(row).decode())
        return
    columns = ("id", "role", "tenant", "created", "expires", "status")
    table = [[str(row[c] or "-") for c in columns] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in table)]) for i, c in enumerate(columns)]
    for line in [[c.upper() for c in columns], *table]:
        click.echo("  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip())


@token.command("revoke", cls=CommandWithExitCodes, exit_codes=(EXIT_UNAVAILABLE, EXIT_STORE))
@click.argument("token_id", metavar="ID")
@store_option
def token_revoke(token_id: str, store: str | None) -> None:
    """Revoke a token by its id (as `token list` shows it; the whole token works too).
    It stops working at once, and subscriptions opened with it end within seconds."""
    token_id = token_id_of(token_id)

    async def revoke(tokens: TokenStore) -> float | None:
        """When the token was revoked before (None: it is revoked now)."""
        record = await tokens.get(token_id)
        if record is None:
            raise click.ClickException(f"No token with id {token_id!r}")
        if record.revoked_at is not None:
            return record.revoked_at
        await tokens.revoke(token_id, time.time())
        return None

    revoked_before = _with_tokens(store, revoke)
    if revoked_before is not None:
        raise click.ClickException(
            f"Token {token_id} was revoked already, at {_when(revoked_before)}; nothing changed"
        )
    click.echo(f"Revoked token {token_id}", err=True)
