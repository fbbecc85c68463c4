"""int8's automatic float32 choice (eval.int8_auto): which parts beyond the configured ones
stay float32, from a check against float32 on labelled calibration clips.

    values, thresholds, parts, trials = calibrated(net, clips, labels, int8.settings(cfg))
    # inside: ref = float32_outputs(net, check clips), before the calibration, then
    #         choose_float32(net, thresholds, check clips, their labels, tolerance, parts)

The check clips are eval.int8_check_clips of the calibration clips, evenly spaced (``spread``),
so over all the videos. Every head's top-1 on them (the fused head's too: the sum of the two
softmaxes) must stay within eval.int8_tolerance points of float32's. If the network passes with
the configured parts float32, nothing more is kept. Otherwise each candidate part
(``int8.CANDIDATES``; not the pose CNN, see there) is kept float32 alone and its disagreement
with float32 measured (the share of clips whose top-1 moves, summed over the heads, plus the
share of heat-map arg-max cells that move); the candidates are then kept float32 one by one, the
one whose float32 leaves the least disagreement first, until the check passes. The same
thresholds serve every trial, so the choice is a function of the thresholds, the clips and the
checkpoint: it is written into the cache with them (and every trial's measurement) and read
back. The float32 outputs it compares with are computed before the calibration, which leaves
MXNet 1.9.1's oneDNN unable to run a paper-size float32 graph at another shape.
"""
import logging

import mxnet as mx
import numpy as np

from engine.inference import int8
from engine.metrics.scoring import softmax

LOG = logging.getLogger(__name__)


def calibrated(net, clips, labels, wanted, log=LOG):
    """The calibration of ``net`` on ``clips`` with the settings ``wanted`` (``int8.settings``),
    and with eval.int8_auto the choice on its check clips -> (the weights as read before any
    run, thresholds, float32 parts, the check's trials)."""
    values = int8.weights(net)  # before the network runs at another shape
    check = spread(len(clips), wanted["check_clips"]) if wanted["auto"] else []
    ref = float32_outputs(net, clips[check]) if len(check) else None
    thresholds = int8.calibrate(net, clips, wanted["calibration"], wanted["float32"],
                                values=values)
    chosen, tried = [p for p in wanted["float32"] if int8.part(net, p) is not None], []
    if len(check):
        chosen, tried = choose_float32(net, thresholds, clips[check], labels[check],
                                       wanted["tolerance"], chosen, values=values, ref=ref,
                                       log=log)
    return values, thresholds, chosen, tried


def _outputs(run, names, clips, batch_size):
    """{output name: NumPy} of ``run`` over ``clips`` in batches of one shape (int8's graph is
    built for one), plus ``fused`` (the softmax sum) when both action heads are there."""
    found = {}
    for start in range(0, len(clips) - batch_size + 1, batch_size):
        out = run(mx.nd.array(clips[start:start + batch_size]))
        out = out if isinstance(out, (tuple, list)) else [out]
        for name, o in zip(names, out):
            if name in HEADS or name == "heatmaps":  # what the check compares
                found.setdefault(name, []).append(o.asnumpy())
    found = {k: np.concatenate(v) for k, v in found.items()}
    if "rgb" in found and "pose" in found:
        found["fused"] = softmax(found["rgb"]) + softmax(found["pose"])
    return found


HEADS = ("rgb", "pose", "fused", "action")  # class scores the check compares


def agreement(got, ref, labels):
    """int8 outputs ``got`` against float32's ``ref`` on labelled clips -> {head: {top1 (points,
    int8 - float32), moved (% of clips whose top-1 moves)}}, and ``keypoints``: the % of heat-map
    arg-max cells that move (the arg-max decoder's input)."""
    found = {}
    for head in HEADS:
        if head in ref:
            a, b = got[head].argmax(-1), ref[head].argmax(-1)
            found[head] = dict(top1=100 * float(np.mean(a == labels) - np.mean(b == labels)),
                               moved=100 * float(np.mean(a != b)))
    if "heatmaps" in ref:
        cells = [h.reshape(h.shape[:-2] + (-1,)).argmax(-1) for h in (got["heatmaps"],
                                                                     ref["heatmaps"])]
        found["keypoints"] = dict(moved=100 * float(np.mean(cells[0] != cells[1])))
    return found


