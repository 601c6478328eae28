"""Child process for the concurrency test: writes N single-label actions as one annotator."""

import sys

from activespot.project import LabelStore


def main(path: str, annotator: str, n: int) -> None:
    with LabelStore(path) as store:
        for i in range(n):
            store.add_labels({f"{annotator}-{i}-1": "Tumour"}, annotator=annotator, source="manual")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
