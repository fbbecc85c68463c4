"""Training on MXNet's parameter server over loopback (launch.py --local, train.kvstore
dist_sync): 2 workers + 1 server reach one process's weights with the same global batch; a killed
worker ends the job with one line, and --resume finishes it. Also the epoch's shares and the
launcher's watchdog without MXNet."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import train_action
from data.loader import EpochSampler
from engine.training import checkpoints
from helpers import ROOT, config, overrides, params_of

# Tolerance: the servers add the workers' gradients in another order than one process's batch
# reduction, so float32 rounding differs, and training at lr 0.1 amplifies it from epoch to
# epoch. Measured max |difference| of any weight: 1.2e-7 after epoch 0, 5.5e-7 after epoch 1
# (lr 0.1 then 0.01); 1.3e-4 after 4 epochs. So 1e-5 for 2 epochs, 1e-4 for the 3 of the resume.
ATOL, RTOL = 1e-5, 1e-4
# Batch norm on running statistics (global_stats all): a worker's half batch then normalises as
# the whole batch does. No dropout: each worker draws its own masks. lr 0.1 so that the weights
# move far beyond the tolerance in 2 epochs.
SAME_STEP = ("model.global_stats=all", "model.options.dropout=0.0", "train.lr=0.1",
             "train.log_interval=1")
LAUNCH_LIMIT = 240  # seconds a launched job may take on the shared 2-core machine
# Every compared run uses one thread: oneDNN splits a convolution's reductions by its thread
# count and batch size, so with 2 threads a worker's half batch rounds differently from the
# whole batch (measured: the same 1.2e-7 after epoch 0, but 3.3e-5 after epoch 1 at lr 0.1),
# and the tolerances above would measure the thread pool rather than the kvstore.
ONE_THREAD = dict(os.environ, OMP_NUM_THREADS="1")


def train_args(work, out, *extra):
    return ["--config", config("rgb_person_crop")] + overrides(work, out, *SAME_STEP, *extra)


def launch_cmd(work, out, *extra):
    return [sys.executable, os.path.join(ROOT, "launch.py"), "-n", "2", "-s", "1", "--local",
            "--", sys.executable, os.path.join(ROOT, "train_action.py"),
            *train_args(work, out, *extra), "--kvstore", "dist_sync"]


def one_process(args):
    """train_action.py in a process of its own, on one thread as the launched workers."""
    done = subprocess.run([sys.executable, os.path.join(ROOT, "train_action.py"), *args],
                          cwd=ROOT, env=ONE_THREAD, capture_output=True, text=True,
                          timeout=LAUNCH_LIMIT)
    assert done.returncode == 0, done.stderr[-3000:]


def assert_same_weights(a_path, b_path, atol=ATOL):
    a, b = params_of(a_path), params_of(b_path)
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_allclose(a[k], b[k], rtol=RTOL, atol=atol, err_msg=k)


def test_shares_of_an_epoch_are_the_one_process_batches():
    for length, batch, n in [(20, 4, 2), (23, 6, 3), (7, 4, 4), (9, 8, 2)]:
        whole = list(EpochSampler(length, seed=3))
        shares = [EpochSampler(length, seed=3, shard=(k, n, batch)) for k in range(n)]
        steps = length // batch
        for s in shares:
            s.set_epoch(0)
            assert len(s) == len(list(s)) == steps * (batch // n)
        per_worker = [np.array(list(s)).reshape(steps, batch // n) for s in shares]
        for step in range(steps):  # step s of the job = one process's step s, clip for clip
            joined = np.concatenate([w[step] for w in per_worker])
            assert joined.tolist() == whole[step * batch:(step + 1) * batch]
    with pytest.raises(ValueError, match="divisible"):
        EpochSampler(10, shard=(0, 3, 4))


def test_two_workers_reach_one_process_weights(synth_work, tmp_path):
    one, two = str(tmp_path / "one"), str(tmp_path / "two")
    one_process(train_args(synth_work, one))
    done = subprocess.run(launch_cmd(synth_work, two), cwd=ROOT, env=ONE_THREAD,
                          capture_output=True, text=True, timeout=LAUNCH_LIMIT)
    assert done.returncode == 0, done.stderr[-3000:]
    assert_same_weights(os.path.join(one, "final.params"), os.path.join(two, "final.params"))
    moved = params_of(os.path.join(two, "checkpoints", "epoch-000.params"))
    final = params_of(os.path.join(two, "final.params"))
    assert max(np.abs(final[k] - moved[k]).max() for k in final) > 100 * ATOL  # not a no-op
    # rank 0 alone wrote the log: each step once, with the global batch's loss
    def lines(out):
        with open(os.path.join(out, "metrics.jsonl")) as f:
            return [json.loads(l) for l in f]
    a, b = lines(one), lines(two)
    assert [l["step"] for l in b if l["kind"] == "step"] == list(range(1, 11))
    for x, y in zip(a, b):
        for key in ("loss", "loss_rgb", "train_rgb_top1"):
            if key in x:
                assert y[key] == pytest.approx(x[key], rel=1e-4)
    assert [l.get("workers") for l in b if l["kind"] == "epoch"] == [2, 2]


def worker_pids(launcher_pid):
    """The launched workers: the launcher's children whose DMLC_ROLE is worker."""
    pids = []
    for pid in subprocess.run(["pgrep", "-P", str(launcher_pid)], capture_output=True,
                              text=True).stdout.split():
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                if b"DMLC_ROLE=worker" in f.read().split(b"\0"):
                    pids.append(int(pid))
        except OSError:
            pass
    return pids


