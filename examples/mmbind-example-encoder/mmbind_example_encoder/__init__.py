"""mmbind_example_encoder: a minimal third-party encoder plugin for mmbind."""
