"""``serve --workers N``: N server processes on one listening socket and one store.

The supervisor (the process ``serve`` started in) checks the store and binds the socket
before any worker starts, so that a failure is said once; then it spawns the workers, each
a fresh interpreter running the same server as ``serve`` with one worker does, on a copy of
the socket: the kernel hands each new connection to one of them. Nothing a worker keeps is
needed by another: the store holds documents, tokens and the change log, and each worker's
feed follows the log (SQLite: its file, looked at every ``poll_interval``; MongoDB: a change
stream, with one process sequencing), so a feed on any worker sees every worker's writes.

A stop signal to the supervisor is passed on to every worker, which drains its feeds and
closes its WebSockets with 1012 as a single server does; the supervisor waits for all of
them. Workers run in a process group of their own, so that Ctrl-C in a terminal reaches
them once, through the supervisor. A worker that dies is replaced; one that fails to start
(the store, the port, the models) stops them all with its exit code.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from types import FrameType

import click

from ..metrics import MULTIPROC_DIR
from ..settings import Settings
from .exits import EXIT_ERROR, EXIT_LISTEN, EXIT_OK, EXIT_STORE, EXIT_UNAVAILABLE, EXIT_USAGE
from .failures import Failure, one_line

log = logging.getLogger(__name__)

#: Exit codes of a worker that could not start: another would fail the same way.
STARTUP_FAILURES = frozenset({EXIT_USAGE, EXIT_STORE, EXIT_UNAVAILABLE, EXIT_LISTEN})
#: Seconds between replacements of a worker that keeps dying.
RESTART_DELAY = 1.0
#: Seconds a worker is given to drain after the stop signal, before it is killed.
STOP_TIMEOUT = 30.0

_spawn = multiprocessing.get_context("spawn")


@dataclass(frozen=True)
class WorkerSpec:
    """What a worker needs to run the server (it is pickled into the new process)."""

    settings: Settings
    log_level: str
    log_format: str
    debug: bool
    number: int = 0


def worker_main(spec: WorkerSpec, sock: socket.socket, parent: int) -> None:
    """A worker process: the server of ``spec`` on ``sock`` until stopped (or until the
    supervisor, process ``parent``, is gone)."""
    from ..logs import configure_logging
    from .options import registry_of
    from .serve import run_server
    from .startup import new_store

    os.setpgrp()
    configure_logging(spec.log_level, spec.log_format)
    threading.Thread(target=_stop_when_orphaned, args=(parent,), daemon=True).start()
    try:
        registry = registry_of(spec.settings.models)
        run_server(spec.settings, registry, new_store(spec.settings), sock, spec, banner=False)
    except Failure as exc:
        _worker_exit(spec, exc.message, exc.exit_code)
    except click.UsageError as exc:
        _worker_exit(spec, exc.format_message(), EXIT_USAGE)
    except Exception as exc:
        if spec.debug:
            raise
        _worker_exit(spec, f"{type(exc).__name__}: {one_line(str(exc))}", EXIT_ERROR)


def _worker_exit(spec: WorkerSpec, message: str, code: int) -> None:
    click.echo(f"graphql-repl: worker {spec.number}: {message}", err=True)
    sys.exit(code)


def _stop_when_orphaned(parent: int) -> None:
    """Stop this worker (as a stop signal does) once its supervisor has died."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os.kill(os.getpid(), signal.SIGTERM)


class Supervisor:
    """Runs ``count`` workers of ``spec`` on ``sock`` until a stop signal, replacing those
    that die; ``run`` returns the exit code."""

    def __init__(self, spec: WorkerSpec, sock: socket.socket, count: int) -> None:
        self.spec = spec
        self.sock = sock
        self.count = count
        self.workers: dict[int, BaseProcess] = {}
        self._stopping = threading.Event()
        self._signals = 0

    def run(self) -> int:
        with self._metrics_directory(), self._signal_handlers():
            for number in range(1, self.count + 1):
                self._start(number)
            code = self._watch()
            self._stop_all()
        return code

    def _start(self, number: int) -> None:
        spec = WorkerSpec(
            self.spec.settings, self.spec.log_level, self.spec.log_format, self.spec.debug, number
        )
        process = _spawn.Process(
            target=worker_main,
            args=(spec, self.sock, os.getpid()),
            name=f"graphql-repl worker {number}",
        )
        process.start()
        self.workers[number] = process
        log.info(
            "Worker %d started (pid %s)",
            number,
            process.pid,
            extra={"event": "serve.worker", "worker": number, "pid": process.pid},
        )

    def _watch(self) -> int:
        """Wait for the stop signal, replacing workers that end before it; the exit code
        (a worker's that could not start, else 0)."""
        while not self._stopping.is_set():
            sentinels = {p.sentinel: n for n, p in self.workers.items()}
            for ready in wait(list(sentinels), timeout=0.5):
                number = sentinels[ready]  # type: ignore[index]
                ended = self.workers.pop(number)
                ended.join()
                self._mark_dead(ended)
                if self._stopping.is_set():
                    break
                code = ended.exitcode
                if code in STARTUP_FAILURES:
                    return int(code or EXIT_ERROR)
                log.warning(
                    "Worker %d (pid %s) ended with exit code %s; starting another",
                    number,
                    ended.pid,
                    code,
                    extra={"event": "serve.worker_died", "worker": number, "code": code},
                )
                time.sleep(RESTART_DELAY)
                self._start(number)
        return EXIT_OK

    def _stop_all(self) -> None:
        for process in self.workers.values():
            self._signal(process, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        for process in self.workers.values():
            process.join(max(0.0, deadline - time.monotonic()))
            if process.exitcode is None:
                log.warning("Worker (pid %s) did not stop in time; killing it", process.pid)
                process.kill()
                process.join()
            self._mark_dead(process)

    @staticmethod
    def _signal(process: BaseProcess, sig: int) -> None:
        if process.pid is not None and process.exitcode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, sig)

    def _on_signal(self, sig: int, frame: FrameType | None) -> None:
        self._signals += 1
        if self._signals == 1:
            self._stopping.set()
            return
        # A second signal: the workers stop at once (a second signal does that to each).
        for process in self.workers.values():
            self._signal(process, signal.SIGTERM)

    @contextlib.contextmanager
    def _signal_handlers(self) -> Iterator[None]:
        previous = {sig: signal.signal(sig, self._on_signal) for sig in _STOP_SIGNALS}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    @contextlib.contextmanager
    def _metrics_directory(self) -> Iterator[None]:
        """A fresh directory for prometheus-client's multiprocess mode, named to the workers
        through the environment they inherit, and removed at the end."""
        directory = tempfile.mkdtemp(prefix="graphql-repl-metrics-")
        before = os.environ.get(MULTIPROC_DIR)
        os.environ[MULTIPROC_DIR] = directory
        try:
            yield
        finally:
            if before is None:
                os.environ.pop(MULTIPROC_DIR, None)
            else:
                os.environ[MULTIPROC_DIR] = before
            shutil.rmtree(directory, ignore_errors=True)

    @staticmethod
    def _mark_dead(process: BaseProcess) -> None:
        """Drop an ended worker's live gauges (open WebSockets, subscriptions)."""
        from prometheus_client import multiprocess

        if process.pid is not None:
            multiprocess.mark_process_dead(process.pid)  # type: ignore[no-untyped-call]


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
