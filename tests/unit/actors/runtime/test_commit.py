"""Group commit over a real LMDB journal: one record per turn, handed on only after its
commit, in journal order; pipelined with fsync; fatal when the journal fails."""

from __future__ import annotations

import asyncio
import gc
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from actors.runtime.commit import GroupCommit, JournalWriter, Pending
from actors.runtime.machine import local_batch, record_decoder
from model.messages import SetKill, decode_batch
from snapshots.journal import Journal

ROOT = Path(__file__).resolve().parents[4]


class Recorder:
    """``on_commit``: what was handed on, and the journal's end at that moment."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.records: list[tuple[int, list[str]]] = []

    def __call__(self, pending: Pending, now: int) -> None:
        self.records.append((self.journal.last_seq, [batch.messages[0].account for batch, _ in pending]))  # type: ignore[attr-defined]


def inputs(*accounts: str) -> Pending:
    return [local_batch([SetKill(account, True)]) for account in accounts]


def accounts_in(journal: Journal) -> list[list[str]]:
    return [[decode_batch(raw).messages[0].account for raw in record_decoder.decode(payload).batches] for _, payload in journal.read_from(1)]  # type: ignore[attr-defined]


async def test_inputs_of_one_turn_become_one_record_committed_before_it_is_handed_on(tmp_path: Path) -> None:
    journal = Journal(tmp_path, "account-0", durability="buffered")
    recorder = Recorder(journal)
    commits = GroupCommit("account-0", journal, False, recorder)
    commits.pending += inputs("A", "B")
    commits.schedule()
    commits.schedule()  # one commit per turn however often asked
    assert recorder.records == []  # nothing before the end of the turn
    await asyncio.sleep(0)
    commits.pending += inputs("C")
    commits.schedule()
    await asyncio.sleep(0)
    assert recorder.records == [(1, ["A", "B"]), (2, ["C"])]
    assert accounts_in(journal) == [["A", "B"], ["C"]]


async def test_with_fsync_inputs_that_arrive_during_a_commit_make_the_next_record(tmp_path: Path) -> None:
    journal = Journal(tmp_path, "account-0", durability="fsync")
    recorder = Recorder(journal)
    commits = GroupCommit("account-0", journal, True, recorder)
    commits.pending += inputs("A")
    commits.schedule()
    await asyncio.sleep(0)
    assert commits.in_flight is not None  # on the writer thread: the loop goes on
    for account in ("B", "C", "D"):
        commits.pending += inputs(account)
        commits.schedule()
        await asyncio.sleep(0)
    with pytest.raises(RuntimeError, match="commit while a commit is in flight"):
        commits.commit()
    await commits.settle()
    assert commits.in_flight is None and commits.pending == []
    assert [accounts for _, accounts in recorder.records] == accounts_in(journal)  # handed on in journal order
    assert [seq for seq, _ in recorder.records] == list(range(1, len(recorder.records) + 1))  # each after its own commit
    assert sum(accounts_in(journal), []) == ["A", "B", "C", "D"] and len(recorder.records) < 4


async def test_a_lazy_input_rides_in_the_next_record_or_is_committed_alone_after_its_wait(tmp_path: Path) -> None:
    journal = Journal(tmp_path, "venue-MM1", durability="buffered")
    recorder = Recorder(journal)
    commits = GroupCommit("venue-MM1", journal, False, recorder, lazy_s=0.2)
    commits.pending += inputs("A")
    commits.schedule_lazily()
    await asyncio.sleep(0.05)
    assert recorder.records == []  # no commit of its own
    commits.pending += inputs("B")
    commits.schedule()
    await asyncio.sleep(0)
    assert recorder.records == [(1, ["A", "B"])]  # it rode in B's record, ahead of B
    await asyncio.sleep(0.3)
    assert recorder.records == [(1, ["A", "B"])] and commits.lazy is None  # its timer went with it
    commits.pending += inputs("C")
    commits.schedule_lazily()
    await asyncio.sleep(0.1)
    assert len(recorder.records) == 1
    await asyncio.sleep(0.2)
    assert recorder.records == [(1, ["A", "B"]), (2, ["C"])]  # alone, once its wait is over


async def test_with_fsync_a_lazy_input_that_arrives_during_a_commit_waits_after_it(tmp_path: Path) -> None:
    journal = Journal(tmp_path, "venue-MM1", durability="fsync")
    recorder = Recorder(journal)
    commits = GroupCommit("venue-MM1", journal, True, recorder, lazy_s=0.5)
    commits.pending += inputs("A")
    commits.schedule()
    await asyncio.sleep(0)
    assert commits.in_flight is not None
    commits.pending += inputs("B")
    commits.schedule_lazily()
    while commits.in_flight is not None:
        await asyncio.sleep(0.001)
    await asyncio.sleep(0.05)
    assert recorder.records == [(1, ["A"])] and commits.pending != []  # B did not make a record of its own at once
    commits.pending += inputs("C")
    commits.schedule()
    await commits.settle()
    assert recorder.records == [(1, ["A"]), (2, ["B", "C"])] and commits.lazy is None


async def test_settle_waits_for_work_queued_on_the_writer_thread(tmp_path: Path) -> None:
    journal = Journal(tmp_path, "account-0", durability="fsync")
    commits = GroupCommit("account-0", journal, True, Recorder(journal))
    done: list[int] = []
    commits.writer.submit(lambda: done.append(journal.append([b"background"])))
    await commits.settle()
    assert done == [1]


async def test_the_writer_runs_work_in_order_on_its_thread_and_answers_on_the_loop() -> None:
    writer = JournalWriter("account-0")
    loop = asyncio.get_running_loop()
    ran: list[tuple[int, str]] = []
    answered: list[tuple[BaseException | None, str]] = []
    finished = asyncio.Event()

    def work(index: int) -> None:
        ran.append((index, threading.current_thread().name))
        if index == 2:
            raise OSError("disk gone")

    def done(failure: BaseException | None) -> None:
        answered.append((failure, threading.current_thread().name))
        if len(answered) == 3:
            finished.set()

    for index in range(3):
        writer.post(work, index, loop, done)
    queued = writer.submit(lambda a, b: a + b, 2, b=3)  # the Executor interface, in the same order
    await asyncio.wait_for(finished.wait(), 5)
    assert [index for index, _ in ran] == [0, 1, 2] and {name for _, name in ran} == {"journal-account-0"}
    assert [failure is None for failure, _ in answered] == [True, True, False] and isinstance(answered[2][0], OSError)
    assert {name for _, name in answered} == {threading.current_thread().name}  # on the loop's thread
    assert await asyncio.wrap_future(queued) == 5
    assert await loop.run_in_executor(writer, lambda: "idle") == "idle"
    writer.shutdown()
    assert writer._thread is not None and not writer._thread.is_alive()


def test_a_writer_whose_loop_has_closed_goes_on_serving() -> None:
    writer = JournalWriter("account-0")
    gone = asyncio.new_event_loop()
    gone.close()
    writer.post(lambda _: None, None, gone, lambda failure: None)  # its answer has nowhere to go
    assert writer.submit(lambda: "still here").result(5) == "still here"
    writer.shutdown()


def test_a_writer_nobody_holds_ends_its_thread() -> None:
    writer = JournalWriter("account-0")
    writer.submit(lambda: None).result(5)
    thread = writer._thread
    assert thread is not None and thread.is_alive()
    del writer
    gc.collect()
    thread.join(5)
    assert not thread.is_alive()


@pytest.mark.parametrize("pipelined", [False, True])
def test_a_failed_append_stops_the_process_before_anything_is_handed_on(pipelined: bool) -> None:
    script = textwrap.dedent(
        f"""
        import asyncio
        from actors.runtime.commit import GroupCommit
        from actors.runtime.machine import local_batch
        from model.messages import SetKill, decode_batch
        from snapshots.journal import NullJournal

        class Broken(NullJournal):
            def append(self, payloads):
                raise OSError("disk gone")

        async def main():
            commits = GroupCommit("account-0", Broken("account-0"), {pipelined}, lambda pending, now: print("handed on", flush=True))
            commits.pending.append(local_batch([SetKill("A", True)]))
            if {pipelined}:  # on the writer thread; the failure comes back to the loop
                commits.schedule()
                await asyncio.sleep(5)
            else:
                commits.commit()

        asyncio.run(main())
        print("survived", flush=True)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60, env={"PYTHONPATH": str(ROOT)})
    assert done.returncode == -signal.SIGKILL
    assert "handed on" not in done.stdout and "survived" not in done.stdout
    assert "journal append failed" in done.stdout + done.stderr
