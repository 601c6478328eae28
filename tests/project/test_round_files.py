"""What a round writes: members hashed as written, embeddings at half precision, the query kept."""

import json

import numpy as np

from activespot import _constants as K
from activespot._files import sha256_file
from activespot.project import Project, run_round, suggest


def test_members_are_listed_with_the_hash_and_size_of_what_is_on_disk(labelled_project):
    summary = run_round(labelled_project)
    folder = labelled_project.round(summary.round).path
    listing = json.loads((folder / K.ROUND_MANIFEST).read_text())["files"]
    assert set(listing) == {
        K.ROUND_PROBABILITIES,
        K.ROUND_EMBEDDINGS,
        K.ROUND_PREDICTIONS,
        K.ROUND_QUERY,
        K.ROUND_MODEL,
    }
    for entry in listing.values():
        member = folder / entry["file"]
        assert entry["bytes"] == member.stat().st_size
        assert entry["sha256"] == sha256_file(member)
    assert not list(folder.parent.glob(".round_*"))  # nothing left of the staging folder


def test_embeddings_are_stored_at_half_precision_and_read_as_float32(labelled_project):
    summary = run_round(labelled_project)
    stored = labelled_project.round(summary.round)
    on_disk = np.load(stored.path / f"{K.ROUND_EMBEDDINGS}.npy")
    assert on_disk.dtype == np.float16
    loaded = stored.load_array(K.ROUND_EMBEDDINGS)
    assert loaded.dtype == np.float32
    assert loaded.shape == (labelled_project.barcodes.size, labelled_project.config.model.fusion)
    assert np.isfinite(loaded).all()


def test_a_member_changed_after_the_round_hides_the_round(labelled_project):
    summary = run_round(labelled_project)
    member = labelled_project.round(summary.round).path / f"{K.ROUND_PROBABILITIES}.npy"
    data = bytearray(member.read_bytes())
    data[-1] ^= 0xFF  # same size, other content
    member.write_bytes(bytes(data))
    reopened = Project.open(labelled_project.path)
    assert reopened.model_round() is None  # the only trained round; the initial query is all that is left
    assert reopened.latest_round().number < summary.round
    reopened.close()


def test_suggest_after_a_round_gives_its_query_until_part_of_it_is_labelled(labelled_project, dlpfc_truth):
    summary = run_round(labelled_project)
    again = suggest(labelled_project)
    assert again.round == summary.round
    assert again.barcodes == summary.query
    answered = summary.query[:5]
    labelled_project.add_labels(dlpfc_truth.reindex(answered).to_dict(), annotator="t")
    fresh = suggest(labelled_project)
    assert len(fresh.barcodes) == labelled_project.config.select.batch
    assert not set(fresh.barcodes) & set(answered)


def test_suggest_after_a_round_imports_neither_torch_nor_scikit_learn(labelled_project):
    """The round's own query is a table read back: the ~4 s of importing torch and scikit-learn buy nothing."""
    import subprocess
    import sys

    summary = run_round(labelled_project)
    code = (
        "import sys; from activespot.project import Project, suggest; "
        f"query = suggest(Project.open({str(labelled_project.path)!r})); "
        "print(len(query.barcodes), query.round, 'torch' in sys.modules, 'sklearn' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(len(summary.query)), str(summary.round), "False", "False"]
