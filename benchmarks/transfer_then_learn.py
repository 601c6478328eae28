"""Transfer, then keep learning (issue 16): target labels must refine a transferred model, never undo it.

Every published layer label of DLPFC 151673 is transferred to 151674 (``transfer_labels``, project
defaults). Then a simulated annotator answers the rounds' queries (55 spots each, the default
strategy) from 151674's published layers, and ``run_round`` trains after each batch. Accuracy is
over every 151674 spot with a layer, after 0 (zero-shot), 1, 2, … rounds, for:

- ``transferred``: the transferred project as it is (rounds train on the source's labels and the
  target's together, in the joint feature space of the transfer);
- ``target labels only``: the same project without the kept source (what rounds did before:
  warm start from the transferred model, trained on the target's few labels alone);
- ``fresh``: a new project on 151674 with its own features, given the same labels.

    python benchmarks/transfer_then_learn.py --rounds 5 --json benchmarks/results/transfer_then_learn.json
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import warnings
from pathlib import Path

import pandas as pd

from activespot import _constants as K
from activespot.project import Project, run_round
from activespot.review import read_annotation
from activespot.transfer import transfer_labels

DATA = Path(__file__).resolve().parents[1] / "data" / "visium"
SOURCE, TARGET = DATA / "dlpfc_151673", DATA / "dlpfc_151674"


def layers(section: Path) -> pd.Series:
    return read_annotation(section / "ground_truth_layers.csv", column="layer")


def accuracy(project: Project, truth: pd.Series) -> float:
    predicted = project.predictions()["label"].reindex(truth.index)
    return round(float((predicted == truth).mean()), 4)


def next_query(project: Project) -> list[str]:
    return list(project.latest_round(containing=K.ROUND_QUERY).load_table(K.ROUND_QUERY).index)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    warnings.simplefilter("ignore", UserWarning)
    truth = layers(TARGET)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        source_labels = layers(SOURCE)
        source = Project.create(work / "source", visium=SOURCE, classes=sorted(source_labels.unique()))
        source.add_labels(source_labels.to_dict(), annotator="benchmark", source=K.SOURCE_IMPORTED)
        transfer_labels(source, TARGET, out=work / "transferred", progress=False)
        shutil.copytree(work / "transferred", work / "target_only")
        (work / "target_only" / K.FEATURES_DIR / K.TRANSFER_SOURCE_FILE).unlink()
        projects = {
            "transferred": Project.open(work / "transferred"),
            "target labels only": Project.open(work / "target_only"),
            "fresh": Project.create(work / "fresh", visium=TARGET, classes=sorted(source_labels.unique())),
        }
        curves: dict[str, list[float]] = {name: [] for name in projects}
        curves["transferred"].append(accuracy(projects["transferred"], truth))
        curves["target labels only"].append(curves["transferred"][0])
        curves["fresh"].append(None)  # no model before its first labels
        given: dict[str, str] = {}
        for _ in range(args.rounds):
            asked = [barcode for barcode in next_query(projects["transferred"]) if barcode in truth.index]
            given.update({barcode: truth[barcode] for barcode in asked})
            for name, project in projects.items():
                project.add_labels({b: given[b] for b in asked}, annotator="simulated", source=K.SOURCE_IMPORTED)
                if name == "fresh" and pd.Series(given).nunique() < 2:
                    curves[name].append(float("nan"))
                    continue
                run_round(project)
                curves[name].append(accuracy(project, truth))
            print(len(given), {name: curve[-1] for name, curve in curves.items()}, flush=True)
        result = {"labels": [55 * i for i in range(args.rounds + 1)], "accuracy": curves}
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
