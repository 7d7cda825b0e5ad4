"""``switchboard contacts ...`` on SQLite and PostgreSQL, run as a user would run it."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys

from switchboard.settings import PROJECT_ROOT


def cli(db, tmp_path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": db.url, "SWITCHBOARD_DATA_DIR": str(tmp_path)}
    return subprocess.run([sys.executable, "-m", "processes", "contacts", *args], env=env,
                          cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)


def ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_a_contact_from_begin_to_export(db, tmp_path):
    ok(cli(db, tmp_path, "customer", "254722000111", "--name", "Otieno", "--plan", "Flex 10"))
    reference = ok(cli(db, tmp_path, "begin", "--channel", "sms", "--external-id",
                       "254722000111"))
    assert reference.startswith("CT")
    args = ("touch", reference, "--direction", "in", "--author", "customer", "--text",
            "what is my balance", "--key", "sms-1")
    assert ok(cli(db, tmp_path, *args)) == "recorded"
    assert ok(cli(db, tmp_path, *args)) == "already recorded"
    ok(cli(db, tmp_path, "operation", reference, "--category", "balance_query", "--result",
           "success"))
    assert ok(cli(db, tmp_path, "complete", reference, "--disposition", "customer_goodbye",
                  "--csat", "5")) == "completed"

    shown = ok(cli(db, tmp_path, "show", reference))
    assert "what is my balance" in shown and "balance_query success" in shown
    detail = json.loads(ok(cli(db, tmp_path, "show", reference, "--json")))
    assert len(detail["touches"]) == 1 and detail["csat"] == 5

    listing = json.loads(ok(cli(db, tmp_path, "list", "--channel", "sms", "--json")))
    assert [c["reference"] for c in listing["items"]] == [reference]

    exported = ok(cli(db, tmp_path, "export", "--since", "2020-01-01", "--format", "csv"))
    [row] = list(csv.DictReader(io.StringIO(exported)))
    assert row["reference"] == reference and row["disposition"] == "customer_goodbye"
    assert ok(cli(db, tmp_path, "export", "--since", "2999-01-01")).count("\n") == 0  # header


def test_history_lists_contacts_of_the_customer(db, tmp_path):
    from contacts import service

    with db.transaction() as session:
        customer = service.upsert_customer(session, "254733000222", name="Akinyi")
        service.link_identity(session, "telegram", "tg-5", customer)
        service.begin_contact(session, channel="telegram", external_id="tg-5")
    out = ok(cli(db, tmp_path, "history", "254733000222"))
    assert out.startswith("Akinyi (254733000222)") and "1 contacts" in out and "telegram" in out
    data = json.loads(ok(cli(db, tmp_path, "history", "254733000222", "--json")))
    assert data["counts_by_channel"] == {"telegram": 1}


def test_errors_are_one_line_not_a_traceback(db, tmp_path):
    for args in (("show", "CT000000-NOPE00"), ("history", "000"),
                 ("list", "--since", "last tuesday"), ("begin", "--channel", "fax",
                                                        "--external-id", "1")):
        result = cli(db, tmp_path, *args)
        assert result.returncode == 2, args
        assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr


def test_config_lists_the_seeded_configuration(db, tmp_path):
    out = ok(cli(db, tmp_path, "config"))
    assert "Operation categories:" in out and "plan_change" in out
