"""The container image's entry point: one image for every process, the command picks which.

    rasa         the Rasa server (channels, NLU, dialogue) on RASA_PORT, the newest model in
                 SWITCHBOARD_MODEL_DIR (baked in at /app/models, or a volume mounted there)
    actions      the action server on ACTION_SERVER_PORT (internal: set
                 ACTION_SERVER_HOST=0.0.0.0 only inside the cluster network)
    console      the agent console and the contacts API on CONSOLE_PORT (stateless: replicate
                 freely); its /metrics also reports the queue, agents and recorder lag
    recorder     the contact recorder: /health and /metrics on RECORDER_PORT (replicas share the
                 event stream partitions by lease)
    queue-clock  the queue's clock: /health and /metrics on QUEUE_CLOCK_PORT (one replica sweeps
                 at a time under a Redis lease, the others stand by)
    migrate      the database to the newest schema, and the demo subscribers and agents when
                 SWITCHBOARD_DEMO_DATA=true (a one-shot job before the others)
    anything else: the ``switchboard`` command (``agents add lee ...``, ``keys``, ``report``)

The console, the recorder and the queue clock each migrate the database on start (under its
lock). Each server is started with the command and environment the launcher gives it under
``make run`` (processes/launcher.py), so a container runs what the tests exercise; this
process is replaced by it (exec), so it receives SIGTERM from the runtime directly.
"""

from __future__ import annotations

import os
import sys

SERVERS = ("rasa", "actions", "console", "recorder", "queue-clock")


def command_for(process: str, environ: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    """The argv and environment that run ``process`` with the settings in ``environ``."""
    from processes import launcher
    from switchboard.settings import Settings

    settings = Settings.from_env(environ)
    if process == "rasa":
        managed = launcher.rasa_server(settings, settings.model_dir, None)
    elif process == "actions":
        managed = launcher.action_server(settings, None)
    elif process == "console":
        managed = launcher.console_server(settings, None)
    elif process == "recorder":
        managed = launcher.recorder(settings, None)
    elif process == "queue-clock":
        managed = launcher.queue_clock(settings, None)
    else:
        raise ValueError(f"unknown process {process!r}: one of {', '.join(SERVERS)}")
    return list(managed.command), {**environ, **managed.env}


def migrate(environ: dict[str, str]) -> None:
    from switchboard import migrate as migrations
    from switchboard.db import database
    from switchboard.settings import Settings

    settings = Settings.from_env(environ)
    migrations.upgrade(database(settings))
    if settings.demo_data:
        from accounts.demo import seed_demo
        from handoff.agents import seed_demo_agents

        seed_demo(database(settings))
        with database(settings).transaction() as session:
            seed_demo_agents(session)


def main(argv: list[str]) -> None:
    os.umask(0o077)  # as the launcher: files under the data directory are the owner's only
    environ = dict(os.environ)
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return
    if argv[0] in SERVERS:
        command, env = command_for(argv[0], environ)
        os.execve(command[0], command, env)
    if argv[0] == "migrate":
        migrate(environ)
        return
    os.execve(sys.executable, [sys.executable, "-m", "processes", *argv], environ)


if __name__ == "__main__":
    main(sys.argv[1:])
