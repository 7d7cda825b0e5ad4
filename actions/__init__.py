"""Switchboard's custom actions, served by rasa_sdk's action app as an internal service
(``processes/action_server.py``, which configures the logging)."""
