"""Development-only tools: the simulated home and the process harness."""
