"""Identity verification: one-time codes, service passwords, brute-force lockout."""
