"""The sweep's table maths and files on hand-made results: mean and sample std over seeds, metric paths
with ``*`` averaging, partial sweeps (n < seeds), and the Markdown, CSV, JSON and PNG written from them."""

from __future__ import annotations

import csv
import json
import math
import struct

import pytest

from mmbind.ablate import Cell, MetricSpec, ResultTable, default_metrics, metric_value
from mmbind.ablate.chart import write_chart
from mmbind.ablate.report import format_cell, markdown, rich_table, write_reports
from mmbind.errors import SweepError

OPEN = MetricSpec(key="video_open.overall.accuracy", label="video QA")
COUNT = MetricSpec(key="video_open.overall.n", percent=False)
POPE = MetricSpec(key="image_pope.*.f1", label="image POPE F1")


def test_cell_mean_and_sample_std():
    cell = Cell((0.5, 0.7, 0.9))
    assert cell.n == 3 and cell.mean == pytest.approx(0.7) and cell.std == pytest.approx(0.2)  # n - 1
    assert Cell((0.25, 0.75)).std == pytest.approx(math.sqrt(0.125))
    assert (Cell((0.4,)).mean, Cell((0.4,)).std) == (0.4, 0.0)
    assert math.isnan(Cell(()).mean) and math.isnan(Cell(()).std)


def test_format_cell():
    assert format_cell(Cell((0.5, 0.7, 0.9)), OPEN, 3) == "70.0 ± 20.0"
    assert format_cell(Cell((0.5, 0.7)), OPEN, 3) == "60.0 ± 14.1 (n=2)"
    assert format_cell(Cell((12.0, 14.0, 16.0)), COUNT, 3) == "14.000 ± 2.000"
    assert format_cell(Cell(()), OPEN, 3) == "-"


def test_metric_paths():
    metrics = {"random": {"f1": 0.8, "n": 4}, "popular": {"f1": 0.6, "n": 4},
               "adversarial": {"f1": 0.4, "n": 4}}
    assert metric_value(metrics, ["popular", "f1"], "x") == 0.6
    assert metric_value(metrics, ["*", "f1"], "x") == pytest.approx(0.6)
    by_type = {"by_type": {"a": {"accuracy": 1.0}, "b": {"accuracy": 0.0}}}
    assert metric_value(by_type, ["by_type", "*", "accuracy"], "x") == 0.5
    with pytest.raises(SweepError, match=r"^run: metric m: s.random: no 'f2' here \(there are: f1, n\)$"):
        metric_value(metrics, ["random", "f2"], "run: metric m: s")
    with pytest.raises(SweepError, match=r"^w.random: not a number but dict$"):
        metric_value(metrics, ["random"], "w")
    with pytest.raises(SweepError, match=r"^w.random.f1: 'x' cannot be looked up in a float$"):
        metric_value(metrics, ["random", "f1", "x"], "w")
    with pytest.raises(SweepError, match=r"^w: '\*' found nothing to average$"):
        metric_value({}, ["*", "f1"], "w")


def test_default_metrics_are_each_sets_headline():
    got = default_metrics({"image_open": "open", "video_pope": "pope"})
    assert [(m.key, m.label) for m in got] == [("image_open.overall.accuracy", "image_open accuracy"),
                                               ("video_pope.*.accuracy", "video_pope accuracy")]


@pytest.fixture
def table() -> ResultTable:
    """Three seeds; variant b's seed 2 missing (an unfinished run); POPE never evaluated for c."""
    t = ResultTable("toy", [0, 1, 2], {"a": "united", "b": "separated MAE", "c": "c"}, [OPEN, POPE])
    t.values = {
        "a": {OPEN.key: {0: 0.5, 1: 0.7, 2: 0.9}, POPE.key: {0: 0.8, 1: 0.8, 2: 0.8}},
        "b": {OPEN.key: {0: 0.25, 1: 0.75}, POPE.key: {0: 0.6, 1: 0.7}},
        "c": {OPEN.key: {1: 0.1}},
    }
    return t


