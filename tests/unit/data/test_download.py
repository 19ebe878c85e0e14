"""lnta.download against small releases served from a loopback HTTP server started here (no internet):
a good download unpacks into the layout lnta reads, a bad checksum leaves nothing, a broken
connection resumes from the .part file."""
from __future__ import annotations

import hashlib
import io
import logging
import re
import socket
import tarfile
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import fake_releases as fr
from lnta.data.datamodule import VideoDataModule
from lnta.data.catalogue import SOURCES, dataset_sources
from lnta.data.fetch import download, verify
from lnta.data.labels.layouts import find_layout
from lnta.download import _name_argument
from lnta.errors import ConfigError, DataError
from tests.conftest import run_cli, shared_dataset

NO_PROXY = {"NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}


class _Handler(BaseHTTPRequestHandler):
    """GET of the server's files, with ``Range: bytes=N-``; a path in ``cuts`` sends only the first
    ``cuts[path].pop(0)`` bytes of the body, then closes the connection."""

    timeout = 10  # seconds per request socket, so a stuck client cannot hold the server

    def do_GET(self):  # noqa: N802 - http.server's name
        server = self.server
        data = server.files.get(self.path)
        server.requests.append((self.path, self.headers.get("Range")))
        if data is None:
            self.send_error(404)
            return
        start = 0
        match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
        if match:
            start = int(match.group(1))
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        body = data[start:]
        cuts = server.cuts.get(self.path)
        self.wfile.write(body[: cuts.pop(0)] if cuts else body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server(monkeypatch):
    """A loopback file server: ``files`` (path -> bytes), ``cuts``, ``requests``, ``url(path)``.
    It stops at the end of the test, or by itself after 120 s."""
    for key, value in NO_PROXY.items():
        monkeypatch.setenv(key, value)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    httpd.files, httpd.cuts, httpd.requests = {}, {}, []
    httpd.url = lambda path: f"http://127.0.0.1:{httpd.server_address[1]}{path}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    deadline = threading.Timer(120, httpd.shutdown)
    deadline.daemon = True
    deadline.start()
    yield httpd
    deadline.cancel()
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


def _tar_gz(folder: Path, arcname: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(folder, arcname=arcname)
    return buffer.getvalue()


def _zip(folder: Path, prefix: str, only: tuple[str, ...] = ()) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for path in sorted(folder.rglob("*")):
            rel = path.relative_to(folder).as_posix()
            if not only or rel.split("/")[0] in only:
                zf.write(path, prefix + rel)
    return buffer.getvalue()


def _npy(labels) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.concatenate(labels)[None].astype(np.uint8))
    return buffer.getvalue()


def _git_blob(data: bytes) -> str:
    return hashlib.sha1(f"blob {len(data)}\0".encode() + data).hexdigest()


def _ucsd_release(server, tmp_path: Path) -> dict:
    """A tiny UCSD_Anomaly_Dataset.tar.gz (Ped1 stub, Ped2, README, macOS ._ files) and Ped2's
    frame-label .npy on the server; returns the ``sources`` overrides that point ped2 at them."""
    release = tmp_path / "src" / "UCSD_Anomaly_Dataset.v1p2"
    labels = fr.ucsd_release(release, [20, 18], [20, 19])
    (release / "UCSDped1" / "Train").mkdir(parents=True)
    (release / "UCSDped1" / "Train" / "stub.txt").write_text("Ped1 is not unpacked")
    (release / "README.txt").write_text("UCSD Anomaly Detection Dataset")
    (release / "._README.txt").write_bytes(b"\x00\x05\x16\x07")
    archive, npy = _tar_gz(release, "UCSD_Anomaly_Dataset.v1p2"), _npy(labels)
    server.files.update({"/ucsd.tar.gz": archive, "/frame_labels_ped2.npy": npy})
    return {"ped2": {
        "archive": {"url": server.url("/ucsd.tar.gz"), "size": len(archive),
                    "sha256": hashlib.sha256(archive).hexdigest()},
        "frame_labels": {"url": server.url("/frame_labels_ped2.npy"), "size": len(npy), "git_blob": _git_blob(npy)}}}


def _run(root: Path, sources: dict, **kwargs) -> Path:
    return download("ped2", root=root, sources=sources, timeout=10, progress=False, **kwargs)


def test_good_download_unpacks_the_ucsd_release_into_the_layout_lnta_reads(server, tmp_path, caplog):
    sources, root = _ucsd_release(server, tmp_path), tmp_path / "ped2"
    with caplog.at_level(logging.INFO, logger="lnta.download"):
        _run(root, sources)
    assert sorted(p.name for p in root.iterdir()) == ["README.txt", "UCSDped2", "frame_labels_ped2.npy",
                                                      "lnta_download.json"]
    assert not list(root.rglob("._*")) and not (root / ".downloads").exists()
    layout = find_layout(root, "ped2")
    assert layout.kind == "ucsd" and [n for n, _ in layout.train] == ["Train001", "Train002"]
    assert set(layout.labels) == {"npy", "intervals", "masks"}
    assert layout.label_source("npy").load(["Test001", "Test002"], [20, 19])["Test002"].sum() > 0
    messages = [r.getMessage() for r in caplog.records]
    assert any("frame_labels_ped2.npy: SHA-256 not pinned" in m and "size and git blob id" in m for m in messages)
    assert any("ped2 ready in" in m and "data.root=" in m for m in messages)
    # a second run finds both files in place and fetches nothing
    served = len(server.requests)
    _run(root, sources)
    assert len(server.requests) == served


def test_bad_checksum_is_refused_with_one_line_and_leaves_nothing(server, tmp_path):
    sources, root = _ucsd_release(server, tmp_path), tmp_path / "ped2"
    got = sources["ped2"]["archive"]["sha256"]
    sources["ped2"]["archive"]["sha256"] = "0" * 64
    with pytest.raises(DataError) as info:
        _run(root, sources)
    message = str(info.value)
    assert "\n" not in message and "UCSD_Anomaly_Dataset.tar.gz" in message
    assert f"SHA-256 mismatch: expected {'0' * 64}, got {got}" in message
    assert not root.exists()


def test_interrupted_download_resumes_from_the_part_file_in_the_next_run(server, tmp_path):
    sources, root = _ucsd_release(server, tmp_path), tmp_path / "ped2"
    size = len(server.files["/ucsd.tar.gz"])
    server.cuts["/ucsd.tar.gz"] = [size // 3]
    with pytest.raises(DataError, match=r"download interrupted .*run again to resume"):
        _run(root, sources, retries=0)
    part = root / ".downloads" / "UCSD_Anomaly_Dataset.tar.gz.part"
    assert part.stat().st_size == size // 3
    assert sorted(p.name for p in root.rglob("*")) == [".downloads", part.name]  # nothing unpacked
    _run(root, sources, retries=0)
    assert ("/ucsd.tar.gz", f"bytes={size // 3}-") in server.requests
    assert find_layout(root, "ped2").kind == "ucsd" and not part.exists()


def test_broken_connection_resumes_within_one_run(server, tmp_path, caplog):
    sources, root = _ucsd_release(server, tmp_path), tmp_path / "ped2"
    server.cuts["/ucsd.tar.gz"] = [1000]
    with caplog.at_level(logging.WARNING, logger="lnta.download"):
        _run(root, sources, retries=2)
    assert [r for p, r in server.requests if p == "/ucsd.tar.gz"] == [None, "bytes=1000-"]
    assert any("resuming from byte 1000" in r.getMessage() for r in caplog.records)
    assert (root / "UCSDped2" / "Test" / "UCSDped2.m").is_file()


def test_avenue_zips_and_labels_only(server, tmp_path):
    release = tmp_path / "src"
    labels = fr.avenue_release(release, [20], [20, 19])
    archive = _zip(release, "Avenue Dataset/", only=("training_videos", "testing_videos"))
    masks = _zip(release, "", only=("ground_truth_demo",))
    npy = _npy(labels["intervals"])
    server.files.update({"/Avenue_Dataset.zip": archive, "/ground_truth_demo.zip": masks, "/fl.npy": npy})
    sha = lambda data: hashlib.sha256(data).hexdigest()  # noqa: E731
    sources = {"avenue": {
        "archive": {"url": server.url("/Avenue_Dataset.zip"), "sha256": sha(archive)},
        "ground_truth": {"url": server.url("/ground_truth_demo.zip"), "sha256": sha(masks)},
        "frame_labels": {"url": server.url("/fl.npy"), "size": len(npy), "git_blob": _git_blob(npy)}}}
    labels_root = tmp_path / "labels"
    download("avenue", root=labels_root, labels_only=True, sources=sources, progress=False)
    assert sorted(p.name for p in labels_root.iterdir()) == ["frame_labels_avenue.npy", "ground_truth_demo",
                                                             "lnta_download.json"]
    root = tmp_path / "avenue"
    download("avenue", root=root, sources=sources, progress=False)
    layout = find_layout(root, "avenue")
    assert layout.kind == "avenue" and len(layout.test) == 2 and {"npy", "masks"} <= set(layout.labels)


def test_no_network_is_one_line_naming_the_url(tmp_path, monkeypatch):
    for key, value in NO_PROXY.items():
        monkeypatch.setenv(key, value)
    with socket.socket() as sock:  # a port with nobody listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/cifar-100-python.tar.gz"
    with pytest.raises(DataError) as info:
        download("cifar100", root=tmp_path / "cifar", sources={"cifar100": {"archive": {"url": url}}},
                 timeout=5, progress=False)
    assert str(info.value).startswith(f"{url}: cannot download (") and "\n" not in str(info.value)
    assert not (tmp_path / "cifar").exists()


def test_an_existing_folder_is_not_replaced_without_force(server, tmp_path):
    sources, root = _ucsd_release(server, tmp_path), tmp_path / "ped2"
    (root / "UCSDped2").mkdir(parents=True)
    (root / "UCSDped2" / "mine.txt").write_text("the user's")
    with pytest.raises(DataError, match=r"UCSDped2: already exists .* force=true"):
        _run(root, sources)
    assert (root / "UCSDped2" / "mine.txt").is_file()
    _run(root, sources, force=True)
    assert not (root / "UCSDped2" / "mine.txt").exists() and find_layout(root, "ped2").kind == "ucsd"


def test_unsafe_archive_member_is_refused(server, tmp_path):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("cifar-100-python/../../escape.txt")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"bad"))
    data = buffer.getvalue()
    server.files["/c.tar.gz"] = data
    sources = {"cifar100": {"archive": {"url": server.url("/c.tar.gz"), "size": len(data),
                                        "sha256": hashlib.sha256(data).hexdigest()}}}
    with pytest.raises(DataError, match="unsafe member path"):
        download("cifar100", root=tmp_path / "c", sources=sources, progress=False)
    assert not (tmp_path / "escape.txt").exists() and not (tmp_path / "c" / "train").exists()


def test_table_names_and_overrides_are_checked():
    assert set(SOURCES) == {"ped2", "avenue", "shanghaitech", "cifar100"}
    for dataset in SOURCES.values():
        for source in dataset.files.values():
            assert source.url.startswith(("http://", "https://")) and (source.sha256 or source.git_blob)
    with pytest.raises(ConfigError, match="expected one of ped2"):
        dataset_sources("ped3")
    with pytest.raises(ConfigError, match="sources.ped2.masks: no such file"):
        dataset_sources("ped2", {"ped2": {"masks": {"url": "x"}}})
    with pytest.raises(ConfigError, match="sources.ped2.archive.strip: cannot be changed"):
        dataset_sources("ped2", {"ped2": {"archive": {"strip": ""}}})
    assert _name_argument(["download", "ped2", "root=d"]) == ["download", "name=ped2", "root=d"]
    assert _name_argument(["download", "name=ped2"]) == ["download", "name=ped2"]


def test_missing_data_root_points_to_the_download_command(tmp_path):
    with pytest.raises(DataError, match=r"folder not found \(get it with: python -m lnta.download avenue root="):
        VideoDataModule(root=str(tmp_path / "nowhere"), name="avenue").check_root()


@pytest.mark.realdata
@pytest.mark.parametrize("name, path", [("ped2", ("ped2", "frame_labels_ped2.npy")),
                                        ("avenue", ("avenue_labels", "frame_labels_avenue.npy"))])
def test_pinned_label_files_match_the_shared_copies(name, path):
    """The shared label files came from the same MNAD commit: the table's size and blob id fit them."""
    record = verify(shared_dataset(*path), SOURCES[name].files["frame_labels"], progress=False)
    assert record["verified_by"] == ["size", "git blob id"]


@pytest.mark.slow
def test_cli_downloads_with_a_bare_name_and_refuses_a_bad_checksum(server, tmp_path):
    sources = _ucsd_release(server, tmp_path)
    overrides = [f"+sources.ped2.{key}.{field}={value}" for key, fields in sources["ped2"].items()
                 for field, value in fields.items()]
    common = ["progress=false", "timeout=10", f"hydra.run.dir={tmp_path / 'run'}"]
    bad = [o for o in overrides if ".archive.sha256=" not in o] + [f"+sources.ped2.archive.sha256={'1' * 64}"]
    result = run_cli("lnta.download", "ped2", f"root={tmp_path / 'bad'}", *bad, *common, check=False, env=NO_PROXY)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and f"expected {'1' * 64}, got {sources['ped2']['archive']['sha256']}" in errors[0]
    assert not (tmp_path / "bad").exists()
    result = run_cli("lnta.download", "ped2", f"root={tmp_path / 'ped2'}", *overrides, *common, env=NO_PROXY)
    assert "ped2 ready in" in result.stdout + result.stderr
    assert find_layout(tmp_path / "ped2", "ped2").kind == "ucsd"
