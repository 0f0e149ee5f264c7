"""lmms-eval evaluates an mmbind run through ``--model mmbind`` (found through lmms-eval's own entry-point
group): its batched answers equal mmbind's one-by-one greedy answers (cut at the task's ``until``), and its
multiple-choice scores are `Generator.loglikelihood`'s (negated: lmms-eval ranks by loss), which itself
equals a log-softmax computed here from the model's logits. The tasks are defined from local files the
test writes (no hub access).

lmms-eval runs from ``.venv-lmms`` (``make lmms``; ``make test`` builds it): lmms-eval pins packages that
mmbind's own environment keeps newer.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import torch

from mmbind.errors import InputError
from mmbind.inference import Query
from mmbind.prompting import tokenize_prompt

ROOT = Path(__file__).resolve().parents[2]
LMMS_PYTHON = ROOT / ".venv-lmms" / "bin" / "python"
MAX_NEW_TOKENS = 6

UTILS = '''
from PIL import Image


def doc_to_visual(doc):
    if doc.get("image"):
        return [Image.open(doc["image"])]  # a PIL image, as hub datasets give them
    return [doc["video"]] if doc.get("video") else []  # a path, as video tasks give them


def doc_to_text(doc, lmms_eval_specific_kwargs=None):
    return doc["question"]


def process_results(doc, results):
    return {"exact_match": float(results[0].strip().lower() == doc["answer"])}
'''

OPEN_TASK = '''
task: mmbind_local_open
dataset_path: json
dataset_kwargs:
  data_files: {{test: {docs}}}
test_split: test
output_type: generate_until
doc_to_visual: !function utils.doc_to_visual
doc_to_text: !function utils.doc_to_text
doc_to_target: answer
generation_kwargs:
  max_new_tokens: {max_new_tokens}
  until: ["{stop}"]
  temperature: 0
  do_sample: false
process_results: !function utils.process_results
metric_list:
  - metric: exact_match
    aggregation: mean
    higher_is_better: true
'''

CHOICE_TASK = '''
task: mmbind_local_choice
dataset_path: json
dataset_kwargs:
  data_files: {{test: {docs}}}
test_split: test
output_type: multiple_choice
doc_to_visual: !function utils.doc_to_visual
doc_to_text: !function utils.doc_to_text
doc_to_choice: ["yes", "no"]
doc_to_target: choice
metric_list:
  - metric: acc
'''


def docs(micro: Path) -> list[dict]:
    images = sorted((micro / "eval" / "images").glob("*.png"))[:3]
    videos = sorted((micro / "eval" / "videos").glob("*.mp4"))[:2]
    yes_no = ("yes", "no")
    rows = [{"id": f"i{k}", "question": q, "image": str(p), "video": "", "answer": "red",
             "choice": yes_no[k % 2]}
            for k, (q, p) in enumerate(zip(["What colour is the square?", "How many shapes are there?",
                                            "Is there a circle?"], images))]
    rows += [{"id": f"v{k}", "question": "Which way does it move?", "image": "", "video": str(p),
              "answer": "left", "choice": yes_no[k % 2]} for k, p in enumerate(videos)]
    rows += [{"id": "t0", "question": "Say hello.", "image": "", "video": "", "answer": "hello",
              "choice": "yes"}]
    return rows


def query(doc: dict) -> Query:
    from PIL import Image

    if doc["image"]:
        return Query(doc["question"], "image", item=Image.open(doc["image"]).convert("RGB"))
    if doc["video"]:
        return Query(doc["question"], "video", Path(doc["video"]))
    return Query(doc["question"])


def samples(out: Path, task: str) -> list[dict]:
    files = sorted(out.rglob(f"*samples_{task}*.jsonl"))
    assert files, f"no samples of {task} under {out}: {sorted(p.name for p in out.rglob('*'))}"
    return [json.loads(line) for line in files[-1].read_text(encoding="utf-8").splitlines() if line.strip()]


def stop_word(answers: list[str]) -> str:
    """A word some answer has after its first: a stop string that cuts at least one answer."""
    return next(a.split()[1] for a in answers if len(a.split()) > 1)


@pytest.fixture(scope="module")
def lmms_run(run, micro, generator, tmp_path_factory):
    """One lmms-eval run of both local tasks on the test run: (output folder, docs, stop string)."""
    if not LMMS_PYTHON.exists():
        pytest.skip("lmms-eval's environment is missing: run `make lmms` (make test builds it)")
    tasks = tmp_path_factory.mktemp("lmms_tasks")
    rows = docs(micro)
    stop = stop_word(generator.answer([query(d) for d in rows], max_new_tokens=MAX_NEW_TOKENS, batch_size=1))
    (tasks / "docs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    (tasks / "utils.py").write_text(UTILS, encoding="utf-8")
    open_task = OPEN_TASK.format(docs=tasks / "docs.jsonl", max_new_tokens=MAX_NEW_TOKENS, stop=stop)
    (tasks / "open.yaml").write_text(open_task, encoding="utf-8")
    (tasks / "choice.yaml").write_text(CHOICE_TASK.format(docs=tasks / "docs.jsonl"), encoding="utf-8")
    out = tmp_path_factory.mktemp("lmms_out")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", HF_HOME=str(out / "hf_home"),
               TOKENIZERS_PARALLELISM="false")
    command = [str(LMMS_PYTHON), "-m", "lmms_eval", "--model", "mmbind",
               "--model_args", f"pretrained={run},max_new_tokens={MAX_NEW_TOKENS}",
               "--tasks", "mmbind_local_open,mmbind_local_choice", "--include_path", str(tasks),
               "--batch_size", "4", "--device", "cpu", "--log_samples", "--output_path", str(out)]
    proc = subprocess.run(command, cwd=out, env=env, capture_output=True, text=True, timeout=600)
    # lmms-eval exits 0 after an error during evaluation: its results file tells success
    assert proc.returncode == 0 and list(out.rglob("*results.json")), proc.stderr[-6000:]
    log = proc.stdout + proc.stderr
    assert f"mmbind: {len(rows)} requests in 2 batches of up to 4" in log, log[-3000:]
    return out, rows, stop


@pytest.mark.slow
def test_lmms_eval_answers_equal_mmbind_greedy_answers(lmms_run, generator):
    out, rows, stop = lmms_run
    got = {s["doc_id"]: s for s in samples(out, "mmbind_local_open")}
    assert sorted(got) == list(range(len(rows)))
    cut = 0
    for doc_id, doc in enumerate(rows):
        full = generator.answer([query(doc)], max_new_tokens=MAX_NEW_TOKENS, batch_size=1)[0]
        expected = full.split(stop, 1)[0].strip()
        cut += expected != full
        response = got[doc_id]["filtered_resps"]
        assert (response[0] if isinstance(response, list) else response) == expected, doc["id"]
    assert cut, "the stop string never applied: the test would not see `until` ignored"


@pytest.mark.slow
def test_lmms_eval_choices_use_mmbind_loglikelihoods(lmms_run, generator):
    out, rows, _ = lmms_run
    got = {s["doc_id"]: s for s in samples(out, "mmbind_local_choice")}
    assert sorted(got) == list(range(len(rows)))
    for doc_id, doc in enumerate(rows):
        # lmms-eval ranks choices by the smallest value (a loss): the adapter logs -log p
        logged = [(-float(nll), greedy == "True") for nll, greedy in got[doc_id]["filtered_resps"]]
        ours = [generator.loglikelihood(query(doc), " " + choice) for choice in ("yes", "no")]
        assert [g for _, g in logged] == [g for _, g in ours], doc["id"]
        assert [ll for ll, _ in logged] == pytest.approx([ll for ll, _ in ours], abs=1e-4), doc["id"]
        best = max(range(2), key=lambda k: ours[k][0])
        assert got[doc_id]["acc"] == float(("yes", "no")[best] == doc["choice"]), doc["id"]


def test_loglikelihood_equals_a_log_softmax_of_the_logits(generator, micro):
    doc = docs(micro)[0]
    q = query(doc)
    continuation = " red square"
    score, greedy = generator.loglikelihood(q, continuation)

    model, tokenizer = generator.model, generator.tokenizer
    placeholders = model.config.placeholder_ids
    prompt = generator.prompt(q)
    head = tokenize_prompt(tokenizer, prompt, placeholders)
    full = tokenize_prompt(tokenizer, prompt + continuation, placeholders)
    ids = torch.tensor([full])
    with torch.no_grad():
        logits = model(ids, torch.ones_like(ids), media={"image": generator.query_pixels(q)[None]}).logits[0]
    n = len(full) - len(head)  # media expand the sequence before the text: the continuation is its tail
    logprobs = torch.log_softmax(logits[-n - 1:-1].double(), dim=-1)
    targets = torch.tensor(full[-n:])
    assert score == pytest.approx(float(logprobs[torch.arange(n), targets].sum()), abs=1e-4)
    assert greedy == bool((logprobs.argmax(-1) == targets).all())


def test_a_continuation_that_adds_no_token_is_refused(generator):
    with pytest.raises(InputError, match="adds no token"):
        generator.loglikelihood(Query("Say hello."), "")
