import multiprocessing as mp
import os
import pickle

import numpy as np
import pytest
import torch

from tests.conftest import write_recording
from thermal_action.data.window import WindowReader, window_from_arrays, window_indices
from thermal_action.errors import DataError


def test_window_indices_centre_and_padding():
    inds, padded = window_indices(100, 32, 2, 500)
    assert inds[0] == 68 and inds[-1] == 130 and not padded
    inds, padded = window_indices(5, 32, 2, 500)
    assert padded and inds[0] == 0 and inds.min() == 0 and len(inds) == 32
    inds, padded = window_indices(495, 64, 1, 500)
    assert padded and inds.max() == 499
    with pytest.raises(ValueError, match="outside the recording"):
        window_indices(500, 64, 1, 500)


def test_read_window_matches_frames(tmp_path):
    frames = write_recording(tmp_path / "R.h5", num_frames=80)
    reader = WindowReader()
    window = reader.read(tmp_path / "R.h5", 40, 32, 2)
    assert window.temps_c.shape == (32, 40, 60) and window.temps_c.dtype == np.float32
    np.testing.assert_array_equal(window.temps_c, frames[8:72:2])
    assert not window.padded
    edge = reader.read(tmp_path / "R.h5", 2, 64, 1)
    assert edge.padded
    np.testing.assert_array_equal(edge.temps_c[0], frames[0])


def test_window_from_frames_in_memory_equals_the_file_read(tmp_path):
    frames = write_recording(tmp_path / "R.h5", num_frames=80)
    from_file = WindowReader().read(tmp_path / "R.h5", 5, 32, 2)
    in_memory = window_from_arrays(frames, None, 5, 32, 2)
    np.testing.assert_array_equal(in_memory.temps_c, from_file.temps_c)
    np.testing.assert_array_equal(in_memory.frame_inds, from_file.frame_inds)
    assert in_memory.padded and from_file.padded
    with pytest.raises(ValueError, match=r"\(N, H, W\)"):
        window_from_arrays(frames[0], None, 0, 8)


def _child_reads(reader, path, queue):
    queue.put(float(reader.read(path, 40, 8, 1).temps_c.mean()))


def test_handles_are_per_process(tmp_path):
    path = tmp_path / "R.h5"
    write_recording(path)
    reader = WindowReader()
    parent_mean = float(reader.read(path, 40, 8, 1).temps_c.mean())
    queue = mp.get_context("fork").Queue()
    child = mp.get_context("fork").Process(target=_child_reads, args=(reader, str(path), queue))
    child.start()
    child.join(30)
    assert child.exitcode == 0
    assert queue.get(timeout=5) == pytest.approx(parent_mean)
    assert reader.holds_in_memory(path)  # the child's reads did not touch the parent's
    copy = pickle.loads(pickle.dumps(reader))  # a spawned worker's copy starts empty
    assert copy.memory_used == 0 and not copy.holds_in_memory(path)
    assert copy.read(path, 40, 8, 1).temps_c.mean() == pytest.approx(parent_mean)


def test_recordings_held_in_memory_within_budget(tmp_path):
    frames_a = write_recording(tmp_path / "A.h5", num_frames=80)
    frames_b = write_recording(tmp_path / "B.h5", num_frames=80)
    one_recording = frames_a.nbytes + 80 * 8
    reader = WindowReader(memory_budget_bytes=one_recording)
    window_a = reader.read(tmp_path / "A.h5", 40, 32, 2)
    window_b = reader.read(tmp_path / "B.h5", 40, 32, 2)
    assert reader.holds_in_memory(tmp_path / "A.h5")  # decoded in memory
    assert not reader.holds_in_memory(tmp_path / "B.h5")  # over budget: read through HDF5
    assert reader.memory_used == one_recording
    np.testing.assert_array_equal(window_a.temps_c, frames_a[8:72:2])
    np.testing.assert_array_equal(window_b.temps_c, frames_b[8:72:2])
    window_a.temps_c[:] = 0.0  # a window is a copy: changing it leaves the recording alone
    again = reader.read(tmp_path / "A.h5", 40, 32, 2)
    np.testing.assert_array_equal(again.temps_c, frames_a[8:72:2])
    reader.close()
    assert reader.memory_used == 0 and not reader.holds_in_memory(tmp_path / "A.h5")
    assert not WindowReader(memory_budget_bytes=0).holds_in_memory(tmp_path / "A.h5")


