import numpy as np
import pytest
from click.testing import CliRunner

from activespot import _constants as K
from activespot.cli import main

from ..conftest import HEART

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # the heart sample's blank hires image


@pytest.fixture
def project(tmp_path):
    from activespot.project import Project

    return Project.create(tmp_path / "proj", visium=HEART).path


def test_features_command_stores_blocks_and_reuses_the_cache(project, tmp_path):
    runner = CliRunner()
    overlay = tmp_path / "overlay.png"
    first = runner.invoke(main, ["features", str(project), "--context-rings", "2", "--overlay", str(overlay)])
    assert first.exit_code == 0, first.output
    assert "X_morph    100 x 36" in first.output
    assert "weights none: weight-free descriptor; patch lowres image" in first.output
    assert "X_context" in first.output
    assert overlay.is_file()
    with np.load(project / K.FEATURES_DIR / K.FEATURES_FILE) as stored:
        assert set(stored.files) >= {"obs_names", *K.FEATURE_BLOCKS}

    second = runner.invoke(main, ["features", str(project), "--no-expression", "--context-rings", "0"])
    assert second.exit_code == 0, second.output
    assert "(from cache)" in second.output
    assert "X_expr" not in second.output


def test_user_mistakes_are_one_line_errors(project):
    runner = CliRunner()
    unknown = runner.invoke(main, ["features", str(project), "--backbone", "unii"])
    assert unknown.exit_code == 2
    assert "backbone must be one of descriptor, h-optimus-0" in unknown.output
    missing = runner.invoke(main, ["features", str(project), "--backbone", "uni", "--weights", "nowhere/uni.bin"])
    assert missing.exit_code == 2
    assert "weights file not found" in missing.output
    assert "Traceback" not in missing.output


def test_backbone_and_weights_given_once_become_the_projects_settings(project, tmp_path, tiny_backbones):
    """A later ``features`` (and ``round``/``transfer``, which read the same settings) keeps the backbone."""
    import torch
    from safetensors.torch import save_file

    from activespot.features import build_model
    from activespot.project import Project

    torch.manual_seed(0)
    weights = tmp_path / "resnet.safetensors"
    save_file(build_model(tiny_backbones["tiny-resnet"], pretrained=False).state_dict(), str(weights))
    runner = CliRunner()
    first = runner.invoke(
        main, ["features", str(project), "--backbone", "tiny-resnet", "--weights", str(weights), "--context-rings", "2"]
    )
    assert first.exit_code == 0, first.output
    assert "Feature settings saved" in first.output
    settings = Project.open(project).config.features
    assert (settings.backbone, settings.weights, settings.context_rings) == ("tiny-resnet", str(weights), 2)

    again = runner.invoke(main, ["features", str(project)])
    assert again.exit_code == 0, again.output
    assert "backbone tiny-resnet" in again.output
    assert "Up to date" in again.output
    assert "settings saved" not in again.output


def test_a_repeated_run_with_nothing_changed_reads_nothing_and_a_changed_file_recomputes(tmp_path, monkeypatch):
    import os
    import shutil

    from activespot.project import Project

    sample = shutil.copytree(HEART, tmp_path / "outs")
    project = Project.create(tmp_path / "proj", visium=sample).path
    runner = CliRunner()
    assert runner.invoke(main, ["features", str(project)]).exit_code == 0
    with monkeypatch.context() as patched:
        patched.setattr(Project, "load_sample", lambda self: pytest.fail("read the sample although nothing changed"))
        again = runner.invoke(main, ["features", str(project)])
    assert again.exit_code == 0, again.output
    assert "Up to date" in again.output
    assert "X_morph    100 x 36" in again.output

    counts = sample / "filtered_feature_bc_matrix.h5"
    os.utime(counts, ns=(counts.stat().st_atime_ns, counts.stat().st_mtime_ns + 1_000_000_000))
    changed = runner.invoke(main, ["features", str(project)])
    assert changed.exit_code == 0, changed.output
    assert "Up to date" not in changed.output
    assert changed.output.count("(from cache)") == 3  # same bytes: every block comes back from its cache


def test_a_device_the_machine_lacks_is_refused_before_anything_is_written(project, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    result = CliRunner().invoke(main, ["features", str(project), "--device", "cuda"])
    assert result.exit_code == 2
    assert "'cuda' is not available: torch sees no CUDA GPU on this machine (devices here: cpu" in result.stderr
    assert not (project / K.FEATURES_DIR / K.FEATURES_FILE).exists()
    round_ = CliRunner().invoke(main, ["round", str(project), "--device", "cuda:1"])
    assert round_.exit_code == 2
    assert "'cuda:1' is not available" in round_.stderr
    assert not list((project / K.ROUNDS_DIR).glob("round_*"))


def test_the_device_of_a_run_is_recorded_but_not_saved_as_a_setting(project):
    from activespot.project import Project

    result = CliRunner().invoke(main, ["features", str(project), "--device", "cpu", "--precision", "fp32"])
    assert result.exit_code == 0, result.output
    opened = Project.open(project)
    assert opened.config.features.device == "auto"
    assert opened.config.features.precision == "fp32"
