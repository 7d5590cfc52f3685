"""Platform-neutral chat layer: one command table, handlers that return neutral replies."""
