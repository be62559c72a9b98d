"""Running a stack: the engine (injected), health rules and probes, up/status/down, doctor."""
