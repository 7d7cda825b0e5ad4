"""Operations: service reports, capacity planning, the intent review loop."""
