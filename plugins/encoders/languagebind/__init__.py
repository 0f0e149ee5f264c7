"""LanguageBind encoders: Video-LLaVA's towers ``languagebind_image`` (a CLIP ViT, `image`) and
``languagebind_video`` (a CLIP ViT with temporal attention in every layer, `video`, `video_tower`), and the
towers LanguageBind binds to language besides: ``languagebind_depth`` (`depth`), ``languagebind_thermal``
(`thermal`) and ``languagebind_audio`` (`audio`, log-mel filterbanks by `audio_features`).

Each is its own entry point; `base` holds their shared encoder class, `presets` the shared options and
geometries, `checkpoint_layout` the checkpoint layouts, `weights` the strict loading from them,
`float_image` the float-tensor resize / crop / normalise of depth and thermal. Weights are read from local
files only.
"""
