"""The stage files: each format round-trips; a failed write leaves no file and names its path."""
import errno
import glob
import os

import numpy as np
import pytest

from common import files
from data import index
from common.errors import one_line
from helpers import fill_the_disk

KPS = np.arange(4 * 17 * 3, dtype=np.float32).reshape(4, 17, 3)
BOXES = np.array([[1, 2, 30, 40]] * 4, np.float32)

# (writer, the final path it writes under DIR): every writer of data/index.py.
WRITERS = {
    "text": (lambda d: files.atomic_write_text(os.path.join(d, "r.json"), "{}" * 5000), "r.json"),
    "index": (lambda d: index.write_index(d, [dict(id="a", label=0)] * 500), "index.jsonl"),
    "splits": (lambda d: index.write_splits(d, "synth", {"xview3": {"train": ["a"] * 900,
                                                                    "test": []}}),
               "splits.json"),
    "skipped": (lambda d: index.write_skipped(os.path.join(d, "skipped.csv"),
                                              [("x.avi", "zero-byte file")] * 500),
                "skipped.csv"),
    "poses": (lambda d: index.write_poses(os.path.join(d, "poses"), "a", KPS), "poses/a.npy"),
    "boxes": (lambda d: index.write_boxes(os.path.join(d, "b", "boxes.json"), "synth", "rfcn",
                                          0.5, {f"v{i}": dict(box=[0, 0, 1, 1])
                                                for i in range(300)}),
              "b/boxes.json"),
    "annotation": (lambda d: index.write_annotation(os.path.join(d, "ann", "a.npz"), KPS, BOXES),
                   "ann/a.npz"),
}


def temporaries(folder):
    return glob.glob(os.path.join(str(folder), "**", "*.tmp*"), recursive=True)


def test_formats_round_trip(tmp_path):
    d = str(tmp_path)
    index.write_skipped(os.path.join(d, "s.csv"), [("a,b.avi", "missing file")])
    with open(os.path.join(d, "s.csv"), "rb") as f:  # the csv module's quoting and line ends
        assert f.read() == b'name,reason\r\n"a,b.avi",missing file\r\n'
    assert index.read_skipped(os.path.join(d, "s.csv")) == [("a,b.avi", "missing file")]
    index.write_poses(os.path.join(d, "poses"), "v1", KPS.astype(np.float64))
    got = index.read_poses(os.path.join(d, "poses"), "v1")
    assert got.dtype == np.float32 and np.array_equal(got, KPS)
    index.write_annotation(os.path.join(d, "a.npz"), KPS, BOXES, object_class=3)
    kps, boxes = index.read_annotation(os.path.join(d, "a.npz"))
    assert np.array_equal(kps, KPS) and np.array_equal(boxes, BOXES)
    with np.load(os.path.join(d, "a.npz")) as z:
        assert int(z["object_class"]) == 3
    index.write_boxes(os.path.join(d, "boxes.json"), "synth", "rfcn", 0.5,
                      {"v1": dict(box=[1, 2, 3, 4], fallback=False)})
    boxes, record = index.read_boxes(os.path.join(d, "boxes.json"))
    assert np.array_equal(boxes["v1"], [1, 2, 3, 4]) and record["detector"] == "rfcn"
    assert temporaries(d) == []


@pytest.mark.parametrize("name", sorted(WRITERS))
def test_full_disk_leaves_no_file_and_names_the_path(tmp_path, monkeypatch, name):
    write, rel = WRITERS[name]
    real_write = os.write

    def half_then_full(fd, data):  # the disk fills half-way through the first write
        if fd <= 2:
            return real_write(fd, data)
        if not getattr(half_then_full, "done", False):
            half_then_full.done = True
            return real_write(fd, bytes(data[: len(data) // 2]))
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "write", half_then_full)
    with pytest.raises(OSError) as info:
        write(str(tmp_path))
    monkeypatch.undo()
    final = os.path.join(str(tmp_path), rel)
    assert info.value.errno == errno.ENOSPC and info.value.filename == final
    assert one_line(info.value) == f"{final}: No space left on device"
    assert not os.path.exists(final) and temporaries(tmp_path) == []


@pytest.mark.parametrize("name", sorted(WRITERS))
def test_unwritable_folder_names_the_path(tmp_path, name):
    # Root ignores chmod: a folder below a regular file is unwritable for everyone.
    blocker = tmp_path / "file"
    blocker.write_text("a regular file")
    write, rel = WRITERS[name]
    with pytest.raises(OSError) as info:
        write(str(blocker))
    final = os.path.join(str(blocker), rel)
    assert info.value.errno == errno.ENOTDIR and info.value.filename == final
    assert one_line(info.value) == f"{final}: Not a directory"
    assert temporaries(tmp_path) == []


def test_a_failed_rewrite_keeps_the_old_file(tmp_path, monkeypatch):
    path = str(tmp_path / "index.jsonl")
    files.atomic_write_text(path, "old\n")
    fill_the_disk(monkeypatch)
    with pytest.raises(OSError):
        files.atomic_write_text(path, "new\n")
    monkeypatch.undo()
    with open(path) as f:
        assert f.read() == "old\n"
    assert temporaries(tmp_path) == []


def test_a_failed_check_removes_the_temporary_and_passes_through(tmp_path):
    def write(tmp):
        with open(tmp, "w") as f:
            f.write("half")
        raise ValueError("the check failed")

    with pytest.raises(ValueError, match="the check failed"):
        files.write_via_temporary(write, str(tmp_path / "out.txt"))
    assert os.listdir(str(tmp_path)) == []
