"""Child process for the crash tests: imports label batches and runs real rounds until killed.

Prints ``ready`` once warmed up, then ``imported K`` after each committed import and ``round N``
after each committed round, flushing every line so the parent knows exactly what was committed.
"""

import sys
from pathlib import Path

import torch

from activespot.features import spatial_graph
from activespot.project import Project, run_round


def main(project_dir: str, batches_dir: str, start: int) -> None:
    project = Project.open(project_dir)
    spatial_graph(project.load_sample(), rings=1)  # warm up imports so kills land in the work below
    torch.zeros(1).sum()
    print("ready", flush=True)
    batch = start
    while (csv := Path(batches_dir) / f"batch_{batch:03d}.csv").exists():
        project.import_loupe(csv, annotator="crash-test")
        print(f"imported {batch}", flush=True)
        print(f"round {run_round(project).round}", flush=True)
        batch += 1


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
