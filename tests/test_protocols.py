"""Protocol counts from hand-built name lists equal the rules of SPEC.md."""
import json

import pytest

from common import errors

from data import msr, ntu, nucla, utd
from data.protocols import counts, main, parse_names, split


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
    # xview-s and xsub-s keep subjects 1..5 (xsub trains on 1, 2, 4, 5); xsub-s-text keeps
    # camera 1 and subjects 1..10 (xsub trains on 1, 2, 4, 5, 8, 9)
    assert got["xview-s"] == {"train": 2 * 5 * 2, "test": 1 * 5 * 2}
    assert got["xsub-s"] == {"train": 3 * 4 * 2, "test": 3 * 1 * 2}
    assert got["xsub-s-text"] == {"train": 6 * 2, "test": 4 * 2}


# The complete NTU-60 list: each setup's performers; each pair has 3 cameras x 2 replications x
# 60 actions. Read off the public NTU name lists (the 56,578 names with skeletons that
# skeleton-based repositories ship as skes_available_name.txt, plus the 302 of
# NTU_RGBD_samples_with_missing_skeletons.txt): 158 pairs, all 360 videos each.
NTU60_PERFORMERS = {
    1: (1, 2, 3, 4, 5, 6, 7, 8), 2: (3, 7, 8, 9, 10, 11, 12, 13, 14),
    3: (1, 2, 7, 8, 15, 16, 17, 18, 19), 4: (3, 7, 8, 20), 5: (4, 10, 13, 15, 16, 17, 18, 21),
    6: (1, 7, 8, 15, 16, 17, 19, 22, 23, 24), 7: (1, 7, 8, 15, 16, 17, 18, 19, 25, 26, 27, 28),
    8: (1, 7, 8, 15, 19, 25, 29, 30, 31, 32, 33, 34, 35, 36), 9: (7, 8, 15, 16, 17, 19, 25),
    10: (7, 8, 13, 15, 16, 17, 18, 19, 21, 25),
    11: (1, 2, 7, 8, 15, 16, 17, 18, 19, 25, 27, 28, 38),
    12: (7, 8, 15, 16, 17, 18, 19, 25, 27, 28, 37), 13: (7, 8, 15, 16, 17, 18, 19, 25, 27, 28, 37),
    14: (7, 8, 15, 17, 19, 25, 27, 37, 39), 15: (7, 8, 15, 16, 17, 19, 25, 37),
    16: (7, 8, 19, 21, 25, 39, 40), 17: (3, 7, 8, 9, 15, 16, 17, 20),
}


def ntu60_names():
    return [f"S{s:03d}C{c:03d}P{p:03d}R{r:03d}A{a:03d}_rgb.avi"
            for s, performers in NTU60_PERFORMERS.items() for p in performers
            for c in (1, 2, 3) for r in (1, 2) for a in range(1, 61)]


def test_complete_ntu60_list_has_the_published_sizes():
    """The list above against Shahroudy et al. 2016's own split sizes."""
    samples, skipped = parse_names(ntu, ntu60_names())
    assert len(samples) == 56880 and skipped == []
    got = counts(ntu, samples)
    assert got["xsub"] == {"train": 40320, "test": 16560}
    assert got["xview"] == {"train": 37920, "test": 18960}


