"""First-party benchmarks read from local files (the ``mmbind_benchmarks`` hook): the Video-ChatGPT zero-shot
QA layout of MSVD-QA, MSRVTT-QA, TGIF-QA and ActivityNet-QA (`videoqa`), POPE (`pope`), a LLaVA-style
question file (`llava_qa`) and a generated dataset's held-out sets (`synth_set`)."""
