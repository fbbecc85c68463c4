"""engine/metrics/scoring.py: top-1, top-5, per-class and mean-class accuracy against hand
examples, also through a cross-dataset class mapping; the soft-argmax model's heads."""
import numpy as np
import pytest

from engine.metrics.scoring import (
    best_classes,
    class_accuracy,
    head_scores,
    hits,
    multitask_heads,
    top1,
)

CLASSES = [f"c{i}" for i in range(7)]


def one_hot_ranks(order, n=7):
    """Scores whose ranking is ``order`` (best first)."""
    s = np.zeros(n)
    s[list(order)] = np.linspace(1.0, 0.5, len(order))
    return s


def test_top5_by_hand():
    scores = np.stack([one_hot_ranks([3, 1, 2, 0, 4, 5, 6]),   # label 3: top-1
                       one_hot_ranks([0, 1, 2, 3, 5, 4, 6]),   # label 5: 5th -> top-5 only
                       one_hot_ranks([0, 1, 2, 3, 4, 5, 6])])  # label 6: 7th -> neither
    labels = np.array([3, 5, 6])
    assert hits(scores, labels, 1).tolist() == [True, False, False]
    assert hits(scores, labels, 5).tolist() == [True, True, False]
    r = head_scores(scores, labels, CLASSES)
    assert r["top1"] == pytest.approx(1 / 3) and r["top5"] == pytest.approx(2 / 3)


def test_ties_go_to_the_lower_class_as_argmax():
    scores = np.array([[0.5, 0.5, 0.0, 0, 0, 0, 0]])
    assert hits(scores, [0], 1).tolist() == [True] and hits(scores, [1], 1).tolist() == [False]
    assert top1(scores, np.array([0])) == float(scores.argmax(axis=1)[0] == 0)
    # one video's ranking (demo_video.py's top 5): the same order, ties included
    p = np.array([0.1, 0.3, 0.1, 0.3, 0.2, 0.0, 0.0])
    assert best_classes(p, 5).tolist() == [1, 3, 4, 0, 2]
    assert best_classes(scores, 3).tolist() == [[0, 1, 2]]


def test_mean_class_weights_classes_not_videos():
    # class 0: 3 videos, all right; class 1: 1 video, wrong; class 2..6: no test video
    scores = np.stack([one_hot_ranks([0, 1])] * 3 + [one_hot_ranks([0, 1])])
    labels = np.array([0, 0, 0, 1])
    r = head_scores(scores, labels, CLASSES)
    assert r["top1"] == pytest.approx(0.75)
    assert r["mean_class"] == pytest.approx(0.5)  # (1 + 0) / 2, not 3 / 4
    assert r["per_class"]["c0"] == 1.0 and r["per_class"]["c1"] == 0.0
    assert r["per_class"]["c2"] is None


def test_top5_is_absent_with_five_classes_or_fewer():
    scores = np.eye(5)
    assert "top5" not in head_scores(scores, np.arange(5), CLASSES[:5])


def test_a_class_mapping_restricts_the_competing_classes():
    # target class 0 <- source {4}, target 1 <- source {5, 6}; restricted: only 4, 5, 6 compete
    mapping = {0: [4], 1: [5, 6]}
    scores = np.array([one_hot_ranks([0, 6, 4]), one_hot_ranks([1, 4, 5])])
    labels = np.array([1, 1])
    assert hits(scores, labels, 1, mapping).tolist() == [True, False]
    assert hits(scores, labels, 1, mapping, restricted=False).tolist() == [False, False]
    assert hits(scores, labels, 2, mapping).tolist() == [True, True]
    r = head_scores(scores, labels, ["a", "b"], mapping)
    assert "top5" not in r and r["per_class"] == {"a": None, "b": 0.5}


def test_class_accuracy_by_hand():
    got = class_accuracy([True, False, True, True], [2, 2, 0, 2], ["x", "y", "z"])
    assert got == {"x": 1.0, "y": None, "z": pytest.approx(2 / 3)}


def test_per_class_top1_of_scores_equals_the_confusion_diagonal_by_hand():
    """Both systems' per-class accuracy, class_accuracy(hits(...)), against an independent
    NumPy count: the diagonal of the (true, arg-max) matrix over its rows; a tie goes to the
    lower class and a class without a test video is None."""
    scores = np.array([[0.7, 0.2, 0.1, 0.0], [0.4, 0.4, 0.2, 0.0], [0.1, 0.8, 0.1, 0.0],
                       [0.3, 0.3, 0.4, 0.0], [0.2, 0.5, 0.3, 0.0], [0.6, 0.1, 0.3, 0.0],
                       [0.1, 0.1, 0.8, 0.0]])
    labels = np.array([0, 1, 1, 2, 2, 0, 2])
    names = ["a", "b", "c", "d"]
    pred = np.array([int(np.flatnonzero(row == row.max())[0]) for row in scores])
    matrix = np.zeros((4, 4), int)
    for t, p in zip(labels, pred):
        matrix[t, p] += 1
    by_hand = {n: (matrix[i, i] / matrix[i].sum() if matrix[i].sum() else None)
               for i, n in enumerate(names)}
    got = class_accuracy(hits(scores, labels), labels, names)
    assert got == by_hand == {"a": 1.0, "b": 0.5, "c": 2 / 3, "d": None}
    assert head_scores(scores, labels, names)["per_class"] == by_hand


def test_multitask_heads_are_each_streams_last_block_and_the_aggregation():
    scores = {f"{s}_action{b}": np.full(3, b) for s in ("pose", "appearance") for b in (1, 2)}
    scores["action"] = np.full(3, 9)
    heads = multitask_heads(scores, 2)
    assert list(heads) == ["pose", "appearance", "aggregation"]
    assert heads["pose"] is scores["pose_action2"] and heads["aggregation"] is scores["action"]
