"""First-party LLM backend plugins."""
