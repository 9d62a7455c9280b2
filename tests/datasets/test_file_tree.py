"""FileTreeDataset: parallel writes give the same tree as sequential ones, atomically."""

from __future__ import annotations

import time

import pytest
from kedro.io import DatasetError

from gaze_pipelines.datasets.file_tree import FileTreeDataset


def _tree(n: int = 40) -> dict[str, bytes | str]:
    files: dict[str, bytes | str] = {
        f"set/{kind}/u{i % 3}/f{i}.png": bytes([i % 256]) * (100 + i)
        for i in range(n)
        for kind in ("face", "leye")
    }
    files["set/GT/readme.txt"] = "text é"
    files["set/view.bin"] = memoryview(b"abc")  # bytes-like objects are written as is
    return files


def _read(root) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def _expected(files) -> dict[str, bytes]:
    return {k: v.encode() if isinstance(v, str) else bytes(v) for k, v in files.items()}


@pytest.mark.parametrize("mode", ["merge", "replace"])
@pytest.mark.parametrize("workers", [1, 8])
def test_parallel_writes_equal_sequential(tmp_path, mode, workers):
    files = _tree()
    FileTreeDataset(path=str(tmp_path / "out"), mode=mode, workers=workers).save(files)
    assert _read(tmp_path / "out") == _expected(files)
    assert not [p for p in tmp_path.rglob(".*")]  # no temp or staging files left


def test_merge_keeps_other_files_and_replaces_existing(tmp_path):
    root = tmp_path / "out"
    (root / "set").mkdir(parents=True)
    (root / "set" / "keep.txt").write_text("keep")
    (root / "set" / "f.txt").write_text("old")
    FileTreeDataset(path=str(root), mode="merge", workers=4).save(
        {"set/f.txt": "new", "set/a/b.txt": b"b"}
    )
    assert _read(root) == {"set/keep.txt": b"keep", "set/f.txt": b"new", "set/a/b.txt": b"b"}


@pytest.mark.parametrize("workers", [1, 4])
def test_merge_swap_depth_replaces_written_subfolders_whole(tmp_path, workers):
    root = tmp_path / "out"
    (root / "s1" / "norm" / "face").mkdir(parents=True)
    (root / "s1" / "norm" / "face" / "stale.png").write_bytes(b"old run")
    (root / "s1" / "GT").mkdir()
    (root / "s1" / "GT" / "keep.txt").write_text("keep")
    (root / "s2" / "norm").mkdir(parents=True)
    (root / "s2" / "norm" / "keep.png").write_bytes(b"not written to")
    files = {
        "s1/norm/face/u1/a.png": b"a",
        "s1/norm/leye/u1/a.png": b"b",
        "s3/norm/face/u2/c.png": b"c",
        "top.txt": "loose",
    }
    FileTreeDataset(path=str(root), mode="merge", swap_depth=2, workers=workers).save(files)
    assert _read(root) == {
        "s1/GT/keep.txt": b"keep",  # outside the swapped sub-folders: kept
        "s2/norm/keep.png": b"not written to",
        "s1/norm/face/u1/a.png": b"a",  # s1/norm is exactly this save: stale.png is gone
        "s1/norm/leye/u1/a.png": b"b",
        "s3/norm/face/u2/c.png": b"c",
        "top.txt": b"loose",
    }
    assert not [p for p in tmp_path.rglob(".*")]


def test_swap_depth_failure_keeps_previous_subfolder(tmp_path):
    root = tmp_path / "out"
    ds = FileTreeDataset(path=str(root), mode="merge", swap_depth=1)
    ds.save({"s/a.txt": "v1"})
    with pytest.raises(DatasetError, match="must be bytes or str"):
        ds.save({"s/a.txt": "v2", "s/b.txt": 3})
    assert _read(root) == {"s/a.txt": b"v1"}
    assert not [p for p in tmp_path.rglob(".*")]


@pytest.mark.parametrize(("mode", "depth"), [("replace", 1), ("merge", 0), ("merge", "2")])
def test_swap_depth_validated(tmp_path, mode, depth):
    with pytest.raises(DatasetError, match="swap_depth"):
        FileTreeDataset(path=str(tmp_path), mode=mode, swap_depth=depth)


def test_failed_write_leaves_no_partial_file(tmp_path):
    root = tmp_path / "out"
    root.mkdir()
    (root / "bad.txt").write_text("old")

    def boom() -> bytes:
        raise OSError("disk on fire")

    files = {f"ok{i}.txt": b"x" for i in range(20)} | {"bad.txt": boom}
    with pytest.raises(DatasetError, match="disk on fire"):
        FileTreeDataset(path=str(root), mode="merge", workers=4).save(files)
    assert (root / "bad.txt").read_text() == "old"  # untouched: never half written
    assert not list(root.glob(".*"))


