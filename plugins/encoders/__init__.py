"""First-party encoder plugins."""
