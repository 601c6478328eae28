"""Progress bars: in place on a terminal, a few plain lines in a log."""

import io
import time

from activespot import _progress
from activespot._progress import progress_bar


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_log_gets_a_line_per_interval_not_per_update(monkeypatch):
    monkeypatch.setattr(_progress, "LOG_INTERVAL_S", 0.05)
    log = io.StringIO()
    for _ in progress_bar(range(20_000), desc="bins", file=log):
        pass
    lines = log.getvalue().splitlines()
    assert 1 <= len(lines) <= 3  # the start and the end; the loop takes well under three intervals
    assert "\r" not in log.getvalue()
    assert lines[-1].startswith("bins: 100%")
    assert "20000/20000" in lines[-1]

    slow = io.StringIO()
    for _ in progress_bar(range(6), desc="tiles", file=slow):
        time.sleep(0.03)
    assert len(slow.getvalue().splitlines()) <= 6  # at most one line per interval (0.05 s), plus the last


def test_a_terminal_gets_the_redrawing_bar():
    terminal = _Terminal()
    for _ in progress_bar(range(500), desc="spots", file=terminal, mininterval=0):
        pass
    assert terminal.getvalue().count("\r") > 10  # redrawn in place


def test_a_disabled_bar_writes_nothing():
    log = io.StringIO()
    assert list(progress_bar(range(5), file=log, disable=True)) == list(range(5))
    assert log.getvalue() == ""
