"""Human handoff: the agent queue and conversation ownership in Redis (the console comes next)."""
