"""train_action.py and eval_action.py on a tiny synthetic dataset: learning, resume, devices,
stage 2, failures, and the evaluation outputs."""
import json
import os
import signal
import subprocess
import sys
import time

import mxnet as mx
import numpy as np
import pytest
from mxnet import gluon

import eval_action
import train_action
from engine.config import load_config
from data.batch import Batchify
from engine.metrics import scoring
from engine.systems import action_machine
from engine.training import checkpoints, loop as training
from engine.systems import build_model
from engine.experiment import clip_dataset, split_samples
from helpers import ROOT, config, overrides, params_of
from symbols.action_machine import ActionMachineLoss


@pytest.fixture
def work(synth_work):
    return synth_work


def test_train_then_eval_writes_every_output(work, tmp_path):
    out = str(tmp_path / "kps")
    final = train_action.main(["--config", config("kps")] + overrides(work, out))
    assert os.path.isfile(final)
    assert sorted(os.listdir(os.path.join(out, "checkpoints"))) == [
        f"epoch-{e:03d}.{x}" for e in (0, 1) for x in ("json", "params", "states")]
    epochs = [json.loads(l) for l in open(os.path.join(out, "metrics.jsonl"))
              if '"epoch"' in l and '"kind": "epoch"' in l]
    assert [e["epoch"] for e in epochs] == [0, 1]
    assert {"loss_rgb", "loss_kps", "loss_heatmap", "loss_offset"} <= set(epochs[0])
    saved = load_config(os.path.join(out, "config.yaml"))
    assert saved["train"]["epochs"] == 2
    results = eval_action.main(["--config", config("kps")] + overrides(work, out))
    assert results["videos"] == 10 and set(results["top1"]) == {"rgb"}
    assert sum(map(sum, results["confusion"])) == 10
    for name in ("results.json", "results.md", "confusion.png", "per_video.jsonl"):
        assert os.path.isfile(os.path.join(out, name))
    # Stage 2 from this model: only the pose CNN changes; RGB, pose and fused are reported. New
    # clips every epoch, the paper's stage 2 (kept keypoints: test_pose_draws.py).
    out2 = str(tmp_path / "stage2")
    final2 = train_action.main(["--config", config("kps_pose_r18")] + overrides(
        work, out2, f"train.init_from={final}", "train.pose_cnn_draws=null"))
    before, after = params_of(final), params_of(final2)
    assert all(np.array_equal(before[k], after[k]) for k in before)  # frozen, running stats too
    assert any(not k.startswith("pose_cnn") for k in before)
    results2 = eval_action.main(["--config", config("kps_pose_r18")] + overrides(work, out2))
    assert set(results2["top1"]) == {"rgb", "pose", "fused"}
    assert results2["top1"]["rgb"] == results["top1"]["rgb"]  # the frozen RGB head


def kill_during_epoch(cmd, out, epoch, timeout=300):
    """Start ``cmd`` and kill it (SIGKILL: no cleanup) once metrics.jsonl shows a step of
    ``epoch``."""
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    metrics, deadline = os.path.join(out, "metrics.jsonl"), time.time() + timeout
    try:
        while time.time() < deadline and proc.poll() is None:
            if os.path.exists(metrics) and any(
                    '"step"' in l and json.loads(l)["epoch"] == epoch for l in open(metrics)):
                proc.kill()
                break
            time.sleep(0.05)
        assert proc.wait(timeout=60) == -signal.SIGKILL, proc.stderr.read()[-2000:]
    finally:
        if proc.poll() is None:
            proc.kill()


def test_resume_after_a_kill_reaches_the_same_weights(work, tmp_path):
    args = ["--config", config("kps")]
    whole, killed = str(tmp_path / "whole"), str(tmp_path / "killed")
    train_action.main(args + overrides(work, whole, "train.log_interval=1"))
    cmd = [sys.executable, os.path.join(ROOT, "train_action.py")] + args + overrides(
        work, killed, "train.log_interval=1")
    kill_during_epoch(cmd, killed, epoch=1)
    assert not os.path.exists(os.path.join(killed, "final.params"))
    assert checkpoints.last_checkpoint(killed) == 0  # killed in the middle of epoch 1
    train_action.main(args + overrides(work, killed, "train.log_interval=1") + ["--resume"])
    a, b = params_of(os.path.join(whole, "final.params")), params_of(
        os.path.join(killed, "final.params"))
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_allclose(a[k], b[k], rtol=1e-5, atol=1e-6, err_msg=k)
    # The log of the resumed run holds every step once, as the uninterrupted run's does.
    def steps(out):
        return [json.loads(l)["step"] for l in open(os.path.join(out, "metrics.jsonl"))
                if '"step"' in l]
    assert steps(killed) == steps(whole) == list(range(1, 11))


def summed_grads(cfg, ctxs, batch):
    net = build_model(cfg, ctxs)
    mx.random.seed(0)
    init = build_model(cfg, [mx.cpu()])
    for (name, p), (_, q) in zip(sorted(net._collect_params_with_prefix().items()),
                                 sorted(init._collect_params_with_prefix().items())):
        p.set_data(q.data())
    criterion = ActionMachineLoss(net.config.heads)
    training.forward_backward(net, action_machine.action_loss(criterion), batch, ctxs)
    return {k: sum(g.asnumpy() for g in p.list_grad())
            for k, p in net._collect_params_with_prefix().items() if p.grad_req != "null"}


