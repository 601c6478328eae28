"""Agreement between two annotations of the same spots: Cohen's κ, accuracy, weighted F1, confusion.

Used to judge a transfer against a pathologist's labels, two pathologists against each other,
or a model against a published ground truth. Spots labelled in only one annotation are not
silently dropped: they are counted and listed, since a mismatch of barcodes (another section,
another suffix) would otherwise look like a perfect agreement on a handful of spots.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import _constants as K
from ..errors import InputFileError

__all__ = ["Agreement", "agreement", "annotation_columns", "plot_agreement", "read_annotation"]

# Ground-truth tables (not Loupe exports) mark unannotated spots with pandas' usual NA strings,
# as activespot.simulate.read_truth reads them.
_NA_STRINGS = frozenset({"NA", "N/A", "NaN", "nan", "NULL", "null", "None", "<NA>", "#N/A"})
_SHOWN = 5


@dataclass(frozen=True)
class Agreement:
    """Agreement of annotation ``b`` with annotation ``a`` over the spots both label.

    Attributes
    ----------
    kappa
        Cohen's κ: agreement corrected for what the class frequencies give by chance.
    accuracy
        Share of common spots with the same label.
    weighted_f1
        F1 per class of ``a`` (the reference), averaged with ``a``'s class frequencies.
    n_common
        Spots labelled in both.
    confusion
        Counts, rows = ``a``'s classes, columns = ``b``'s classes (every class of either).
    per_class
        Per class of ``a``: ``support``, ``agreement`` (share ``b`` gives the same label),
        ``precision``, ``recall``, ``f1``.
    only_a, only_b
        Barcodes labelled in only one of the two.
    name_a, name_b
        What the two annotations are (file names), for reports.
    n_excluded
        Spots left out because either annotation gives them the exclusion class ("not tissue").
    """

    kappa: float
    accuracy: float
    weighted_f1: float
    n_common: int
    confusion: pd.DataFrame
    per_class: pd.DataFrame
    only_a: pd.Index
    only_b: pd.Index
    name_a: str = "A"
    name_b: str = "B"
    n_excluded: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-ready): the scores, counts, confusion and up to five one-sided barcodes."""
        return {
            "kappa": self.kappa,
            "accuracy": self.accuracy,
            "weighted_f1": self.weighted_f1,
            "n_common": self.n_common,
            "n_excluded": self.n_excluded,
            "only_a": {"count": len(self.only_a), "examples": list(self.only_a[:_SHOWN])},
            "only_b": {"count": len(self.only_b), "examples": list(self.only_b[:_SHOWN])},
            "confusion": {str(r): {str(c): int(v) for c, v in row.items()} for r, row in self.confusion.iterrows()},
        }


def agreement(
    a: pd.Series, b: pd.Series, *, name_a: str = "A", name_b: str = "B", exclude: str | None = None
) -> Agreement:
    """Compare two annotations given as label per barcode.

    Parameters
    ----------
    a
        Reference annotation: labels indexed by barcode; missing values are unlabelled spots.
    b
        The annotation judged against ``a`` (κ and accuracy are symmetric; weighted F1 and the
        per-class table take ``a`` as the reference).
    name_a, name_b
        Names for reports.
    exclude
        The exclusion class (a project's "Not tissue"): spots either annotation gives it are left
        out of every number, and counted in ``n_excluded``.

    Returns
    -------
    Agreement

    Raises
    ------
    ValueError
        The two share no labelled barcode, or a barcode is repeated with different labels.
    """
    a, b = _clean(a, name_a), _clean(b, name_b)
    n_excluded = 0
    if exclude is not None:
        out = a.index[a == exclude].union(b.index[b == exclude])
        a, b, n_excluded = a[~a.index.isin(out)], b[~b.index.isin(out)], len(out)
    common = a.index.intersection(b.index, sort=False)
    if common.empty:
        msg = (
            f"{name_a} and {name_b} share no labelled barcode ({len(a)} and {len(b)} labelled); "
            "are they annotations of the same section?"
        )
        raise ValueError(msg)
    return dataclasses.replace(_agreement(a, b, common, name_a=name_a, name_b=name_b), n_excluded=n_excluded)


def _clean(labels: pd.Series, name: str) -> pd.Series:
    labels = pd.Series(labels, dtype=object).dropna().astype(str).str.strip()
    labels = labels[labels != ""]
    duplicated = labels.index[labels.index.duplicated()]
    conflicting = [bc for bc in duplicated.unique() if labels.loc[[bc]].nunique() > 1]
    if conflicting:
        msg = f"{name}: barcode {conflicting[0]} has several different labels; keep one label per barcode."
        raise ValueError(msg)
    return labels[~labels.index.duplicated()]


