"""The journal of answers on their way to the store service: where it lives, who may read
it, and that sending a kept answer again never counts it twice."""

from __future__ import annotations

import uuid
from pathlib import Path

from app_support import arithmetic_rows, build_store

from store import AnnotationInput
from store.service.unsent import UnsentAnswers, state_dir


def an_answer(record_id: int, status: str = "submitted") -> AnnotationInput:
    return AnnotationInput(
        record_id=record_id,
        annotator="ann",
        status=status,
        ranks=(2, 1),
        shown_order=(1, 0),
        comment="card 2 is wrong",
        client_id=str(uuid.uuid4()),
        ratings=(),
    )


def test_the_journal_lives_in_the_users_state_folder_and_a_relative_setting_is_ignored(monkeypatch):
    assert state_dir({"XDG_STATE_HOME": "/srv/state"}) == Path("/srv/state/rlhf-tui")
    monkeypatch.setenv("HOME", "/home/ann")
    assert state_dir({"XDG_STATE_HOME": "relative/state"}) == Path("/home/ann/.local/state/rlhf-tui")
    assert state_dir({}) == Path("/home/ann/.local/state/rlhf-tui")


def test_kept_answers_are_private_and_read_back_as_they_were_given(tmp_path):
    journal = UnsentAnswers.for_service(tmp_path / "store.sock", state=tmp_path / "state")
    first, second = an_answer(1, "draft"), an_answer(1)
    journal.keep(first, "d", "r1")
    journal.keep(second, "d", "r1")
    kept = journal.kept()
    assert [k.answer for k in kept] == [first, second]  # in the order given
    assert [k.label for k in kept] == ["r1 (draft)", "r1"]
    assert {oct(p.stat().st_mode & 0o777) for p in journal.folder.iterdir()} == {"0o600"}
    assert oct(journal.folder.stat().st_mode & 0o777) == "0o700"


def test_an_answer_the_service_already_has_is_not_counted_again_when_sent_from_the_journal(tmp_path):
    store = build_store(tmp_path, "rank", arithmetic_rows(2, candidates=2))
    record_id = store.record_ids("d")[0]
    journal = UnsentAnswers.for_service(tmp_path / "store.sock", state=tmp_path / "state")
    answer = an_answer(record_id)
    journal.keep(answer, "d", "r0")
    store.save_annotation(answer)  # it arrived, but the acknowledgement never came back
    report = journal.send_kept(store)
    assert [k.record for k in report.sent] == ["r0"] and not journal.kept()
    assert store.get_annotation(record_id, "ann").revision == 1
    assert store.annotation_history(record_id, "ann") == []
    store.close()


def test_an_answer_the_service_refuses_is_moved_aside_with_the_reason_and_the_rest_are_sent(tmp_path):
    store = build_store(tmp_path, "rank", arithmetic_rows(2, candidates=2))
    record_id = store.record_ids("d")[0]
    journal = UnsentAnswers.for_service(tmp_path / "store.sock", state=tmp_path / "state")
    journal.keep(an_answer(10_000), "d", "gone")
    journal.keep(an_answer(record_id), "d", "r0")
    report = journal.send_kept(store)
    assert [k.record for k in report.sent] == ["r0"]
    [(refused, reason)] = report.set_aside
    assert refused.record == "gone" and reason
    assert (report.refused_folder / f"{refused.key}.reason.txt").read_text().strip() == reason
    assert not journal.kept()
    store.close()