@pytest.mark.parametrize("global_stats,same", [("all", True), ("none", False)])
def test_two_cpu_contexts_sum_to_one_context_gradients(work, global_stats, same):
    cfg = load_config(config("kps"), overrides(work, "unused") + ["model.options.heads=[rgb, kps, pose]",
        f"model.global_stats={global_stats}", "model.options.dropout=0.0"])
    data = clip_dataset(cfg, split_samples(cfg, "train")[:4], "train", with_poses=True)
    batch = Batchify()([data[i] for i in range(4)])
    one = summed_grads(cfg, [mx.cpu(0)], batch)
    two = summed_grads(cfg, [mx.cpu(0), mx.cpu(1)], batch)
    close = all(np.allclose(one[k], two[k], rtol=1e-4, atol=1e-6) for k in one)
    assert close == same  # per-device batch norm differs by design


def test_a_typo_in_the_config_fails_before_any_work(work, tmp_path):
    out = str(tmp_path / "never")
    with pytest.raises(SystemExit, match="unknown config key 'train.lr_stpes'"):
        train_action.main(["--config", config("kps")] + overrides(work, out, "train.lr_stpes=[2]"))
    assert not os.path.exists(out)


def test_sync_bn_is_refused_on_cpu(work, tmp_path):
    with pytest.raises(SystemExit, match="needs GPUs"):
        train_action.main(["--config", config("kps")] + overrides(
            work, str(tmp_path / "x"), "model.sync_bn=true"))


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(work, tmp_path, monkeypatch):
    out = str(tmp_path / "nan")
    calls, loss_call = [], ActionMachineLoss.__call__

    def nan_from_epoch_1(self, *args, **kwargs):  # 5 steps an epoch: the 6th step is epoch 1
        calls.append(1)
        total, parts = loss_call(self, *args, **kwargs)
        return (total * np.nan if len(calls) > 5 else total), parts
    monkeypatch.setattr(ActionMachineLoss, "__call__", nan_from_epoch_1)
    with pytest.raises(SystemExit, match="non-finite loss.*epoch 2 step .*epoch-000.params"):
        train_action.main(["--config", config("rgb_person_crop")] + overrides(work, out))
    assert checkpoints.last_checkpoint(out) == 0
    assert not os.path.exists(os.path.join(out, "final.params"))


def test_top1_with_a_cross_dataset_mapping():
    scores = np.array([[0.1, 0.5, 0.4, 0.0], [0.9, 0.0, 0.05, 0.05], [0.0, 0.1, 0.2, 0.7]])
    assert scoring.top1(scores, np.array([1, 0, 2])) == pytest.approx(2 / 3)
    # target 0 <- source {1, 2}; target 1 <- source {3}: source 0 never competes
    mapping = {0: [1, 2], 1: [3]}
    assert scoring.top1(scores, np.array([0, 1, 1]), mapping) == pytest.approx(2 / 3)


def test_video_scores_average_softmax_over_views():
    net = gluon.nn.HybridSequential()
    net.add(gluon.nn.Dense(3, in_units=4))
    net.initialize()
    net.output_names = ["rgb"]
    views = mx.nd.random.uniform(shape=(5, 4))
    logits = net(views).asnumpy()
    expected = scoring.softmax(logits).mean(axis=0)

    class Wrapped:
        output_names = ["rgb"]

        def __call__(self, x):
            return (net(x),)
    got = scoring.video_scores(Wrapped(), views, mx.cpu(), 2)
    np.testing.assert_allclose(got["rgb"], expected, rtol=1e-6)


def test_same_seed_same_weights_whatever_ran_before(work, tmp_path):
    """The initial weights come from train.seed, not from the process's random history."""
    finals = []
    for i in range(2):
        mx.nd.random.uniform(shape=(i * 7 + 1,)).wait_to_read()  # unrelated earlier draws
        args = ["--config", config("rgb_person_crop")] + overrides(
            work, str(tmp_path / f"run{i}"), "train.epochs=1")
        finals.append(params_of(train_action.main(args)))
    for k in finals[0]:
        np.testing.assert_array_equal(finals[0][k], finals[1][k], err_msg=k)


def test_every_epoch_gets_its_own_augmentation_whatever_the_worker_count(work):
    """Workers copy the dataset when they start: a loader kept across epochs replayed epoch 0's
    clips. Each epoch's loader sees its epoch, and 2 workers give what 0 give."""
    from data.loader import Substitutes

    def first_clips(workers, epoch):
        cfg = load_config(config("kps"), overrides(work, "unused", f"data.workers={workers}"))
        data = Substitutes(clip_dataset(cfg, split_samples(cfg, "train"), "train", True))
        return next(iter(training.epoch_loader(data, cfg, epoch))).item.clip.asnumpy()
    e0, e1 = first_clips(2, 0), first_clips(2, 1)
    assert not np.array_equal(e0, e1)
    np.testing.assert_array_equal(e1, first_clips(0, 1))
    np.testing.assert_array_equal(e0, first_clips(0, 0))
