"""`mmbind infer`: batched answers equal one-by-one greedy answers, are written as JSON lines, a rerun skips
answered ids (and continues after an interruption), bad rows are reported by id and skipped."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mmbind.cli.main import main
from mmbind.inference import Query


def write_questions(micro: Path, path: Path) -> list[dict]:
    images = sorted((micro / "eval" / "images").glob("*.png"))[:3]
    videos = sorted((micro / "eval" / "videos").glob("*.mp4"))[:2]
    rows = [{"id": f"i{k}", "question": q, "image": str(p)} for k, (q, p) in
            enumerate(zip(["What colour is the square?", "How many?", "What shape is in the bottom left?"],
                          images))]
    rows += [{"id": f"v{k}", "question": "Which way does it move?", "video": str(p)}
             for k, p in enumerate(videos)]
    rows += [{"id": 7, "question": "Say hello."}]
    lines = [json.dumps(r) for r in rows]
    lines += ['{"id": "broken", ', json.dumps({"id": "nomedia", "question": "?", "image": "missing.png"}),
              json.dumps({"question": "no id"}), json.dumps({"id": "i0", "question": "again"})]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return rows


@pytest.mark.slow
def test_infer_answers_resumes_and_skips_bad_rows(run, micro, generator, tmp_path, capsys):
    questions, answers = tmp_path / "q.jsonl", tmp_path / "a.jsonl"
    rows = write_questions(micro, questions)
    assert main(["infer", str(run), "-i", str(questions), "-o", str(answers), "--batch-size", "4",
                 "--max-new-tokens", "6"]) == 0
    err = capsys.readouterr().err
    for reason in ("line 7: malformed JSON", "nomedia:", "line 9: no id", "i0: duplicate id"):
        assert reason in " ".join(err.split()), reason
    got = {r["id"]: r["answer"] for r in map(json.loads, answers.read_text().splitlines())}
    assert sorted(got) == sorted(str(r["id"]) for r in rows)
    for row in rows:
        modality = "image" if "image" in row else "video" if "video" in row else None
        query = Query(row["question"], modality, Path(row[modality]) if modality else None)
        assert got[str(row["id"])] == generator.answer([query], max_new_tokens=6, batch_size=1)[0]

    # an interrupted run: keep two answers and a torn line; the rerun answers only the rest
    kept = answers.read_text().splitlines()[:2]
    answers.write_text("\n".join(kept) + '\n{"id": "v1", "ans', encoding="utf-8")
    assert main(["infer", str(run), "-i", str(questions), "-o", str(answers), "--max-new-tokens", "6"]) == 0
    assert "2 already in" in " ".join(capsys.readouterr().out.split())
    ids = [json.loads(line)["id"] for line in answers.read_text().splitlines() if line.endswith("}")]
    assert sorted(ids) == sorted(str(r["id"]) for r in rows)
