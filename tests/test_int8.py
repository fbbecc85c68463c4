"""int8.py and inference.py: int8 outputs against float32 on a tiny trained model, the decoders
and the named parts kept float32, and the calibration cache (reused; other settings refused
with one line; a changed checkpoint recalibrated)."""
import json
import logging
import os
import shutil

import mxnet as mx
import numpy as np
import pytest

import train_action
from engine.config import config_path, load_config
from engine.inference import int8, int8_check, precision
from engine.experiment import inference_options
from engine.systems import loaded_model, training_clips
from engine.training.checkpoints import checkpoint_or_last, load_weights
from symbols import get_model
from helpers import POSE_TINY, config, overrides

LOG = logging.getLogger("test_int8")


@pytest.fixture(scope="module")
def trained(synth_work, tmp_path_factory):
    """A tiny KPS PoseAction RGBAction (ResNet-18) run: stage 1, then the pose CNN on it."""
    root = str(tmp_path_factory.mktemp("int8"))
    kps, run = os.path.join(root, "kps"), os.path.join(root, "pose")
    train_action.main(["--config", config("kps")] + overrides(synth_work, kps))
    extra = [f"train.init_from={kps}/final.params"]
    train_action.main(["--config", config("kps_pose_r18")] + overrides(synth_work, run, *extra))
    cfg = load_config(config("kps_pose_r18"), overrides(synth_work, run, *extra))
    return cfg, os.path.join(run, "final.params")


def with_eval(cfg, **values):
    return dict(cfg, eval=dict(cfg["eval"], **values))


def clips_of(cfg, n=4):
    return mx.nd.array(int8.calibration_clips(training_clips(cfg), n))


def test_int8_outputs_follow_float32_and_the_decoder_stays_float32(trained):
    cfg, ckpt = trained
    if os.path.exists(int8.cache_path(ckpt)):  # another test's settings (tests run in any order)
        os.remove(int8.cache_path(ckpt))
    x = clips_of(cfg)
    ref = precision.to_numpy(loaded_model(cfg, mx.cpu(), ckpt, LOG)(x))  # fused float32
    run = loaded_model(with_eval(cfg, dtype="int8", int8_calibration_clips=8, int8_auto=False,
                                 int8_float32=[]),
                       mx.cpu(), ckpt, LOG)
    got = precision.to_numpy(run(x))
    assert len(got) == len(ref) and all(g.dtype == np.float32 for g in got)
    nodes = int8.int8_nodes(run)
    assert any("i3d" in n for n in nodes) and any("pose_cnn" in n for n in nodes)
    assert not any(run.decoder.prefix in n for n in nodes)  # the decoder stays float32
    # int8 keeps 8 bits of each layer's calibrated range; through this tiny trunk
    # (8-64 channels, few terms to average the rounding over) the outputs move by 20-30 % of
    # their largest float32 magnitude (measured 0.19-0.30 with naive thresholds); half of it
    # bounds that and still fails a graph whose ranges are wrong (saturated or off by a
    # power of two gives > 1). The pose logits read keypoints through an arg-max, which jumps
    # a cell on a near tie (measured: the logits move by their own size), so they are only
    # checked to be finite: what int8 does to the pose head's accuracy is make demo-int8's.
    for name, r, g in zip(run.output_names, ref, got):
        assert g.shape == r.shape and np.isfinite(g).all(), name
        assert not np.array_equal(g, r), name  # it did compute in int8
        if name != "pose":
            assert np.abs(g - r).max() <= 0.5 * np.abs(r).max(), name


def test_a_part_kept_float32_is_not_quantized_and_moves_less(trained):
    cfg, ckpt = trained
    x = clips_of(cfg)
    ref = precision.to_numpy(loaded_model(cfg, mx.cpu(), ckpt, LOG)(x))
    errors = {}
    for parts in ([], ["backbone"]):
        c = with_eval(cfg, dtype="int8", int8_calibration_clips=8, int8_float32=parts,
                      int8_auto=False)
        for f in (int8.cache_path(ckpt),):
            if os.path.exists(f):
                os.remove(f)
        run = loaded_model(c, mx.cpu(), ckpt, LOG)
        got = precision.to_numpy(run(x))
        if parts:
            assert not any("i3d" in n for n in int8.int8_nodes(run))
        errors[tuple(parts)] = np.abs(got[1] - ref[1]).max() / np.abs(ref[1]).max()  # heatmaps
    # with the trunk float32 only the pose head's last 1x1 conv is int8 (measured 0.03 vs 0.2)
    assert errors[("backbone",)] < errors[()] / 2


