"""Child process for the crash tests: imports label batches and commits rounds until killed.

Prints ``ready``, then ``imported K`` after each committed import and ``round N`` after each
committed round, flushing every line so the parent knows exactly what was committed.
"""

import sys
from pathlib import Path

import numpy as np

from activespot.project import Project


def main(project_dir: str, batches_dir: str, start: int) -> None:
    project = Project.open(project_dir)
    n_spots = len(project.barcodes)
    rng = np.random.default_rng(start)
    print("ready", flush=True)
    batch = start
    while (csv := Path(batches_dir) / f"batch_{batch:03d}.csv").exists():
        project.import_loupe(csv, annotator="crash-test")
        print(f"imported {batch}", flush=True)
        number = project.next_round_number
        probabilities = rng.dirichlet(np.ones(7), size=n_spots)
        project.save_round(
            number,
            arrays={"probabilities": probabilities, "embeddings": rng.normal(size=(n_spots, 64))},
            files={"model": rng.bytes(4_000_000)},
            info={"batch": batch},
        )
        print(f"round {number}", flush=True)
        batch += 1


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
