"""What every entry script's command line shares, importable before MXNet.

An entry script builds its parser with ``parser(__doc__)`` (``--help`` prints the docstring
whole, examples included) and calls ``start(args)`` on the parsed arguments before it imports
MXNet, so ``--help`` and a bad flag answer without loading MXNet, and MXNet's OpenMP thread
count is set while it still can be: MXNet reads OMP_NUM_THREADS once, when it loads, and
without it takes half the processors (it assumes two hyperthreads a core, so a 2-core machine
without hyperthreads runs on one). ``start`` sets it to the machine's physical cores, or to
``--threads N``; an OMP_NUM_THREADS already in the environment wins.
"""
import argparse
import os
import sys


DTYPES = ("float32", "int8", "bfloat16", "float16")  # eval.dtype's choices (configs.CHOICES)
KVSTORES = ("local", "device", "dist_sync", "dist_device_sync")


def parser(doc):
    """An ArgumentParser whose help is the script's whole docstring, laid out as written."""
    return argparse.ArgumentParser(description=doc,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)


def add_threads_arg(parser):
    parser.add_argument("--threads", type=int,
                        help="MXNet's compute threads (default: the physical cores; an "
                             "OMP_NUM_THREADS in the environment wins)")


def add_gpus_arg(parser):
    """--gpus 0,1 (and --gpu 0, the same flag under its older name)."""
    parser.add_argument("--gpus", "--gpu", dest="gpus",
                        help="GPU ids, e.g. 0,1 (default: the CPU)")


def add_dtype_arg(parser, config=True):
    """``--dtype``: with a config, an override of eval.dtype."""
    parser.add_argument("--dtype", choices=DTYPES,
                        help="inference precision" + (" (overrides eval.dtype)" if config else
                                                      " (default float32)"))


def with_dtype(overrides, dtype):
    """Config overrides plus ``--dtype`` as eval.dtype (last, so it wins)."""
    return list(overrides) + ([f"eval.dtype={dtype}"] if dtype else [])


def add_kvstore_arg(parser):
    """--kvstore KIND: the override train.kvstore=KIND, so the run's saved config holds it."""
    parser.add_argument("--kvstore", choices=KVSTORES,
                        help="gradient aggregation (train.kvstore); dist_*: under launch.py")


def with_kvstore(args):
    """The overrides of parsed ``args`` with --kvstore's appended."""
    return list(args.overrides) + ([f"train.kvstore={args.kvstore}"] if args.kvstore else [])


def threads_for(requested=None, environ=os.environ, cores=None):
    """-> (threads, where from): OMP_NUM_THREADS if set, else ``requested`` (--threads), else
    the physical cores."""
    value = environ.get("OMP_NUM_THREADS", "").strip()
    if value.isdigit() and int(value) > 0:
        return int(value), "OMP_NUM_THREADS"
    if requested:
        if requested < 1:
            raise SystemExit(f"error: --threads is {requested}; give 1 or more")
        return requested, "--threads"
    return cores or physical_cores(), "physical cores"


def start(args=None):
    """Before MXNet loads: MXNet's OpenMP threads (``threads_for``). After it has loaded (a
    script's main called from another script or a test) the count it started with stays."""
    threads, _ = threads_for(getattr(args, "threads", None))
    if "mxnet" not in sys.modules:
        os.environ["OMP_NUM_THREADS"] = str(threads)
    return args


def physical_cores(sysfs="/sys/devices/system/cpu"):
    """Cores, not hardware threads: the distinct (package, core) pairs of the online CPUs
    (os.cpu_count() where the topology cannot be read)."""
    cores = set()
    try:
        for name in os.listdir(sysfs):
            if not (name.startswith("cpu") and name[3:].isdigit()):
                continue
            topology = os.path.join(sysfs, name, "topology")
            with open(os.path.join(topology, "physical_package_id")) as f:
                package = f.read().strip()
            with open(os.path.join(topology, "core_id")) as f:
                cores.add((package, f.read().strip()))
    except OSError:
        return os.cpu_count() or 1
    return len(cores) or os.cpu_count() or 1