def _agreement(a: pd.Series, b: pd.Series, common: pd.Index, *, name_a: str, name_b: str) -> Agreement:
    from sklearn.metrics import cohen_kappa_score, f1_score, precision_recall_fscore_support

    ya, yb = a.reindex(common).to_numpy(), b.reindex(common).to_numpy()
    classes = sorted(set(ya) | set(yb))
    confusion = pd.crosstab(
        pd.Categorical(ya, categories=classes), pd.Categorical(yb, categories=classes), dropna=False
    )
    confusion.index.name, confusion.columns.name = name_a, name_b
    same_labels = classes[0] if len(classes) == 1 else None
    # κ is undefined when both use one and the same class throughout; they agree completely then.
    kappa = 1.0 if same_labels is not None else float(cohen_kappa_score(ya, yb, labels=classes))
    precision, recall, f1, support = precision_recall_fscore_support(ya, yb, labels=classes, zero_division=0)
    per_class = pd.DataFrame(
        {"support": support, "agreement": recall, "precision": precision, "recall": recall, "f1": f1},
        index=pd.Index(classes, name="class"),
    )
    per_class = per_class[per_class["support"] > 0]
    return Agreement(
        kappa=round(kappa, 6),
        accuracy=round(float(np.mean(ya == yb)), 6),
        weighted_f1=round(float(f1_score(ya, yb, labels=classes, average="weighted", zero_division=0)), 6),
        n_common=int(common.size),
        confusion=confusion,
        per_class=per_class,
        only_a=a.index.difference(common, sort=False),
        only_b=b.index.difference(common, sort=False),
        name_a=name_a,
        name_b=name_b,
    )


def read_annotation(path: str | Path, *, column: str | None = None) -> pd.Series:
    """Read labels per barcode from a Loupe category CSV or a ground-truth table.

    Both shapes are CSVs whose barcode column is named ``Barcode`` (Loupe) or ``barcode``
    (e.g. ``ground_truth_layers.csv``). Without ``column`` the first column after the barcodes
    is read, as :func:`activespot.simulate.read_truth` does. Blank labels are unlabelled spots;
    in tables other than Loupe exports, NA strings (``NA``, ``NaN``…) are too.

    Parameters
    ----------
    path
        The CSV.
    column
        Label column to read.

    Returns
    -------
    pandas.Series
        Labels indexed by barcode.

    Raises
    ------
    InputFileError
        Unreadable or malformed file, no barcode column, unknown column (the valid ones listed).
    """
    from ..io import read_loupe_csv

    path = Path(path)
    header = _header(path)
    if column is None:
        column = next(iter(annotation_columns(path)), None)
    labels = read_loupe_csv(path, column=column)
    if header is not None and K.LOUPE_BARCODE not in header:
        labels = labels[~labels.str.strip().isin(_NA_STRINGS)]
    if labels.empty:
        raise InputFileError(path, f"no labelled spot in column {labels.name!r}", "is it the right column?")
    return labels


def annotation_columns(path: str | Path) -> list[str]:
    """The label columns of an annotation CSV (every column but the barcodes), in file order.

    Empty when the file cannot be read or has no barcode column: :func:`read_annotation` then
    says what is wrong with it.
    """
    header = _header(Path(path)) or []
    return [cell for cell in header if cell.lower() != K.LOUPE_BARCODE.lower()]


def _header(path: Path) -> list[str] | None:
    """The header cells, or ``None`` when the file cannot be read (the Loupe reader then says why)."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            for row in csv.reader(io.StringIO(handle.read(1 << 16))):
                if any(cell.strip() for cell in row):
                    cells = [cell.strip() for cell in row]
                    return cells if K.LOUPE_BARCODE.lower() in [c.lower() for c in cells] else None
    except (OSError, UnicodeDecodeError, csv.Error):
        return None
    return None


def plot_agreement(result: Agreement, path: str | Path) -> Path:
    """Draw the confusion table as a heatmap, rows normalised (share of ``a``'s class), counts written in.

    Parameters
    ----------
    result
        From :func:`agreement`.
    path
        Output image; the format follows the suffix.

    Returns
    -------
    pathlib.Path
        The file written.
    """
    from matplotlib.figure import Figure  # no pyplot: files only, no global backend or window

    counts = result.confusion.to_numpy()
    shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    n = max(len(result.confusion.index), len(result.confusion.columns))
    fig = Figure(figsize=(2.2 + 0.55 * n, 1.8 + 0.5 * n))
    ax = fig.subplots()
    image = ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(counts.shape[1]), [str(c) for c in result.confusion.columns], rotation=45, ha="right")
    ax.set_yticks(range(counts.shape[0]), [str(c) for c in result.confusion.index])
    for (i, j), value in np.ndenumerate(counts):
        if value:
            ax.text(
                j, i, str(value), ha="center", va="center", fontsize=7, color="white" if shares[i, j] > 0.5 else "black"
            )
    ax.set_ylabel(result.name_a)
    ax.set_xlabel(result.name_b)
    ax.set_title(f"κ {result.kappa:.3f}, accuracy {result.accuracy:.3f} (n={result.n_common})", fontsize=9)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of row")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    return path
