import h5py
import numpy as np
import pytest

from tests.conftest import write_recording
from thermal_action.data.recording import (
    RecordingError,
    open_recording,
    read_frames,
    read_recording_info,
    scan_recording,
)
from thermal_action.errors import DataError


def test_recording_info_errors(tmp_path):
    with pytest.raises(DataError, match="recording file not found"):
        read_recording_info(tmp_path / "missing.h5")
    (tmp_path / "corrupt.h5").write_bytes(b"not hdf5 at all")
    with pytest.raises(RecordingError, match="corrupt.h5: not a readable HDF5 file") as caught:
        read_recording_info(tmp_path / "corrupt.h5")
    assert caught.value.code == "unreadable"


def _rewrite(path, **datasets):
    with h5py.File(path, "w") as file:
        for name, data in datasets.items():
            file.create_dataset(name, data=data)


@pytest.mark.parametrize("datasets, code, message", [
    (dict(frames=np.zeros((4, 40, 60), np.float32)), "missing-dataset", "timestamps"),
    (dict(frames=np.zeros((4, 2400), np.float32), timestamps=np.arange(4)), "bad-frames",
     "'frames' must be (N, H, W) float"),
    (dict(frames=np.zeros((0, 40, 60), np.float32), timestamps=np.arange(0)), "empty-recording",
     "no frames"),
    (dict(frames=np.zeros((4, 60, 40), np.float32), timestamps=np.arange(4)), "wrong-shape",
     "frames are 60x40 pixels, but the dataset's sensor is 40x60"),
    (dict(frames=np.zeros((4, 40, 60), np.float32), timestamps=np.arange(3)), "bad-timestamps",
     "'timestamps' has shape (3,), expected (4,)"),
])
def test_layout_problems_have_codes(tmp_path, datasets, code, message):
    path = tmp_path / "R.h5"
    _rewrite(path, **datasets)
    with pytest.raises(RecordingError) as caught:
        read_recording_info(path, frame_shape=(40, 60))
    assert caught.value.code == code and message in str(caught.value)
    assert str(caught.value).startswith(f"{path}: ")


def test_scan_measures_in_one_pass(tmp_path):
    path = tmp_path / "R.h5"
    frames = write_recording(path, num_frames=80, invalid_frames={30: 0.3, 31: 1.0})
    scan = scan_recording(path, keep=[5, 31, 79], block_frames=16)
    assert scan.info.num_frames == 80 and (scan.info.height, scan.info.width) == (40, 60)
    assert scan.invalid_per_frame[31] == 2400 and scan.invalid_per_frame[30] > 0
    assert (scan.invalid_per_frame > 0).sum() == 2 and scan.nonfinite_frames == 0
    valid = frames[frames > -270]
    assert scan.valid_min_c == pytest.approx(valid.min()) and scan.valid_max_c == pytest.approx(
        valid.max())
    assert sorted(scan.kept_frames) == [5, 31, 79]
    np.testing.assert_array_equal(scan.kept_frames[79], frames[79])
    assert scan.timestamps_ms.shape == (80,) and scan.attrs["sensor_id"] == "R"
    with pytest.raises(RecordingError, match="frame index 80 is past the last frame"):
        scan_recording(path, keep=[80])


def test_frames_read_in_any_order(tmp_path):
    path = tmp_path / "R.h5"
    frames = write_recording(path, num_frames=40)
    picked, timestamps = read_frames(path, [7, 2, 7])
    np.testing.assert_array_equal(picked, frames[[7, 2, 7]])
    assert timestamps.shape == (40,)
    with open_recording(path) as recording:
        with pytest.raises(RecordingError, match="frame index 40 is outside"):
            recording.read_frames([40])
        assert recording.read_frame_seqs().tolist() == list(range(40))
