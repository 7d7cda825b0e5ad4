"""The ``switchboard`` command: run the helpdesk, train, talk to it, report on NLU quality."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from switchboard.log import configure_logging, get_logger
from switchboard.services import Services
from switchboard.settings import PROJECT_ROOT, Settings, load_settings

log = get_logger(__name__)


def cmd_train(args: argparse.Namespace) -> int:
    from switchboard.training import ensure_model

    print(ensure_model(Path(args.config).resolve(), args.services.settings.model_dir))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from processes.launcher import Stack, StartupError
    from switchboard.training import ensure_model

    settings = args.services.settings
    model = ensure_model(model_dir=settings.model_dir)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    stack = Stack(settings, model)
    try:
        stack.start()
    except StartupError as exc:
        log.error("startup.failed", error=str(exc))
        return 1
    print(_banner(settings), flush=True)
    while not stop.wait(1.0):  # only Ctrl-C (or SIGTERM) stops everything
        stack.supervise_once()
    stack.stop()
    return 0


def cmd_shell(args: argparse.Namespace) -> int:
    """Talk to the assistant in the terminal with ``rasa shell`` (needs `make run` running)."""
    from processes.launcher import rasa_env
    from switchboard.training import ensure_model

    settings = args.services.settings
    model = ensure_model(model_dir=settings.model_dir)
    env = {**os.environ, **rasa_env(settings)}
    command = [sys.executable, "-m", "processes.rasa_server", "shell", "--model", str(model),
               "--endpoints", str(PROJECT_ROOT / "endpoints.yml"),
               "--port", str(args.port)]
    return subprocess.call(command, cwd=PROJECT_ROOT, env=env)


def cmd_nlu_report(args: argparse.Namespace) -> int:
    from switchboard.nlu_report import run_cross_validation

    report = run_cross_validation(Path(args.out), folds=args.folds)
    print(report.read_text())
    print(f"Written: {report} and the confusion matrix PNG beside it")
    return 0


def cmd_outbox(args: argparse.Namespace) -> int:
    """Print the SMS the embedded gateway "sent" (notifications; one-time codes are kept masked,
    never in clear: issue 12)."""
    import datetime

    from switchboard.sms import OutboxGateway, outbox_path

    messages = OutboxGateway(outbox_path(args.services.settings)).messages()
    if args.to:
        messages = [m for m in messages if m["to"].lstrip("+") == args.to.lstrip("+")]
    for message in messages[-args.last:]:
        sent = datetime.datetime.fromtimestamp(message["sent_at"], datetime.timezone.utc)
        print(f"{sent:%Y-%m-%d %H:%M:%S}Z  to {message['to']}:  {message['body']}")
    if not messages:
        print("The outbox is empty.")
    return 0


def cmd_telegram_webhook(args: argparse.Namespace) -> int:
    """Tell Telegram where our webhook is (SWITCHBOARD_PUBLIC_URL) and which secret to send."""
    import asyncio

    from bot.channels.telegram import telegram_bot
    from bot.channels.telegram_poller import UPDATES
    from switchboard.keys import telegram_secret

    settings = args.services.settings
    if not (settings.telegram_token and settings.public_url):
        print("error: set TELEGRAM_BOT_TOKEN and SWITCHBOARD_PUBLIC_URL first", file=sys.stderr)
        return 2
    url = settings.public_url.rstrip("/") + "/webhooks/telegram/webhook"

    async def register() -> None:
        bot = await telegram_bot(settings)
        await bot.set_webhook(url, secret_token=telegram_secret(settings),
                              allowed_updates=UPDATES)

    asyncio.run(register())
    print(f"Telegram will post updates to {url}")
    return 0


def cmd_agents(args: argparse.Namespace) -> int:
    """Create console agents, or list them."""
    import getpass

    from handoff import agents
    from switchboard import migrate

    db = migrate.migrated_database(args.services.settings)
    if args.agents_command == "list":
        with db.reading() as session:
            for agent in agents.list_agents(session):
                role = "supervisor" if agent.supervisor else "agent"
                print(f"{agent.id:<16} {agent.display_name:<24} {role:<10} "
                      f"skills {agent.skills}, {agent.capacity} chats")
        return 0
    password = (sys.stdin.readline().rstrip("\n") if args.password_stdin
                else getpass.getpass(f"Password for {args.id}: "))
    try:
        if args.agents_command == "passwd":  # ends the agent's console sessions too
            ended = agents.change_password(db, args.services.redis, args.id, password)
            print(f"Password of {args.id} changed; {ended} console session(s) ended.")
            return 0
        with db.transaction() as session:
            agents.add_agent(session, args.id, display_name=args.name or args.id,
                             password=password, skills=args.skills.split(","),
                             capacity=args.capacity, supervisor=args.supervisor)
    except agents.AgentError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"Agent {args.id} created.")
    return 0


def cmd_keys(args: argparse.Namespace) -> int:
    """The tokens an operator hands to integrations (printed on request, never logged)."""
    from switchboard.keys import api_token, rest_token

    settings = args.services.settings
    if args.rest:
        print(rest_token(settings))
        return 0
    print(f"REST channel (Authorization: Bearer ...): {rest_token(settings)}")
    print(f"Contacts API (Authorization: Bearer ...): {api_token(settings)}")
    return 0


def _banner(settings: Settings) -> str:
    token_source = ("SWITCHBOARD_API_TOKEN" if settings.api_token
                    else settings.data_dir / "api-token")
    return "\n".join([
        "Switchboard is up.",
        f"  REST webhook: POST http://localhost:{settings.rasa_port}/webhooks/rest/webhook"
        ' {"sender": "me", "message": "hi"} with "Authorization: Bearer <switchboard keys'
        ' --rest>"',
        f"  Web chat: http://localhost:{settings.rasa_port}/webhooks/webchat/",
        "  Terminal chat: make shell (in a second terminal)",
        f"  Agent console: http://localhost:{settings.console_port}/console/" + (
            " (demo agents: tom / kestrel-tom-demo, ana / kestrel-ana-demo,"
            " sam / kestrel-sam-demo, supervisor)" if settings.demo_data else ""),
        f"  Agents work {settings.handoff_hours} ({settings.handoff_timezone}); outside those"
        " hours, or with nobody logged in, customers can leave a message",
        f"  Contacts API: http://localhost:{settings.console_port}/api/contacts"
        f" (Authorization: Bearer <token from {token_source}>)",
        "  Contact records in the terminal: .venv/bin/switchboard contacts --help",
        "  Text messages sent (one-time codes): .venv/bin/switchboard outbox",
        f"  Database: {_safe_url(settings.database_url)}",
        f"  Redis: {_safe_url(settings.effective_redis_url)}",
        "Stop with Ctrl-C.",
    ])


def _safe_url(url: str) -> str:
    """The URL without its password, for printing."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="switchboard", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="start and supervise every process (Redis if "
                              "REDIS_URL is unset, console, recorder, queue clock, actions, "
                              "Rasa)")
    run.set_defaults(func=cmd_run)

    train = commands.add_parser("train", help="train a model if its inputs changed")
    train.add_argument("--config", default=str(PROJECT_ROOT / "config.yml"))
    train.set_defaults(func=cmd_train)

    shell = commands.add_parser("shell", help="chat in the terminal (rasa shell)")
    shell.add_argument("--port", type=int, default=5006, help="port of the shell's own server")
    shell.set_defaults(func=cmd_shell)

    report = commands.add_parser("nlu-report", help="cross-validate the NLU, write reports/")
    report.add_argument("--out", default=str(PROJECT_ROOT / "reports" / "nlu"))
    report.add_argument("--folds", type=int, default=3)
    report.set_defaults(func=cmd_nlu_report)

    keys = commands.add_parser("keys", help="print the tokens integrations need")
    keys.add_argument("--rest", action="store_true",
                      help="only the REST channel's bearer token (for scripts)")
    keys.set_defaults(func=cmd_keys)

    outbox = commands.add_parser("outbox", help="SMS sent by the embedded gateway (codes masked)")
    outbox.add_argument("--to", help="only messages to this number (447700900001)")
    outbox.add_argument("--last", type=int, default=20)
    outbox.set_defaults(func=cmd_outbox)

    agents = commands.add_parser("agents", help="console agents: add, passwd, list")
    agents_sub = agents.add_subparsers(dest="agents_command", required=True)
    add = agents_sub.add_parser("add", help="create an agent (asks for the password)")
    add.add_argument("id", help="login name, e.g. ana")
    add.add_argument("--name", help="display name")
    add.add_argument("--skills", default="general",
                     help="comma-separated: billing, technical, complaints, general")
    add.add_argument("--capacity", type=int, default=3, help="chats at once")
    add.add_argument("--supervisor", action="store_true")
    add.add_argument("--password-stdin", action="store_true",
                     help="read the password from standard input (for scripts)")
    passwd = agents_sub.add_parser("passwd", help="set an agent's password (asks for it) and"
                                   " end their console sessions")
    passwd.add_argument("id", help="login name")
    passwd.add_argument("--password-stdin", action="store_true",
                        help="read the password from standard input (for scripts)")
    agents_sub.add_parser("list", help="list agents")
    agents.set_defaults(func=cmd_agents)

    webhook = commands.add_parser("telegram-webhook",
                                  help="register our Telegram webhook with Telegram")
    webhook.set_defaults(func=cmd_telegram_webhook)

    from contacts.cli import add_commands as add_contacts_commands
    from operations.capacity_cli import add_commands as add_capacity_commands
    from operations.nlu_review_cli import add_commands as add_review_commands
    from operations.report_cli import add_commands as add_report_commands

    add_contacts_commands(commands)
    add_report_commands(commands)
    add_capacity_commands(commands)
    nlu = commands.add_parser("nlu", help="the intent review loop: nlu review --since / --apply")
    add_review_commands(nlu.add_subparsers(dest="nlu_command", required=True))
    return parser


def main(argv: list[str] | None = None) -> int:
    """The command's composition root: the settings are read once, here, and every
    subcommand gets them with the clients built from them (``args.services``)."""
    args = build_parser().parse_args(argv)
    try:
        args.services = Services(load_settings())
    except ValueError as exc:  # a setting is wrong: say which, in one line, no traceback
        print(f"error: {exc}", file=sys.stderr)
        return 2
    configure_logging(args.services.settings)
    return args.func(args)


def entry_point() -> int:
    """The `switchboard` command: `... | head` ends quietly instead of with a broken-pipe
    traceback (set here, not in ``main``: tests call ``main`` inside their own process)."""
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    return main()


if __name__ == "__main__":
    sys.exit(entry_point())
