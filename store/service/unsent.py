"""Answers on their way to the store service, kept on this computer until the service
has them, so that an annotator can leave while the service is down and lose nothing.

Each answer is one file (mode 0600) in a private folder of the user's state directory
(`$XDG_STATE_HOME/rlhf-tui`, else `~/.local/state/rlhf-tui`), one folder per service
socket. It is written before the answer is sent and removed once the service has
acknowledged it; whatever is left is sent, oldest first, the next time the app reaches
the service. Every answer carries its client id, so an answer the service stored just
before the connection broke is recognised when it comes again and counted once."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from store.api import PreferenceStore
from store.errors import StoreError
from store.service.client import ServiceUnavailableError
from store.types import AnnotationInput

STATE_ENV_VAR = "XDG_STATE_HOME"
JOURNAL_SUFFIX = ".answer.json"


def state_dir(env: Mapping[str, str] = os.environ) -> Path:
    """rlhf-tui's folder in the user's state directory (XDG: a relative value is ignored)."""
    base = env.get(STATE_ENV_VAR, "")
    root = Path(base) if base and Path(base).is_absolute() else Path("~/.local/state").expanduser()
    return root / "rlhf-tui"


@dataclass(frozen=True)
class KeptAnswer:
    """An answer in the journal, with what a person needs to recognise it."""

    key: str  # its file name, which sorts in the order the answers were given
    answer: AnnotationInput
    dataset: str
    record: str  # the record's id in the imported file

    @property
    def label(self) -> str:
        """e.g. `pair-002` or `pair-002 (draft)`."""
        return self.record if self.answer.status != "draft" else f"{self.record} (draft)"


@dataclass
class ResendReport:
    """What sending the kept answers did: `sent` reached the service; `set_aside` were
    refused by it (a record since removed, say) and moved to `refused_folder` with the reason."""

    sent: list[KeptAnswer] = field(default_factory=list)
    set_aside: list[tuple[KeptAnswer, str]] = field(default_factory=list)
    refused_folder: Path | None = None


class UnsentAnswers:
    """The journal of one user's answers to one store service."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.sent_now: list[KeptAnswer] = []  # acknowledged in this session, in order
        self._sequence = itertools.count()

    @classmethod
    def for_service(cls, socket_path: str | os.PathLike, state: Path | None = None) -> UnsentAnswers:
        resolved = str(Path(socket_path).resolve())
        digest = hashlib.sha256(resolved.encode("utf-8", "surrogateescape")).hexdigest()[:16]
        return cls((state or state_dir()) / "unsent" / digest)

    def _private_folder(self) -> Path:
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.folder, 0o700)  # mkdir leaves an existing folder's mode as it was
        return self.folder

    def keep(self, answer: AnnotationInput, dataset: str, record: str) -> KeptAnswer:
        """Write the answer down before it is sent (it must carry a client id)."""
        if not answer.client_id:
            raise ValueError("a kept answer needs a client id, so that sending it twice counts once")
        folder = self._private_folder()
        key = f"{time.time_ns():020d}-{os.getpid()}-{next(self._sequence):06d}"
        kept = KeptAnswer(key, answer, dataset, record)
        payload = json.dumps(_to_json(kept), ensure_ascii=False).encode("utf-8")
        partial = folder / f".{key}.partial"
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.fchmod(fd, 0o600)  # whatever the umask
            os.write(fd, payload)
        finally:
            os.close(fd)
        os.replace(partial, folder / (key + JOURNAL_SUFFIX))  # a half-written file is never read as an answer
        return kept

    def sent(self, kept: KeptAnswer) -> None:
        """The service acknowledged the answer: forget it here."""
        try:
            (self.folder / (kept.key + JOURNAL_SUFFIX)).unlink()
        except FileNotFoundError:
            pass  # another session of the same user sent it first
        self.sent_now.append(kept)

    def kept(self) -> list[KeptAnswer]:
        """The answers not yet acknowledged, oldest first (unreadable files are skipped)."""
        if not self.folder.is_dir():
            return []
        out = []
        for path in sorted(self.folder.glob("*" + JOURNAL_SUFFIX)):
            entry = _read(path)
            if entry is not None:
                out.append(entry)
        return out

    def send_kept(self, store: PreferenceStore) -> ResendReport:
        """Send the answers left from earlier sessions, oldest first. An answer the service
        refuses is moved aside with the reason; a lost service stops the sending (the
        rest stay kept)."""
        report = ResendReport()
        for kept in self.kept():
            try:
                store.save_annotation(kept.answer)
            except StoreError as exc:
                if isinstance(exc, ServiceUnavailableError):  # not a refusal: try again next time
                    raise
                report.refused_folder = self._set_aside(kept, str(exc))
                report.set_aside.append((kept, str(exc)))
                continue
            self.sent(kept)
            report.sent.append(kept)
        return report

    def _set_aside(self, kept: KeptAnswer, reason: str) -> Path:
        refused = self.folder / "refused"
        refused.mkdir(mode=0o700, exist_ok=True)
        source = self.folder / (kept.key + JOURNAL_SUFFIX)
        target = refused / source.name
        try:
            os.replace(source, target)
        except FileNotFoundError:
            return refused
        reason_file = refused / (kept.key + ".reason.txt")
        fd = os.open(reason_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, (reason + "\n").encode("utf-8", "replace"))
        finally:
            os.close(fd)
        return refused


def _to_json(kept: KeptAnswer) -> dict[str, Any]:
    a = kept.answer
    return {
        "dataset": kept.dataset,
        "record": kept.record,
        "answer": {
            "record_id": a.record_id,
            "annotator": a.annotator,
            "status": a.status,
            "ranks": list(a.ranks),
            "shown_order": list(a.shown_order),
            "comment": a.comment,
            "discard_reason": a.discard_reason,
            "both_bad": a.both_bad,
            "seconds_spent": a.seconds_spent,
            "client_id": a.client_id,
            "ratings": [list(r) for r in a.ratings],
            "written": a.written,
            "written_rank": a.written_rank,
        },
    }


def _read(path: Path) -> KeptAnswer | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        a = data["answer"]
        answer = AnnotationInput(
            record_id=int(a["record_id"]),
            annotator=str(a["annotator"]),
            status=a["status"],
            ranks=tuple(int(r) for r in a["ranks"]),
            shown_order=tuple(int(i) for i in a["shown_order"]),
            comment=str(a["comment"]),
            discard_reason=str(a["discard_reason"]),
            both_bad=bool(a["both_bad"]),
            seconds_spent=float(a["seconds_spent"]),
            client_id=str(a["client_id"]),
            ratings=tuple((int(i), str(axis), float(v)) for i, axis, v in a["ratings"]),
            written=None if a["written"] is None else str(a["written"]),
            written_rank=None if a["written_rank"] is None else int(a["written_rank"]),
        )
        return KeptAnswer(path.name.removesuffix(JOURNAL_SUFFIX), answer, str(data["dataset"]), str(data["record"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
