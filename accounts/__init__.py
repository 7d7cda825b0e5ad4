"""The operator back end the assistant reads and changes accounts through (and complaints)."""
