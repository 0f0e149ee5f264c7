"""mmbind_example_encoder: a third-party plugin package for mmbind: the ``patch_mean`` encoder (any modality
of images / videos) and a new modality, 1-D ``signal``s, with its own media loader and encoder."""
