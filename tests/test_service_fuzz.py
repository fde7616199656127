"""A stateful property-based test of the store service's wire protocol (Hypothesis rule-based
state machines) against a real `rlhf-tui serve`.

Three annotators (other uids: the test runs as root, as CI does) and the admin (root, the
service's user) issue random sequences of operations over raw sockets — several connections
each, dropped and reopened, with malformed lines and requests in between. After every step:
- no annotator has read another's answers, or changed them (each one's answers are as the
  service last acknowledged them; asking for someone else's is refused);
- no record has more than K submissions except through the documented ways: a lease that
  expired (never, in a run this short), or an annotator's own draft or discarded answer
  turned into a submission;
- every acknowledged answer is in the store;
- no request ever gets an internal error, and the service still greets a new connection at once.

`make test` runs a few examples with a fixed seed; `make fuzz` runs many more
(RLHF_FUZZ_EXAMPLES, RLHF_FUZZ_STEPS). Both print how many operations and users were tried."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import rank_rows, write_jsonl
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test
from service_support import start_service, stop

from store.service import operations as protocol
from store.service.client import ServiceClient

REPO = Path(__file__).resolve().parents[1]
GROUP_ID = 20000
ANNOTATOR_UIDS = (20001, 20002, 20003)
RECORDS = 6
CANDIDATES = 3
REPLY_TIMEOUT = 30.0  # seconds: a reply that takes this long means the service is stuck
EXAMPLES = int(os.environ.get("RLHF_FUZZ_EXAMPLES", "8"))
STEPS = int(os.environ.get("RLHF_FUZZ_STEPS", "30"))
LONG_RUN = "RLHF_FUZZ_EXAMPLES" in os.environ
ERROR_TYPES = {"StoreError", "InvalidInputError", "PermissionDeniedError", "UnknownDatasetError"}

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="annotators as other users need root to drop to them")

# Each helper runs as one annotator and connects sockets for the test on request: the kernel
# records the connecting process's uid, so the service sees that annotator.
CONNECTOR = """
import os, socket, sys
ctrl = socket.socket(fileno=int(sys.argv[1]))
os.setgroups([{gid}]); os.setgid({gid}); os.setuid({uid})
while ctrl.recv(1):
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect({path!r})
        socket.send_fds(ctrl, [b"y"], [s.fileno()])
    except OSError:
        ctrl.send(b"n")
    s.close()
