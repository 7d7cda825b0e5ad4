"""Switchboard's processes: each one's entry point (its composition root), the ``switchboard``
command and the launcher that runs them all for ``make run``.

A root reads the settings once, builds one ``switchboard.services.Services`` and passes it
down. The processes, each replicable (README, "Production at scale"):

- ``processes.rasa_server``: Rasa with our channels, gateway and stores (``bot/``);
- ``processes.action_server``: rasa_sdk's action server (``actions/``), internal;
- ``processes.console``: the agent console and the contacts API (``handoff/console/``,
  ``contacts/api.py``);
- ``processes.recorder``: the contact recorder (``contacts/recorder.py``), one lease-holder per
  event stream partition;
- ``processes.queue_clock``: the queue's clock (``handoff/worker.py``), one sweeper at a time;
- ``processes.telegram_poller``: long-polls Telegram in local development.
"""