def test_replace_failure_keeps_previous_tree(tmp_path):
    root = tmp_path / "out"
    FileTreeDataset(path=str(root)).save({"a.txt": "v1"})
    with pytest.raises(DatasetError, match="must be bytes or str"):
        FileTreeDataset(path=str(root), workers=4).save({"a.txt": "v2", "b.txt": 3})
    assert _read(root) == {"a.txt": b"v1"}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_load_lists_and_reads(tmp_path):
    FileTreeDataset(path=str(tmp_path / "t")).save({"x/y.bin": b"12"})
    loaders = FileTreeDataset(path=str(tmp_path / "t")).load()
    assert list(loaders) == ["x/y.bin"] and loaders["x/y.bin"]() == b"12"


@pytest.mark.parametrize("bad", [0, -1, 1.5])
def test_workers_validated(tmp_path, bad):
    with pytest.raises(DatasetError, match="workers"):
        FileTreeDataset(path=str(tmp_path), workers=bad)


def test_paths_must_stay_inside(tmp_path):
    with pytest.raises(DatasetError, match="relative"):
        FileTreeDataset(path=str(tmp_path / "t"), mode="merge").save({"../x": b""})


def test_default_workers_local_sequential_remote_parallel(tmp_path):
    local = FileTreeDataset(path=str(tmp_path / "t"))
    remote = FileTreeDataset(path="memory://file-tree-test/t", mode="merge")
    assert local._describe()["workers"] == 1 and remote._describe()["workers"] == 8
    files = {f"d{i % 3}/f{i}.bin": bytes([i]) * 10 for i in range(12)}
    remote.save(files)
    assert {k: v() for k, v in remote.load().items()} == files


def _gated(gate, content: bytes):
    """File content that a forked writer can only produce once ``gate`` exists."""

    def produce() -> bytes:
        for _ in range(2000):
            if gate.exists():
                return content
            time.sleep(0.005)
        raise TimeoutError("gate never opened")

    return produce


def test_write_behind_returns_at_once_and_writes_the_same_tree(tmp_path):
    from gaze_pipelines.datasets.file_tree import _PENDING, wait_for_background_writes

    files = _tree()
    plain = tmp_path / "plain"
    FileTreeDataset(path=str(plain), mode="merge", swap_depth=2).save(files)
    gate = tmp_path / "gate"
    root = tmp_path / "behind"
    ds = FileTreeDataset(path=str(root), mode="merge", swap_depth=2, write_behind=True)
    ds.save({**files, "set/face/u0/f0.png": _gated(gate, files["set/face/u0/f0.png"])})
    assert _PENDING and not (root / "set" / "face").exists()  # the writer waits on the gate
    gate.touch()
    assert sorted(ds.load()) == sorted(files)  # a load waits for the write
    assert _read(root) == _read(plain) and not _PENDING
    assert not [p for p in tmp_path.rglob(".*")]
    wait_for_background_writes()  # nothing pending: returns


def test_write_behind_failure_is_raised_and_keeps_the_previous_tree(tmp_path):
    from gaze_pipelines.datasets.file_tree import wait_for_background_writes

    root = tmp_path / "out"
    ds = FileTreeDataset(path=str(root), mode="merge", swap_depth=1, write_behind=True)
    ds.save({"s/a.txt": "v1"})
    ds.save({"s/a.txt": "v2", "s/b.txt": 3})  # the first save is waited for, the second fails
    with pytest.raises(DatasetError, match=r"saving .*out' failed: .*must be bytes or str"):
        wait_for_background_writes()
    assert _read(root) == {"s/a.txt": b"v1"}
    wait_for_background_writes()  # reported once


def test_hook_waits_for_writes_before_loading_what_the_run_did_not_save(tmp_path):
    import threading

    from gaze_pipelines.datasets.file_tree import _PENDING
    from gaze_pipelines.hooks import BackgroundWritesHook

    hook = BackgroundWritesHook()
    hook.before_pipeline_run()
    hook.after_dataset_saved("gazenet_split")
    gate = tmp_path / "gate"
    root = tmp_path / "crops"
    FileTreeDataset(path=str(root), write_behind=True).save({"f/a.png": _gated(gate, b"png")})
    # parameters and datasets this run saved load at once, the write still pending
    for name in ("parameters", "params:gazenet.dataset_convert", "gazenet_split"):
        hook.before_dataset_loaded(name)
    assert _PENDING and not root.exists()
    # a reader of files on disk (e.g. gazenet_train's records) waits for the crops
    threading.Timer(0.3, gate.touch).start()
    hook.before_dataset_loaded("gazenet_tfrecords@experiment")
    assert (root / "f" / "a.png").read_bytes() == b"png" and not _PENDING
