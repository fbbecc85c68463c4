"""Protocol counts from hand-built name lists equal the rules of SPEC.md."""
import json

import pytest

from data import msr, ntu, nucla, utd
from data.protocols import counts, main, parse_names


def ntu_names():
    return [f"S001C{c:03d}P{p:03d}R001A{a:03d}_rgb.avi"
            for c in (1, 2, 3) for p in range(1, 41) for a in (1, 2)]


def test_ntu_protocols():
    samples, skipped = parse_names(ntu, ntu_names())
    assert len(samples) == 240 and skipped == []
    got = counts(ntu, samples)
    # 20 of the 40 performers train in xsub; cameras 2, 3 train in xview.
    assert got["xsub"] == {"train": 3 * 20 * 2, "test": 3 * 20 * 2}
    assert got["xview"] == {"train": 2 * 40 * 2, "test": 1 * 40 * 2}
    # xview-s keeps subjects 1..5; xsub-s camera 1 and subjects 1..10 (train: 1, 2, 4, 5, 8, 9)
    assert got["xview-s"] == {"train": 2 * 5 * 2, "test": 1 * 5 * 2}
    assert got["xsub-s"] == {"train": 6 * 2, "test": 4 * 2}


def test_nucla_protocols_and_unknown_actions():
    names = [f"a{a:02d}_s{s:02d}_e{e:02d}_v{v:02d}.avi"
             for a in range(1, 13) for s in (1, 2) for e in (0, 1) for v in (1, 2, 3)]
    samples, skipped = parse_names(nucla, names)
    assert len(samples) == 10 * 2 * 2 * 3
    assert len(skipped) == 2 * 2 * 2 * 3 and all("a07" in r or "a10" in r for _, r in skipped)
    for v in (1, 2, 3):
        assert counts(nucla, samples)[f"xview{v}"] == {"train": 80, "test": 40}
    labels = sorted({s["label"] for s in samples})
    assert labels == list(range(10))


def test_msr_cross_subject():
    names = [f"a{a:02d}_s{s:02d}_e{e:02d}_rgb.avi"
             for a in range(1, 17) for s in range(1, 11) for e in (1, 2)]
    samples, _ = parse_names(msr, names)
    assert counts(msr, samples)["xsub"] == {"train": 160, "test": 160}


def test_utd_cross_subject_with_missing_videos():
    names = [f"a{a}_s{s}_t{t}_color.avi" for a in range(1, 28) for s in range(1, 9)
             for t in range(1, 5)]
    names.remove("a8_s1_t4_color.avi")  # odd subject: a train sample is missing
    names.remove("a23_s6_t4_color.avi")
    names.remove("a27_s8_t4_color.avi")
    samples, _ = parse_names(utd, names)
    assert len(samples) == 861
    assert counts(utd, samples)["xsub"] == {"train": 432 - 1, "test": 432 - 2}


def test_bad_and_duplicate_names_are_reported():
    samples, skipped = parse_names(ntu, ["S001C001P001R001A001_rgb.avi", "notes.txt",
                                         "x/S001C001P001R001A001_rgb.mp4",
                                         "S001C001P001R001A061_rgb.avi"])
    assert len(samples) == 1
    reasons = dict(skipped)
    assert "unparseable" in reasons["notes.txt"]
    assert "duplicate" in reasons["x/S001C001P001R001A001_rgb.mp4"]
    assert "outside 1..60" in reasons["S001C001P001R001A061_rgb.avi"]


def test_cli_prints_counts_as_json(tmp_path, capsys):
    names = tmp_path / "names.txt"
    names.write_text("\n".join(ntu_names()) + "\nbroken_name.avi\n")
    main(["--dataset", "ntu", "--names", str(names)])
    report = json.loads(capsys.readouterr().out)
    assert report["samples"] == 240 and report["skipped"] == 1
    assert report["protocols"]["xview"] == {"train": 160, "test": 80}


def test_cli_fails_with_no_usable_sample(tmp_path):
    names = tmp_path / "names.txt"
    names.write_text("nothing_here.avi\n")
    with pytest.raises(SystemExit, match="no usable"):
        main(["--dataset", "msr", "--names", str(names)])
