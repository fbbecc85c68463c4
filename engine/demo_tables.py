"""The tables `make demo` prints: top-1 per row (one seed, or mean +- std over seeds with paired
differences between rows), and the person / object shares of the RGB head's CAM mass.

With one seed, differences between rows are tested over the test videos instead (McNemar's exact
test on the videos one row gets right and the other wrong, from each run's per_video.jsonl).
Pure functions of the results, so the numbers and their formatting are tested apart from training.
Accuracies are fractions in the inputs and percentages in the tables.
"""
import math

import numpy as np
from scipy import stats

HEADS = ("rgb", "pose", "fused")


def table(rows, title="synthetic xview3 (test view unbiased)"):
    """One seed: rows [(name, eval_action results)] -> markdown, RGB and Pose / Fused top-1 %."""
    lines = [f"| {title} | RGB | Pose / Fused |", "| --- | ---: | ---: |"]
    for name, r in rows:
        t = r["top1"]
        pose = f"{100 * t['pose']:.1f} / {100 * t['fused']:.1f}" if "pose" in t else "-"
        lines.append(f"| {name} | {100 * t['rgb']:.1f} | {pose} |")
    return "\n".join(lines)


def mean_std(values):
    """-> (mean, sample standard deviation (ddof 1); NaN for one value)."""
    v = np.asarray(values, np.float64)
    return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else math.nan


def paired(a, b, level=0.95):
    """Paired comparison of two rows over the same seeds (a[i] and b[i] from seed i): the mean
    difference a - b, its standard error, Student's t with n - 1 degrees of freedom and whether
    it is beyond noise (two-sided, at ``level``). -> dict(diff, se, t, n, beyond); with fewer
    than two seeds, or differences that are all equal to zero, se / t are NaN / not beyond."""
    d = np.asarray(a, np.float64) - np.asarray(b, np.float64)
    n = len(d)
    if n < 2:
        return dict(diff=float(d.mean()) if n else math.nan, se=math.nan, t=math.nan, n=n,
                    beyond=False)
    se = float(d.std(ddof=1) / math.sqrt(n))
    diff = float(d.mean())
    if se == 0:
        return dict(diff=diff, se=0.0, t=math.nan, n=n, beyond=diff != 0)
    t = diff / se
    critical = float(stats.t.ppf(0.5 + level / 2, n - 1))
    return dict(diff=diff, se=se, t=t, n=n, beyond=abs(t) > critical)


def columns(seed_rows):
    """[[(name, results)] per seed] -> {(name, head): [top-1 fraction per seed]} in row order."""
    out = {}
    for rows in seed_rows:
        for name, r in rows:
            for head in HEADS:
                if head in r["top1"]:
                    out.setdefault((name, head), []).append(r["top1"][head])
    return out


def seeds_table(seed_rows, title):
    """Several seeds: mean +- std of each row's top-1 (%), and the seeds' count."""
    cols = columns(seed_rows)
    n = len(seed_rows)
    names = [name for name, _ in seed_rows[0]]

    def cell(name, head):
        if (name, head) not in cols:
            return "-"
        m, s = mean_std(100 * np.asarray(cols[(name, head)]))
        return f"{m:.1f} +- {s:.1f}" if n > 1 else f"{m:.1f}"
    lines = [f"| {title} ({n} seeds, mean +- std) | RGB | Pose | Fused |",
             "| --- | ---: | ---: | ---: |"]
    lines += [f"| {name} | {cell(name, 'rgb')} | {cell(name, 'pose')} | {cell(name, 'fused')} |"
              for name in names]
    return "\n".join(lines)


