"""Scoring a test set: softmax scores averaged over a video's views, top-1 (also across datasets
through a class mapping), the confusion matrix, and the check that no score is non-finite."""
import numpy as np


def softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def video_scores(net, views, ctx, views_per_batch):
    """views (V, 3, T, S, S) -> {head: softmax averaged over the V views}."""
    sums = {}
    for start in range(0, views.shape[0], views_per_batch):
        chunk = views[start:start + views_per_batch].as_in_context(ctx)
        outputs = dict(zip(net.output_names, net(chunk)))
        for head in ("rgb", "pose"):
            if head in outputs:
                p = softmax(outputs[head].asnumpy()).sum(axis=0)
                sums[head] = sums.get(head, 0) + p
    return {k: v / views.shape[0] for k, v in sums.items()}


def top1(scores, labels, mapping=None, restricted=True):
    """Fraction correct. With a cross-dataset ``mapping`` (target -> source labels), scores are
    over the source classes and only the mapped ones compete (``restricted``), or all do."""
    if mapping is None:
        return float(np.mean(scores.argmax(axis=1) == labels))
    allowed = sorted({s for v in mapping.values() for s in v}) if restricted else \
        list(range(scores.shape[1]))
    pred = np.array(allowed)[scores[:, allowed].argmax(axis=1)]
    return float(np.mean([p in mapping[l] for p, l in zip(pred, labels)]))


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