def test_markdown(table):
    assert markdown(table).splitlines() == [
        "## toy",
        "",
        "| variant | video QA | image POPE F1 |",
        "|---|---:|---:|",
        "| united | 70.0 ± 20.0 | 80.0 ± 0.0 |",
        "| separated MAE | 50.0 ± 35.4 (n=2) | 65.0 ± 7.1 (n=2) |",
        "| c | 10.0 ± 0.0 (n=1) | - |",
        "",
        "Mean ± sample standard deviation over seeds 0, 1, 2. Scores x100. "
        "Metrics: video QA = `video_open.overall.accuracy`; image POPE F1 = `image_pope.*.f1`.",
    ]


def test_rich_table(table):
    rendered = rich_table(table)
    assert [c.header for c in rendered.columns] == ["variant", "video QA", "image POPE F1"]
    assert list(rendered.columns[1].cells) == ["70.0 ± 20.0", "50.0 ± 35.4 (n=2)", "10.0 ± 0.0 (n=1)"]


def test_files_written(table, tmp_path):
    files = write_reports(table, tmp_path / "out")
    rows = list(csv.DictReader(files["csv"].open()))
    assert [(r["variant"], r["metric"]) for r in rows] == [
        ("a", OPEN.key), ("a", POPE.key), ("b", OPEN.key), ("b", POPE.key), ("c", OPEN.key), ("c", POPE.key)]
    first = rows[0]
    assert (first["label"], first["metric_label"], first["n"]) == ("united", "video QA", "3")
    assert (float(first["mean"]), float(first["std"])) == (pytest.approx(0.7), pytest.approx(0.2))
    assert [float(first[f"seed_{s}"]) for s in (0, 1, 2)] == [0.5, 0.7, 0.9]  # raw values, not x100
    assert (rows[2]["n"], rows[2]["seed_2"]) == ("2", "")  # the missing seed stays empty
    assert (rows[5]["n"], rows[5]["mean"], rows[5]["std"]) == ("0", "", "")
    saved = json.loads(files["json"].read_text())
    assert saved["summary"]["b"][OPEN.key] == {"mean": 0.5, "std": pytest.approx(math.sqrt(0.125)), "n": 2}
    assert saved["summary"]["c"][POPE.key] == {"mean": None, "std": None, "n": 0}
    assert saved["values"]["a"][OPEN.key] == {"0": 0.5, "1": 0.7, "2": 0.9}
    assert files["markdown"].read_text() == markdown(table)


def test_chart_is_a_png(table, tmp_path):
    path = write_chart(table, tmp_path / "chart" / "results.png")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])  # IHDR
    assert width > height > 300


def test_visual_tokens_column_and_chart(table, tmp_path, monkeypatch):
    from mmbind.ablate.chart import write_tokens_chart

    table.tokens = {"a": {"video": 80}, "b": {"video": 16}}
    assert markdown(table).splitlines()[2] == "| variant | video QA | image POPE F1 |"  # only when asked
    table.show_tokens = True
    lines = markdown(table).splitlines()
    assert lines[2] == "| variant | video tokens | video QA | image POPE F1 |"
    assert lines[4].startswith("| united | 80 | 70.0 ± 20.0 |") and lines[6].startswith("| c | - | 10.0")
    drawn = []
    import matplotlib.axes

    real = matplotlib.axes.Axes.errorbar

    def spy(self, x, y, *args, **kwargs):
        drawn.append((kwargs.get("label"), list(x), [round(v, 6) for v in y]))
        return real(self, x, y, *args, **kwargs)

    monkeypatch.setattr(matplotlib.axes.Axes, "errorbar", spy)
    path = write_tokens_chart(table, {"a": "mlp", "b": "mlp", "c": None}, "video", OPEN, tmp_path / "t.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert drawn == [("mlp", [16, 80], [50.0, 70.0])]  # c has no tokens: left out; sorted by tokens
    assert write_tokens_chart(table, {}, "image", OPEN, tmp_path / "none.png") is None
