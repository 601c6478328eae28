from pathlib import Path

import pytest

from activespot.config import Config, config_to_yaml, load_config
from activespot.errors import InputFileError

DEFAULT_YAML = Path(__file__).resolve().parents[1] / "configs" / "default.yaml"


def test_documented_defaults_match_the_code():
    assert DEFAULT_YAML.read_text() == config_to_yaml(), "regenerate it: activespot config > configs/default.yaml"
    assert load_config(DEFAULT_YAML).to_dict() == Config().to_dict()


def test_overrides_are_validated_and_merged(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("select:\n  batch: 20\n")
    config = load_config(path)
    assert config.select.batch == 20
    assert config.select.init == Config().select.init


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("select:\n  bacth: 20\n", "select.bacth"),
        ("select:\n  batch: -1\n", "greater than or equal to 1"),
        ("select: [1, 2\n", "not valid YAML"),
        ("- 1\n- 2\n", "expected a mapping"),
    ],
)
def test_bad_settings_name_the_file_and_key(tmp_path, text, problem):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(InputFileError, match=problem) as info:
        load_config(path)
    assert "bad.yaml" in str(info.value)
