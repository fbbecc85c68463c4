"""The ``precision`` section of ``make bench`` (bench.py's docstring says what it measures):
the machine's ceilings, the models and the detector in float32 and bfloat16 / float16, and the
test protocol's views one at a time against all in one batch; and its markdown rows."""
import time

import mxnet as mx
import numpy as np

from engine.inference.precision import BFLOAT16, DTYPES, check_dtype, for_inference
from engine.metrics.scoring import video_scores
from symbols import get_model
from symbols.detector import rfcn
from tools.bench_common import LATENCY_MODELS, detector_macs, model_macs, timed


def bench_ceiling(ctx, n=2048, repeats=3, dtypes=DTYPES[:2]):
    """GFLOP/s of NumPy's float32 matrix product and of MXNet's FullyConnected per dtype."""
    rs = np.random.RandomState(0)
    a, b = rs.rand(n, n).astype(np.float32), rs.rand(n, n).astype(np.float32)
    seconds = timed(lambda: a @ b, repeats)
    rows = [dict(what="numpy SGEMM", dtype="float32", n=n, gflops=2 * n ** 3 / seconds / 1e9)]
    x, w = mx.nd.array(a, ctx), mx.nd.array(b, ctx)
    for dtype in dtypes:
        xs, ws = (x, w) if dtype == "float32" else (mx.nd.amp_cast(x, dtype=BFLOAT16),
                                                     mx.nd.amp_cast(w, dtype=BFLOAT16))
        seconds = timed(lambda: mx.nd.FullyConnected(xs, ws, num_hidden=n, no_bias=True)
                        .wait_to_read(), repeats)
        rows.append(dict(what="MXNet FullyConnected", dtype=dtype, n=n,
                         gflops=2 * n ** 3 / seconds / 1e9))
    return rows


def _forward(net, *inputs):
    return lambda: [o.wait_to_read() for o in net(*inputs)]


def runnable(dtypes, ctx):
    """-> (the dtypes ``ctx`` runs, {dtype: why not} for the others)."""
    kept, skipped = [], {}
    for dtype in dtypes:
        try:
            check_dtype(dtype, ctx, "dtype")
            kept.append(dtype)
        except ValueError as err:
            skipped[dtype] = str(err)
    return tuple(kept), skipped


def bench_precision(ctx, batches=(1, 8), repeats=2, views=30, dtypes=DTYPES[:2],
                    detector_frame=(480, 640)):
    """The precision section (bench.py's docstring). Inference builds as bench.py's
    ``bench_latency``. A dtype this machine cannot run is skipped, its reason in ``skipped``."""
    dtypes, skipped = runnable(dtypes, ctx)
    ceiling = bench_ceiling(ctx, dtypes=dtypes)
    sgemm = ceiling[0]["gflops"]
    rows, view_rows = [], []
    for name in LATENCY_MODELS:
        macs, _ = model_macs(name)
        net = get_model(name, ctx=ctx, bn_fold_time=False)
        net.hybridize(static_alloc=True, static_shape=True)
        for dtype in dtypes:
            run = for_inference(net, dtype, ctx, "dtype")
            for batch in batches:
                x = mx.nd.random.uniform(shape=(batch, 3, 8, 224, 224), ctx=ctx)
                seconds = timed(_forward(run, x), repeats)
                rows.append(dict(model=name, dtype=dtype, batch=batch, macs=macs,
                                 ms_per_clip=1000 * seconds / batch,
                                 gflops=2 * macs * batch / seconds / 1e9))
            if name == "action_machine_r18" and views:
                view_rows += bench_views(run, ctx, views, dtype)
        net = run = None  # free this model before building the next
    h, w = detector_frame
    frames = np.random.RandomState(0).randint(0, 256, (1, h, w, 3)).astype(np.uint8)
    det = rfcn.get_detector("dcn_rfcn", None, ctx)
    macs = detector_macs(*rfcn.preprocess(frames, det.cfg))
    for dtype in dtypes:
        run = for_inference(det, dtype, ctx, "dtype")
        seconds = timed(lambda: rfcn.detect(run, frames, ctx), repeats)
        rows.append(dict(model="dcn_rfcn", dtype=dtype, batch=1, macs=macs,
                         ms_per_clip=1000 * seconds, gflops=2 * macs / seconds / 1e9,
                         frame=f"{w}x{h}"))
    for row in rows:
        row["share_of_sgemm"] = row["gflops"] / sgemm
        fp32 = next(r for r in rows if r["model"] == row["model"] and r["batch"] == row["batch"]
                    and r["dtype"] == "float32")
        row["speedup"] = fp32["ms_per_clip"] / row["ms_per_clip"]
    return dict(ceiling=ceiling, models=rows, views=view_rows, skipped=skipped)


def bench_views(net, ctx, views, dtype):
    """Seconds to score one video's ``views`` views one at a time and in one batch, through
    eval_action's own ``video_scores``. One pass each, after a warm-up at batch 1 (the batch of
    all views is timed cold: its memory is planned in the pass)."""
    clips = mx.nd.random.uniform(shape=(views, 3, 8, 224, 224))
    rows = []
    for per_batch in (1, views):
        tic = time.perf_counter()
        video_scores(net, clips, ctx, per_batch)
        rows.append(dict(model="action_machine_r18", dtype=dtype, views=views,
                         views_per_batch=per_batch, seconds=time.perf_counter() - tic))
    rows[1]["speedup"] = rows[0]["seconds"] / rows[1]["seconds"]
    return rows


def markdown_precision(p):
    lines = [f"| precision {dtype} | skipped | {why} |"
             for dtype, why in p.get("skipped", {}).items()]
    sgemm = p["ceiling"][0]["gflops"]
    for row in p["ceiling"]:
        lines.append(f"| ceiling: {row['what']} | {row['n']}^3, {row['dtype']} | "
                     f"{row['gflops']:.1f} GFLOP/s ({100 * row['gflops'] / sgemm:.0f} % of "
                     f"NumPy SGEMM) |")
    for row in p["models"]:
        setting = (f"frame {row['frame']}, batch 1" if "frame" in row else
                   f"batch {row['batch']}, 8x224x224") + f", {row['dtype']}"
        lines.append(f"| precision {row['model']} | {setting}, {row['macs'] / 1e9:.2f} GMACs | "
                     f"{row['ms_per_clip']:.0f} ms/{'frame' if 'frame' in row else 'clip'} "
                     f"(x{row['speedup']:.2f} of float32, {row['gflops']:.1f} GFLOP/s, "
                     f"{100 * row['share_of_sgemm']:.0f} % of NumPy SGEMM) |")
    for row in p["views"]:
        extra = f", x{row['speedup']:.2f} of one at a time" if "speedup" in row else ""
        lines.append(f"| eval views {row['model']} | {row['views']} views, "
                     f"{row['views_per_batch']} a batch, {row['dtype']} | "
                     f"{row['seconds']:.1f} s a video{extra} |")
    return lines
