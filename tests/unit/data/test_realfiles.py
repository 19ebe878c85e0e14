"""Label parsing on the real label files in ../shared/datasets, checked frame by frame."""
import numpy as np
import pytest

from lnta.data.labels import formats as fmt
from lnta.data.datamodule import VideoDataModule
from lnta.data.labels.known import KNOWN, check_known
from lnta.data.labels.labels import load_frame_labels
from lnta.data.labels.layouts import label_file_source
from lnta.data.io.video import open_video
from tests.conftest import shared_dataset

pytestmark = pytest.mark.realdata


def test_ped2_label_files_agree_frame_by_frame():
    root = shared_dataset("ped2")
    dm = VideoDataModule(str(root), name="ped2")
    names = [n for n, _ in dm.videos("test")]
    lengths = [len(open_video(p)) for _, p in dm.videos("test")]
    assert check_known("ped2", "test", names, lengths, str(root))
    train_lengths = [len(open_video(p)) for _, p in dm.videos("train")]
    assert check_known("ped2", "train", [n for n, _ in dm.videos("train")], train_lengths, str(root))
    layout = dm.layout()
    versions = {kind: layout.label_source(kind).load(names, lengths) for kind in ("npy", "intervals", "masks")}
    versions["ucsd_m"] = label_file_source(root / "UCSDped2.m").load(names, lengths)
    assert dm.layout().labels["intervals"].path.name == "ped2.mat"
    flat = {k: np.concatenate([v[n] for n in names]) for k, v in versions.items()}
    assert len(flat["npy"]) == 2010 and int(flat["npy"].sum()) == 1648
    for kind, labels in flat.items():
        np.testing.assert_array_equal(labels, flat["npy"], err_msg=kind)


@pytest.mark.slow  # decompresses 15324 masks of 360x640 (~1 min)
def test_avenue_masks_give_15324_frames():
    folder = shared_dataset("avenue_labels", "ground_truth_demo", "testing_label_mask")
    per_video = [fmt.load_vollabel(folder / f"{v}_label.mat") for v in range(1, 22)]
    assert [len(y) for y in per_video] == KNOWN["avenue"]["test"]["lengths"]
    from_masks = np.concatenate(per_video)
    assert len(from_masks) == 15324
    np.testing.assert_array_equal(
        from_masks, load_frame_labels(folder.parents[1] / "frame_labels_avenue_from_masks.npy"))
    intervals = load_frame_labels(folder.parents[1] / "frame_labels_avenue.npy")
    assert int((intervals != from_masks).sum()) == 441  # the two published Avenue label versions


def test_shanghaitech_masks_give_40791_frames():
    folder = shared_dataset("shanghaitech_labels", "test_frame_mask")
    files = sorted(folder.glob("*.npy"))
    per_video = [load_frame_labels(f) for f in files]
    assert len(files) == KNOWN["shanghaitech"]["test"]["videos"] == 107
    assert check_known("shanghaitech", "test", [f.stem for f in files], [len(y) for y in per_video], "x")
    np.testing.assert_array_equal(np.concatenate(per_video),
                                  load_frame_labels(folder.parent / "frame_labels_shanghai.npy"))


def test_the_full_published_label_files_slice_to_each_videos_own_labels():
    """Issue 25: the slices that published_slices cuts from the concatenated real files are the per-video
    labels of the same videos (ShanghaiTech masks; Avenue's mask-derived file against 08's {N}_label.mat)."""
    from lnta.data.labels.layouts import published_slices

    folder = shared_dataset("shanghaitech_labels", "test_frame_mask")
    flat = load_frame_labels(folder.parent / "frame_labels_shanghai.npy")
    names = ["01_0014", "06_0144", "12_0175"]
    per_video = [load_frame_labels(folder / f"{n}.npy") for n in names]
    slices = published_slices("shanghaitech", names, [len(y) for y in per_video], len(flat), "x")
    for (a, b), labels in zip(slices, per_video):
        np.testing.assert_array_equal(flat[a:b], labels)
    avenue = shared_dataset("avenue_labels")
    masks = load_frame_labels(avenue / "frame_labels_avenue_from_masks.npy")
    (a, b), = published_slices("avenue", ["08"], [36], len(masks), "x")
    own = fmt.load_vollabel(avenue / "ground_truth_demo" / "testing_label_mask" / "8_label.mat")
    np.testing.assert_array_equal(masks[a:b], own)