def passes(found, tolerance):
    """Every head's top-1 within ``tolerance``."""
    return all(abs(v["top1"]) <= tolerance + 1e-9 for v in found.values() if "top1" in v)


def disagreement(found):
    return sum(v["moved"] for v in found.values())


CHECK_BATCH = 8  # clips a forward pass of the check


def spread(total, count):
    """``count`` indices (at most ``total``) evenly spaced over range(total), the first 0."""
    count = min(count, total)
    return np.arange(count) * total // count


def float32_outputs(net, clips, batch_size=CHECK_BATCH):
    """The float32 outputs the check compares with: run before the calibration, which leaves
    MXNet 1.9.1's oneDNN unable to run a paper-size float32 graph at another shape ('The size
    of NDArray doesn't match the requested MKLDNN memory desc')."""
    batch_size = min(batch_size, len(clips))
    return _outputs(net, list(net.output_names), np.asarray(clips, np.float32), batch_size)


def choose_float32(net, thresholds, clips, labels, tolerance, fixed=(), batch_size=CHECK_BATCH,
                   values=None, ref=None, log=LOG):
    """The parts to keep float32, ``fixed`` and those added so that every head's top-1 on the
    labelled ``clips`` stays within ``tolerance`` points of float32's (module docstring) ->
    (sorted parts, [(parts tried, agreement)]). ``values``: the network's weights (``weights``),
    read before the network ran at another shape; ``ref``: ``float32_outputs`` of the clips,
    made before the calibration. A set of parts whose int8 graph MXNet 1.9.1's oneDNN cannot
    run stops the check with one line: after a failed graph, the next one built in the process
    can crash it."""
    values = int8.weights(net) if values is None else values
    batch_size = min(batch_size, len(clips))
    clips = np.asarray(clips, np.float32)
    labels = np.asarray(labels)[:len(clips) // batch_size * batch_size]
    names = list(net.output_names)
    ref = float32_outputs(net, clips, batch_size) if ref is None else ref
    tried, seen = [], {}

    def check(extra):
        parts = sorted(set(fixed) | set(extra))
        if tuple(parts) in seen:
            return seen[tuple(parts)]
        seen[tuple(parts)] = found = measure(parts)
        return found

    def measure(parts):
        try:
            got = _outputs(int8.Quantized(net, thresholds, parts, values=values), names, clips,
                           batch_size)
        except RuntimeError as err:  # a graph MXNet 1.9.1's oneDNN cannot run
            raise RuntimeError(f"int8 check with float32 parts {parts or 'none'}: {err}") from None
        found = agreement(got, ref, labels)
        tried.append((parts, found))
        log.info("int8 check, float32 %s: %s", ", ".join(parts) or "none", "; ".join(
            f"{k} " + ", ".join(f"{m} {v:+.1f}" if m == "top1" else f"{m} {v:.1f} %"
                                for m, v in r.items()) for k, r in found.items()))
        return found

    candidates = [c for c in int8.CANDIDATES if int8.part(net, c) is not None and c not in fixed and
                  not any(c.startswith(f + ".") for f in fixed)]
    return search(check, candidates, fixed, tolerance, log), tried


def search(check, candidates, fixed, tolerance, log=LOG):
    """The search of ``choose_float32``: ``check(parts)`` -> agreement with those parts kept
    float32 (beyond ``fixed``) -> the sorted parts kept float32."""
    if passes(check(()), tolerance):
        return sorted(fixed)
    alone = {c: disagreement(check((c,))) for c in candidates}
    order = sorted(candidates, key=lambda c: (alone[c], candidates.index(c)))
    for n in range(1, len(order) + 1):
        if passes(check(order[:n]), tolerance):
            return sorted(set(fixed) | set(order[:n]))
    log.warning("int8: no choice of float32 parts keeps every head within %.1f points on the "
                "calibration clips; every candidate part is kept float32", tolerance)
    return sorted(set(fixed) | set(order))
