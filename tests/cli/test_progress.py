"""Issue 24 (3, 4): progress off a terminal is plain lines as the work goes (not bars drawn
only at the end), and the training loss shown is the loss the log shows."""

from __future__ import annotations

import io
import re
from types import SimpleNamespace

from mmengine.logging import MessageHub

from thermal_action.cli.common import ConsoleProgress
from thermal_action.engine.hooks import RunProgress, logged_loss


def _train_events(epochs: int, steps: int) -> list[RunProgress]:
    return [RunProgress("train", epoch, epochs, step, steps, 1.0 / (epoch * step))
            for epoch in range(1, epochs + 1) for step in range(1, steps + 1)]


def test_off_a_terminal_each_epoch_is_a_plain_line():
    stream = io.StringIO()  # not a terminal, as under nohup, CI or tee
    with ConsoleProgress(stream=stream) as progress:
        assert progress.plain
        for event in _train_events(3, 4):
            progress.run(event)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3, lines
    for epoch, line in enumerate(lines, start=1):
        assert re.fullmatch(rf"train epoch {epoch}/3  loss {1 / (epoch * 4):.3f}  "
                            rf"{epoch * 4}/12  \d:\d\d:\d\d elapsed, eta \d:\d\d:\d\d", line), line
    assert "\x1b" not in stream.getvalue() and "━" not in stream.getvalue()  # no bar drawn


def test_other_work_is_a_line_every_interval_and_at_its_end():
    stream = io.StringIO()
    with ConsoleProgress(stream=stream, interval_s=0.0) as progress:
        frames = progress.counter("frames")
        for done in range(1, 4):
            frames(done, 3)
    assert [line.split("  ")[:2] for line in stream.getvalue().splitlines()] == [
        ["frames", "1/3"], ["frames", "2/3"], ["frames", "3/3"]]
    quiet = io.StringIO()  # short work prints nothing: an error stays the only line
    with ConsoleProgress(stream=quiet) as progress:
        progress.counter("frames")(3, 3)
        progress.run(RunProgress("test", 0, 0, 2, 2, None))
    assert quiet.getvalue() == ""


def test_disabled_or_on_a_terminal_prints_no_plain_lines():
    stream = io.StringIO()
    with ConsoleProgress(enabled=False, stream=stream) as progress:
        progress.run(RunProgress("train", 1, 1, 1, 1, 0.5))
    assert not progress.plain and stream.getvalue() == ""
    assert not ConsoleProgress(plain=False, stream=io.StringIO()).plain


def test_logged_loss_is_the_log_processors_window_mean():
    hub = MessageHub.get_instance("test_logged_loss")
    for value in (4.0, 1.0, 2.0, 3.0):
        hub.update_scalar("train/loss", value)
    runner = SimpleNamespace(message_hub=hub, log_processor=SimpleNamespace(window_size=3))
    assert logged_loss(runner, current=3.0) == 2.0  # mean of the last 3, as the log
    runner.log_processor.window_size = "epoch"
    assert logged_loss(runner, current=3.0) == 3.0
    assert logged_loss(SimpleNamespace(), current=7.0) == 7.0


def test_the_bar_shows_the_loss_of_the_log_line(tiny_root, tmp_path):
    """A real run: at the iteration MMEngine logs, the progress event carries the same
    loss as the log line (it carried that iteration's loss alone: 0.934 against 2.064)."""
    from thermal_action.engine import train

    events: list[RunProgress] = []
    options = {"train_dataloader.batch_size": 1, "train_dataloader.num_workers": 0,
               "train_dataloader.persistent_workers": False,
               "val_dataloader.num_workers": 0, "val_dataloader.persistent_workers": False}
    train("person-24px", data_root=tiny_root, work_dir=tmp_path / "work", epochs=1,
          cfg_options=options, quiet=True, on_progress=events.append)
    (log,) = (tmp_path / "work").glob("*/*.log")
    logged = re.findall(r"Epoch\(train\)\s+\[1\]\[\s*(\d+)/\d+\].*?\bloss: ([\d.]+)",
                        log.read_text())
    assert logged, log.read_text()[-2000:]
    shown = {event.step: event.loss for event in events if event.phase == "train"}
    for step, loss in logged:
        assert abs(shown[int(step)] - float(loss)) < 1e-4, (step, shown[int(step)], loss)
    steps = sorted(shown)
    assert len({round(shown[s], 6) for s in steps}) > 1  # the figure moves with training