"""


@dataclass
class Tally:
    operations: int = 0
    malformed: int = 0
    refused: int = 0
    examples: int = 0
    steps: int = 0
    users: set[str] = field(default_factory=set)


class Conn:
    """One raw connection: a JSON line out, a JSON line back."""

    def __init__(self, sock: socket.socket, tally: Tally):
        sock.settimeout(REPLY_TIMEOUT)
        self.sock = sock
        self.reader = sock.makefile("rb")
        self.tally = tally
        hello = json.loads(self.reader.readline())
        assert "hello" in hello, hello
        self.user = hello["hello"]["user"]
        tally.users.add(self.user)

    def send_line(self, line: bytes) -> dict:
        self.sock.sendall(line + b"\n")
        raw = self.reader.readline()
        assert raw, "the service closed the connection instead of answering"
        reply = json.loads(raw)
        self.tally.operations += 1
        error = reply.get("error")
        if error is not None:
            self.tally.refused += 1
            assert error.get("type") in ERROR_TYPES, reply
            assert "\n" not in error["message"], reply  # one line
            assert not error["message"].startswith("internal error"), reply
        return reply

    def ask(self, op: str, **params: object) -> dict:
        return self.send_line(json.dumps({"id": 1, "op": op, "params": params}).encode())

    def result(self, op: str, **params: object) -> object:
        reply = self.ask(op, **params)
        assert "error" not in reply, (op, params, reply)
        return reply["result"]

    def close(self) -> None:
        self.reader.close()
        self.sock.close()


class Connector:
    def __init__(self, uid: int, sock_path: Path):
        self.ctrl, child = socket.socketpair()
        self.proc = subprocess.Popen(
            [sys.executable, "-c", CONNECTOR.format(uid=uid, gid=GROUP_ID, path=str(sock_path)), str(child.fileno())],
            pass_fds=(child.fileno(),),
        )
        child.close()
        self.ctrl.settimeout(REPLY_TIMEOUT)

    def connect(self, tally: Tally) -> Conn:
        self.ctrl.sendall(b"c")
        msg, fds, _, _ = socket.recv_fds(self.ctrl, 1, 1)
        assert msg == b"y" and fds, "could not connect to the service"
        return Conn(socket.socket(fileno=fds[0]), tally)

    def close(self) -> None:
        self.ctrl.close()
        self.proc.wait(timeout=10)


@pytest.fixture(scope="module")
def fuzz_service():
    shared = Path(tempfile.mkdtemp(prefix="rlhf-fuzz-"))
    shared.chmod(0o777)
    data = shared / "data"
    data.mkdir(mode=0o700)
    store_path, sock_path = data / "team.duckdb", shared / "run" / "team.sock"
    write_jsonl(shared / "records.jsonl", rank_rows(RECORDS, k=CANDIDATES, prefix="x"))
    service = start_service(store_path, "--group", str(GROUP_ID), "--socket", str(sock_path))
    connectors = [Connector(uid, sock_path) for uid in ANNOTATOR_UIDS]
    try:
        yield service, sock_path, shared / "records.jsonl", connectors
    finally:
        for connector in connectors:
            connector.close()
        stop(service)
        log = service.stderr.read() if service.stderr else ""
        subprocess.run(["rm", "-rf", str(shared)], check=False)
        assert "Traceback" not in log, log


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
ANNOTATOR_OPS = sorted(name for name, op in protocol.OPERATIONS.items() if not op.admin)


def test_random_sessions_of_several_users_keep_answers_private_complete_and_within_k(fuzz_service, capsys):
    _service, sock_path, records_file, connectors = fuzz_service
    tally = Tally()

    class Team(RuleBasedStateMachine):
        """The model: what the service acknowledged, per annotator and record."""

        def __init__(self) -> None:
            super().__init__()
            self.conns: list[list[Conn]] = [[] for _ in connectors]
            self.acked: dict[tuple[str, int], dict] = {}  # (annotator, record) -> last acknowledged answer
            self.excused: set[int] = set()  # records that may go over K the documented way
            self.touched: set[tuple[str, int]] = set()

        @initialize(k=st.integers(1, 2))
        def new_dataset(self, k: int) -> None:
            tally.examples += 1
            self.dataset = f"fuzz{tally.examples}"
            self.k = k
            admin = ServiceClient(sock_path)
            admin.import_file(records_file, dataset=self.dataset, annotators_per_record=k)
            admin.close()
            self.admin = self._admin_conn()
            self.ids = list(self.admin.result("record_ids", dataset=self.dataset))
            assert len(self.ids) == RECORDS
            for i, connector in enumerate(connectors):
                self.conns[i].append(connector.connect(tally))
            self.names = [conns[0].user for conns in self.conns]

        def _admin_conn(self) -> Conn:
            sock = socket.socket(socket.AF_UNIX)
            sock.connect(str(sock_path))
            return Conn(sock, tally)

        def teardown(self) -> None:
            for conns in self.conns:
                for conn in conns:
                    conn.close()
            if hasattr(self, "admin"):
                self.check_every_acknowledged_answer()
                self.admin.close()

        # -- helpers -----------------------------------------------------------------------
        def conn(self, who: int, which: int) -> Conn:
            conns = self.conns[who]
            if not conns:
                conns.append(connectors[who].connect(tally))
            return conns[which % len(conns)]

        def other_name(self, who: int) -> str:
            return self.names[(who + 1) % len(self.names)]

        # -- rules: the annotators ----------------------------------------------------------
        @rule(who=st.integers(0, 2), which=st.integers(0, 3), limit=st.integers(1, 5), skip_first=st.booleans())
        def next_records(self, who: int, which: int, limit: int, skip_first: bool) -> None:
            conn = self.conn(who, which)
            exclude = self.ids[:1] if skip_first else []
            reply = conn.ask("next_records", dataset=self.dataset, annotator=conn.user, limit=limit, exclude=exclude)
            if "result" in reply:
                got = [r["id"] for r in reply["result"]]
                assert set(got) <= set(self.ids) and not set(got) & set(exclude)
                for record in reply["result"]:
                    assert all(c.get("source") in (None, "written") for c in record["candidates"])

        @rule(
            who=st.integers(0, 2),
            which=st.integers(0, 3),
            pos=st.integers(0, RECORDS - 1),
            status=st.sampled_from(["submitted", "submitted", "discarded", "draft"]),
            ranks=st.permutations(range(1, CANDIDATES + 1)) | st.lists(st.integers(-1, 5), max_size=4),
            comment=st.text(max_size=30),
        )
        def save(self, who: int, which: int, pos: int, status: str, ranks: list[int], comment: str) -> None:
            conn, record_id = self.conn(who, which), self.ids[pos]
            reply = conn.ask(
                "save_annotation",
                record_id=record_id,
                annotator=conn.user,
                status=status,
                ranks=list(ranks),
                comment=comment,
            )
            key = (conn.user, record_id)
            if "result" in reply:
                before = self.acked.get(key)
                if status == "submitted" and before is not None and before["status"] != "submitted":
                    self.excused.add(record_id)  # their own draft or discarded answer, now submitted
                self.acked[key] = {"status": status, "comment": comment, "revision": reply["result"]["revision"]}
            self.touched.add(key)

        @rule(
            who=st.integers(0, 2),
            which=st.integers(0, 3),
            pos=st.integers(0, RECORDS - 1),
            op=st.sampled_from(["renew_lease", "release_lease", "skip_record"]),
        )
        def lease_operation(self, who: int, which: int, pos: int, op: str) -> None:
            conn = self.conn(who, which)
            conn.ask(op, record_id=self.ids[pos], annotator=conn.user)

        @rule(who=st.integers(0, 2), which=st.integers(0, 3))
        def release_all(self, who: int, which: int) -> None:
            conn = self.conn(who, which)
            conn.result("release_all_leases", annotator=conn.user)

        @rule(who=st.integers(0, 2), which=st.integers(0, 3), pos=st.integers(0, RECORDS - 1))
        def read_own_answer(self, who: int, which: int, pos: int) -> None:
            conn, record_id = self.conn(who, which), self.ids[pos]
            self.touched.add((conn.user, record_id))
            history = conn.result("annotation_history", record_id=record_id, annotator=conn.user, offset=0, limit=3)
            assert len(history) <= 3

        @rule(
            who=st.integers(0, 2),
            which=st.integers(0, 3),
            pos=st.integers(0, RECORDS - 1),
            op=st.sampled_from(["get_annotation", "annotation_history", "save_annotation", "skip_record"]),
        )
        def act_as_someone_else(self, who: int, which: int, pos: int, op: str) -> None:
            conn = self.conn(who, which)
            params: dict = {"record_id": self.ids[pos], "annotator": self.other_name(who)}
            if op == "save_annotation":
                params.update(status="submitted", ranks=list(range(1, CANDIDATES + 1)))
            reply = conn.ask(op, **params)
            assert reply.get("error", {}).get("type") == "PermissionDeniedError", reply

        @rule(who=st.integers(0, 2), which=st.integers(0, 3), pos=st.integers(0, RECORDS - 1))
        def find_a_record(self, who: int, which: int, pos: int) -> None:
            conn = self.conn(who, which)
            found = conn.result("find_record", dataset=self.dataset, external_id=f"x{pos}")
            if found is not None:  # annotators find only the records they answered
                assert (conn.user, found) in self.acked, (conn.user, found)

        @rule(who=st.integers(0, 2), which=st.integers(0, 3))
        def disconnect(self, who: int, which: int) -> None:
            conns = self.conns[who]
            if conns:
                conns.pop(which % len(conns)).close()

        @rule(who=st.integers(0, 2))
        def connect_again(self, who: int) -> None:
            if len(self.conns[who]) < 4:
                self.conns[who].append(connectors[who].connect(tally))

        # -- rules: malformed requests --------------------------------------------------------
        @rule(who=st.integers(0, 2), which=st.integers(0, 3), line=st.binary(max_size=300))
        def garbage_line(self, who: int, which: int, line: bytes) -> None:
            tally.malformed += 1
            reply = self.conn(who, which).send_line(line.replace(b"\n", b" "))
            assert "error" in reply or "result" in reply

        @rule(
            who=st.integers(0, 2),
            which=st.integers(0, 3),
            op=st.sampled_from(ANNOTATOR_OPS) | st.text(max_size=20),
            params=JSON_VALUES,
            request_id=JSON_VALUES,
        )
        def malformed_request(self, who: int, which: int, op: str, params: object, request_id: object) -> None:
            tally.malformed += 1
            if isinstance(params, dict):
                params.pop("annotator", None)  # random values never act for anyone, not even the caller
            request = {"id": request_id, "op": op, "params": params}
            self.conn(who, which).send_line(json.dumps(request).encode())

        # -- rules: the admin -------------------------------------------------------------------
        @rule(who=st.integers(0, 2))
        def admin_releases_someones_records(self, who: int) -> None:
            self.admin.result("release_leases_of", dataset=self.dataset, annotator=self.conn(who, 0).user)

        # -- invariants -------------------------------------------------------------------------
        @invariant()
        def within_k_except_the_documented_ways(self) -> None:
            if not hasattr(self, "admin"):
                return
            tally.steps += 1
            counts = self.admin.result("submission_counts", record_ids=self.ids)
            over = {r for r, n in zip(self.ids, counts) if n > self.k}
            assert over <= self.excused, f"records over K={self.k} without an excuse: {sorted(over - self.excused)}"
            leases = self.admin.result("active_leases", dataset=self.dataset)
            holders: dict[str, int] = {}
            for lease in leases:
                holders[lease["annotator"]] = holders.get(lease["annotator"], 0) + 1
            assert all(n <= RECORDS for n in holders.values())

        @invariant()
        def acknowledged_answers_are_stored_as_acknowledged(self) -> None:
            for user, record_id in list(self.touched):
                self.check_answer(user, record_id)
            self.touched.clear()

        @invariant()
        def a_new_connection_is_greeted_at_once(self) -> None:
            if hasattr(self, "admin"):
                self._admin_conn().close()  # Conn reads the hello within REPLY_TIMEOUT or fails

        def check_answer(self, user: str, record_id: int) -> None:
            stored = self.conn(self.names.index(user), 0).result("get_annotation", record_id=record_id, annotator=user)
            expected = self.acked.get((user, record_id))
            if expected is None:
                assert stored is None, (user, record_id, stored)
            else:
                got = {"status": stored["status"], "comment": stored["comment"], "revision": stored["revision"]}
                assert got == expected, (user, record_id)

        def check_every_acknowledged_answer(self) -> None:
            answers = {}
            for record_id in self.ids:
                for answer in self.admin.result("record_answers", record_id=record_id):
                    answers[(answer["annotator"], record_id)] = answer
            for (user, record_id), expected in self.acked.items():
                if expected["status"] == "draft":
                    continue  # drafts are not among record_answers; checked by their authors above
                stored = answers.get((user, record_id))
                assert stored is not None and stored["status"] == expected["status"], (user, record_id)
                assert stored["revision"] == expected["revision"]

    run_state_machine_as_test(
        Team,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
            derandomize=not LONG_RUN,  # `make test`: the same bounded run every time
            database=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
    with capsys.disabled():
        print(
            f"\nfuzz: {tally.operations} operations ({tally.malformed} malformed, {tally.refused} refused) "
            f"by {len(tally.users)} users over {tally.examples} examples of up to {STEPS} steps "
            f"({tally.steps} steps checked)"
        )
