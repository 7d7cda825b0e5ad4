"""Shared foundations every Switchboard process imports: settings, logging, Redis, the launcher."""
