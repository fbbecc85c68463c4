"""plots: the confusion matrix and training curves as PNGs, and the numbers behind them against
hand-made examples."""
import gc
import json
import os
import re

import cv2
import numpy as np
import pytest
from matplotlib.figure import Figure

from engine.views.plots import (
    confusion_figure,
    curves,
    read_metrics,
    row_normalise,
    training_curves,
)


def read_png(path):
    image = cv2.imread(path)
    assert image is not None, path
    h, w, c = image.shape
    assert c == 3 and 300 <= h <= 4000 and 300 <= w <= 4000, image.shape
    return image


def random_confusion(n, seed):
    rng = np.random.RandomState(seed)
    matrix = rng.poisson(0.3, (n, n)) + np.diag(rng.randint(0, 20, n))
    matrix[n // 2] = 0  # a class with no test video
    return matrix


def test_row_normalise_by_hand_with_an_empty_row():
    matrix = np.array([[2, 0, 2], [0, 0, 0], [1, 3, 0]])
    with np.errstate(all="raise"):
        share = row_normalise(matrix)
    np.testing.assert_allclose(share, [[0.5, 0, 0.5], [0, 0, 0], [0.25, 0.75, 0]])
    assert share.dtype == np.float64 and matrix.dtype != np.float64  # input left as it was


@pytest.mark.parametrize("n", [10, 60])
def test_confusion_figure_is_a_png_that_shows_the_matrix(tmp_path, n):
    classes = [f"class {i} with a long name" for i in range(n)]
    a, b = str(tmp_path / "a.png"), str(tmp_path / "b.png")
    confusion_figure(random_confusion(n, 0), classes, a, title=f"{n} classes")
    confusion_figure(random_confusion(n, 1), classes, b)
    image_a, image_b = read_png(a), read_png(b)
    assert image_a.shape == image_b.shape
    assert np.abs(image_a.astype(int) - image_b).mean() > 0.5
    assert sorted(os.listdir(tmp_path)) == ["a.png", "b.png"]  # no temporary left behind


def test_confusion_figure_overwrites_and_rejects_a_wrong_shape(tmp_path):
    path = str(tmp_path / "c.png")
    confusion_figure(np.eye(10, dtype=int), [str(i) for i in range(10)], path)
    first = read_png(path)
    confusion_figure(np.ones((10, 10), int), [str(i) for i in range(10)], path)
    assert not np.array_equal(first, read_png(path))
    with pytest.raises(ValueError, match=r"\(3, 3\), not \(3, 4\)"):
        confusion_figure(np.ones((3, 4)), ["a", "b", "c"], path)


def test_figures_are_freed_after_each_call(tmp_path):
    def figures():
        gc.collect()
        return sum(isinstance(o, Figure) for o in gc.get_objects())
    confusion_figure(np.eye(10, dtype=int), [str(i) for i in range(10)], str(tmp_path / "c.png"))
    before = figures()
    for _ in range(3):
        confusion_figure(np.eye(10, dtype=int), [str(i) for i in range(10)],
                         str(tmp_path / "c.png"))
    # no more than before (figures other tests left for the collector may go meanwhile)
    assert figures() <= before


RECORDS = [  # 4 steps an epoch, a step line every 2 steps; loss_pose only in the second epoch
    dict(kind="step", epoch=0, step=2, loss=3.0, lr=0.1),
    dict(kind="step", epoch=0, step=4, loss=2.5, lr=0.1),
    dict(kind="epoch", epoch=0, lr=0.1, seconds=12.0, unreadable=0, loss_rgb=2.0,
         train_rgb_top1=0.25),
    dict(kind="step", epoch=1, step=6, loss=2.0, lr=0.01),
    dict(kind="step", epoch=1, step=8, loss=1.5, lr=0.01),
    dict(kind="epoch", epoch=1, lr=0.01, seconds=11.0, unreadable=1, loss_rgb=1.0, loss_pose=0.5,
         train_rgb_top1=0.75),
]


def test_curves_by_hand():
    series = curves(RECORDS)
    assert sorted(series) == ["loss", "loss_pose", "loss_rgb", "lr", "train_rgb_top1"]
    assert series["loss"] == ([0.5, 1.0, 1.5, 2.0], [3.0, 2.5, 2.0, 1.5])
    assert series["loss_rgb"] == ([1.0, 2.0], [2.0, 1.0])
    assert series["loss_pose"] == ([2.0], [0.5])
    assert series["train_rgb_top1"] == ([1.0, 2.0], [0.25, 0.75])
    assert series["lr"] == ([1.0, 2.0], [0.1, 0.01])


def test_curves_steps_per_epoch_given_or_estimated():
    steps = [dict(kind="step", epoch=0, step=s, loss=1.0) for s in (2, 4)]
    # 5 steps an epoch and the epoch's last step not logged: the estimate can only say 4
    assert curves(steps)["loss"][0] == [0.5, 1.0]
    assert curves(steps, steps_per_epoch=5)["loss"][0] == [0.4, 0.8]
    # ... but a later epoch's logged last step (10 = 2 x 5) pins it
    more = steps + [dict(kind="step", epoch=1, step=s, loss=1.0) for s in (6, 8, 10)]
    assert curves(more)["loss"][0] == [0.4, 0.8, 1.2, 1.6, 2.0]
    assert curves([]) == {}


def write_lines(path, lines, end="\n"):
    path.write_text("\n".join(lines) + end)
    return str(path)


def test_read_metrics_drops_only_a_torn_last_line(tmp_path):
    lines = [json.dumps(r) for r in RECORDS[:3]]
    torn = write_lines(tmp_path / "torn.jsonl", lines + ['{"kind": "step", "epo'], end="")
    assert read_metrics(torn) == RECORDS[:3]
    bad = write_lines(tmp_path / "bad.jsonl", lines[:1] + ["{oops"] + lines[1:])
    with pytest.raises(ValueError, match="bad.jsonl: line 2 is not JSON"):
        read_metrics(bad)


def test_training_curves_from_a_torn_log(tmp_path):
    lines = [json.dumps(r) for r in RECORDS]
    metrics = write_lines(tmp_path / "metrics.jsonl", lines + ['{"kind": "st'], end="")
    out = str(tmp_path / "curves.png")
    training_curves(metrics, out)
    read_png(out)
    assert sorted(os.listdir(tmp_path)) == ["curves.png", "metrics.jsonl"]


def test_training_curves_of_one_epoch_without_steps_or_accuracy(tmp_path):
    one = dict(kind="epoch", epoch=0, lr=0.001, seconds=3.0, unreadable=0, loss_kps=0.02,
               loss_heatmap=0.01, loss_offset=0.03)
    metrics = write_lines(tmp_path / "metrics.jsonl", [json.dumps(one)])
    training_curves(metrics, str(tmp_path / "curves.png"))
    read_png(str(tmp_path / "curves.png"))


@pytest.mark.parametrize("lines", [[], [json.dumps(RECORDS[0])]])
def test_training_curves_without_an_epoch_record_names_the_file(tmp_path, lines):
    metrics = write_lines(tmp_path / "metrics.jsonl", lines)
    with pytest.raises(ValueError, match=re.escape(f"{metrics}: no epoch record")):
        training_curves(metrics, str(tmp_path / "curves.png"))
    assert not os.path.exists(tmp_path / "curves.png")
