"""Action scores of both systems: softmax scores averaged over a video's views (Action
Machine's heads, ``video_scores``; queued and read apart, ``queue_video_scores`` and
``read_video_scores``, so a test loads the next video while one computes) or clips (every
action block of the soft-argmax model, ``multitask_scores``, and its Table 5 heads,
``multitask_heads``); top-1 and top-5 (also across datasets through a class mapping), per-class
and mean-class accuracy; the confusion matrix; and the check that no score is non-finite."""
import numpy as np

# the soft-argmax model's action streams: head -> the prefix of its blocks' output names
MULTITASK_STREAMS = {"pose": "pose_action", "appearance": "appearance_action"}


def softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def video_scores(net, views, ctx, views_per_batch):
    """views (V, 3, T, S, S) -> {head: softmax averaged over the V views}."""
    return read_video_scores(queue_video_scores(net, views, ctx, views_per_batch))


def queue_video_scores(net, views, ctx, views_per_batch):
    """``video_scores``' forward passes, queued on MXNet's engine and not waited for (the
    caller may load the next video meanwhile) -> (the heads' outputs of each chunk of views,
    V), for ``read_video_scores``."""
    chunks = []
    for start in range(0, views.shape[0], views_per_batch):
        chunk = views[start:start + views_per_batch].as_in_context(ctx)
        outputs = dict(zip(net.output_names, net(chunk)))
        chunks.append({h: outputs[h] for h in ("rgb", "pose") if h in outputs})
    return chunks, views.shape[0]


def read_video_scores(queued):
    """``queue_video_scores``' outputs, waited for -> {head: softmax averaged over the views}."""
    chunks, count = queued
    sums = {}
    for outputs in chunks:
        for head, out in outputs.items():
            sums[head] = sums.get(head, 0) + softmax(out.asnumpy()).sum(axis=0)
    return {k: v / count for k, v in sums.items()}


def multitask_scores(net, views, ctx, views_per_batch, poses=None):
    """views (V, 3, T, S, S) (and poses (V, T, J, 4) for an annotated pose stream), V test
    clips -> {output name: softmax averaged over the V clips} for every action block of both
    streams of the soft-argmax model and the aggregated output ("action")."""
    names = [n for n in net.output_names
             if n.startswith(tuple(MULTITASK_STREAMS.values())) or n == "action"]
    sums = {}
    for start in range(0, views.shape[0], views_per_batch):
        args = [views[start:start + views_per_batch].as_in_context(ctx)]
        if poses is not None:
            args.append(poses[start:start + views_per_batch].as_in_context(ctx))
        outputs = dict(zip(net.output_names, net(*args)))
        for name in names:
            sums[name] = sums.get(name, 0) + softmax(outputs[name].asnumpy()).sum(axis=0)
    return {k: v / views.shape[0] for k, v in sums.items()}


def multitask_heads(scores, blocks):
    """``multitask_scores``' output-name scores -> Table 5's heads: each stream's last block
    and the aggregation."""
    return {"pose": scores[f"pose_action{blocks}"],
            "appearance": scores[f"appearance_action{blocks}"], "aggregation": scores["action"]}


def best_classes(scores, k):
    """The indices of the ``k`` best classes of scores (..., C), best first; ties: the lower
    class first, as arg-max."""
    return np.argsort(-scores, axis=-1, kind="stable")[..., :k]


def hits(scores, labels, k=1, mapping=None, restricted=True):
    """(N,) bool: the label is among each video's ``k`` best classes (ties: the lower class
    first, as arg-max). With a cross-dataset ``mapping`` (target -> source labels), scores are
    over the source classes and only the mapped ones compete (``restricted``), or all do; a
    video is right when one of its k best maps to its label."""
    labels = np.asarray(labels)
    if mapping is None:
        best = best_classes(scores, k)
        return (best == labels[:, None]).any(axis=1)
    allowed = sorted({s for v in mapping.values() for s in v}) if restricted else \
        list(range(scores.shape[1]))
    best = np.array(allowed)[best_classes(scores[:, allowed], k)]
    return np.array([any(p in mapping[l] for p in row) for row, l in zip(best, labels)])


def top1(scores, labels, mapping=None, restricted=True):
    """Fraction correct (``hits`` with k = 1)."""
    return float(np.mean(hits(scores, labels, 1, mapping, restricted)))


def class_accuracy(correct, labels, classes):
    """{class name: fraction of its test videos that are right}, None for a class without a
    test video; ``correct`` from ``hits`` (top-1: ``hits(scores, labels)``)."""
    correct, labels = np.asarray(correct), np.asarray(labels)
    return {name: (float(correct[labels == c].mean()) if (labels == c).any() else None)
            for c, name in enumerate(classes)}


def head_scores(scores, labels, classes, mapping=None, restricted=True):
    """One head's test scores (N, C) -> top1, top5 (absent with 5 classes or fewer: it would
    be 1 by construction), mean_class (the mean over the classes that have test videos) and
    per_class (``class_accuracy``; with a mapping, over the target classes)."""
    right = hits(scores, labels, 1, mapping, restricted)
    out = dict(top1=float(right.mean()))
    candidates = len({s for v in mapping.values() for s in v}) if mapping and restricted \
        else scores.shape[1]
    if candidates > 5:
        out["top5"] = float(hits(scores, labels, 5, mapping, restricted).mean())
    per_class = class_accuracy(right, labels, classes)
    scored = [v for v in per_class.values() if v is not None]
    out["mean_class"] = float(np.mean(scored))
    out["per_class"] = per_class
    return out


def confusion(pred, labels, n):
    m = np.zeros((n, n), np.int64)
    np.add.at(m, (labels, pred), 1)
    return m


def check_finite(scores_or_logits, what):
    if not np.isfinite(scores_or_logits).all():
        raise FloatingPointError(f"the model produced non-finite {what}: no score is reported")


def row_name(results, name):
    """The row's name with what qualifies its numbers: a precision other than float32, and
    videos left unscored."""
    if results.get("dtype", "float32") != "float32":
        name += f" ({results['dtype']})"
    if results["videos"] < results["test_videos"]:
        name += f" (scored {results['videos']} of {results['test_videos']})"
    return name
