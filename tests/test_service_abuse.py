"""What one annotator may do to the others through the store service: leases, answers and
revisions are bounded to what they were handed (issue 19). These run the service's request
handling in-process, with one `ConnectionState` per simulated connection; who is calling is
the kernel's business and is tested in test_service.py."""

from __future__ import annotations

import pytest
from conftest import rank_rows, write_jsonl

import store.db.answers
from store.connect import open_store
from store.errors import InvalidInputError, PermissionDeniedError
from store.service import operations as protocol
from store.service.server import MAX_AMENDMENTS_PER_MINUTE, ConnectionState, StoreService


@pytest.fixture
def served(tmp_path):
    """A service over a store with dataset "d" (12 records, K=1) and "k2" (4 records, K=2)."""
    with open_store(tmp_path / "s.duckdb") as s:
        s.import_file(write_jsonl(tmp_path / "d.jsonl", rank_rows(12, k=3)), dataset="d", annotators_per_record=1)
        s.import_file(
            write_jsonl(tmp_path / "k2.jsonl", rank_rows(4, k=3, prefix="k")), dataset="k2", annotators_per_record=2
        )
        yield StoreService(s, set(), tmp_path)


def connect(service: StoreService, user: str, admin: bool = False) -> ConnectionState:
    conn = ConnectionState(user, is_admin=admin)
    service.connected(conn)
    return conn


def handed(
    service: StoreService, conn: ConnectionState, dataset: str, limit: int = 1, exclude: list[int] | None = None
) -> list[int]:
    params = {"dataset": dataset, "annotator": conn.user, "limit": limit, "exclude": exclude or []}
    records = service.call(conn, "next_records", params)
    return [r.id for r in records]


def submit(service: StoreService, conn: ConnectionState, record_id: int, **extra: object) -> object:
    params = {"record_id": record_id, "annotator": conn.user, "status": "submitted", "ranks": [1, 2, 3], **extra}
    return service.call(conn, "save_annotation", params)


# -- item 1: lease squatting -------------------------------------------------------------
def test_renewing_records_never_handed_out_leases_nothing_and_others_still_get_them(served):
    squatter, other = connect(served, "mallory"), connect(served, "bob")
    all_ids = served.store.record_ids("d")
    for record_id in all_ids:
        with pytest.raises(PermissionDeniedError, match=f"record {record_id} is not leased to mallory"):
            served.call(squatter, "renew_lease", {"record_id": record_id, "annotator": "mallory"})
    assert served.store.active_leases("d") == []
    assert handed(served, other, "d", limit=20) == all_ids


def test_a_renewed_lease_ends_with_the_last_connection_that_holds_it(served):
    first, second, other = connect(served, "alice"), connect(served, "alice"), connect(served, "bob")
    (record_id,) = handed(served, first, "d")
    served.call(second, "renew_lease", {"record_id": record_id, "annotator": "alice"})
    served.disconnected(first)  # alice's other connection renewed it: still hers
    assert record_id not in handed(served, other, "d", limit=20)
    served.call(other, "release_all_leases", {"annotator": "bob"})
    served.disconnected(second)  # the last connection that held it went away: free for the team
    assert record_id in handed(served, other, "d", limit=20)


def test_one_annotator_holds_at_most_the_cap_and_the_rest_stay_with_the_team(served, monkeypatch):
    served.store.max_leases_per_annotator = 5
    squatter, other = connect(served, "mallory"), connect(served, "bob")
    first = handed(served, squatter, "d", limit=4)
    assert len(first) == 4
    more = handed(served, squatter, "d", limit=4, exclude=first)
    assert len(more) == 1  # only up to the cap
    assert handed(served, squatter, "d", limit=4) == first  # what they hold already comes back as ever
    with pytest.raises(InvalidInputError, match="mallory already holds 5 records, the most one annotator may hold"):
        handed(served, squatter, "d", limit=4, exclude=first + more)
    assert set(handed(served, other, "d", limit=20)).isdisjoint(first + more)  # bob works on (up to his cap)
    # Answering one frees a place.
    held = [lease.record_id for lease in served.store.active_leases("d") if lease.annotator == "mallory"]
    submit(served, squatter, held[0])
    assert len(handed(served, squatter, "k2", limit=4)) == 1


