"""The unified contact record: every contact on every channel, one history per customer."""
