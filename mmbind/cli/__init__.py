"""mmbind.cli

The ``mmbind`` command line. Each sub-command lives in its own module exposing ``register(subparsers)``.
"""