def test_the_calibration_is_cached_reused_and_other_settings_refused(trained, monkeypatch,
                                                                     tmp_path):
    cfg, source = trained
    ckpt = str(tmp_path / "final.params")
    shutil.copy(source, ckpt)
    c = with_eval(cfg, dtype="int8", int8_calibration_clips=4)
    x = clips_of(cfg, 2)
    first = precision.to_numpy(loaded_model(c, mx.cpu(), ckpt, LOG)(x))
    cached = json.load(open(int8.cache_path(ckpt)))
    assert cached["settings"]["clips"] == 4 and cached["settings"]["calibration"] == "naive"
    assert cached["thresholds"]

    def calibrate(*args, **kwargs):
        raise AssertionError("calibrated again")
    with monkeypatch.context() as m:  # the second load reads the file: the same numbers
        m.setattr(int8, "calibrate", calibrate)
        again = precision.to_numpy(loaded_model(c, mx.cpu(), ckpt, LOG)(x))
        assert all(np.array_equal(a, b) for a, b in zip(first, again))
        for change in (dict(int8_calibration_clips=8), dict(int8_calibration="entropy"),
                       dict(int8_float32=["pose_cnn"]), dict(int8_tolerance=2.0),
                       dict(int8_auto=False)):
            with pytest.raises(ValueError, match="calibrated with other settings") as err:
                loaded_model(with_eval(c, **change), mx.cpu(), ckpt, LOG)
            assert "\n" not in str(err.value)
    # a retrained checkpoint (other weights, same path) is calibrated anew
    params = mx.nd.load(ckpt)
    params = {k: v * 1.01 for k, v in params.items()}
    mx.nd.save(ckpt, params)
    loaded_model(c, mx.cpu(), ckpt, LOG)(x)
    assert json.load(open(int8.cache_path(ckpt)))["checkpoint_sha256"] != \
        cached["checkpoint_sha256"]


def test_the_automatic_float32_choice_is_deterministic_cached_and_really_float32(
        trained, monkeypatch, tmp_path):
    """eval.int8_auto: the same thresholds and clips give the same choice and the same checks;
    the choice is written with the thresholds and read back (nothing is checked again); the
    chosen parts run float32 in the graph; a cache made with another tolerance is refused."""
    cfg, source = trained
    ckpt = str(tmp_path / "final.params")
    shutil.copy(source, ckpt)
    # a tolerance no check passes (below the config's range of >= 0, so set past its check):
    # the search is walked to its end, every trial measured and written
    c = with_eval(cfg, dtype="int8", int8_calibration_clips=16, int8_check_clips=16,
                  int8_tolerance=-1.0)
    x = clips_of(cfg, 2)
    first = loaded_model(c, mx.cpu(), ckpt, LOG)
    got = precision.to_numpy(first(x))
    cached = json.load(open(int8.cache_path(ckpt)))
    chosen = cached["float32_chosen"]
    assert cached["settings"]["auto"] and cached["settings"]["tolerance"] == -1.0
    candidates = [p for p in int8.CANDIDATES if int8.part(first.net, p) is not None]
    # the configured parts (the demo's keypoint path), each other candidate beside them, then
    # the growing sets (the first of them is one candidate's, measured once)
    fixed = sorted(c["eval"]["int8_float32"])
    assert fixed == ["pose_cnn", "pose_head"]
    assert sorted(chosen) == sorted(set(candidates) | set(fixed))
    free = len([p for p in candidates if p not in fixed])
    assert len(cached["checks"]) == 1 + free + free - 1
    assert cached["checks"][0]["float32"] == fixed
    nodes = int8.int8_nodes(first)
    # again from the same thresholds and clips: the same choice, the same measurements
    net = get_model(cfg["model"]["name"], ctx=[mx.cpu()], **inference_options(cfg))
    load_weights(net, ckpt, [mx.cpu()], LOG)
    net.hybridize(static_alloc=True, static_shape=True)
    values = int8.weights(net)
    clips, labels = int8.calibration_clips(training_clips(cfg), 16, True)
    thresholds = {k: tuple(v) for k, v in cached["thresholds"].items()}
    again, tried = int8_check.choose_float32(net, thresholds, clips, labels, -1.0, fixed,
                                       values=values)
    assert again == chosen
    assert [dict(float32=p, agreement=a) for p, a in tried] == cached["checks"]
    # the chosen parts left int8: fewer quantized nodes than with the configured ones alone
    configured = int8.quantized(net, thresholds, fixed, values=values)
    configured(x)
    assert 0 < len(nodes) < len(int8.int8_nodes(configured))

    def fail(*args, **kwargs):
        raise AssertionError("checked again")
    with monkeypatch.context() as m:
        m.setattr(int8_check, "choose_float32", fail)
        m.setattr(int8, "calibrate", fail)
        reread = loaded_model(c, mx.cpu(), ckpt, LOG)
        assert all(np.array_equal(a, b) for a, b in zip(got, precision.to_numpy(reread(x))))
        assert len(int8.int8_nodes(reread)) == len(nodes)
        with pytest.raises(ValueError, match=r"calibrated with other settings: tolerance "
                                             r"-1\.0 \(now 1\.0\)") as err:
            loaded_model(with_eval(c, int8_tolerance=1.0), mx.cpu(), ckpt, LOG)
        assert "\n" not in str(err.value)