def test_a_killed_worker_ends_the_job_and_resume_finishes(synth_work, tmp_path):
    out, whole = str(tmp_path / "killed"), str(tmp_path / "whole")
    extra = ("train.epochs=3",)
    proc = subprocess.Popen(launch_cmd(synth_work, out, *extra), cwd=ROOT, env=ONE_THREAD,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    metrics, deadline = os.path.join(out, "metrics.jsonl"), time.time() + LAUNCH_LIMIT
    try:
        while time.time() < deadline and proc.poll() is None:  # kill once epoch 1 runs
            if os.path.exists(metrics) and any('"step"' in l and json.loads(l)["epoch"] == 1
                                               for l in open(metrics)):
                os.kill(worker_pids(proc.pid)[-1], signal.SIGKILL)
                killed_at = time.time()
                break
            time.sleep(0.02)
        err = proc.communicate(timeout=60)[1]  # bounded: the launcher stops the rest at once
    finally:
        if proc.poll() is None:
            proc.kill()
    assert time.time() - killed_at < 30
    assert proc.returncode == 1
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: worker ") and "was killed by SIGKILL" in last, err[-2000:]
    assert not os.path.exists(os.path.join(out, "final.params"))
    assert checkpoints.last_checkpoint(out) in (0, 1)
    resumed = subprocess.run(launch_cmd(synth_work, out, *extra) + ["--resume"], cwd=ROOT,
                             env=ONE_THREAD, capture_output=True, text=True,
                             timeout=LAUNCH_LIMIT)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    one_process(train_args(synth_work, whole, *extra))
    assert_same_weights(os.path.join(whole, "final.params"), os.path.join(out, "final.params"),
                        atol=10 * ATOL)
    with open(metrics) as f:
        steps = [json.loads(l)["step"] for l in f if '"step"' in l]
    assert steps == list(range(1, 16))  # each step once after the resume


def test_the_launcher_stops_every_process_when_one_fails(tmp_path):
    """Without MXNet: a worker that exits with 3 ends the job; the sleeping rest are stopped."""
    script = ("import os, sys, time\n"
              "if os.environ['DMLC_ROLE'] == 'worker':\n"
              "    time.sleep(0.5); sys.exit(3)\n"
              "time.sleep(120)\n")
    tic = time.time()
    done = subprocess.run([sys.executable, os.path.join(ROOT, "launch.py"), "-n", "2", "-s",
                           "2", "--local", "--grace", "1", "--", sys.executable, "-c", script],
                          capture_output=True, text=True, timeout=60)
    assert time.time() - tic < 30
    assert done.returncode == 1
    assert "exited with status 3" in done.stderr and "stopped the job" in done.stderr


def test_a_worker_alone_gives_up_after_the_rendezvous_timeout(synth_work, tmp_path):
    env = dict(os.environ, DMLC_ROLE="worker", DMLC_PS_ROOT_URI="127.0.0.1",
               DMLC_PS_ROOT_PORT=str(_free_port()), DMLC_NUM_WORKER="2", DMLC_NUM_SERVER="1",
               DMLC_NODE_HOST="127.0.0.1")
    done = subprocess.run([sys.executable, os.path.join(ROOT, "train_action.py"),
                           *train_args(synth_work, str(tmp_path / "x"), "train.kvstore_timeout=3"),
                           "--kvstore", "dist_sync"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 1
    assert "rendezvous" in done.stderr and "did not complete in 3 s" in done.stderr


def test_dist_kvstore_outside_a_launched_job_is_one_line(synth_work, tmp_path):
    with pytest.raises(SystemExit, match="runs under launch.py"):
        train_action.main(train_args(synth_work, str(tmp_path / "x"), "train.kvstore=dist_sync"))


def _free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
