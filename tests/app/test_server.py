from click.testing import CliRunner

from activespot.app._server import app_command, app_script
from activespot.cli import main


def test_app_command_binds_localhost_and_names_the_project(tmp_path):
    command = app_command(tmp_path, port=8765, options=("--theme.base", "dark"))
    assert command[command.index("--server.address") + 1] == "127.0.0.1"
    assert command[command.index("--server.port") + 1] == "8765"
    assert command.index("--theme.base") < command.index("--")
    assert command[-2:] == ["--project", str(tmp_path.absolute())]
    assert command[command.index("run") + 1] == str(app_script())


def test_app_refuses_a_folder_that_is_not_a_project(tmp_path):
    result = CliRunner().invoke(main, ["app", str(tmp_path)])
    assert result.exit_code != 0
    assert len(result.stderr.strip().splitlines()) == 1
    assert "not an activespot project" in result.stderr


def test_app_command_turns_off_what_slows_every_click(tmp_path):
    """The file watcher and the post-rerun full GC cost CPU on each click (issue 5's latency)."""
    command = app_command(tmp_path)
    assert command[command.index("--server.fileWatcherType") + 1] == "none"
    assert command[command.index("--runner.postScriptGC") + 1] == "false"