def test_the_budget_is_a_config_setting(tmp_path):
    from mmaction.registry import TRANSFORMS

    write_recording(tmp_path / "R.h5", num_frames=80)
    load = TRANSFORMS.build(dict(type="LoadThermalWindow", clip_len=8, memory_budget_mb=0))
    results = load(dict(hdf5_path=str(tmp_path / "R.h5"), frame_idx=40))
    assert results["imgs"].shape == (8, 40, 60)
    assert load.reader.memory_used == 0 and not load.reader.holds_in_memory(tmp_path / "R.h5")
    assert "memory_budget_mb=0" in repr(load)


def test_corrupt_frames_name_the_file(tmp_path):
    import h5py

    path = tmp_path / "R.h5"
    write_recording(path, num_frames=80)
    with h5py.File(path, "r") as file:
        chunk = file["frames"].id.get_chunk_info(0)
    with open(path, "r+b") as raw:  # garble the first compressed chunk
        raw.seek(chunk.byte_offset + 8)
        raw.write(b"\xff" * 64)
    reader = WindowReader()
    with pytest.raises(DataError, match=r"R\.h5: cannot read recording"):
        reader.read(path, 40, 8, 1)
    assert not reader.holds_in_memory(path) and reader.memory_used == 0


def test_rewritten_recording_is_read_again(tmp_path):
    path = tmp_path / "R.h5"
    write_recording(path, num_frames=80, seed=1)
    reader = WindowReader()
    first = reader.read(path, 40, 8, 1).temps_c
    written_ns = path.stat().st_mtime_ns
    rewritten = write_recording(path, num_frames=80, seed=2)
    os.utime(path, ns=(written_ns + 10**9, written_ns + 10**9))  # coarse clocks: force a change
    second = reader.read(path, 40, 8, 1).temps_c
    np.testing.assert_array_equal(second, rewritten[36:44])
    assert not np.array_equal(first, second)


def test_dataset_reads_in_dataloader_workers(tiny_root):
    from thermal_action.data import ThermalActionDataset

    dataset = ThermalActionDataset(
        ann_file=str(tiny_root / "annotations/train.json"),
        hdf5_root=str(tiny_root / "frames"),
        pipeline=[],
    )
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=3, num_workers=2, collate_fn=lambda batch: batch
    )
    shapes = [sample["imgs"].shape for batch in loader for sample in batch]
    assert shapes == [(64, 40, 60, 3)] * len(dataset)


def test_a_causal_window_ends_at_its_keyframe(tmp_path):
    from thermal_action.data.window import keyframe_position

    inds, padded = window_indices(100, 16, 4, 500, anchor="end")
    assert inds[-1] == 100 and inds[0] == 40 and not padded
    inds, padded = window_indices(10, 16, 4, 500, anchor="end")
    assert padded and inds[-1] == 10 and inds[0] == 0
    assert keyframe_position(64, "end") == 63 and keyframe_position(64) == 32
    with pytest.raises(ValueError, match="anchor must be one of"):
        window_indices(100, 16, 4, 500, anchor="start")
    frames = write_recording(tmp_path / "R.h5", num_frames=80)
    window = WindowReader().read(tmp_path / "R.h5", 70, 8, 2, anchor="end")
    np.testing.assert_array_equal(window.temps_c, frames[56:71:2])
    np.testing.assert_array_equal(window_from_arrays(frames, None, 70, 8, 2, "end").temps_c,
                                  window.temps_c)
