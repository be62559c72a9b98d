"""mlstack: one command from nothing to a healthy, containerised ML platform."""
