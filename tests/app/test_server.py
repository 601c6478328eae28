from click.testing import CliRunner

from activespot.app._server import app_command, app_script
from activespot.cli import main


def test_app_command_binds_localhost_and_names_the_project(tmp_path):
    command = app_command(tmp_path, port=8765, options=("--server.fileWatcherType", "none"))
    assert command[command.index("--server.address") + 1] == "127.0.0.1"
    assert command[command.index("--server.port") + 1] == "8765"
    assert command.index("--server.fileWatcherType") < command.index("--")
    assert command[-2:] == ["--project", str(tmp_path.absolute())]
    assert command[command.index("run") + 1] == str(app_script())


def test_app_refuses_a_folder_that_is_not_a_project(tmp_path):
    result = CliRunner().invoke(main, ["app", str(tmp_path)])
    assert result.exit_code != 0
    assert len(result.stderr.strip().splitlines()) == 1
    assert "not an activespot project" in result.stderr
