"""The contacts REST API, served by the real contacts process on SQLite and on PostgreSQL."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from processes.launcher import ManagedProcess, http_ok
from processes.ports import free_port
from switchboard.settings import Settings
from tests.helpers import http

TOKEN = "contacts-api-test-token"


@pytest.fixture(scope="session")
def contacts_api(migrated_db, redis_settings: Settings, tmp_path_factory) -> Iterator[str]:
    port, recorder_port = free_port(), free_port()
    data_dir = tmp_path_factory.mktemp("contacts-api")
    env = {
        "SWITCHBOARD_DATA_DIR": str(data_dir),
        "DATABASE_URL": migrated_db.url,
        # Its own Redis database: the recorder here must not consume other tests' streams.
        "REDIS_URL": redis_settings.effective_redis_url.rsplit("/", 1)[0] + "/3",
        "CONSOLE_PORT": str(port),
        "RECORDER_PORT": str(recorder_port),
        "SWITCHBOARD_API_TOKEN": TOKEN,
    }
    processes = [ManagedProcess(name, [sys.executable, "-m", f"processes.{name}"],
                                http_ok(f"http://127.0.0.1:{at}/health"), env=env,
                                log_path=data_dir / f"{name}.log")
                 for name, at in (("console", port), ("recorder", recorder_port))]
    try:
        for process in processes:
            process.start()
        for process in processes:
            process.wait_ready()
        yield f"http://127.0.0.1:{port}/api/contacts"
    finally:
        for process in processes:
            process.stop()


def call(method, url, body=None, token=TOKEN, raw=None):
    return http(method, url, body, token=token, raw=raw)


def test_every_call_needs_the_token(contacts_api):
    assert call("GET", f"{contacts_api}/config", token=None)[0] == 401
    status, body = call("GET", f"{contacts_api}/config", token="wrong")
    assert status == 401 and "token" in body["error"]


def test_begin_touch_operation_complete_and_detail(contacts_api, sender):
    status, contact = call("POST", contacts_api, {"channel": "sms", "external_id": sender})
    assert status == 201 and contact["status"] == "open" and contact["touches"] == []
    url = f"{contacts_api}/{contact['reference']}"
    touch = {"direction": "in", "author": "customer", "text": "my code is 123456", "key": sender}
    assert call("POST", f"{url}/touches", touch)[0] == 201
    assert call("POST", f"{url}/touches", touch)[0] == 200  # same key: stored once
    assert call("POST", f"{url}/touches", {"direction": "out", "author": "agent",
                                           "text": "Thanks, checking."})[0] == 201
    assert call("POST", f"{url}/operations", {"category": "balance_query",
                                              "result": "success"})[0] == 201
    status, done = call("POST", f"{url}/complete", {"disposition": "agent_closed", "csat": 4})
    assert status == 200 and done["status"] == "completed" and done["csat"] == 4
    status, detail = call("GET", url)
    assert status == 200 and detail["handled_by"] == "both"
    assert [(t["author"], t["text"]) for t in detail["touches"]] == [
        ("customer", "my code is [redacted]"), ("agent", "Thanks, checking.")]
    assert [o["category"] for o in detail["operations"]] == ["balance_query"]


def test_a_retried_begin_with_the_same_idempotency_key_returns_the_same_contact(contacts_api,
                                                                                sender):
    body = {"channel": "sms", "external_id": sender}
    key = {"Idempotency-Key": f"begin-{sender}"}
    first = http("POST", contacts_api, body, token=TOKEN, headers=key)
    again = http("POST", contacts_api, body, token=TOKEN, headers=key)
    other = http("POST", contacts_api, body, token=TOKEN)
    assert first[0] == again[0] == other[0] == 201
    assert first[1]["reference"] == again[1]["reference"] != other[1]["reference"]
    too_long = http("POST", contacts_api, body, token=TOKEN, headers={"Idempotency-Key": "k" * 161})
    assert too_long[0] == 400 and "idempotency key" in too_long[1]["error"]


def test_list_filters_and_pages(contacts_api, sender):
    """Exact counts on this test's own contacts (its sender id): the database is shared."""
    def begin(channel):
        status, contact = call("POST", contacts_api, {"channel": channel, "external_id": sender,
                                                      "sender_id": sender})
        assert status == 201
        return contact["reference"]

    telegram = [begin("telegram") for _ in range(4)]  # oldest first
    sms = begin("sms")
    for reference in (telegram[1], sms):
        assert call("POST", f"{contacts_api}/{reference}/complete",
                    {"disposition": "agent_closed"})[0] == 200
    mine = f"{contacts_api}?sender={sender}"

    status, page = call("GET", f"{mine}&channel=telegram&status=open&page_size=2")
    assert status == 200 and (page["total"], page["pages"], page["page_size"]) == (3, 2, 2)
    assert [c["reference"] for c in page["items"]] == [telegram[3], telegram[2]]  # newest first
    status, rest = call("GET", f"{mine}&channel=telegram&status=open&page_size=2&page=2")
    assert status == 200 and [c["reference"] for c in rest["items"]] == [telegram[0]]
    status, done = call("GET", f"{mine}&status=completed")
    assert status == 200 and done["total"] == 2
    assert {c["reference"] for c in done["items"]} == {telegram[1], sms}
    assert all(c["status"] == "completed" for c in done["items"])
    status, everything = call("GET", mine)
    assert status == 200 and everything["total"] == 5
    status, none = call("GET", f"{mine}&since=2999-01-01")
    assert status == 200 and none["total"] == 0 and none["items"] == []


