"""Group commit, pipelined: journal before acting (docs/recovery.md, "What is journaled").

Every input that arrives in one event-loop turn becomes one journal record. With fsync the
commit runs on the journal's writer thread (LMDB releases the GIL while it writes and
syncs), so the actor goes on reading — and grouping — its inputs while the disk works;
the record is handed back (``on_commit``) when its commit returns, records strictly in
order. Without fsync the commit is inline.

Guarantees:

* ``on_commit(pending, now)`` runs once per record, in journal order, only after the record
  is committed; inputs that arrive meanwhile wait for the next record.
* A failed append is fatal (``fail_stop``): the inputs are neither on disk nor applied,
  but the inbox already counts them, so the process dies and the restart rebuilds it from
  the journal while the senders, never acked, resend.
* A *lazy* input (``schedule_lazily``) asks for no commit of its own: it rides in the next
  record anyone else asks for, in its place among the pending inputs, or is committed on its
  own ``lazy_s`` after it arrived. Only inputs whose loss in a crash is recovered otherwise
  are lazy (the MsgSeqNum a FIX message left with: quickfix's store has it,
  ``adapters/fix/session.py``); the rule for every other input is unchanged.
* ``prefix()``, asked each time a record is made of pending inputs, may put one more batch
  at its head: the host's *soft* inputs, which never ask for a record of their own (an
  account shard's latest quotes, ``actors/account/marks.py``). They are journaled, and
  applied, only with a record that some other input asked for.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import queue
import signal
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

import structlog

from actors.runtime.histogram import Histogram
from actors.runtime.machine import encode_record
from model.messages import Batch
from snapshots.journal import JournalLike

log = structlog.get_logger("runtime")

Pending = list[tuple[Batch, bytes]]  # each input batch with its bytes as received


def fail_stop(actor: str, failure: BaseException | None) -> None:
    """The journal failed under us: die now, and let the restart rebuild from the journal.
    Nothing acked is lost — an ack only ever follows a commit."""
    log.critical("journal append failed; the actor stops and recovers", actor=actor, error=repr(failure))
    os.kill(os.getpid(), signal.SIGKILL)


def _no_prefix() -> tuple[Batch, bytes] | None:
    return None


def _idle() -> None:
    """Run on a writer thread: returns once everything queued before it is done."""


_STOP = None  # what tells a writer thread to end


class JournalWriter(concurrent.futures.Executor):
    """The journal's one writer thread: appends, background snapshots and anything else
    submitted, one at a time, in the order given.

    Why not a ``ThreadPoolExecutor``: an append goes through it once per group commit, and
    its Python-level machinery — a ``concurrent.futures.Future`` with its condition, the idle
    semaphore, ``run_in_executor``'s second future chained to the first — cost as much CPU
    per commit as the actor's own work on a small record. ``post`` hands a work item over a
    C ``SimpleQueue`` and its outcome back with one ``call_soon_threadsafe``; ``submit``
    (snapshots, ``settle``) keeps the ``Executor`` interface.

    The thread starts with the first work and ends when the writer is shut down or
    collected. It is a daemon: at interpreter exit nothing waits for it — a commit cut
    short there was not acknowledged, so its inputs are sent again (docs/recovery.md)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        weakref.finalize(self, self._queue.put, _STOP)

    def post(self, work: Callable[[Any], object], argument: Any, loop: asyncio.AbstractEventLoop, done: Callable[[BaseException | None], None]) -> None:
        """Run ``work(argument)`` on the writer thread, then ``done(failure)`` (``None``: it
        returned) on ``loop``'s thread."""
        self._start()
        self._queue.put((work, argument, loop, done))

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[Any]:
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self._start()
        self._queue.put((_run_future, (future, fn, args, kwargs), None, None))
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._queue.put(_STOP)
        if wait and self._thread is not None:
            self._thread.join()

    def _start(self) -> None:
        if self._thread is None:
            # the thread holds the queue, not the writer: a writer nobody holds is collected
            self._thread = threading.Thread(target=_serve, args=(self._queue,), name=f"journal-{self.name}", daemon=True)
            self._thread.start()


def _serve(work_queue: queue.SimpleQueue[Any]) -> None:
    while True:
        item = work_queue.get()
        if item is _STOP:
            return
        work, argument, loop, done = item
        failure: BaseException | None = None
        try:
            work(argument)
        except BaseException as error:  # handed to ``done``: a failed append stops the actor there
            failure = error
        if done is not None:
            try:
                loop.call_soon_threadsafe(done, failure)
            except RuntimeError:  # the loop is closed: its actor is gone, nobody waits for this
                pass


