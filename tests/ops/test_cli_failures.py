"""Every failure a user can cause on the command line ends with one line on stderr that
says what to do, no traceback, the documented exit code, and nothing created on disk.

Each case runs the installed ``graphql-repl`` in a fresh, empty directory, as a new user
would, with no ``GRAPHQL_REPL_*`` variables but those the case sets.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from servers import free_port, graphql_repl_command

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_UNAVAILABLE = 5
EXIT_STORE = 7
EXIT_LISTEN = 8
FORMS = "sqlite:///path/to.db"
CONNECT_TIMEOUT = 1.0


@dataclass(frozen=True)
class Case:
    id: str
    args: tuple[str, ...]
    code: int
    hints: tuple[str, ...]  # each must be in the error line ({cwd}: the directory)
    env: dict[str, str] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)  # written before the run


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str
    seconds: float


def run(args: tuple[str, ...], cwd: Path, env: dict[str, str] | None = None) -> Run:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GRAPHQL_REPL_")}
    started = time.monotonic()
    done = subprocess.run(
        [graphql_repl_command(), *args],
        cwd=cwd,
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    return Run(done.returncode, done.stdout, done.stderr, time.monotonic() - started)


@pytest.fixture(scope="module")
def no_pymongo(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A PYTHONPATH entry under which ``import pymongo`` fails as on a plain install."""
    root = tmp_path_factory.mktemp("no-pymongo")
    (root / "pymongo").mkdir()
    (root / "pymongo" / "__init__.py").write_text(
        'raise ModuleNotFoundError("No module named \'pymongo\'", name="pymongo")\n'
    )
    return str(root)


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port another process (this one) listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


MODELS = "from graphql_repl import Field, FieldType, Model\n" + (
    'Task = Model("Task", fields=(Field("title", FieldType.STRING),))\n'
)

CASES = [
    *(
        Case(f"store-url-{url}", ("serve", "--store", url), EXIT_USAGE, (FORMS, "--help"))
        for url in ("sqlit:///a.db", "sqlite//a.db", "mongdb://127.0.0.1/x", "a.db", "postgres://x")
    ),
    Case("store-url-two-slashes", ("serve", "--store", "sqlite://a.db"), EXIT_USAGE, (FORMS,)),
    Case(
        "store-url-from-the-environment",
        ("serve",),
        EXIT_USAGE,
        ("GRAPHQL_REPL_STORE", FORMS),
        env={"GRAPHQL_REPL_STORE": "sqlite//a.db"},
    ),
    Case(
        "missing-directory",
        ("serve", "--store", "sqlite:///missing/a.db"),
        EXIT_STORE,
        ("{cwd}/missing/a.db", "does not exist"),
    ),
    Case(
        "store-is-a-directory",
        ("serve", "--store", "sqlite:///adir"),
        EXIT_STORE,
        ("{cwd}/adir", "is a directory"),
        files={"adir/keep": ""},
    ),
    Case(
        "store-is-not-a-database",
        ("serve", "--store", "sqlite:///notes.txt"),
        EXIT_STORE,
        ("{cwd}/notes.txt", "not a database"),
        files={"notes.txt": "these are my notes, not a database\n" * 200},
    ),
    Case(
        "models-file-missing",
        ("export-schema", "--models", "./mymodels.py"),
        EXIT_USAGE,
        ("{cwd}/mymodels.py",),
    ),
    Case(
        "models-module-missing",
        ("export-schema", "--models", "mymodels"),
        EXIT_USAGE,
        ("'mymodels'", "{cwd}"),
    ),
    Case(
        "models-module-broken",
        ("serve", "--models", "broken.py"),
        EXIT_USAGE,
        ("broken.py", "NameError", "--debug"),
        files={"broken.py": "Task = undefined_name\n"},
    ),
    Case(
        "models-module-without-models",
        ("export-schema", "--models", "empty"),
        EXIT_USAGE,
        ("declares no models",),
        files={"empty.py": "x = 1\n"},
    ),
    Case("unknown-option", ("serve", "--bogus"), EXIT_USAGE, ("--bogus", "serve --help")),
    Case("port-not-a-number", ("serve", "--port", "eighty"), EXIT_USAGE, ("eighty",)),
    Case(
        "port-setting-not-a-number",
        ("serve",),
        EXIT_USAGE,
        ("GRAPHQL_REPL_PORT", "must be a number"),
        env={"GRAPHQL_REPL_PORT": "eighty"},
    ),
    Case("no-workers", ("serve", "--workers", "0"), EXIT_USAGE, ("--workers", "x>=1")),
    Case(
        "workers-setting-below-one",
        ("serve",),
        EXIT_USAGE,
        ("workers must be at least 1",),
        env={"GRAPHQL_REPL_WORKERS": "0"},
    ),
    Case("unknown-role", ("token", "create", "--role", "boss"), EXIT_USAGE, ("boss", "admin")),
    Case(
        "token-list-without-a-store",
        ("token", "list"),
        EXIT_STORE,
        ("there is no store at {cwd}/graphql_repl.db", "--store"),
    ),
    Case(
        "token-revoke-without-a-store",
        ("token", "revoke", "abc"),
        EXIT_STORE,
        ("there is no store at {cwd}/graphql_repl.db",),
    ),
    Case(
        "replicate-source-not-a-url",
        ("replicate", "--source", "nowhere", "--target", "http://127.0.0.1:1", "--model", "Note"),
        EXIT_USAGE,
        ("nowhere",),
    ),
]


