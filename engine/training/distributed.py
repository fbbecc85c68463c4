"""One training job over several processes on MXNet's parameter server (ps-lite), as seen from a
worker: which kvstore the trainer uses, this worker's rank, its share of every batch, and the
sums of the numbers every worker reports.

train.kvstore (configs/base.yaml): ``local`` / ``device`` aggregate gradients in one process
(null: device with several devices, local with one); ``dist_sync`` / ``dist_device_sync`` join
the job that launch.py starts (the DMLC_* environment names the scheduler). In a dist job
train.batch_size is the global batch: each of the W workers takes batch_size / W clips of each
step (``data.loader.EpochSampler``'s shard), the servers sum the gradients, and every worker
applies the same update to the same weights (update_on_kvstore False: the servers only add), so
the step equals one process's step on the whole batch when batch norm uses running statistics
(model.global_stats all); with batch statistics each worker normalises its own share, as each
device does in one process. Rank 0 alone writes (checkpoints, logs, metrics); the others log to
the console only.
"""
import logging
import os
import sys
import threading

import mxnet as mx
import numpy as np

DIST = ("dist_sync", "dist_device_sync")
SUM_KEY = 1 << 20  # kvstore keys of the summed metrics; the trainer's are 0 .. parameters - 1
_JOINED = {}  # ps-lite allows one dist kvstore a process: the logging and the loop share it


class Job:
    """The kvstore a trainer uses and this process's place in the job (rank 0 of 1 alone)."""

    def __init__(self, kind, kvstore=None):
        self.kind, self.kv = kind, kvstore
        self.rank = kvstore.rank if kvstore is not None else 0
        self.num_workers = kvstore.num_workers if kvstore is not None else 1
        self._keys = set()

    @property
    def distributed(self):
        return self.kv is not None

    @property
    def writer(self):
        """Whether this process writes the run's files (rank 0)."""
        return self.rank == 0

    def trainer_kvstore(self, num_devices):
        """What gluon.Trainer takes: the joined dist kvstore, or the name of a local one."""
        if self.kv is not None:
            return self.kv
        return self.kind or ("device" if num_devices > 1 else "local")

    def sum(self, values):
        """The element-wise sum over the workers of ``values`` (a list of floats) -> float64
        array; every worker must call it at the same point (a dist_sync push waits for all)."""
        values = np.asarray(values, np.float64)
        if self.kv is None:
            return values
        key = SUM_KEY + len(values)  # one key per length: a key's shape is fixed at init
        if key not in self._keys:
            self.kv.init(key, mx.nd.zeros(len(values), dtype="float64"))
            self._keys.add(key)
        arr = mx.nd.array(values, dtype="float64")
        self.kv.push(key, arr)
        self.kv.pull(key, out=arr)
        return arr.asnumpy()

    def settle(self, trainer):
        """Put rank 0's weights (and their kvstore keys) in place on this worker and wait until
        they have landed, before the first backward. Left to the first ``trainer.step``, the
        weights' pull and the gradients' push race: MXNet's dist kvstore pushes a CPU gradient
        without waiting for an earlier pull of its key, and a pull that reaches the server after
        the round of pushes returns the gradient sum as weights (seen here: runs differed)."""
        if self.kv is None:
            return
        if not trainer._kv_initialized:  # Gluon has no public call for this step
            trainer._init_kvstore()
        if trainer._params_to_init:
            trainer._init_params()
        mx.nd.waitall()

    def local_batch(self, batch_size):
        """Each worker's share of a global batch; ValueError unless it divides evenly."""
        if batch_size % self.num_workers:
            raise ValueError(f"train.batch_size {batch_size} (the global batch) is not divisible "
                             f"by the job's {self.num_workers} workers")
        return batch_size // self.num_workers


def join(kind, timeout):
    """The Job of train.kvstore ``kind`` (the same one on every call). A dist kind joins the job
    named by the DMLC_* environment; if the rendezvous (every worker and server registering with the scheduler)
    has not completed in ``timeout`` seconds, the process ends with one line and status 1 (the
    rendezvous blocks in C++, where no exception can reach it)."""
    if kind not in DIST:
        return Job(kind)
    if kind in _JOINED:
        return _JOINED[kind]
    missing = [v for v in ("DMLC_ROLE", "DMLC_PS_ROOT_URI", "DMLC_PS_ROOT_PORT",
                           "DMLC_NUM_WORKER", "DMLC_NUM_SERVER") if v not in os.environ]
    if missing:
        raise ValueError(f"train.kvstore {kind} runs under launch.py (the DMLC_* environment; "
                         f"{missing[0]} is not set): python launch.py -n WORKERS -s SERVERS "
                         f"--local -- python train_action.py ...")

    def give_up():
        sys.stderr.write(f"error: the {kind} rendezvous with the scheduler at "
                         f"{os.environ['DMLC_PS_ROOT_URI']}:{os.environ['DMLC_PS_ROOT_PORT']} "
                         f"did not complete in {timeout:g} s (train.kvstore_timeout): a worker "
                         f"or server did not start\n")
        sys.stderr.flush()
        os._exit(1)
    timer = threading.Timer(timeout, give_up)
    timer.daemon = True
    timer.start()
    try:
        kv = mx.kv.create(kind)
    finally:
        timer.cancel()
    _JOINED[kind] = Job(kind, kv)
    return _JOINED[kind]


def console_logging(name, rank):
    """A non-writing worker's logger: the console only, each line tagged with its rank."""
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    for h in list(root.handlers):
        root.removeHandler(h)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"%(asctime)s worker {rank} %(levelname)s "
                                           f"%(message)s"))
    root.addHandler(handler)
    return logging.getLogger(name)