def _run_future(job: tuple[concurrent.futures.Future[Any], Callable[..., Any], tuple[Any, ...], dict[str, Any]]) -> None:
    future, fn, args, kwargs = job
    if not future.set_running_or_notify_cancel():
        return
    try:
        result = fn(*args, **kwargs)
    except BaseException as error:
        future.set_exception(error)
    else:
        future.set_result(result)


class GroupCommit:
    """The pending inputs of one actor and the pipeline that journals them.

    ``pending`` is appended to by the host, then ``schedule()`` asks for a commit at the end
    of the turn. ``writer`` is the journal's one writer thread: the background snapshots
    (``actors/runtime/snapshotter.py``) run there too, in order with the appends."""

    def __init__(
        self, name: str, journal: JournalLike, pipelined: bool, on_commit: Callable[[Pending, int], None], lazy_s: float = 0.0
    ) -> None:
        self.name = name
        self.journal = journal
        self.pipelined = pipelined
        self.on_commit = on_commit
        self.lazy_s = lazy_s
        self.pending: Pending = []
        self.prefix: Callable[[], tuple[Batch, bytes] | None] = _no_prefix  # soft inputs for the head of a record
        self.urgent = False  # some pending input asked for a commit (not only lazy ones)
        self.handle: asyncio.Handle | None = None
        self.lazy: asyncio.TimerHandle | None = None  # the commit of lazy inputs nobody else carried
        self.in_flight: asyncio.Future[None] | None = None  # done once the record is committed and handed on
        self.writing: tuple[Pending, int] | None = None  # the record in flight: its inputs and ``now``
        self.writer = JournalWriter(name)
        self.histogram: Histogram | None = None  # commit latency (encode to committed), when the shell asks for it

    def schedule(self) -> None:
        """A commit at the end of this event-loop turn (or when the one in flight returns)."""
        self.urgent = True
        if self.handle is None and self.in_flight is None:
            self.handle = asyncio.get_running_loop().call_soon(self._begin)

    def schedule_lazily(self) -> None:
        """The inputs just added may wait: they go with the next record asked for, or on
        their own ``lazy_s`` from now (or from the end of the commit in flight)."""
        if self.lazy is None and self.handle is None and self.in_flight is None:
            self.lazy = asyncio.get_running_loop().call_later(self.lazy_s, self._lazy_due)

    def _lazy_due(self) -> None:
        self.lazy = None
        self._begin()

    def _taken(self) -> Pending:
        """Everything pending, for the record about to be written, after the soft inputs
        (``prefix``), if any."""
        pending, self.pending = self.pending, []
        self.urgent = False
        if self.lazy is not None:
            self.lazy.cancel()
            self.lazy = None
        head = self.prefix()
        if head is not None:
            pending.insert(0, head)
        return pending

    def _begin(self) -> None:
        self.handle = None
        if self.in_flight is not None or not self.pending:
            return
        if not self.pipelined:
            self.commit()  # nothing to wait for: inline
            return
        pending = self._taken()
        now = time.time_ns()
        record = encode_record(now, pending)
        loop = asyncio.get_running_loop()
        self.in_flight = loop.create_future()
        self.writing = (pending, now)
        self.writer.post(self.journal.append, [record], loop, self._committed)

    def _committed(self, failure: BaseException | None) -> None:
        in_flight, self.in_flight = self.in_flight, None
        assert in_flight is not None and self.writing is not None
        pending, now = self.writing
        self.writing = None
        if failure is not None:
            fail_stop(self.name, failure)
        if self.histogram is not None:
            self.histogram.record(time.time_ns() - now)
        try:
            self.on_commit(pending, now)
        finally:
            in_flight.set_result(None)
        if self.pending:
            if self.urgent:
                self.schedule()
            else:
                self.schedule_lazily()

    def commit(self) -> None:
        """Append what is pending in one transaction, here and now, then hand it on. Only
        when no pipelined commit is in flight (see ``settle``)."""
        if self.in_flight is not None:
            raise RuntimeError(f"{self.name}: commit while a commit is in flight; await settle()")
        if self.handle is not None:
            self.handle.cancel()
            self.handle = None
        if not self.pending:
            return
        pending = self._taken()
        now = time.time_ns()
        try:
            self.journal.append([encode_record(now, pending)])
        except Exception as failure:
            fail_stop(self.name, failure)
        if self.histogram is not None:
            self.histogram.record(time.time_ns() - now)
        self.on_commit(pending, now)

    async def settle(self) -> None:
        """Until everything pending so far is committed and handed on, and the writer thread
        is idle (a background snapshot written): then the journal is the caller's alone."""
        loop = asyncio.get_running_loop()
        while True:
            if self.in_flight is not None:
                await asyncio.wait([self.in_flight])
                await asyncio.sleep(0)  # the done callback runs
                continue
            await loop.run_in_executor(self.writer, _idle)
            if self.in_flight is not None:
                continue
            if not self.pending:
                return
            self.commit()
