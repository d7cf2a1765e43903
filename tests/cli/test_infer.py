"""``thermal-action infer`` on a recording and on live frames piped in by
``thermal-action data replay``: the same timeline, written as JSON/CSV, GIF/MP4 and PNG."""

from __future__ import annotations

import json
import subprocess
import sys

import imageio.v3 as iio
import pytest

from tests.conftest import run_cli, untrained_checkpoint

PERSON = "person-24px"


@pytest.fixture
def person_checkpoint(tmp_path):
    return untrained_checkpoint(PERSON, tmp_path / "person.pth")


def test_infer_a_recording_writes_the_timeline_and_pictures(tiny_root, person_checkpoint,
                                                             tmp_path):
    recording = tiny_root / "frames" / "REC_A.h5"
    out = tmp_path / "out"
    result = run_cli("infer", PERSON, str(person_checkpoint), str(recording), "--stride-s",
                     "0.5", "--out", str(out / "a.json"), "--render", str(out / "a.mp4"),
                     "--timeline-png", str(out / "a.png"))
    assert result.returncode == 0, result.stderr
    assert "REC_A: 80 frames" in result.stdout and "people: " in result.stdout
    document = json.loads((out / "a.json").read_text())
    assert document["people"] and document["settings"]["stride_s"] == 0.5
    person = document["people"][0]
    assert person["segments"] and person["segments"][0]["start_ms"] >= person["start_ms"]
    assert iio.imread(out / "a.mp4").shape[0] == 80  # one video frame per sensor frame
    assert iio.imread(out / "a.png").shape[-1] in (3, 4)
    csv_run = run_cli("infer", PERSON, str(person_checkpoint), str(recording), "--out",
                      str(out / "a.csv"), "--render", str(out / "a.gif"))
    assert csv_run.returncode == 0, csv_run.stderr
    assert (out / "a.csv").read_text().startswith("track_id,kind,label,start_ms,end_ms")
    assert len(iio.imread(out / "a.gif")) == 80


def test_live_frames_from_a_replay_give_the_file_s_timeline(tiny_root, person_checkpoint,
                                                              tmp_path):
    recording = tiny_root / "frames" / "REC_A.h5"
    offline = run_cli("infer", PERSON, str(person_checkpoint), str(recording), "--out",
                      str(tmp_path / "file.json"))
    assert offline.returncode == 0, offline.stderr
    replay = subprocess.run([sys.executable, "-m", "thermal_action.cli.main", "data",
                             "replay", str(recording)], capture_output=True, text=True,
                            check=True)
    lines = replay.stdout.splitlines()
    lines.insert(5, "{broken")  # a bridge hiccup: skipped and counted, never fatal
    live = subprocess.run([sys.executable, "-m", "thermal_action.cli.main", "infer", PERSON,
                           str(person_checkpoint), "-", "--out", str(tmp_path / "live.json")],
                          input="\n".join(lines) + "\n", capture_output=True, text=True)
    assert live.returncode == 0, live.stderr
    assert "skipped 1 bad lines (first: line 6: not JSON" in live.stdout
    assert " track_started #" in live.stdout  # events are printed as they happen
    file_people = json.loads((tmp_path / "file.json").read_text())["people"]
    live_people = json.loads((tmp_path / "live.json").read_text())["people"]
    assert live_people == file_people and file_people


def test_infer_bad_input_is_one_line(tiny_root, person_checkpoint, tmp_path, capsys):
    """In process (``main``), as the console entry point runs it: five subprocesses took
    35 s of the suite."""
    from thermal_action.cli.main import main

    recording = str(tiny_root / "frames" / "REC_A.h5")
    cases = [
        (["--out", str(tmp_path / "t.txt")], "--out "),
        ([recording, "--out", str(tmp_path / "t.json")], "with several sources, put {source}"),
        (["--render", str(tmp_path / "v.avi")], "expected a .gif or .mp4 file"),
        (["--stride-s", "0"], "stride_s must be positive"),
        (["--detect-every-s", "-1"], "detect_every_s not negative"),
    ]
    for extra, message in cases:
        assert main(["infer", PERSON, str(person_checkpoint), recording, *extra]) == 2, extra
        captured = capsys.readouterr()
        lines = captured.err.splitlines()
        assert len(lines) == 1 and message in lines[0], (extra, lines)
        assert lines[0].startswith("thermal-action infer: error: ") and not captured.out
    assert main(["infer", PERSON, str(person_checkpoint), str(tmp_path / "none.h5")]) == 2
    assert "none.h5" in capsys.readouterr().err


def test_a_whole_frame_model_streams_one_pseudo_person(tiny_root, tmp_path):
    config = "thermal-40x60"
    checkpoint = untrained_checkpoint(config, tmp_path / "native.pth")
    result = run_cli("infer", config, str(checkpoint), str(tiny_root / "frames" / "REC_B.h5"),
                     "--out", str(tmp_path / "b.json"))
    assert result.returncode == 0, result.stderr
    (person,) = json.loads((tmp_path / "b.json").read_text())["people"]
    assert person["track_id"] == 0 and person["segments"]


def test_render_of_a_long_source_keeps_only_the_frames_it_shows(tiny_root, person_checkpoint,
                                                                tmp_path, monkeypatch,
                                                                capsys):
    from thermal_action.cli.main import main
    from thermal_action.visualization import timeline

    monkeypatch.setattr(timeline, "VIDEO_MAX_FRAMES", 24)
    video = tmp_path / "a.gif"
    assert main(["infer", PERSON, str(person_checkpoint), str(tiny_root / "frames" / "REC_A.h5"),
                 "--render", str(video)]) == 0
    assert f"render: {video}  (the first 24 of 80 frames)" in capsys.readouterr().out
    assert len(iio.imread(video)) == 24


def test_infer_logs_events_as_they_happen_and_checks_outputs_first(tiny_root, person_checkpoint,
                                                                    tmp_path, capsys):
    from thermal_action.cli.main import main

    recording = str(tiny_root / "frames" / "REC_A.h5")
    log, table = tmp_path / "events.jsonl", tmp_path / "events.csv"
    assert main(["infer", PERSON, str(person_checkpoint), recording, "--events", str(log),
                 "--out", str(tmp_path / "t.json")]) == 0
    assert f"events: {log}" in capsys.readouterr().out
    kinds = [json.loads(line)["kind"] for line in log.read_text().splitlines()]
    assert kinds[0] == "track_started" and kinds[-1] == "track_ended"
    assert main(["infer", PERSON, str(person_checkpoint), recording, "--events",
                 str(table)]) == 0
    assert table.read_text().startswith("source,kind,time_ms,track_id,label,confidence")
    capsys.readouterr()
    assert main(["infer", PERSON, str(person_checkpoint), recording, "--events",
                 "/proc/version/x.jsonl"]) == 2
    captured = capsys.readouterr()
    assert "--events /proc/version/x.jsonl: cannot write" in captured.err
    assert "frames," not in captured.out  # refused before any work
    assert main(["infer", PERSON, str(person_checkpoint), recording, "--webhook",
                 "ftp://x"]) == 2
    assert "--webhook" in capsys.readouterr().err


def test_empty_standard_input_writes_an_empty_timeline_and_exits_1(person_checkpoint, tmp_path,
                                                                   monkeypatch, capsys):
    import io

    from thermal_action.cli.main import main

    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    out = tmp_path / "live.json"
    assert main(["infer", PERSON, str(person_checkpoint), "-", "--out", str(out)]) == 1
    assert f"stdin: no frames; wrote an empty timeline to {out}" in capsys.readouterr().out
    assert json.loads(out.read_text())["people"] == []
