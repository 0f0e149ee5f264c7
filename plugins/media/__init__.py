"""First-party media loaders: image and video files (the ``mmbind_media_loaders`` hook)."""
