"""The store interface over the service's socket: the methods of `PreferenceStore`, each
written out and sent as one operation of `store.service.operations`.

A lost service is waited for (the annotator's screen stays as it is) and the request
resent; submissions carry a client id, so a resend is never counted twice. Files cross
the socket as streams: `import_file` reads the file here, with the caller's rights, and
`export` writes it here, atomically, with the caller's umask."""

from __future__ import annotations

import base64
import dataclasses
import grp
import os
import socket
import struct
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from store.api import PreferenceStore
from store.errors import InvalidInputError, PermissionDeniedError, StoreError
from store.service import operations as protocol
from store.service import wire
from store.service.checks import socket_folder_problems
from store.types import (
    Annotation,
    AnnotationInput,
    AnnotatorActivity,
    AnnotatorProgress,
    Caller,
    Dataset,
    DatasetContents,
    DatasetSummary,
    ExportOptions,
    ImportReport,
    LeaseInfo,
    QueueInfo,
    Record,
    Review,
    ReviewInput,
    ReviewItem,
    StatusCount,
)

UPLOAD_CHUNK = 1 << 20
GET_RECORDS_BATCH = 8  # records per request: a record can be up to ~10 MB


class ServiceUnavailableError(StoreError):
    """The service could not be reached within the reconnect timeout."""

    def __init__(self, message: str, reason: str = ""):
        super().__init__(message)
        self.reason = reason or message


def service_down(socket_path: str | os.PathLike, reason: str, owner_hint: str = "") -> ServiceUnavailableError:
    """The one wording of "the service does not answer", whichever command meets it, with what to do."""
    message = (
        f"the store service at {socket_path} is not answering ({reason}); ask whoever runs it to start it again "
        "(on a team server `systemctl start rlhf-tui`, else `rlhf-tui serve --store STORE`), then run this again"
    )
    return ServiceUnavailableError(message + (f"; {owner_hint}" if owner_hint else ""), reason)


def _group_hint(socket_path: Path) -> str:
    try:
        gid = socket_path.stat().st_gid
        name = grp.getgrgid(gid).gr_name
    except (OSError, KeyError):
        return "ask the admin of the store service for access"
    return f"only members of group {name} may use it: ask an admin to run `usermod -aG {name} $USER`, then log in again"


def _untrusted_server(socket_path: Path, sock: socket.socket) -> str:
    """Why the process at the other end of `sock` is not to be trusted with our answers, or "".

    The service owns its socket, in a folder nobody else may write (by its mode or an ACL): the
    same check `serve` makes before it starts. A socket planted by someone else (in a folder
    they can write) is refused before anything is sent."""
    try:
        creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        _pid, server_uid, _gid = struct.unpack("3i", creds)
        owner = socket_path.lstat().st_uid
    except OSError as exc:
        return f"cannot check who serves {socket_path} ({exc.strerror or exc})"
    problems = socket_folder_problems(socket_path.absolute().parent, None, (server_uid, 0))
    if problems:
        return (
            f"{problems[0]} — so anyone could have put this socket there; refusing to talk to it "
            "(ask the admin to give the socket a private folder)"
        )
    if server_uid != owner:
        return f"{socket_path} is served by uid {server_uid}, not by its owner uid {owner}; refusing to talk to it"
    return ""


def _spans(offset: int, limit: int, page: int) -> list[tuple[int, int]]:
    """(offset, size) of the pages that cover `limit` rows from `offset`."""
    return [(start, min(page, offset + limit - start)) for start in range(offset, offset + limit, page)]


