"""What our actions are built from: the action server's ``Services`` and the operator back end.

rasa_sdk constructs each Action class itself, with no argument of ours, after the server's
composition root installed its ``Services`` (actions/server.py). So an action takes them once,
when it is constructed, and passes them (or what it needs of them) down to the helpers it calls.
"""

from __future__ import annotations

import abc
import functools

from rasa_sdk import Action

from accounts.backend import AccountBackend, load_backend
from switchboard.services import Services, installed


class UsesServices:
    """Mixin for an action (or a form validation): ``services`` and ``backend``."""

    def __init__(self) -> None:
        super().__init__()
        self.services: Services = installed()

    @functools.cached_property
    def backend(self) -> AccountBackend:
        """The operator back end (``ACCOUNTS_BACKEND``), built on first use: stateless, so one
        per action does."""
        return load_backend(self.services.settings)


class ServiceAction(UsesServices, Action, abc.ABC):
    """An action using the services (abstract: rasa_sdk registers every concrete Action)."""

    @abc.abstractmethod
    def name(self) -> str: ...