# -- item 2: voting where not asked --------------------------------------------------------
def test_an_answer_on_a_record_never_handed_out_is_refused_and_nothing_overfills(served):
    alice, bob, mallory = connect(served, "alice"), connect(served, "bob"), connect(served, "mallory")
    (record_id,) = handed(served, alice, "k2")
    assert handed(served, bob, "k2") == [record_id]
    submit(served, alice, record_id)
    submit(served, bob, record_id)
    for target in served.store.record_ids("k2"):  # complete or not, leased by others or not
        with pytest.raises(PermissionDeniedError, match=f"record {target} was not handed to you"):
            submit(served, mallory, target)
    assert served.store.overfilled_records("k2") == 0
    assert served.store.get_annotation(record_id, "mallory") is None


def test_answers_on_handed_drafted_or_skipped_records_and_amendments_are_accepted(served):
    alice = connect(served, "alice")
    first, second, third = handed(served, alice, "d", limit=3)
    submit(served, alice, first)
    assert submit(served, alice, first, ranks=[3, 2, 1]).revision == 2  # an amendment of her own answer
    served.call(
        alice, "save_annotation", {"record_id": second, "annotator": "alice", "status": "draft", "ranks": [1, 2, 3]}
    )
    served.call(alice, "release_all_leases", {"annotator": "alice"})
    assert submit(served, alice, second).status == "submitted"  # her draft, though no longer leased
    served.call(alice, "skip_record", {"record_id": third, "annotator": "alice"})
    assert submit(served, alice, third).status == "submitted"  # skipped and still open to her


def test_a_skipped_record_that_others_hold_takes_no_answer_from_the_skipper(served):
    alice, bob = connect(served, "alice"), connect(served, "bob")
    (record_id,) = handed(served, alice, "d")
    served.call(alice, "skip_record", {"record_id": record_id, "annotator": "alice"})
    assert handed(served, bob, "d") == [record_id]  # K=1: bob holds it now
    with pytest.raises(PermissionDeniedError, match="was not handed to you"):
        submit(served, alice, record_id)
    submit(served, bob, record_id)
    assert served.store.overfilled_records("d") == 0


# -- item 4: unbounded revisions -----------------------------------------------------------
def test_amendments_beyond_the_rate_are_refused_in_one_line_until_the_minute_has_passed(served):
    clock = [1000.0]
    served.amendments.clock = lambda: clock[0]
    alice = connect(served, "alice")
    (record_id,) = handed(served, alice, "d")
    submit(served, alice, record_id)  # a first answer is no amendment
    for _ in range(MAX_AMENDMENTS_PER_MINUTE):
        submit(served, alice, record_id, comment="again")
    with pytest.raises(InvalidInputError) as refused:
        submit(served, alice, record_id, comment="once more")
    message = str(refused.value)
    assert "\n" not in message and f"alice made {MAX_AMENDMENTS_PER_MINUTE} amendments" in message
    assert "nothing was saved" in message
    assert served.store.get_annotation(record_id, "alice").revision == MAX_AMENDMENTS_PER_MINUTE + 1
    clock[0] += 60
    assert submit(served, alice, record_id, comment="later").revision == MAX_AMENDMENTS_PER_MINUTE + 2


def test_one_answer_takes_a_bounded_number_of_revisions(served, monkeypatch):
    monkeypatch.setattr(store.db.answers, "MAX_REVISIONS_PER_ANSWER", 3)
    alice = connect(served, "alice")
    (record_id,) = handed(served, alice, "d")
    for comment in ("a", "b", "c"):
        submit(served, alice, record_id, comment=comment)
    with pytest.raises(InvalidInputError, match=f"your answer to record {record_id} has been saved 3 times"):
        submit(served, alice, record_id, comment="d")
    assert served.store.get_annotation(record_id, "alice").comment == "c"


def test_annotation_history_comes_in_pages_of_bounded_size(served):
    served.amendments.limit = 1000
    alice = connect(served, "alice")
    (record_id,) = handed(served, alice, "d")
    for i in range(protocol.MAX_HISTORY_PAGE + 6):
        submit(served, alice, record_id, comment=f"v{i}")
    ask = {"record_id": record_id, "annotator": "alice"}
    first = served.call(alice, "annotation_history", ask)
    assert [a.comment for a in first] == [f"v{i}" for i in range(protocol.MAX_HISTORY_PAGE)]
    rest = served.call(alice, "annotation_history", {**ask, "offset": protocol.MAX_HISTORY_PAGE})
    assert [a.comment for a in rest] == [
        f"v{i}" for i in range(protocol.MAX_HISTORY_PAGE, protocol.MAX_HISTORY_PAGE + 5)
    ]
    with pytest.raises(InvalidInputError, match="limit must be between 1 and 20"):
        served.call(alice, "annotation_history", {**ask, "limit": protocol.MAX_HISTORY_PAGE + 1})


