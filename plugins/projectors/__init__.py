"""First-party projector plugins."""
