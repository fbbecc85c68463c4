"""The tables `make demo` prints: top-1 per row (one seed, or mean +- std over seeds), the paper's
claims tested between rows, and the person / object shares of the RGB head's CAM mass.

The paper's claims, each "a over b" between two rows' heads (``claim``): the difference with its
95 % interval over the seeds (paired by seed: Student's t) when there are two or more, over the
test videos otherwise, and always also over the test videos (per video, the share of seeds that
got it right; with one seed McNemar's exact test), from each run's per_video.jsonl.
Where a row's or a claim's spread over the seeds comes from (``spread``): the part each test
video adds on its own, which more test videos average out, and the part a whole seed shares.
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


def interval(d, level=0.95):
    """Paired differences ``d`` (one per seed or per video) -> (mean, [low, high], p): Student's
    t interval of the mean at ``level`` and the two-sided p of the mean being 0 (n - 1 degrees
    of freedom). All differences equal: the interval is that value, p 0 or 1; one difference:
    no interval, p NaN."""
    d = np.asarray(d, np.float64)
    n, mean = len(d), float(d.mean())
    if n < 2:
        return mean, [math.nan, math.nan], math.nan
    se = float(d.std(ddof=1) / math.sqrt(n))
    if se == 0:
        return mean, [mean, mean], 0.0 if mean != 0 else 1.0
    half = float(stats.t.ppf(0.5 + level / 2, n - 1)) * se
    p = float(2 * stats.t.sf(abs(mean) / se, n - 1))
    return mean, [mean - half, mean + half], p


def verdict(ci95):
    """A claim "a over b" from the interval of a - b: shown (all above 0), refuted (all below
    0) or undecided."""
    low, high = ci95
    if math.isnan(low):
        return "undecided"
    return "shown" if low > 0 else "refuted" if high < 0 else "undecided"


def right_matrices(seed_rows, *heads):
    """[[(name, results with per_video)] per seed] and heads (name, head) -> for each head, the
    (seeds, videos) right (1) / wrong (0) matrix over the videos every seed scored with all of
    them, in video-id order."""
    per = [[right_per_video(dict(rows)[name], head) for name, head in heads]
           for rows in seed_rows]
    ids = sorted(set.intersection(*[set(r) for seed in per for r in seed]))
    return [np.array([[seed[k][i] for i in ids] for seed in per], np.float64)
            for k in range(len(heads))]


def over_videos(seed_rows, a, b, level=0.95):
    """A claim's difference over the test videos both rows scored in every seed: per video, the
    share of seeds a's head got right less b's (so with one seed +1, 0 or -1). -> dict(diff,
    ci95, p, videos) in points; p is McNemar's exact test with one seed, the t test over the
    videos with several."""
    x, y = right_matrices(seed_rows, a, b)
    diff, ci, p = interval(100 * (x.mean(0) - y.mean(0)), level)
    if len(x) == 1:
        p = mcnemar(x[0], y[0])["p"]
    return dict(diff=diff, ci95=ci, p=p, videos=x.shape[1])


def claim(text, seed_rows, a, b, level=0.95):
    """One claim of the paper, "a over b", on rows trained with several seeds (``seed_rows``:
    [[(name, eval_action results with per_video)] per seed]; a, b: (row name, head)). The
    difference a - b in points with its interval: over the seeds (paired by seed) with two or
    more, over the test videos with one; the test over the videos is reported either way
    (``videos_diff``, ``videos_ci95``, ``videos_p``). -> the dict of a ``claims`` entry."""
    top1 = [{(n, h): 100 * v for n, r in rows for h, v in r["top1"].items()}
            for rows in seed_rows]
    v = over_videos(seed_rows, a, b, level)
    if len(seed_rows) > 1:
        diff, ci, p = interval([t[a] - t[b] for t in top1], level)
        over = "seeds"
    else:
        diff, ci, p, over = v["diff"], v["ci95"], v["p"], "videos"
    return dict(claim=text, a=f"{a[0]}: {a[1]}", b=f"{b[0]}: {b[1]}", diff=diff, ci95=ci, p=p,
                seeds=len(seed_rows), videos=v["videos"], over=over, verdict=verdict(ci),
                videos_diff=v["diff"], videos_ci95=v["ci95"], videos_p=v["p"])


def claims_table(claims):
    """The ``claim`` dicts -> markdown: a - b with its 95 % interval and p, over the seeds (or
    the videos with one seed), the verdict, then the same test over the videos."""
    def ci(c):
        return "-" if math.isnan(c[0]) else f"[{c[0]:+.1f}, {c[1]:+.1f}]"
    lines = ["| claim (a over b) | a - b | 95 % interval | p | over | verdict | over the videos: "
             "a - b, 95 % interval, p |", "| --- | ---: | ---: | ---: | --- | --- | ---: |"]
    for c in claims:
        over = f"{c['seeds']} seeds" if c["over"] == "seeds" else f"{c['videos']} videos"
        lines.append(f"| {c['claim']} | {c['diff']:+.1f} | {ci(c['ci95'])} | {c['p']:.3f} | "
                     f"{over} | {c['verdict']} | {c['videos_diff']:+.1f}, "
                     f"{ci(c['videos_ci95'])}, {c['videos_p']:.3f} ({c['videos']} videos) |")
    return "\n".join(lines)


def spread(outcomes, level=0.95):
    """Where the spread over the seeds comes from. ``outcomes`` (S seeds, N test videos): each
    video right (1) or wrong (0) for a row's head, or a claim's a - b per video (-1, 0, 1).
    The variance of the seeds' means is split into the part each video adds on its own (the
    sum over the videos of its variance over the seeds, ddof 1, / N^2), which k times the test
    videos divide by k, and the rest, which a seed shares over all its videos. -> dict, in
    points: ``sd`` over the seeds, ``per_video_sd`` (the sd of the first part), ``sd_x2`` with
    twice the test videos and ``sd_floor`` with any number (both from the same split), and each
    as the half-width of the t interval over the S seeds (``half_width``, ``half_width_x2``,
    ``half_width_floor``). A split whose per-video part exceeds the whole (few seeds) gives a
    floor of 0. The shared part measured on N videos holds (N - 1) / N of the videos' mean
    covariance, so the floor is low by a term of order 1 / N."""
    x = 100 * np.asarray(outcomes, np.float64)
    seeds, videos = x.shape
    if seeds < 2:
        raise ValueError(f"the spread over seeds needs 2 or more seeds, got {seeds}")
    total = float(x.mean(axis=1).var(ddof=1))
    own = float(x.var(axis=0, ddof=1).sum()) / videos ** 2
    sds = dict(sd=math.sqrt(total), per_video_sd=math.sqrt(own),
               sd_x2=math.sqrt(max(total - own / 2, 0.0)),
               sd_floor=math.sqrt(max(total - own, 0.0)))
    t = float(stats.t.ppf(0.5 + level / 2, seeds - 1)) / math.sqrt(seeds)
    sds.update(half_width=t * sds["sd"], half_width_x2=t * sds["sd_x2"],
               half_width_floor=t * sds["sd_floor"])
    return sds


def outcomes_of(seed_rows, a, b=None):
    """``right_matrices`` of a row's head ``a``, or of a claim's a - b."""
    if b is None:
        return right_matrices(seed_rows, a)[0]
    x, y = right_matrices(seed_rows, a, b)
    return x - y


def spread_table(rows, claims):
    """``spread`` of rows' heads [(name, dict)] and of claims [(text, dict)] -> markdown: the
    seeds' standard deviation (rows) or the claim's half-width, the per-video part, and what
    twice the test videos and any number of them would leave."""
    lines = ["| row, head | std over the seeds | each video's own part (sd) | with 2x the test "
             "videos | with any number |", "| --- | ---: | ---: | ---: | ---: |"]
    lines += [f"| {n} | {d['sd']:.2f} | {d['per_video_sd']:.2f} | {d['sd_x2']:.2f} | "
              f"{d['sd_floor']:.2f} |" for n, d in rows]
    lines += ["", "| claim (a over b) | half-width over the seeds | with 2x the test videos | "
              "with any number |", "| --- | ---: | ---: | ---: |"]
    lines += [f"| {n} | {d['half_width']:.2f} | {d['half_width_x2']:.2f} | "
              f"{d['half_width_floor']:.2f} |" for n, d in claims]
    return "\n".join(lines)
