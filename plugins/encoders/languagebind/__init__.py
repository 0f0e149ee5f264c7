"""LanguageBind encoders (Video-LLaVA's towers): ``languagebind_image`` (a CLIP ViT, `image`) and
``languagebind_video`` (a CLIP ViT with temporal attention in every layer, `video`, `video_tower`).

Each is its own entry point; `base` holds their shared encoder class, `presets` the shared options and
geometries, `weights` the checkpoint layouts. Weights are read from local files only.
"""