def test_small_subsets_of_the_complete_list_and_the_paper_counts():
    samples, _ = parse_names(ntu, ntu60_names())
    got = counts(ntu, samples)
    # Pairs with performers 1..5: 16 (4 of them performer 3); each 360 videos, 120 a camera.
    assert got["xview-s"] == {"train": 16 * 240, "test": 16 * 120}
    assert got["xsub-s"] == {"train": 12 * 360, "test": 4 * 360}
    # The text's rule: camera 1, performers <= 10: 30 train pairs, 23 test pairs.
    assert got["xsub-s-text"] == {"train": 30 * 120, "test": 23 * 120}
    # A copy can only lose videos, so no copy reaches the paper's 4,317 under the text's rule.
    assert got["xsub-s-text"]["train"] < 4317
    # xsub-s and xview-s are one set of videos split two ways, as the paper's totals say.
    splits = {p: split(ntu, samples, p) for p in ("xview-s", "xsub-s")}
    assert sorted(sum(splits["xsub-s"].values(), [])) == sorted(sum(splits["xview-s"].values(),
                                                                    []))
    # A copy without four videos (three of camera 1, one of them by performer 3) gives the
    # paper's four counts at once.
    lost = {"S001C001P003R001A001", "S001C001P001R001A001", "S001C001P002R001A001",
            "S001C002P001R001A001"}
    copy = [s for s in samples if s["id"] not in lost]
    got = counts(ntu, copy)
    assert got["xview-s"] == {"train": 3839, "test": 1917}
    assert got["xsub-s"] == {"train": 4317, "test": 1439}


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
    assert report["protocols"]["xview-s"] == {"train": 20, "test": 10}
    assert report["protocols"]["xsub-s"] == {"train": 24, "test": 6}
    assert report["protocols"]["xsub-s-text"] == {"train": 12, "test": 8}


def test_cli_fails_with_no_usable_sample(tmp_path):
    names = tmp_path / "names.txt"
    names.write_text("nothing_here.avi\n")
    with pytest.raises(SystemExit, match="no usable"):
        main(["--dataset", "msr", "--names", str(names)])


def test_pose_datasets_join_the_cli(tmp_path, capsys):
    from test_h36m import write_npz
    from test_penn import write_label
    for k, train in enumerate([1, 1, -1]):
        write_label(tmp_path / "labels", f"{k + 1:04d}", train=train)
    main(["--dataset", "penn_action", "--pose", "--names", str(tmp_path / "labels")])
    report = json.loads(capsys.readouterr().out)
    assert report["dataset"] == "penn_action"
    assert report["protocols"] == {"official": {"train": 2, "test": 1}}
    write_npz(tmp_path / "h36m_test.npz")
    main(["--dataset", "h36m", "--names", str(tmp_path / "h36m_test.npz")])
    assert json.loads(capsys.readouterr().out)["protocols"] == {"p1": {"train": 1, "test": 3}}


def test_pose_dataset_errors_are_one_line(tmp_path):
    with pytest.raises(SystemExit, match=r"^error: no such folder: .*nowhere$"):
        main(["--dataset", "penn_action", "--pose", "--names", str(tmp_path / "nowhere")])
    (tmp_path / "labels").mkdir()
    with pytest.raises(SystemExit, match=r"^error: no \.mat label file in "):
        main(["--dataset", "penn_action", "--pose", "--names", str(tmp_path / "labels")])


def test_the_old_pose_names_count_the_pose_files(tmp_path, capsys, monkeypatch):
    from test_ntu_skeleton import ID_A, write
    monkeypatch.setattr(errors, "NOTICED", set())
    for name in ("S001C001P001R001A001", "S001C002P003R001A001"):
        write(tmp_path / f"{name}.skeleton", [[(ID_A, 1)]])
    main(["--dataset", "ntu", "--pose", "--names", str(tmp_path)])
    now = capsys.readouterr()
    main(["--dataset", "ntu_skeleton", "--names", str(tmp_path)])
    old = capsys.readouterr()
    assert json.loads(old.out) == json.loads(now.out)
    assert json.loads(now.out)["dataset"] == "ntu" and now.err == ""
    assert old.err == "notice: ntu_skeleton is now ntu; the old name works until the next release\n"


def test_the_cli_refuses_a_name_in_one_line(capsys):
    for argv, message in ((["--dataset", "lsp"], "unknown dataset 'lsp'; choose one of ntu, "),
                          (["--dataset", "coco"], "unknown dataset 'coco'"),
                          (["--dataset", "msr", "--pose"], "unknown pose dataset 'msr'; choose "
                                                           "one of ntu, penn_action, mpii, h36m")):
        with pytest.raises(SystemExit) as done:
            main(argv + ["--names", "x"])
        assert done.value.code == 2 and message in capsys.readouterr().err