def comparisons_table(seed_rows, pairs, level=0.95):
    """Paired differences over seeds (%): ``pairs`` [((name, head), (name, head))] -> markdown
    with the mean difference, its standard error, t and whether it is beyond noise."""
    cols = columns(seed_rows)
    lines = [f"| paired over seeds (a - b, top-1 %) | diff | s.e. | t | beyond noise "
             f"({100 * level:.0f} %) |", "| --- | ---: | ---: | ---: | --- |"]
    for a, b in pairs:
        if a not in cols or b not in cols:
            continue
        p = paired(100 * np.asarray(cols[a]), 100 * np.asarray(cols[b]), level)
        verdict = "yes" if p["beyond"] else ("no" if p["n"] > 1 else "needs >= 2 seeds")
        se = "-" if math.isnan(p["se"]) else f"{p['se']:.1f}"
        t = "-" if math.isnan(p["t"]) else f"{p['t']:.2f}"
        lines.append(f"| {a[0]} {a[1]} - {b[0]} {b[1]} | {p['diff']:+.1f} | {se} | {t} | "
                     f"{verdict} |")
    return "\n".join(lines)


def cam_table(rows, title="CAM mass of the RGB head, test view 3"):
    """rows [(name, ``visualize.cam_mass_of_videos`` dict)] -> markdown: the share (%) of the
    positive CAM mass inside the person box / the scene object's box for the ground-truth class
    and the predicted class, beside a uniform map's shares (the boxes' areas in the crop)."""
    def pair(s):
        return f"{100 * s['person']:.1f} / {100 * s['object']:.1f}"
    lines = [f"| {title} | GT class: person / object | predicted: person / object | "
             f"uniform map: person / object | videos |", "| --- | ---: | ---: | ---: | ---: |"]
    for name, r in rows:
        scored = r["gt"]["scored"] if r["gt"]["scored"] == r["pred"]["scored"] else \
            f"{r['gt']['scored']} (GT) / {r['pred']['scored']} (predicted)"
        lines.append(f"| {name} | {pair(r['gt'])} | {pair(r['pred'])} | {pair(r['uniform'])} | "
                     f"scored {scored} of {r['gt']['total']} |")
    return "\n".join(lines)


def mcnemar(right_a, right_b):
    """McNemar's exact test of two classifiers on the same videos (booleans, right or wrong):
    only the discordant videos count; under equal accuracy each is a's with probability 1/2.
    -> dict(a_only, b_only, p: two-sided binomial p-value; 1.0 when none is discordant)."""
    a, b = np.asarray(right_a, bool), np.asarray(right_b, bool)
    if a.shape != b.shape:
        raise ValueError(f"McNemar needs the same videos: {a.shape} vs {b.shape}")
    a_only, b_only = int((a & ~b).sum()), int((b & ~a).sum())
    n = a_only + b_only
    p = 1.0 if n == 0 else float(stats.binomtest(a_only, n, 0.5).pvalue)
    return dict(a_only=a_only, b_only=b_only, p=p)


def right_per_video(results, head):
    """{video id: whether ``head`` got it right} from results with a ``per_video`` list."""
    return {v["id"]: v[head] == v["label"] for v in results["per_video"]}


def videos_table(rows, pairs, level=0.95):
    """One seed: paired differences over the test videos (McNemar) -> markdown."""
    named = dict(rows)
    lines = [f"| paired over the test videos (a - b, top-1 %) | diff | a only / b only | p | "
             f"beyond noise ({100 * level:.0f} %) |", "| --- | ---: | ---: | ---: | --- |"]
    for (na, ha), (nb, hb) in pairs:
        if na not in named or nb not in named or "per_video" not in named[na] \
                or "per_video" not in named[nb]:
            continue
        ra, rb = right_per_video(named[na], ha), right_per_video(named[nb], hb)
        ids = sorted(set(ra) & set(rb))
        m = mcnemar([ra[i] for i in ids], [rb[i] for i in ids])
        diff = 100 * (m["a_only"] - m["b_only"]) / max(len(ids), 1)
        lines.append(f"| {na} {ha} - {nb} {hb} | {diff:+.1f} | {m['a_only']} / {m['b_only']} | "
                     f"{m['p']:.3f} | {'yes' if m['p'] < 1 - level else 'no'} |")
    return "\n".join(lines)
