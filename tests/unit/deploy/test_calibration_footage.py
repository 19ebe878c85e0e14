"""lnta.calibrate names footage from the checkpoint's training folder as such, never as held out."""
from lnta.deploy.scorer import _inside_training_root
from lnta.deploy.stream import Source


def test_footage_inside_the_training_root_is_named(tmp_path):
    root = tmp_path / "cams"
    (root / "sub").mkdir(parents=True)
    inside = Source("cam4", str(root / "sub" / "cam4.mp4"), "video")
    outside = Source("new", str(tmp_path / "new.mp4"), "video")
    sibling = Source("cams2", str(tmp_path / "cams2" / "a.mp4"), "video")  # a name prefix is not a parent
    device = Source("stream", "rtsp://camera/1", "device")
    data = {"root": str(root)}
    assert _inside_training_root([outside, inside], data) == str(root)
    assert _inside_training_root([Source("cams", str(root), "frames")], data) == str(root)
    assert _inside_training_root([outside, sibling, device], data) is None
    assert _inside_training_root([inside], {}) is None  # a converted checkpoint stores no root
