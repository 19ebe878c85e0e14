"""Video readers: exact frames by index from frame folders, decord and PyAV; clear errors."""
import numpy as np
import pytest
from PIL import Image

from tests.helpers.fake_releases import SIZE, decode_index, video_frames
from lnta.data.io.frames import rgb_to_gray
from lnta.data.io.video import (DecordReader, FolderReader, PyAVReader, decode_gray, open_video, probe_video,
                                 write_video)
from lnta.errors import DataError

INDICES = [0, 37, 5, 5, 299, 256, 1, 298]  # out of order, repeated, across the 256 wrap


@pytest.fixture(scope="module")
def lossless_video(tmp_path_factory):
    path = tmp_path_factory.mktemp("video") / "07.avi"
    write_video(path, video_frames(300, 7))
    return path


@pytest.mark.parametrize("reader", [DecordReader, PyAVReader])
def test_video_backends_return_exact_frames_by_index(lossless_video, reader):
    video = reader(lossless_video)
    assert len(video) == 300
    frames = video.read(INDICES)
    assert frames.shape == (len(INDICES), *SIZE) and frames.dtype == np.uint8
    index, number = decode_index(frames)
    assert index.tolist() == INDICES and set(number.tolist()) == {7}
    np.testing.assert_array_equal(frames, video_frames(300, 7)[INDICES])


def test_decord_and_pyav_agree_on_every_frame(lossless_video):
    via_decord = np.concatenate(list(DecordReader(lossless_video).chunks(64)))
    via_pyav = np.concatenate(list(PyAVReader(lossless_video).chunks(64)))
    np.testing.assert_array_equal(via_decord, via_pyav)
    assert decode_index(via_pyav)[0].tolist() == list(range(300))


def test_folder_reader_orders_numerically_and_skips_macos_files(tmp_path):
    for i in (1, 2, 10, 100):
        Image.fromarray(video_frames(101, 1)[i]).save(tmp_path / f"{i}.png")
    (tmp_path / "._1.png").write_bytes(b"not an image")
    reader = open_video(tmp_path)
    assert isinstance(reader, FolderReader) and len(reader) == 4
    assert decode_index(reader.read([0, 1, 2, 3]))[0].tolist() == [1, 2, 10, 100]


def test_open_video_falls_back_to_pyav_where_decord_cannot_read(tmp_path):
    path = tmp_path / "narrow.avi"
    write_video(path, np.stack([np.full((32, 48), i, np.uint8) for i in range(5)]))
    with pytest.raises(DataError, match="narrow.avi"):
        DecordReader(path).read([0])
    reader = open_video(path)
    assert isinstance(reader, PyAVReader) and reader.read([4, 2])[:, 0, 0].tolist() == [4, 2]


@pytest.mark.parametrize("backend", ["decord", "pyav"])
def test_unreadable_video_names_the_file(tmp_path, backend):
    path = tmp_path / "03.avi"
    path.write_bytes(b"RIFF\x00\x00\x00\x00AVI garbage" * 10)
    with pytest.raises(DataError, match=r"03\.avi: unreadable or corrupt video"):
        open_video(path, backend).read([0])


def test_out_of_range_index_is_an_error(lossless_video):
    with pytest.raises(DataError, match="outside 0..299"):
        PyAVReader(lossless_video).read([300])


def test_rgb_to_gray_matches_pil():
    rgb = np.random.default_rng(0).integers(0, 256, (40, 50, 3), dtype=np.uint8)
    np.testing.assert_array_equal(rgb_to_gray(rgb), np.asarray(Image.fromarray(rgb).convert("L")))


def test_streaming_reader_is_the_indexed_reader_and_converts_colour_like_pil(tmp_path):
    import av

    rgb = np.random.default_rng(1).integers(0, 256, (6, 16, 24, 3), dtype=np.uint8)
    path = tmp_path / "colour.avi"
    with av.open(str(path), "w") as container:  # lossless colour (FFV1, bgr0)
        stream = container.add_stream("ffv1", rate=25)
        stream.height, stream.width, stream.pix_fmt = 16, 24, "bgr0"
        for frame in rgb:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    streamed = np.stack(list(decode_gray(path)))
    pil = np.stack([np.asarray(Image.fromarray(f).convert("L")) for f in rgb])
    np.testing.assert_array_equal(streamed, pil)
    np.testing.assert_array_equal(streamed, PyAVReader(path).read(range(6)))
    np.testing.assert_array_equal(np.stack(list(open_video(path).frames())), streamed)
    assert probe_video(path) == (6, 25.0)


def test_streaming_an_unreadable_video_names_the_file(tmp_path):
    path = tmp_path / "04.mp4"
    path.write_bytes(b"\x00garbage" * 20)
    with pytest.raises(DataError, match=r"04\.mp4: unreadable or corrupt video"):
        list(decode_gray(path))
    with pytest.raises(DataError, match=r"04\.mp4: unreadable or corrupt video"):
        probe_video(path)