class ServiceClient:
    def __init__(
        self,
        socket_path: str | os.PathLike,
        reconnect_timeout: float | None = 60.0,
        connect_timeout: float = 2.0,
    ):
        """`reconnect_timeout`: how long a call waits for a lost service to come back
        before it fails (None: for as long as it takes, as the annotation app wants)."""
        self.socket_path = Path(socket_path)
        self.reconnect_timeout = reconnect_timeout
        self.connect_timeout = connect_timeout
        # Called with False when the service is lost and True when it is back (from the calling thread).
        self.on_connection_change: Callable[[bool], None] | None = None
        self.user = ""
        self.is_admin = False
        self._lock = threading.Lock()
        self._given_up = threading.Event()  # set by give_up(): stop waiting for a lost service
        self._sock: socket.socket | None = None
        self._reader: Any = None
        self._next_id = 0
        self._connect(deadline=time.monotonic() + connect_timeout)

    # -- connection ----------------------------------------------------------
    def _connect(self, deadline: float) -> None:
        delay = 0.05
        while True:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(max(0.1, min(self.connect_timeout, deadline - time.monotonic())))
            try:
                sock.connect(str(self.socket_path))
                refusal = _untrusted_server(self.socket_path, sock)  # before a byte is read or sent
                if refusal:
                    sock.close()
                    raise PermissionDeniedError(refusal)
                reader = sock.makefile("rb")
                greeting = reader.readline(protocol.MAX_LINE_BYTES)
                sock.settimeout(None)
            except PermissionError:
                sock.close()
                raise PermissionDeniedError(
                    f"cannot connect to the store service at {self.socket_path}: permission denied; "
                    + _group_hint(self.socket_path)
                ) from None
            except OSError as exc:
                sock.close()
                if time.monotonic() >= deadline or self._given_up.is_set():
                    raise service_down(self.socket_path, exc.strerror or str(exc) or type(exc).__name__) from None
                self._given_up.wait(delay)
                delay = min(delay * 2, 1.0)
                continue
            if not greeting:
                sock.close()
                if time.monotonic() >= deadline or self._given_up.is_set():
                    raise service_down(self.socket_path, "it closed the connection")
                self._given_up.wait(delay)
                continue
            message = wire.decode(greeting)
            if "error" in message:
                sock.close()
                raise wire.error_from_wire(message["error"])
            hello = message.get("hello") or {}
            self.user, self.is_admin = str(hello.get("user", "")), bool(hello.get("admin"))
            self._sock, self._reader = sock, reader
            return

    def _drop(self) -> None:
        for closable in (self._reader, self._sock):
            try:
                if closable is not None:
                    closable.close()
            except OSError:
                pass
        self._sock = self._reader = None

    def close(self) -> None:
        with self._lock:
            self._drop()

    def caller(self) -> Caller:
        return Caller(user=self.user, admin=self.is_admin, through_service=True)

    def watch_connection(self, on_change: Callable[[bool], None]) -> None:
        self.reconnect_timeout = None  # the caller waits for a lost service as long as it takes
        self.on_connection_change = on_change

    def give_up(self) -> None:
        """Stop waiting for a lost or silent service (from any thread): the call under way,
        and every later one, fails at once with ServiceUnavailableError."""
        self._given_up.set()
        sock = self._sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)  # wakes a read blocked on a service that hangs
            except OSError:
                pass

    def __enter__(self) -> ServiceClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- calls ---------------------------------------------------------------
    def _call(self, op: str, **params: Any) -> Any:
        with self._lock:
            if self._given_up.is_set():
                raise ServiceUnavailableError(
                    f"stopped waiting for the store service at {self.socket_path}", "given up"
                )
            self._next_id += 1
            payload = wire.encode({"id": self._next_id, "op": op, "params": params})
            if len(payload) > protocol.MAX_LINE_BYTES:
                raise InvalidInputError(f"{op}: the request is over {protocol.MAX_LINE_BYTES >> 20} MiB")
            wait = self.reconnect_timeout if self.reconnect_timeout is not None else float("inf")
            deadline = time.monotonic() + wait
            lost = False
            while True:
                try:
                    if self._sock is None:
                        self._connect(deadline)
                        if lost and self.on_connection_change:
                            self.on_connection_change(True)
                    assert self._sock is not None
                    self._sock.sendall(payload)
                    line = self._reader.readline()
                    if not line:
                        raise ConnectionResetError("the store service closed the connection")
                    reply = wire.decode(line)
                    break
                except (OSError, ConnectionError):
                    self._drop()
                    if not lost and self.on_connection_change:
                        self.on_connection_change(False)
                    lost = True
                    if self._given_up.is_set():
                        raise ServiceUnavailableError(
                            f"stopped waiting for the store service at {self.socket_path}", "given up"
                        ) from None
                    if time.monotonic() >= deadline:
                        raise service_down(
                            self.socket_path, f"lost, and not back within {self.reconnect_timeout or 0:.0f} s"
                        ) from None
                    self._given_up.wait(0.1)
        if "error" in reply:
            raise wire.error_from_wire(reply["error"])
        return reply.get("result")

    def _pages(self, op: str, **params: Any) -> list:
        out: list = []
        while True:
            page = self._call(op, offset=len(out), limit=protocol.MAX_PAGE, **params)
            out.extend(page)
            if len(page) < protocol.MAX_PAGE:
                return out

    def whoami(self) -> dict:
        return {"user": self.user, "admin": self.is_admin}

    # -- datasets --------------------------------------------------------------
    def list_datasets(self, include_archived: bool = False) -> list[DatasetSummary]:
        return list(self._call("list_datasets", include_archived=include_archived))

    def get_dataset(self, name: str) -> Dataset:
        return self._call("get_dataset", name=name)

    def create_dataset(
        self, name: str, task: str, guidelines: str = "", annotators_per_record: int = 1, settings: dict | None = None
    ) -> Dataset:
        return self._call(
            "create_dataset",
            name=name,
            task=task,
            guidelines=guidelines,
            annotators_per_record=annotators_per_record,
            settings=settings,
        )

    def update_dataset(
        self,
        name: str,
        guidelines: str | None = None,
        annotators_per_record: int | None = None,
        settings: dict | None = None,
    ) -> Dataset:
        return self._call(
            "update_dataset",
            name=name,
            guidelines=guidelines,
            annotators_per_record=annotators_per_record,
            settings=settings,
        )

    def rename_dataset(self, name: str, new_name: str) -> Dataset:
        return self._call("rename_dataset", name=name, new_name=new_name)

    def archive_dataset(self, name: str, archived: bool = True) -> Dataset:
        return self._call("archive_dataset", name=name, archived=archived)

    def dataset_contents(self, name: str) -> DatasetContents:
        return self._call("dataset_contents", name=name)

    def delete_dataset(self, name: str, with_answers: bool = False) -> DatasetContents:
        return self._call("delete_dataset", name=name, with_answers=with_answers)

    # -- import / export: the file is read and written here ------------------------
    def import_file(
        self,
        path: str | os.PathLike,
        dataset: str,
        task: str | None = None,
        fmt: str = "auto",
        guidelines: str | None = None,
        annotators_per_record: int | None = None,
        skip_invalid: bool = False,
        keep_labels: str | None = None,
        settings: dict | None = None,
    ) -> ImportReport:
        from store.io.readers import file_type_of  # (duckdb: loaded by the admins who import, not by annotators)

        source = Path(path)
        file_type_of(source)  # an unknown suffix is refused before anything is sent
        try:
            fh = source.open("rb")
        except FileNotFoundError:
            raise InvalidInputError(f"{source}: no such file") from None
        except IsADirectoryError:
            raise InvalidInputError(f"{source}: is a folder, not a file") from None
        except PermissionError:
            raise InvalidInputError(f"{source}: permission denied (you cannot read this file)") from None
        with fh:
            upload = self._call("upload_begin", suffix=source.suffix.lower())
            while chunk := fh.read(UPLOAD_CHUNK):
                self._call("upload_chunk", transfer=upload, data=base64.b64encode(chunk).decode("ascii"))
        return self._call(
            "import_upload",
            transfer=upload,
            display_name=str(source),
            dataset=dataset,
            task=task,
            fmt=fmt,
            guidelines=guidelines,
            annotators_per_record=annotators_per_record,
            skip_invalid=skip_invalid,
            keep_labels=keep_labels,
            settings=settings,
        )

    def export(self, dataset: str, out: str | os.PathLike, options: ExportOptions) -> int:
        from store.io.export import output_file_format, write_atomically  # (duckdb: as for imports)

        target = Path(out)
        file_format = output_file_format(target)
        started = self._call("export_begin", dataset=dataset, file_format=file_format, **dataclasses.asdict(options))
        transfer, size = started["transfer"], int(started["size"])

        def receive(tmp: Path) -> int:
            with tmp.open("wb") as fh:
                while fh.tell() < size:
                    chunk = base64.b64decode(self._call("transfer_read", transfer=transfer, offset=fh.tell()))
                    if not chunk:
                        raise StoreError(f"the export of {dataset} ended early")
                    fh.write(chunk)
            return int(started["rows"])

        try:
            return write_atomically(target, receive)
        finally:
            self._call("transfer_close", transfer=transfer)

    def preference_rows(self, dataset: str, aggregate: str = "all", fallback: str = "majority") -> list[dict]:
        return self.export_rows(dataset, ExportOptions("preference", aggregate, fallback))

    def export_rows(
        self, dataset: str, options: ExportOptions, offset: int = 0, limit: int | None = None
    ) -> list[dict]:
        query = {"dataset": dataset, **dataclasses.asdict(options)}
        if limit is not None:
            return list(self._call("export_rows", offset=offset, limit=limit, **query))
        rows = self._pages("export_rows", **query)
        return rows[offset:] if offset else rows

    # -- records and assignment ---------------------------------------------------------
    def get_records(self, record_ids: Sequence[int]) -> list[Record]:
        ids = [int(i) for i in record_ids]
        unique = list(dict.fromkeys(ids))  # the service takes each record once per request
        by_id: dict[int, Record] = {}
        for start in range(0, len(unique), GET_RECORDS_BATCH):
            for record in self._call("get_records", record_ids=unique[start : start + GET_RECORDS_BATCH]):
                by_id[record.id] = record
        return [by_id[i] for i in ids]

    def get_record(self, record_id: int) -> Record:
        return self.get_records([record_id])[0]

    def record_ids(self, dataset: str, offset: int = 0, limit: int | None = None) -> list[int]:
        if limit is not None:
            return list(self._call("record_ids", dataset=dataset, offset=offset, limit=limit))
        ids = self._pages("record_ids", dataset=dataset)
        return ids[offset:] if offset else ids

    def next_records(self, dataset: str, annotator: str, limit: int = 1, exclude: Iterable[int] = ()) -> list[Record]:
        excluded = sorted({int(i) for i in exclude})[-protocol.MAX_EXCLUDE :]
        return list(self._call("next_records", dataset=dataset, annotator=annotator, limit=limit, exclude=excluded))

    def renew_lease(self, record_id: int, annotator: str) -> None:
        self._call("renew_lease", record_id=record_id, annotator=annotator)

    def release_lease(self, record_id: int, annotator: str) -> None:
        self._call("release_lease", record_id=record_id, annotator=annotator)

    def skip_record(self, record_id: int, annotator: str) -> None:
        self._call("skip_record", record_id=record_id, annotator=annotator)

    def release_all_leases(self, annotator: str) -> None:
        self._call("release_all_leases", annotator=annotator)

    # -- annotations ---------------------------------------------------------------------
    def get_annotation(self, record_id: int, annotator: str) -> Annotation | None:
        return self._call("get_annotation", record_id=record_id, annotator=annotator)

    def annotation_history(
        self, record_id: int, annotator: str, offset: int = 0, limit: int | None = None
    ) -> list[Annotation]:
        if limit is not None:
            pages = [
                self._call("annotation_history", record_id=record_id, annotator=annotator, offset=start, limit=size)
                for start, size in _spans(offset, limit, protocol.MAX_HISTORY_PAGE)
            ]
            return [a for page in pages for a in page]
        out: list[Annotation] = []
        while True:  # a page at a time: a long history never makes one huge reply
            page = self._call(
                "annotation_history",
                record_id=record_id,
                annotator=annotator,
                offset=offset + len(out),
                limit=protocol.MAX_HISTORY_PAGE,
            )
            out.extend(page)
            if len(page) < protocol.MAX_HISTORY_PAGE:
                return out

    def save_annotation(self, answer: AnnotationInput) -> Annotation:
        if answer.client_id is None:  # so that a resend after a lost connection is recognised
            answer = dataclasses.replace(answer, client_id=str(uuid.uuid4()))
        fields = {f.name: getattr(answer, f.name) for f in dataclasses.fields(answer)}
        return self._call("save_annotation", **fields)

    def answered_record_ids(self, dataset: str, annotator: str, limit: int = 100) -> list[int]:
        return list(self._call("answered_record_ids", dataset=dataset, annotator=annotator, limit=limit))

    # -- progress and statistics ----------------------------------------------------------
    def progress(self, dataset: str, annotator: str) -> AnnotatorProgress:
        return self._call("progress", dataset=dataset, annotator=annotator)

    def status_counts(self, dataset: str) -> list[StatusCount]:
        return list(self._call("status_counts", dataset=dataset))

    def overfilled_records(self, dataset: str) -> int:
        return int(self._call("overfilled_records", dataset=dataset))

    def submitted_rankings(
        self, dataset: str, offset: int = 0, limit: int | None = None
    ) -> list[tuple[int, str, tuple[int, ...], bool]]:
        if limit is not None:
            rows = self._call("submitted_rankings", dataset=dataset, offset=offset, limit=limit)
        else:
            rows = self._pages("submitted_rankings", dataset=dataset)[offset:]
        return [(int(r), str(a), tuple(k), bool(b)) for r, a, k, b in rows]

    def promote_written(self, dataset: str) -> int:
        return int(self._call("promote_written", dataset=dataset))

    def submitted_ratings(
        self, dataset: str, offset: int = 0, limit: int | None = None
    ) -> list[tuple[int, str, tuple[tuple[int, str, float], ...]]]:
        if limit is not None:
            rows = self._call("submitted_ratings", dataset=dataset, offset=offset, limit=limit)
        else:
            rows = self._pages("submitted_ratings", dataset=dataset)[offset:]
        return [(int(r), str(a), tuple((int(i), str(x), float(v)) for i, x, v in k)) for r, a, k in rows]

    # -- review and the team (admins) ------------------------------------------------------
    def review_queue(
        self,
        dataset: str,
        order: str = "disputed",
        annotator: str | None = None,
        offset: int = 0,
        limit: int | None = None,
    ) -> list[ReviewItem]:
        query = {"dataset": dataset, "order": order, "annotator": annotator}
        if limit is not None:
            return list(self._call("review_queue", offset=offset, limit=limit, **query))
        return self._pages("review_queue", **query)[offset:]

    def record_answers(self, record_id: int) -> list[Annotation]:
        return list(self._call("record_answers", record_id=record_id))

    def get_review(self, record_id: int) -> Review | None:
        return self._call("get_review", record_id=record_id)

    def review_history(self, record_id: int) -> list[Review]:
        return list(self._call("review_history", record_id=record_id))

    def save_review(self, review: ReviewInput) -> Review:
        fields = {f.name: getattr(review, f.name) for f in dataclasses.fields(review) if f.name != "reviewer"}
        return self._call("save_review", **fields)

    def reviews(self, dataset: str) -> list[tuple[int, tuple[int, ...], bool, bool]]:
        return [(int(r), tuple(k), bool(b), bool(g)) for r, k, b, g in self._call("reviews", dataset=dataset)]

    def active_leases(self, dataset: str) -> list[LeaseInfo]:
        return list(self._call("active_leases", dataset=dataset))

    def team_activity(self, dataset: str) -> list[AnnotatorActivity]:
        return list(self._call("team_activity", dataset=dataset))

    def release_leases_of(self, dataset: str, annotator: str) -> int:
        return int(self._call("release_leases_of", dataset=dataset, annotator=annotator))

    def reopen_record(self, record_id: int, annotator: str) -> None:
        self._call("reopen_record", record_id=record_id, annotator=annotator)

    def find_record(self, dataset: str, external_id: str) -> int | None:
        found = self._call("find_record", dataset=dataset, external_id=external_id)
        return int(found) if found is not None else None

    def external_ids(self, record_ids: Sequence[int]) -> dict[int, str]:
        ids = [int(i) for i in record_ids]
        out: dict[int, str] = {}
        for start in range(0, len(ids), protocol.MAX_PAGE):
            page = self._call("external_ids", record_ids=ids[start : start + protocol.MAX_PAGE])
            out.update({int(k): str(v) for k, v in page.items()})
        return out

    def submission_counts(self, record_ids: Sequence[int]) -> list[int]:
        ids = [int(i) for i in record_ids]
        out: list[int] = []
        for start in range(0, len(ids), protocol.MAX_IDS_PER_REQUEST):
            out.extend(self._call("submission_counts", record_ids=ids[start : start + protocol.MAX_IDS_PER_REQUEST]))
        return out

    # -- scores ------------------------------------------------------------------------------
    def save_scores(self, scorer: str, scores: Sequence[tuple[int, int, float]], reorder: bool = True) -> int:
        rows = [[int(r), int(i), float(s)] for r, i, s in scores]
        saved = 0
        for start in range(0, len(rows), protocol.MAX_PAGE):
            last = start + protocol.MAX_PAGE >= len(rows)  # the queues are ordered once, after the last page
            page = rows[start : start + protocol.MAX_PAGE]
            saved += int(self._call("save_scores", scorer=scorer, scores=page, reorder=reorder and last))
        return saved

    def queue_info(self, dataset: str) -> QueueInfo:
        return self._call("queue_info", dataset=dataset)

    def dataset_scorers(self, dataset: str) -> list[str]:
        return [str(name) for name in self._call("dataset_scorers", dataset=dataset)]

    def record_scores(self, record_id: int) -> list[tuple[str, int, float]]:
        return [(str(s), int(i), float(v)) for s, i, v in self._call("record_scores", record_id=record_id)]

    def model_after_submit(self, record_id: int, annotator: str) -> list[tuple[str, int, float]]:
        rows = self._call("model_after_submit", record_id=record_id, annotator=annotator)
        return [(str(s), int(i), float(v)) for s, i, v in rows]

    def scores(
        self, dataset: str, scorer: str | None = None, offset: int = 0, limit: int | None = None
    ) -> list[tuple[int, int, str, float]]:
        if limit is not None:
            rows = self._call("scores", dataset=dataset, scorer=scorer, offset=offset, limit=limit)
        else:
            rows = self._pages("scores", dataset=dataset, scorer=scorer)[offset:]
        return [(int(r), int(i), str(n), float(v)) for r, i, n, v in rows]


def _conforms(client: ServiceClient) -> None:
    """Checked by mypy: the client offers the whole store interface."""
    _: PreferenceStore = client