def _found(**top1):
    return {h: dict(top1=v, moved=abs(v)) for h, v in top1.items()}


def test_the_search_keeps_the_most_sensitive_parts_float32_until_the_check_passes():
    """A hand-made network of three parts: int8 of ``a`` moves the pose head by 3 points, of
    ``b`` by 1.5, of ``c`` not at all; the check adds their moves. Tolerance 1: keeping ``a``
    alone leaves 1.5, so ``a`` then ``b`` are kept, never ``c``; tolerance 2: ``a`` alone."""
    moves = dict(a=3.0, b=1.5, c=0.0)
    calls = []

    def check(kept):
        calls.append(sorted(kept))
        return _found(rgb=0.2, pose=-sum(v for k, v in moves.items() if k not in kept))
    assert int8_check.search(check, ["c", "b", "a"], (), 1.0) == ["a", "b"]
    assert calls == [[], ["c"], ["b"], ["a"], ["a"], ["a", "b"]]
    assert int8_check.search(check, ["c", "b", "a"], ("x",), 2.0) == ["a", "x"]
    assert int8_check.search(check, ["c", "b", "a"], (), 5.0) == []
    assert int8_check.search(check, ["c", "b", "a"], (), -1.0) == ["a", "b", "c"]  # never passes


def test_agreement_counts_moved_top1_and_keypoint_cells_by_hand():
    labels = np.array([0, 1, 1, 0])
    ref = dict(rgb=np.array([[2., 1], [0, 1], [1, 0], [3, 0]]),
               heatmaps=np.zeros((4, 1, 2, 2, 2)))
    got = dict(rgb=np.array([[2., 1], [0, 1], [0, 1], [0, 3]]),
               heatmaps=np.zeros((4, 1, 2, 2, 2)))
    got["heatmaps"][0, 0, 0, 1, 1] = 1  # one of 8 joints moves its cell
    found = int8_check.agreement(got, ref, labels)
    # float32 right on clips 0, 1, 3 (75 %); int8 on 0, 1, 2 (75 %); two clips moved
    assert found["rgb"] == dict(top1=0.0, moved=50.0)
    assert found["keypoints"] == dict(moved=12.5)
    assert int8_check.passes(found, 0.0) and int8_check.disagreement(found) == 62.5
    # the check's clips spread over the calibration clips (so over all the videos)
    assert list(int8_check.spread(1920, 512)[:4]) == [0, 3, 7, 11]
    assert list(int8_check.spread(1920, 512))[-1] == 1916 and len(int8_check.spread(1920, 512)) == 512
    assert list(int8_check.spread(5, 8)) == [0, 1, 2, 3, 4]


def test_calibration_clips_spread_over_the_videos_and_cycle_epochs(trained):
    cfg, _ = trained
    data = training_clips(cfg)
    n = len(data)
    clips = int8.calibration_clips(data, n + 2)
    assert clips.shape == (n + 2,) + np.asarray(data[0][0]).shape
    assert np.array_equal(clips[0], np.asarray(data[0][0]))
    assert not np.array_equal(clips[n], clips[0])  # the same video, the next epoch's clip
    assert data.epoch == 0


@pytest.mark.parametrize("script", ["pseudo_poses", "eval_coco", "demo_video", "detect_persons"])
def test_scripts_without_a_runs_training_clips_refuse_int8_before_any_work(script, tmp_path):
    """int8 needs thresholds from a run's training clips; these scripts do not read them, so
    --dtype int8 is one line before a model is built or an input read."""
    import importlib
    out = str(tmp_path / "out")
    argv = {"pseudo_poses": ["--config", POSE_TINY, "--prepared", str(tmp_path / "none"),
                             "--boxes", str(tmp_path / "none.json"), "--out", out],
            "eval_coco": ["--config", POSE_TINY, f"out={out}"],
            "demo_video": [str(tmp_path / "none.mp4"), "--out", out],
            "detect_persons": ["--dataset", "synth", "--prepared", str(tmp_path / "none"),
                               "--out", out]}[script]
    with pytest.raises(SystemExit, match=r"^error: [^\n]*int8 is calibrated on the run's "
                                         r"training clips[^\n]*eval_action.py runs int8\)$"):
        importlib.import_module(script).main(argv + ["--dtype", "int8"])
    assert not os.path.exists(out)


