"""Wrong token, unreachable server, unknown model...: a clear one-line message on stderr
and a non-zero exit code saying which kind of failure it was, never a traceback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from servers import Server, ServerFactory, free_port

from .helpers import Run, Servers, replicate_args, run_cli

EXIT_USAGE = 2
EXIT_REFUSED = 4
EXIT_UNAVAILABLE = 5


@pytest.fixture(scope="module")
def pair(sqlite_factory: ServerFactory) -> Iterator[tuple[Server, Server]]:
    servers = Servers(sqlite_factory)
    yield servers.start(), servers.start()
    servers.close()


def one_error_line(run: Run) -> str:
    assert "Traceback" not in run.stderr, run
    errors = [line for line in run.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, run
    return errors[0]


def test_wrong_token(pair: tuple[Server, Server]) -> None:
    a, b = pair
    args = replicate_args(a, b)
    args[args.index("--source-token") + 1] = "grepl_000000000000_not-a-token"
    run = run_cli(args)
    assert run.code == EXIT_REFUSED, run
    line = one_error_line(run)
    assert "UNAUTHENTICATED" in line
    assert a.url in line


def test_token_without_the_permission(pair: tuple[Server, Server]) -> None:
    a, b = pair
    args = replicate_args(a, b)
    args[args.index("--target-token") + 1] = b.token("reader")
    run = run_cli(args)
    assert run.code == EXIT_REFUSED, run
    assert "FORBIDDEN" in one_error_line(run)


def test_unknown_model(pair: tuple[Server, Server]) -> None:
    a, b = pair
    run = run_cli(replicate_args(a, b, "NoSuchModel"))
    assert run.code == EXIT_REFUSED, run
    assert "Unknown model 'NoSuchModel'" in one_error_line(run)


def test_unreachable_server_gives_up_after_the_retries(pair: tuple[Server, Server]) -> None:
    a, b = pair
    args = replicate_args(a, b, "Note", None, "--retries", "2")
    nowhere = f"http://127.0.0.1:{free_port()}"
    args[args.index(b.url)] = nowhere
    run = run_cli(args)
    assert run.code == EXIT_UNAVAILABLE, run
    line = one_error_line(run)
    assert nowhere in line
    assert "connection refused" in line
    assert "gave up after 2 attempts" in line
    assert "retrying in" in run.stderr  # the retry was said, on a line of its own


def test_not_a_graphql_endpoint(pair: tuple[Server, Server]) -> None:
    a, b = pair
    args = replicate_args(a, b)
    args[args.index(a.url)] = a.health_url
    run = run_cli(args)
    assert run.code == EXIT_REFUSED, run
    assert "HTTP 405" in one_error_line(run)


def test_state_file_that_is_not_ours(pair: tuple[Server, Server], tmp_path: Path) -> None:
    a, b = pair
    state = tmp_path / "state.json"
    state.write_text("not json")
    run = run_cli(replicate_args(a, b, "Note", state))
    assert run.code == EXIT_USAGE, run
    assert "is not valid" in one_error_line(run)
    assert state.read_text() == "not json"


def test_state_file_of_another_model(pair: tuple[Server, Server], tmp_path: Path) -> None:
    a, b = pair
    state = tmp_path / "state.json"
    assert run_cli(replicate_args(a, b, "User", state)).code == 0
    run = run_cli(replicate_args(a, b, "Note", state))
    assert run.code == EXIT_USAGE, run
    assert "is for User -> User" in one_error_line(run)