def check_one_line(result: Run, code: int, hints: list[str]) -> str:
    assert "Traceback" not in result.stderr, result
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result
    (line,) = lines
    assert line.startswith("Error: "), result
    for hint in hints:
        assert hint in line, (hint, result)
    assert result.code == code, result
    return line


def contents(directory: Path) -> set[str]:
    return {str(p.relative_to(directory)) for p in directory.rglob("*")}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_a_bad_invocation_is_one_line(case: Case, tmp_path: Path) -> None:
    for name, text in case.files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    before = contents(tmp_path)
    result = run(case.args, tmp_path, case.env)
    check_one_line(result, case.code, [h.format(cwd=tmp_path) for h in case.hints])
    assert result.stdout == ""
    assert contents(tmp_path) == before


def test_a_missing_driver_names_the_extra(tmp_path: Path, no_pymongo: str) -> None:
    result = run(
        ("serve", "--store", "mongodb://127.0.0.1:1/x"), tmp_path, {"PYTHONPATH": no_pymongo}
    )
    line = check_one_line(result, EXIT_STORE, ["pymongo", "graphql-repl[mongodb]"])
    assert "pip install -e '.[mongodb]'" in line
    assert contents(tmp_path) == set()


@pytest.mark.parametrize("command", [("serve",), ("token", "create", "--role", "admin")])
def test_an_unreachable_mongodb_fails_within_the_connect_timeout(
    command: tuple[str, ...], tmp_path: Path
) -> None:
    port = free_port()
    url = f"mongodb://operator:hunter2secret@127.0.0.1:{port}/x"
    result = run(
        (*command, "--store", url),
        tmp_path,
        {"GRAPHQL_REPL_CONNECT_TIMEOUT": str(CONNECT_TIMEOUT)},
    )
    line = check_one_line(result, EXIT_UNAVAILABLE, [f"127.0.0.1:{port}", "CONNECT_TIMEOUT"])
    assert "hunter2secret" not in result.stderr
    assert result.seconds < CONNECT_TIMEOUT + 10, line
    assert contents(tmp_path) == set()


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_port_in_use_is_said_before_anything_else(
    tmp_path: Path, busy_port: int, workers: str
) -> None:
    result = run(("serve", "--port", str(busy_port), "--workers", workers), tmp_path)
    check_one_line(result, EXIT_LISTEN, [f"127.0.0.1:{busy_port}", "address already in use"])
    assert result.stdout == ""
    assert contents(tmp_path) == set()  # no graphql_repl.db either


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a database\n" * 200)
    args = ("serve", "--store", "sqlite:///notes.txt")
    for env, flag in (({"GRAPHQL_REPL_DEBUG": "1"}, ()), ({}, ("--debug",))):
        result = run((*flag, *args), tmp_path, env)
        assert result.code == EXIT_STORE, result
        assert "Traceback" in result.stderr
        assert result.stderr.splitlines()[-1].startswith("Error: cannot open the SQLite store")


@pytest.mark.parametrize("spec", ["./mymodels.py", "mymodels", "{cwd}/mymodels.py"])
def test_models_from_the_current_directory_or_a_file(spec: str, tmp_path: Path) -> None:
    (tmp_path / "mymodels.py").write_text(MODELS)
    result = run(("export-schema", "--models", spec.format(cwd=tmp_path)), tmp_path)
    assert result.code == 0, result
    assert "type Task" in result.stdout


def test_token_create_says_it_created_a_store(tmp_path: Path) -> None:
    result = run(("token", "create", "--role", "admin"), tmp_path)
    assert result.code == 0, result
    assert result.stdout.startswith("grepl_")
    assert len(result.stdout.splitlines()) == 1
    assert f"Created a new store sqlite:///{tmp_path}/graphql_repl.db" in result.stderr
    again = run(("token", "create", "--role", "admin"), tmp_path)
    assert again.code == 0, again
    assert again.stderr == ""  # the store exists now


def test_revoking_a_revoked_token_is_an_error(tmp_path: Path) -> None:
    token = run(("token", "create", "--role", "reader"), tmp_path).stdout.strip()
    token_id = token.split("_")[1]
    assert run(("token", "revoke", token_id), tmp_path).code == 0
    again = run(("token", "revoke", token_id), tmp_path)
    check_one_line(again, EXIT_ERROR, [token_id, "revoked already"])


def test_help_lists_the_exit_codes(tmp_path: Path) -> None:
    for command in (("serve",), ("token", "create"), ("replicate",)):
        result = run((*command, "--help"), tmp_path)
        assert result.code == 0, result
        assert "Exit codes:" in result.stdout
    serve = run(("serve", "--help"), tmp_path).stdout
    for code in (EXIT_USAGE, EXIT_UNAVAILABLE, EXIT_STORE, EXIT_LISTEN):
        assert f"\n  {code} " in serve