def test_int8_without_calibration_and_unknown_parts_are_one_line():
    net = mx.gluon.nn.Dense(2)
    net.initialize()
    with pytest.raises(ValueError, match="int8 is calibrated on the run's training clips"):
        precision.for_inference(net, "int8", mx.cpu())
    with pytest.raises(ValueError, match="unknown part 'trunk'"):
        int8.check_parts(["trunk"])


def test_the_int8_table_of_a_run_marks_a_head_off_the_target(trained, tmp_path):
    from tools import compare_dtypes
    cfg, _ = trained
    cfg = with_eval(cfg, int8_calibration_clips=4)
    table = compare_dtypes.compare([("tiny", "g", [("KPS PoseAction", cfg)])], str(tmp_path),
                                   "int8")
    results = table[0][1][0][1]
    text = compare_dtypes.markdown(table, "int8")
    kept = json.load(open(int8.cache_path(checkpoint_or_last(cfg["out"], None))))
    for head in ("rgb", "pose", "fused"):
        a, b = (100 * results[d]["top1"][head] for d in ("float32", "int8"))
        row = f"| KPS PoseAction | {head} | {a:.1f} | {b:.1f} | {b - a:+.1f}"
        assert row + (" (over 1.0) |" if abs(b - a) > 1.0 else " |") in text
        assert f"{b - a:+.1f}" + (" (over 1.0) | " if abs(b - a) > 1.0 else " | ") + (
            ", ".join(kept["float32_chosen"]) or "none") + " |" in text


def test_a_layer_output_calibration_cannot_read_is_named_not_a_traceback():
    """MXNet's calibration callback raising on one layer's output (a oneDNN layout its reader
    refuses) leaves that layer out of the ranges and records its name; the others are kept."""
    class Collector:
        def __init__(self):
            self.min_max_dict = {}

        def collect(self, name, arr):
            if name == b"bad_output":
                raise mx.base.MXNetError("Check failed: mem.get_desc().get_size()")
            self.min_max_dict[mx.base.py_str(name)] = arr

    collector = Collector()
    unread = int8._guard(collector)
    collector.collect(b"good_output", 1.0)
    collector.collect(b"bad_output", 2.0)
    assert collector.min_max_dict == {"good_output": 1.0} and unread == {"bad_output"}


def test_an_int8_graph_onednn_cannot_run_is_one_line_naming_the_setting():
    class Failing:
        def __call__(self, x):
            raise mx.base.MXNetError("Traceback (most recent call last):\n  File x\n"
                                     "MXNetError: Check failed: the memory desc")

    net = mx.gluon.nn.Dense(2, in_units=3)
    net.initialize()
    run = int8.quantized(net, {}, ["pose_cnn"])
    run._build = lambda x: Failing()
    with pytest.raises(RuntimeError) as err:
        run(mx.nd.zeros((1, 3)))
    assert "\n" not in str(err.value)
    assert "float32 parts ['pose_cnn'] fails" in str(err.value)
    assert "Check failed: the memory desc" in str(err.value)


def test_int8_of_the_paper_size_multitask_model_is_refused_before_any_work(tmp_path):
    """MXNet 1.9.1's oneDNN cannot run the paper-size soft-argmax multitask model's int8 graph
    (engine.inference.int8.REFUSED): eval_action.py says so in one line before it looks for a checkpoint
    or reads a video; its tiny version is not refused."""
    import eval_action
    cfg = load_config(config_path("synth_xview3_softargmax_separate"), [
        "model.name=softargmax_multitask", "eval.dtype=int8", f"runs={tmp_path}",
        f"data.prepared={tmp_path / 'none'}"])
    with pytest.raises(SystemExit, match=r"^error: eval.dtype=int8 with model "
                                         r"softargmax_multitask: MXNet 1.9.1's oneDNN cannot "
                                         r"run[^\n]*set eval.dtype=float32$"):
        eval_action.run(cfg, [mx.cpu()])
    assert not os.path.exists(cfg["out"])
    int8.check_model("softargmax_multitask_tiny")
