from pathlib import Path

import pytest

from activespot.config import Config, load_config
from activespot.errors import InputFileError

DEFAULT_YAML = Path(__file__).resolve().parents[1] / "configs" / "default.yaml"


def test_documented_defaults_match_the_code():
    assert load_config(DEFAULT_YAML).to_dict() == Config().to_dict()
    documented = DEFAULT_YAML.read_text()
    for section, values in Config().to_dict().items():
        assert f"{section}:" in documented
        for key in values:
            assert f"  {key}:" in documented, f"{section}.{key} is not documented in configs/default.yaml"


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
