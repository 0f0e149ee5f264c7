"""errors.py

Typed exceptions for every error a user can cause (recipe, plugin, input, checkpoint, media, CLI).

Each carries one clear message that names the offending file, field or item. The CLI prints
`MmbindError` messages without a traceback and exits non-zero (`exit_code`).
"""

from __future__ import annotations


class MmbindError(Exception):
    """Base class of all user-facing mmbind errors."""

    exit_code: int = 1


class RecipeError(MmbindError):
    """A recipe file, override or field is invalid."""

    exit_code = 2


class PluginError(MmbindError):
    """Base class of plugin lookup and validation errors."""

    exit_code = 2


class UnknownPluginError(PluginError):
    """No plugin of that kind is registered under that name."""


class DuplicatePluginError(PluginError):
    """Two providers registered the same kind and name."""


class PluginOptionsError(PluginError):
    """A recipe's options for a part do not validate against the plugin's own schema."""


class InputError(MmbindError, ValueError):
    """Tensors passed to a model have the wrong shape, dtype or placeholder count."""


class CheckpointError(MmbindError):
    """A checkpoint directory is missing, incomplete or has mismatched weights."""


class WriteError(MmbindError):
    """An output cannot be written (disk full, quota, permission denied, read-only file system, a folder on
    the way missing or a file, a name too long); names the path and the reason, nothing is left half-written
    (`mmbind.output_files`)."""


class StorageError(CheckpointError, WriteError):
    """A run folder cannot be written (disk full, quota, permission denied); the run stays resumable."""


class ConversionError(MmbindError):
    """A checkpoint cannot be converted to or from another layout."""


class MediaError(MmbindError):
    """An image or video file is missing, corrupt, truncated or has no frames."""


class DataError(MmbindError):
    """A dataset file or sample is malformed."""


class ShardError(DataError):
    """A shard dataset cannot be read: its index (another format, not a shard index), a shard (truncated,
    failing its checksum) or a URL that cannot be reached. Unlike a bad sample it stops the run."""


class PromptError(InputError):
    """A question or prompt cannot be given to the model: its text is not valid Unicode, or it is longer
    than the model's context (`mmbind.prompting.text_guard`); names the item."""

    exit_code = 2


class NoUsableDataError(DataError):
    """Every sample of a stage's dataset is bad: nothing to train on (the stage saves no output)."""

    exit_code = 3


class UsageError(MmbindError):
    """A command-line argument is malformed."""

    exit_code = 2


class OutputFolderError(UsageError):
    """A command would write over a folder or file holding something it did not write (pass --overwrite)."""


class SweepError(MmbindError):
    """An ablation sweep file, one of its variants or its results are invalid."""

    exit_code = 2


class JudgeError(MmbindError):
    """The judge endpoint is unreachable or keeps answering errors (predictions and verdicts are kept)."""

    exit_code = 4


class TrackerError(MmbindError):
    """An experiment tracker named in ``report_to`` could not open its run (not logged in, server down)."""


class NumericsError(MmbindError):
    """The reproducible numerics mode was asked for in a process that can no longer be pinned (torch already
    started with other kernels), or runs to be compared were trained under different numerics."""

    exit_code = 2
