"""make demo end to end at toy size (the real code path, sizes shrunk by its arguments): the
claims of the results carry every key, and their numbers follow from the rows' own results."""
import json
import math
import os
import shutil

import numpy as np

import demo
import eval_action
from engine.config import config_path, load_config


def test_a_toy_demo_tests_every_claim_over_two_seeds(synth_work, tmp_path):
    work = str(tmp_path / "synth")
    shutil.copytree(synth_work, work)
    runs = str(tmp_path / "runs")
    row_overrides = ["data.workers=0", "data.clip_len=4", "data.stride=2", "train.batch_size=4",
            "train.epochs=1", "train.lr_steps=[]", "eval.num_clips=2"]
    args = demo.parse_args([
        "--work", work, "--runs", runs, "--seeds", "2", "--subjects", "1", "--repetitions", "1",
        "--frames", "12", "--coco-subjects", "2", "--pose-override", "train.epochs=1", *row_overrides])
    demo.run(args, demo.logging.getLogger("test"))
    with open(os.path.join(runs, "demo_results.json")) as f:
        record = json.load(f)
    assert record["minutes"] > 0 and record["seeds"] == [0, 1]
    claims = record["claims"]
    assert [c["claim"] for c in claims] == [text for text, _, _ in demo.CLAIMS]
    rows = [{r["name"]: r for r in gt + [dict(p, name=p["name"] + demo.PSEUDO) for p in pseudo]}
            for gt, pseudo in zip(record["rows"], record["pseudo_rows"])]
    for c, (_, a, b) in zip(claims, demo.CLAIMS):
        assert {"claim", "a", "b", "diff", "ci95", "p", "seeds", "videos"} <= set(c)
        assert (c["seeds"], c["over"], c["videos"]) == (2, "seeds", 10)  # the 10 view-3 videos
        # the difference is the mean over the seeds of the rows' own top-1 (points)
        d = [100 * (r[a[0]]["top1"][a[1]] - r[b[0]]["top1"][b[1]]) for r in rows]
        assert math.isclose(c["diff"], np.mean(d), abs_tol=1e-9)
        low, high = c["ci95"]
        if d[0] != d[1]:  # 12.706: Student's t, 1 degree of freedom, two-sided 95 %
            half = 12.706205 * np.std(d, ddof=1) / math.sqrt(2)
            assert np.allclose([low, high], [np.mean(d) - half, np.mean(d) + half])
        assert c["verdict"] in ("shown", "refuted", "undecided")
    # Where the spread over the seeds comes from: its whole is the std of the rows' own top-1,
    # its per-video part the videos' variance over the seeds (numpy, from per_video).
    spread = record["spread"]
    assert [c["claim"] for c in spread["claims"]] == [text for text, _, _ in demo.CLAIMS]
    for c, sc in zip(claims, spread["claims"]):  # the same t interval over the seeds
        if not math.isnan(c["ci95"][0]):
            assert math.isclose(sc["half_width"], (c["ci95"][1] - c["ci95"][0]) / 2,
                                abs_tol=1e-9)
    assert {(r["name"], r["head"]) for r in spread["rows"]} == {
        (n, h) for n, r in rows[0].items() for h in r["top1"]}
    for r in spread["rows"]:
        top1 = [100 * seed[r["name"]]["top1"][r["head"]] for seed in rows]
        assert math.isclose(r["sd"], np.std(top1, ddof=1), abs_tol=1e-9)
        right = np.array([[v[r["head"]] == v["label"] for v in seed[r["name"]]["per_video"]]
                          for seed in rows], np.float64)
        own = 1e4 * right.var(axis=0, ddof=1).sum() / right.shape[1] ** 2
        assert math.isclose(r["per_video_sd"], math.sqrt(own), abs_tol=1e-9)
        assert math.isclose(r["sd_floor"], math.sqrt(max(r["sd"] ** 2 - own, 0)), abs_tol=1e-6)
    # The KPS row is not tested by itself: the stage-2 row's RGB head is its frozen model. Tested
    # by itself, it predicts what the stage-2 row's RGB column says, video by video.
    kps = load_config(config_path("synth_xview3_kps"), [
        f"data.prepared={work}/prepared", f"data.boxes={work}/boxes.json",
        f"data.poses={work}/poses", f"runs={runs}/demo", "train.seed=0", *row_overrides])
    alone = eval_action.run(kps, [demo.mx.cpu()])
    with open(os.path.join(kps["out"], "per_video.jsonl")) as f:
        alone_videos = {v["id"]: v["rgb"] for v in map(json.loads, f)}
    derived = rows[0]["KPS RGBAction"]
    assert {v["id"]: v["rgb"] for v in derived["per_video"]} == alone_videos
    assert math.isclose(derived["top1"]["rgb"], alone["top1"]["rgb"])
    text = open(os.path.join(runs, "demo_results.md")).read()
    assert "| claim (a over b) | a - b | 95 % interval |" in text
    assert "| row, head | std over the seeds | each video's own part (sd) |" in text
    assert all(f"| {c['claim']} | {c['diff']:+.1f} |" in text for c in claims)
