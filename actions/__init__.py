"""Switchboard's custom actions, served by the rasa_sdk action server (``python -m rasa_sdk``)."""

from switchboard.log import configure_logging

configure_logging()