@pytest.mark.parametrize("query, complaint", [
    ("page=0", "page"), ("page_size=100000", "page_size"), ("since=yesterday", "since"),
    ("status=sleeping", "status"), ("page=two", "page"),
    # 9999-12-31 at UTC-14 is past the last date Python has: was a 500 with a traceback logged
    ("until=9999-12-31T23:59:59-14:00", "until"), ("since=9999-12-31T23:00-14:00", "since"),
    # Found by the newcomer attack: the README promised 400 for an unknown channel, it was an
    # empty 200 (a typo looked like "no contacts")
    ("channel=nope", "channel must be one of"), ("channel=SMS", "channel must be one of"),
])
def test_bad_queries_get_400_with_the_reason(contacts_api, query, complaint):
    status, body = call("GET", f"{contacts_api}?{query}")
    assert status == 400 and complaint in body["error"]


def test_bad_writes_get_400_with_the_reason(contacts_api):
    assert call("POST", contacts_api, raw=b"{not json")[0] == 400
    status, body = call("POST", contacts_api, {"channel": "pigeon", "external_id": "x"})
    assert status == 400 and "unknown channel" in body["error"]
    status, body = call("POST", contacts_api, ["a list"])
    assert status == 400 and "JSON object" in body["error"]
    status, body = call("POST", contacts_api, {"channel": "sms"})
    assert status == 400 and "external_id" in body["error"]


def test_unknown_contact_and_customer_are_404(contacts_api):
    status, body = call("GET", f"{contacts_api}/CT000000-000000")
    assert status == 404 and "CT000000-000000" in body["error"]
    assert call("POST", f"{contacts_api}/CT000000-000000/complete",
                {"disposition": "agent_closed"})[0] == 404
    assert call("GET", f"{contacts_api}/history/19990000000")[0] == 404


def test_configuration(contacts_api):
    status, config = call("GET", f"{contacts_api}/config")
    assert status == 200
    assert "telegram" in [c["code"] for c in config["channels"]]
    assert "complaint_filed" in [c["code"] for c in config["operation_categories"]]


def test_history_of_a_customer(contacts_api, migrated_db, sender):
    from contacts import service

    msisdn = "2547" + str(abs(hash(sender)))[:8]
    with migrated_db.transaction() as session:
        customer = service.upsert_customer(session, msisdn, name="Wanjiru")
        service.link_identity(session, "sms", msisdn, customer)
    for channel in ("sms", "sms"):
        call("POST", contacts_api, {"channel": channel, "external_id": msisdn})
    status, history = call("GET", f"{contacts_api}/history/{msisdn}")
    assert status == 200 and history["customer"]["name"] == "Wanjiru"
    assert history["counts_by_channel"] == {"sms": 2} and len(history["contacts"]) == 2
    assert call("GET", f"{contacts_api}/history/{msisdn}?months=99")[0] == 400
    for query, says in (("months=0", "months must be between 1 and 24"),
                        ("limit=201", "limit must be between 1 and 200")):
        status, body = call("GET", f"{contacts_api}/history/{msisdn}?{query}")
        assert status == 400 and says in body["error"], body  # the limit that applies
