"""Switchboard's custom actions, served by rasa_sdk's action app as an internal service
(``python -m actions.server``)."""

from switchboard.log import configure_logging

configure_logging()
