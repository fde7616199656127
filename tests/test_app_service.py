"""The app on a real store service that goes away mid-session: the annotator keeps
ranking, a notice says the service is lost, and once it is back the answers queued
meanwhile reach the store, each once."""

from __future__ import annotations

import asyncio
import os
import pwd
import time

import pytest
from app_support import arithmetic_rows, build_store, make_app, settle
from service_support import start_service, stop

from rlhf_tui.app.widgets import StatusLine
from rlhf_tui.app.widgets.status_line import SERVICE_LOST_NOTICE
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