# -- item 12: the smaller ones ---------------------------------------------------------------
def test_a_symlinked_wal_is_refused_with_a_fix_that_does_not_name_the_links_target_as_store(tmp_path):
    from store.location import wal_path
    from store.service.server import store_problems

    folder = tmp_path / "data"
    folder.mkdir(mode=0o700)
    store_path = folder / "team.duckdb"
    open_store(store_path).close()
    wal = wal_path(store_path)
    wal.unlink(missing_ok=True)
    wal.symlink_to(tmp_path / "elsewhere")
    (problem,) = store_problems(store_path, tmp_path / "run" / "team.sock", None)
    assert f"{wal} is a symbolic link" in problem and f"rm {wal}" in problem
    assert "--store" not in problem


def test_settings_prints_show_written(tmp_path, capsys):
    from rlhf_tui.cli import main

    store_path = tmp_path / "s.duckdb"
    with open_store(store_path) as s:
        s.import_file(write_jsonl(tmp_path / "d.jsonl", rank_rows(1, k=2)), dataset="d")
    assert main(["settings", "-d", "d", "--store", str(store_path)]) == 0
    assert "shown to the others" not in capsys.readouterr().out
    assert main(["settings", "-d", "d", "--show-written", "--store", str(store_path)]) == 0
    assert "written answers may be shown to the others (promote-written)" in " ".join(capsys.readouterr().out.split())


def test_a_full_disk_reaches_the_client_as_a_full_disk_not_an_internal_error(capsys):
    import json

    import duckdb

    from store.service.server import answer_line

    class FullDisk:
        def call(self, conn: object, op: object, params: object) -> object:
            raise duckdb.IOException('Could not write file "team.duckdb.wal": No space left on device')

    reply = json.loads(answer_line(FullDisk(), ConnectionState("ann", False), b'{"id": 3, "op": "whatever"}'))  # type: ignore[arg-type]
    assert reply == {
        "id": 3,
        "error": {
            "type": "StoreError",
            "message": "the store service's disk is full, so nothing was saved; ask its admin to free space",
        },
    }


def test_scores_for_unknown_records_or_candidates_are_refused_and_nothing_is_saved(served):
    admin = connect(served, "root", admin=True)
    (first,) = served.store.record_ids("d", limit=1)
    for scores, message in (
        ([[first, 0, 1.0], [99_999, 0, 2.0]], "no record with id 99999"),
        ([[first, 0, 1.0], [first, 7, 2.0]], f"record {first} has no candidate 7"),
    ):
        with pytest.raises(InvalidInputError, match=f"scores: {message}; no scores were saved"):
            served.call(admin, "save_scores", {"scorer": "rm", "scores": scores})
    assert served.store.scores("d") == []
    assert served.call(admin, "save_scores", {"scorer": "rm", "scores": [[first, 0, 1.0]]}) == 1


@pytest.mark.parametrize("name", ["a\x00b", "line\nbreak", "bell\x07", "x\u2028y"])
def test_dataset_names_with_control_characters_are_refused(tmp_path, name):
    with open_store(tmp_path / "s.duckdb") as s:
        with pytest.raises(InvalidInputError, match="invisible or control character \\(U\\+"):
            s.create_dataset(name, "rank")
        with pytest.raises(InvalidInputError, match="invisible or control character \\(U\\+"):
            s.import_file(write_jsonl(tmp_path / "d.jsonl", rank_rows(1)), dataset=name)
        assert s.list_datasets() == []


# -- item 11: admin-side resources ----------------------------------------------------------
def upload(service: StoreService, conn: ConnectionState, data: bytes) -> str:
    import base64

    upload_id = service.call(conn, "upload_begin", {"suffix": ".jsonl"})
    service.call(conn, "upload_chunk", {"transfer": upload_id, "data": base64.b64encode(data).decode()})
    return upload_id


def test_a_stalled_upload_is_dropped_with_its_file_and_says_so_when_it_goes_on(served):
    clock = [500.0]
    served.clock = lambda: clock[0]
    admin = connect(served, "root", admin=True)
    upload_id = upload(served, admin, b'{"id": "a", "prompt": "q", "responses": ["x", "y"]}\n')
    (spooled,) = served.spool.glob("upload-*")
    clock[0] += 30
    served.expire_uploads(admin)  # still within a minute of its last chunk
    assert spooled.exists()
    clock[0] += 31
    served.expire_uploads(admin)
    assert not spooled.exists() and admin.uploads == {}
    with pytest.raises(InvalidInputError, match=r"the upload stalled .* and was dropped; run the import again"):
        served.call(admin, "upload_chunk", {"transfer": upload_id, "data": "eA=="})


