"""Progress bars: in place on a terminal, a few plain lines in a log."""

import io
import time

from activespot import _progress
from activespot._progress import progress_bar


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_log_gets_a_line_per_interval_not_per_update(monkeypatch):
    monkeypatch.setattr(_progress, "LOG_INTERVAL_S", 0.1)
    monkeypatch.setattr(_progress, "LOG_DELAY_S", 0.05)
    quick = io.StringIO()
    for _ in progress_bar(range(20_000), desc="spots", file=quick):
        pass
    assert quick.getvalue() == ""  # over before the delay: nothing to report

    log = io.StringIO()
    for _ in progress_bar(range(20), desc="bins", file=log):
        time.sleep(0.02)  # 0.4 s in all: four intervals, 20 updates
    lines = log.getvalue().splitlines()
    assert 2 <= len(lines) <= 6  # a line per interval and the last one, not one per update
    assert "\r" not in log.getvalue()
    assert lines[-1].startswith("bins: 100%")
    assert "20/20" in lines[-1]


def test_a_terminal_gets_the_redrawing_bar():
    terminal = _Terminal()
    for _ in progress_bar(range(500), desc="spots", file=terminal, mininterval=0):
        pass
    assert terminal.getvalue().count("\r") > 10  # redrawn in place


def test_a_disabled_bar_writes_nothing():
    log = io.StringIO()
    assert list(progress_bar(range(5), file=log, disable=True)) == list(range(5))
    assert log.getvalue() == ""
