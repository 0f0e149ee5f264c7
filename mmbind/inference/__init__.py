"""mmbind.inference

Asking a trained or converted model questions, for every command that does (``eval``, ``chat``,
``serve``, ``infer``) and the lmms-eval adapter: `resolve_target` finds the model behind a run folder or a
checkpoint (`Target`) and how the run sampled videos (`video_sampling`); `Generator` renders prompts,
reads media through each modality's media loader and generates (batched greedy answers, one streamed
answer, log-likelihoods); `ContinuousBatch` (``mmbind.inference.decode_loop``) decodes step by step so that
requests join and leave a batch between steps (``serve``).

    target = resolve_target("runs/demo")
    model = mmbind.load_pretrained(target.model_dir)
    generator = Generator(model, frames=video_sampling(target, model))
    generator.answer([Query("What colour is the square?", "image", Path("square.png"))])
"""

from mmbind.inference.generation import Generator, Query, default_template
from mmbind.inference.target import Target, resolve_target, video_frames, video_sampling

__all__ = ["Generator", "Query", "Target", "default_template", "resolve_target", "video_frames",
           "video_sampling"]