def test_one_admins_uploads_over_all_connections_share_one_spool_budget(served, monkeypatch):
    from store.service import server

    monkeypatch.setattr(server, "MAX_SPOOL_BYTES_PER_USER", 100)
    first, second = connect(served, "root", admin=True), connect(served, "root", admin=True)
    upload(served, first, b"x" * 60)
    with pytest.raises(InvalidInputError, match="root's imports and exports under way would hold over"):
        upload(served, second, b"y" * 60)
    assert second.uploads == {} and len(list(served.spool.glob("upload-*"))) == 1
    served.disconnected(first)
    upload(served, second, b"y" * 60)  # the first connection's upload went with it


def test_exports_left_open_on_a_connection_are_bounded(served):
    admin = connect(served, "root", admin=True)
    ask = {"dataset": "d", "fmt": "annotations", "file_format": "json"}
    opened = [served.call(admin, "export_begin", ask)["transfer"] for _ in range(2)]
    with pytest.raises(InvalidInputError, match="2 exports of this connection are not closed yet"):
        served.call(admin, "export_begin", ask)
    served.call(admin, "transfer_close", {"transfer": opened[0]})
    served.call(admin, "export_begin", ask)


def test_spool_folders_of_services_that_died_are_cleared_and_a_live_ones_kept(tmp_path):
    import os

    from store.service.server import clear_stale_spools

    dead = tmp_path / "rlhf-tui-serve-99999999-abc"  # over any pid_max: no such process
    live = tmp_path / f"rlhf-tui-serve-{os.getpid()}-def"
    other = tmp_path / "unrelated-99999999-x"
    for folder in (dead, live, other):
        folder.mkdir()
        (folder / "upload-1.jsonl").write_bytes(b"x" * 1000)
    assert clear_stale_spools(tmp_path) == [dead]
    assert not dead.exists() and live.exists() and other.exists()


def test_a_large_malformed_json_array_is_checked_in_bounded_memory_and_named_by_line(tmp_path):
    import json
    import tracemalloc

    from store.io.readers import _json_file_problem

    item = {"prompt": "p" * 100, "responses": ["a" * 60, "b" * 60]}
    lines = [json.dumps(item) + "," for _ in range(120_000)]  # 30 MB
    long_item = json.dumps({"prompt": "q", "responses": ["x" * 3_000_000, "y"]})  # spans the read chunks
    path = tmp_path / "big.json"
    path.write_text("[\n" + "\n".join(lines) + "\n" + long_item + ",\n" + '{"prompt": "r" "responses": []}\n]\n')
    tracemalloc.start()
    try:
        problem = _json_file_problem(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert problem == "line 120003, column 16: not valid JSON (expecting ',' delimiter)"
    # json.load would hold all 120,000 items as Python objects: several hundred MB.
    assert peak < 48 << 20, f"checking took {peak >> 20} MiB"


def test_annotators_are_served_while_a_file_is_imported(tmp_path, monkeypatch):
    import threading

    from store.io import importer

    inserting, go_on = threading.Event(), threading.Event()
    original = importer._insert

    def slow_insert(*args: object, **kwargs: object) -> object:
        inserting.set()  # the file is read and checked; now it would be inserted
        go_on.wait(30)
        return original(*args, **kwargs)

    with open_store(tmp_path / "s.duckdb") as s:
        s.import_file(write_jsonl(tmp_path / "a.jsonl", rank_rows(3, k=3)), dataset="work")
        monkeypatch.setattr(importer, "_insert", slow_insert)
        reports: list[object] = []
        big = write_jsonl(tmp_path / "b.jsonl", rank_rows(50, k=3, prefix="b"))
        importing = threading.Thread(target=lambda: reports.append(s.import_file(big, dataset="work")))
        importing.start()
        try:
            assert inserting.wait(30)
            served: list[int] = []
            annotator = threading.Thread(target=lambda: served.extend(r.id for r in s.next_records("work", "ann")))
            annotator.start()
            annotator.join(10)  # with the import holding the store, this waits until the import ends
            assert served, "an annotator waited for the import to finish"
        finally:
            go_on.set()
            importing.join(30)
        assert reports and reports[0].added == 50  # type: ignore[attr-defined]
        ids = [r.id for r in s.next_records("work", "bob", limit=20)]
        assert len(ids) == 20  # the imported records are handed out once the import is in
