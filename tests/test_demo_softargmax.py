"""make demo-softargmax end to end at toy size (the real code path, sizes shrunk by its
arguments): every table row, the block table and both figures come out, and the tables' numbers
are the runs' results.json."""
import json
import os
import shutil

import demo_softargmax


def test_a_tiny_demo_softargmax_runs_end_to_end(synth_work, tmp_path, capsys):
    work = str(tmp_path / "synth")
    shutil.copytree(synth_work, work)
    runs = str(tmp_path / "runs")
    args = demo_softargmax.parse_args([
        "--work", work, "--runs", runs, "--subjects", "1", "--repetitions", "1", "--frames",
        "12", "--skip-action-machine",
        "--pose-override", "train.epochs=1", "--pose-override", "train.batch_size=8",
        "--pose-override", "data.val_share=0.0", "--pose-override", "train.lr_schedule=step",
        "--action-override", "train.epochs=1", "--action-override", "data.clip_len=4",
        "--action-override", "data.stride=2"])
    demo_softargmax.run(args, demo_softargmax.logging.getLogger("test"))
    text = open(os.path.join(runs, "demo_softargmax_results.md")).read()
    with open(os.path.join(runs, "demo_softargmax_results.json")) as f:
        record = json.load(f)
    names = [row["name"] for row in record["multitask"]]
    assert names == [n for n, _ in demo_softargmax.MULTITASK_ROWS]
    for row in record["multitask"]:
        for clips, r in row["results"].items():
            blocks = r["top1_blocks"]
            line = (f"| {row['name']} | {clips}-clip | "
                    + " | ".join(f"{100 * v:.1f}" for s in ("pose", "appearance")
                                 for v in blocks[s])
                    + f" | {100 * r['top1']['aggregation']:.1f} |")
            assert line in text
    annotated = record["multitask"][2]["results"]["single"]
    assert (annotated["pose_input"], annotated["attention_maps"], annotated["clip_box"]) == \
        ("annotated", "annotated", "joints")
    for n in (8, 9):
        assert os.path.getsize(os.path.join(runs, f"demo_softargmax_figure{n}.png")) > 1000
    assert "| action blocks (Figure 8) |" in capsys.readouterr().out


def test_the_decoder_rows_configs_load_with_their_stage_schedules():
    from engine.config import load_config
    from engine.demo.rows import row_config
    kps = load_config(*row_config("kps", []))["train"]
    stage2 = load_config(*row_config("kps_pose_r18", []))["train"]
    rows = demo_softargmax.decoder_row_list("runs/demo/synth_xview3_kps/final.params")
    assert [n for n, *_ in rows] == [n for n, *_ in demo_softargmax.DECODER_ROWS
                                     + demo_softargmax.STAGE2_ROWS]
    for name, row, overrides, _ in rows:
        t = load_config(*row_config(row, overrides))["train"]  # refused settings raise here
        if t["stage"] == "joint":  # trained as make demo's KPS row, not on kept keypoints
            assert (t["epochs"], t["lr_steps"], t["pose_cnn_draws"]) == \
                (kps["epochs"], kps["lr_steps"], None), name
        else:
            assert (t["epochs"], t["lr_steps"], t["pose_cnn_draws"]) == \
                (stage2["epochs"], stage2["lr_steps"], stage2["pose_cnn_draws"]), name
    assert len(demo_softargmax.decoder_row_list(None)) == len(demo_softargmax.DECODER_ROWS)
