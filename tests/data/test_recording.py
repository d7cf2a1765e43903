import multiprocessing as mp
import os

import numpy as np
import pytest
import torch

from tests.conftest import write_recording
from thermal_action.data import recording
from thermal_action.errors import DataError


def test_window_indices_centre_and_padding():
    inds, padded = recording.window_indices(100, 32, 2, 500)
    assert inds[0] == 68 and inds[-1] == 130 and not padded
    inds, padded = recording.window_indices(5, 32, 2, 500)
    assert padded and inds[0] == 0 and inds.min() == 0 and len(inds) == 32
    inds, padded = recording.window_indices(495, 64, 1, 500)
    assert padded and inds.max() == 499
    with pytest.raises(ValueError, match="outside the recording"):
        recording.window_indices(500, 64, 1, 500)


def test_read_window_matches_frames(tmp_path):
    frames = write_recording(tmp_path / "R.h5", num_frames=80)
    window = recording.read_window(tmp_path / "R.h5", 40, 32, 2)
    assert window.temps_c.shape == (32, 40, 60) and window.temps_c.dtype == np.float32
    np.testing.assert_array_equal(window.temps_c, frames[8:72:2])
    assert not window.padded
    edge = recording.read_window(tmp_path / "R.h5", 2, 64, 1)
    assert edge.padded
    np.testing.assert_array_equal(edge.temps_c[0], frames[0])


def test_recording_info_errors(tmp_path):
    with pytest.raises(DataError, match="recording file not found"):
        recording.read_recording_info(tmp_path / "missing.h5")
    (tmp_path / "corrupt.h5").write_bytes(b"not hdf5 at all")
    with pytest.raises(DataError, match="corrupt.h5: not a readable HDF5 file"):
        recording.read_recording_info(tmp_path / "corrupt.h5")


def _child_reads(path, queue):
    queue.put(float(recording.read_window(path, 40, 8, 1).temps_c.mean()))


def test_handles_are_per_process(tmp_path):
    path = tmp_path / "R.h5"
    write_recording(path)
    parent_mean = float(recording.read_window(path, 40, 8, 1).temps_c.mean())
    assert recording._opened_pid is not None
    queue = mp.get_context("fork").Queue()
    child = mp.get_context("fork").Process(target=_child_reads, args=(str(path), queue))
    child.start()
    child.join(30)
    assert child.exitcode == 0
    assert queue.get(timeout=5) == pytest.approx(parent_mean)


def test_recordings_held_in_memory_within_budget(tmp_path, monkeypatch):
    recording.close_all()
    frames_a = write_recording(tmp_path / "A.h5", num_frames=80)
    frames_b = write_recording(tmp_path / "B.h5", num_frames=80)
    one_recording = frames_a.nbytes + 80 * 8
    monkeypatch.setattr(recording, "MEMORY_BUDGET_BYTES", one_recording)
    window_a = recording.read_window(tmp_path / "A.h5", 40, 32, 2)
    window_b = recording.read_window(tmp_path / "B.h5", 40, 32, 2)
    assert recording._opened[str(tmp_path / "A.h5")].handle is None  # decoded in memory
    assert recording._opened[str(tmp_path / "B.h5")].handle is not None  # over budget: HDF5
    assert recording._memory_used == one_recording
    np.testing.assert_array_equal(window_a.temps_c, frames_a[8:72:2])
    np.testing.assert_array_equal(window_b.temps_c, frames_b[8:72:2])
    window_a.temps_c[:] = 0.0  # a window is a copy: changing it leaves the recording alone
    again = recording.read_window(tmp_path / "A.h5", 40, 32, 2)
    np.testing.assert_array_equal(again.temps_c, frames_a[8:72:2])
    recording.close_all()
    assert recording._memory_used == 0 and not recording._opened


def test_corrupt_frames_name_the_file(tmp_path):
    import h5py

    path = tmp_path / "R.h5"
    write_recording(path, num_frames=80)
    with h5py.File(path, "r") as file:
        chunk = file["frames"].id.get_chunk_info(0)
    with open(path, "r+b") as raw:  # garble the first compressed chunk
        raw.seek(chunk.byte_offset + 8)
        raw.write(b"\xff" * 64)
    with pytest.raises(DataError, match=r"R\.h5: cannot read recording"):
        recording.read_window(path, 40, 8, 1)
    assert str(path) not in recording._opened


def test_rewritten_recording_is_read_again(tmp_path):
    path = tmp_path / "R.h5"
    write_recording(path, num_frames=80, seed=1)
    first = recording.read_window(path, 40, 8, 1).temps_c
    written_ns = path.stat().st_mtime_ns
    rewritten = write_recording(path, num_frames=80, seed=2)
    os.utime(path, ns=(written_ns + 10**9, written_ns + 10**9))  # coarse clocks: force a change
    second = recording.read_window(path, 40, 8, 1).temps_c
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
