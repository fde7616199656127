"""The app on a real store service that goes away mid-session: the annotator keeps
ranking, a notice says the service is lost, and once it is back the answers queued
meanwhile reach the store, each once."""

from __future__ import annotations

import asyncio
import os
import pwd
import time

import pytest
from app_support import arithmetic_rows, build_store, make_app, notices, settle
from service_support import start_service, stop

from rlhf_tui.app.widgets import StatusLine
from rlhf_tui.app.widgets.status_line import SERVICE_LOST_NOTICE
from store import AnnotationInput
from store.connect import connect_store, open_store
from store.service.client import ServiceClient


def status_line(app) -> str:
    return str(app.screen.query_one(StatusLine).content)


async def wait_until(pilot, condition, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("waited in vain")
        await asyncio.sleep(0.05)
        await pilot.pause()


@pytest.fixture
def served(tmp_path):
    store_path = tmp_path / "store.duckdb"
    build_store(tmp_path, "rank", arithmetic_rows(6, candidates=2)).close()
    services = [start_service(store_path)]
    yield store_path, services
    for proc in services:
        stop(proc)


async def test_answers_given_while_the_service_is_down_are_sent_once_it_is_back(served):
    store_path, services = served
    client = connect_store(store_path)
    assert isinstance(client, ServiceClient)
    # Over the service the annotator is the OS user (the service takes the name from the kernel).
    app = make_app(client, annotator=pwd.getpwuid(os.getuid()).pw_name)
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)
            assert client.reconnect_timeout is None  # the app waits for the service as long as it takes
            assert status_line(app).startswith(f" {client.user} · d ")  # who the service records answers as
            first = app.screen.session.current.record.id
            services[0].kill()
            services[0].wait()
            await pilot.press("1", "enter")  # ranks and submits: the store worker now waits for the service
            await wait_until(pilot, lambda: app.service_lost)
            assert SERVICE_LOST_NOTICE in status_line(app)
            second = app.screen.session.current.record.id
            assert second != first  # the next prefetched record is on screen, ready to rank
            await pilot.press("2", "enter")  # and a second answer queues behind the first
            assert app.jobs.pending > 0
            services.append(start_service(store_path))
            await wait_until(pilot, lambda: not app.service_lost)
            await settle(pilot)
            assert SERVICE_LOST_NOTICE not in status_line(app)
    finally:
        client.close()
    stop(services[-1])
    store = open_store(store_path)
    try:
        who = pwd.getpwuid(os.getuid()).pw_name
        assert store.get_annotation(first, who).status == "submitted"
        assert [a.status for a in store.annotation_history(first, who)] == ["draft"]  # the earlier versions
        assert store.get_annotation(second, who).status == "submitted"
        submitted = {c.annotator: c.count for c in store.status_counts("d") if c.status == "submitted"}
        assert submitted == {who: 2}
    finally:
        store.close()


async def test_an_annotator_leaves_at_once_while_the_service_is_down_and_the_kept_answer_is_sent_next_time(served):
    store_path, services = served
    who = pwd.getpwuid(os.getuid()).pw_name
    client = connect_store(store_path)
    assert isinstance(client, ServiceClient)
    app = make_app(client, annotator=who)
    exit_messages: list = []
    app_exit = app.exit
    app.exit = lambda *args, **kwargs: (exit_messages.append(str(kwargs.get("message"))), app_exit(*args, **kwargs))
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)
            sent_record = app.screen.session.current.record
            await pilot.press("1", "enter")  # reaches the service
            await settle(pilot)
            kept_record = app.screen.session.current.record
            services[0].kill()
            services[0].wait()
            await pilot.press("2", "enter")  # the store worker now waits for the service
            await wait_until(pilot, lambda: app.service_lost)
            await pilot.press("ctrl+c")  # quit like q: waits for the service, and says how to leave now
            assert any("press ctrl+c" in n for n in notices(app))
            await pilot.press("ctrl+c")  # leave now
            await wait_until(pilot, lambda: app.return_code is not None)
        worker_threads = [w for w in app.workers if w.group == "store"]
        assert all(w.is_finished for w in worker_threads)  # nothing holds the process open
    finally:
        client.close()
    assert app.return_code == 130
    [said] = exit_messages
    assert f"Sent and saved: {sent_record.external_id}." in said
    assert f"sent the next time you open the app with this service: {kept_record.external_id}." in said
    assert "lost" not in said
    journal = [p for p in (store_path.parent / "state" / "rlhf-tui" / "unsent").rglob("*.answer.json")]
    assert len(journal) == 2  # the draft the rank made, then the submission: both wait, in order
    assert {oct(path.stat().st_mode & 0o777) for path in journal} == {"0o600"}
    assert oct(journal[0].parent.stat().st_mode & 0o777) == "0o700"

    services.append(start_service(store_path))
    client = connect_store(store_path)
    app = make_app(client, annotator=who)
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)
            assert any(
                f"Sent the answers kept on this computer from last time: {kept_record.external_id}" in n
                for n in notices(app)
            )
            await pilot.press("q")
            await settle(pilot)
    finally:
        client.close()
    assert not [p for p in journal[0].parent.glob("*.answer.json")]  # sent, so no longer kept
    stop(services[-1])
    store = open_store(store_path)
    try:
        kept_answer = store.get_annotation(kept_record.id, who)
        assert kept_answer.status == "submitted" and kept_answer.revision == 2  # a draft, then the submission
        assert store.get_annotation(sent_record.id, who).status == "submitted"
        submitted = {c.annotator: c.count for c in store.status_counts("d") if c.status == "submitted"}
        assert submitted == {who: 2}
    finally:
        store.close()


async def test_a_reviewer_leaves_at_once_while_the_service_is_down(tmp_path):
    from rlhf_tui.app.review.app import ReviewApp

    store_path = tmp_path / "store.duckdb"
    store = build_store(tmp_path, "rank", arithmetic_rows(3, candidates=2), annotators_per_record=2)
    for record_id in store.record_ids("d"):
        for who, ranks in (("ann", (1, 2)), ("bob", (2, 1))):
            store.save_annotation(AnnotationInput(record_id, who, "submitted", ranks, shown_order=(0, 1)))
    store.close()
    service = start_service(store_path)
    client = connect_store(store_path)
    app = ReviewApp(client, "d", client.user, tune_gc=False)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            service.kill()
            service.wait()
            await pilot.press("1", "enter")  # the save now waits for the service
            await pilot.press("q", "ctrl+c")  # quit waits; ctrl+c again leaves now
            await wait_until(pilot, lambda: app.return_code is not None)
        # the call under way stops waiting for the service (it would wait a minute), so the process can end
        deadline = time.monotonic() + 20
        while client._lock.locked() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not client._lock.locked()
        assert app.return_code == 130
    finally:
        client.close()
        stop(service)
