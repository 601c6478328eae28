"""Agreement page: a second annotation against this project, and the labels the model disputes.

Both parts show what the command line prints (``activespot agreement`` and ``activespot
review``), computed by the same functions of :mod:`activespot.transfer` and refused with the
same messages, so a number in the app and in a report never differ.
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from .. import _constants as K
from ..errors import ActivespotError, InputFileError
from ..project import Project
from ..review import Agreement, agreement, annotation_columns, read_annotation, review_labels
from . import _data as D
from . import _state as S
from ._files import loupe_bytes

# The defaults of `activespot review`, so the app lists exactly what the command line lists.
REVIEW_FOLDS = 5
REVIEW_MIN_CONFIDENCE = 0.8
_EXPECTED = "expected a Loupe category CSV or a table of barcode,label"
_SHOWN = 5  # one-sided barcodes named in a metric's help, as the command line names them


# --- a second annotation ----------------------------------------------------------------------
def label_columns(name: str, data: bytes) -> list[str]:
    """The label columns of an uploaded annotation, to choose from; empty when it cannot be read.

    An unreadable file is not reported here: :func:`compare_upload` reads it the way the command
    line does and says why.
    """
    try:
        with D.uploaded_file(name, data, expected=_EXPECTED) as path:
            return annotation_columns(path)
    except ValueError:
        return []


def compare_upload(
    name: str, data: bytes, reference: pd.Series, *, reference_name: str, column: str | None, exclude: str | None = None
) -> Agreement:
    """Agreement of ``reference`` with an uploaded annotation, as ``activespot agreement`` computes it.

    The upload is the reference of the per-class scores (``A`` on the command line): it is what
    a pathologist attaches to judge the project by. Spots of the exclusion class ``exclude`` in
    either are left out.

    Raises
    ------
    ValueError
        The command line's message for a bad file, or for one that shares no spot with
        ``reference``, naming the uploaded file.
    """
    with D.uploaded_file(name, data, expected=_EXPECTED) as path:
        uploaded = read_annotation(path, column=column)
        try:
            return agreement(uploaded, reference, name_a=name, name_b=reference_name, exclude=exclude)
        except ValueError as err:
            hint = "compare it with an annotation of this project's section"
            raise InputFileError(path, str(err), hint) from None


def confusion_chart(result: Agreement) -> alt.LayerChart:
    """The confusion table as a heatmap: colour = share of the row's spots, counts written in.

    Rows are normalised (as in :func:`activespot.transfer.plot_agreement`) so a rare class's
    confusion is as visible as a common one's.
    """
    counts = result.confusion
    shares = counts.div(counts.sum(axis=1).clip(lower=1), axis=0)
    data = pd.DataFrame(
        {"spots": counts.stack(future_stack=True), "share": shares.stack(future_stack=True)}
    ).reset_index()
    data.columns = ["row", "column", "spots", "share"]  # the file names may hold dots Vega would read as paths
    base = alt.Chart(data).encode(
        x=alt.X("column:N", sort=[str(c) for c in counts.columns], title=result.name_b),
        y=alt.Y("row:N", sort=[str(r) for r in counts.index], title=result.name_a),
    )
    cells = base.mark_rect().encode(
        color=alt.Color("share:Q", scale=alt.Scale(domain=[0, 1], range=["#ffffff", "#08519c"]), title="share of row"),
        tooltip=[
            alt.Tooltip("row:N", title=result.name_a),
            alt.Tooltip("column:N", title=result.name_b),
            alt.Tooltip("spots:Q"),
            alt.Tooltip("share:Q", format=".0%"),
        ],
    )
    text = (
        base.mark_text(fontSize=12)
        .encode(
            text="spots:Q",
            color=alt.condition("datum.share > 0.5", alt.value("white"), alt.value("black")),
        )
        .transform_filter("datum.spots > 0")
    )
    side = 42 * max(len(counts.index), len(counts.columns))
    return (cells + text).properties(width=side, height=side)


def _one_sided(only: pd.Index) -> str:
    more = ", …" if len(only) > _SHOWN else ""
    return f"e.g. {', '.join(only[:_SHOWN])}{more}" if len(only) else "none"


def _render_second_annotation(project: Project) -> None:
    st.caption(
        "Attach another annotation of this section — a colleague's Loupe export or a published ground "
        f"truth (Barcode,<Category> or barcode,label,…; at most {K.APP_UPLOAD_LIMIT_MB} MB) — and compare "
        "it with this project. The numbers are those of `activespot agreement`; the attached file is the "
        "reference (rows of the confusion, per-class scores)."
    )
    upload = st.file_uploader("Second annotation (CSV)", type=["csv"], key=S.AGREEMENT_UPLOAD)
    trained, _ = D.round_numbers(project)
    choices = {"labels": "This project's labels"}
    if trained is not None:
        choices["predictions"] = f"Round {trained} predictions"
    against = st.radio("Compare with", list(choices), format_func=choices.get, horizontal=True, key=S.AGREEMENT_AGAINST)
    if upload is None:
        st.info("Upload a CSV to see Cohen's κ, accuracy, weighted F1 and the confusion.", icon=":material/upload:")
        return
    data = upload.getvalue()
    columns = label_columns(upload.name, data)
    column = None
    if len(columns) > 1:
        column = st.selectbox("Label column", columns, key=S.AGREEMENT_COLUMN)
    exclusion = project.exclusion_class()
    if against == "predictions" and trained is not None:
        reference = project.marking_excluded(D.predictions(project)["label"])
        reference_name = f"round {trained} predictions"
    else:
        reference, reference_name = project.labels(), "project labels"
    try:
        result = compare_upload(
            upload.name, data, reference, reference_name=reference_name, column=column, exclude=exclusion
        )
    except ValueError as err:
        st.error(str(err), icon=":material/error:")
        return

    kappa, accuracy, f1, both, only_a, only_b = st.columns(6)
    kappa.metric("Cohen's κ", f"{result.kappa:.3f}", help="Agreement corrected for chance (1 = the same labels).")
    accuracy.metric("Accuracy", f"{result.accuracy:.3f}", help="Share of the common spots with the same label.")
    f1.metric("Weighted F1", f"{result.weighted_f1:.3f}", help=f"F1 per class of {upload.name}, weighted by its size.")
    both.metric("Spots in both", f"{result.n_common:,}")
    only_a.metric("Only in the file", f"{len(result.only_a):,}", help=f"{upload.name}: {_one_sided(result.only_a)}")
    only_b.metric(f"Only in the {against}", f"{len(result.only_b):,}", help=_one_sided(result.only_b))
    if result.n_excluded:
        st.caption(f"{result.n_excluded:,} spots of the exclusion class {exclusion!r} (in either) are left out.")
    chart_col, table_col = st.columns([3, 2])
    with chart_col:
        st.subheader("Confusion")
        st.altair_chart(confusion_chart(result))
    with table_col:
        st.subheader("Per class of the file")
        st.dataframe(
            result.per_class,
            column_config={
                name: st.column_config.NumberColumn(name, format="%.3f")
                for name in ("agreement", "precision", "recall", "f1")
            },
        )


# --- consistency review -----------------------------------------------------------------------
def journal_version(project: Project) -> int:
    """How many actions the journal holds: any label, undo or class change makes a new version."""
    return len(project.store.actions())


@st.cache_data(show_spinner=f"Training {REVIEW_FOLDS} out-of-fold models…", max_entries=8)
def disputed_labels(project_path: str, version: int) -> pd.DataFrame:
    """:func:`~activespot.transfer.review_labels` with the command line's defaults, once per journal version.

    ``version`` (:func:`journal_version`) is only the cache key: new labels give a new key, while
    selecting rows, re-labelling from the list or switching pages does not retrain the models.
    An evicted entry is recomputed from the labels of the moment.
    """
    D.LOADS["review"] += 1
    project = D.open_project(project_path)
    return review_labels(project, folds=REVIEW_FOLDS, min_confidence=REVIEW_MIN_CONFIDENCE, progress=False)


def _relabel(project_path: str, annotator: str, disputed: pd.DataFrame, key: str, *, accept: bool) -> None:
    """Label the selected spots, the model's out-of-fold class kept as the suggestion shown."""
    barcodes = D.selected_rows(disputed, key)
    target = st.session_state.get(S.CONSISTENCY_RELABEL_TO)
    if not barcodes or not (accept or target):
        D.flash("info", "Select rows in the list" + ("." if accept else " and a class to re-label them to."))
        return
    labels = {b: str(disputed.at[b, "predicted"]) if accept else target for b in barcodes}
    D.label_spots(
        project_path,
        labels,
        annotator=annotator,
        source=K.SOURCE_ACCEPTED if accept else K.SOURCE_MANUAL,
        predicted=disputed[["predicted", "confidence"]].rename(columns={"predicted": "label"}),
    )


def _start_review(project_path: str, version: int) -> None:
    """Ask for the review of this journal version; the run that follows computes (or reuses) it."""
    st.session_state[S.CONSISTENCY_SHOWN] = (project_path, version)


def _render_consistency(project: Project, *, annotator: str) -> None:
    path = str(project.path)
    st.caption(
        f"Each label is judged by a model trained on the other {REVIEW_FOLDS - 1} of {REVIEW_FOLDS} folds of "
        f"the labels (never by one trained on it); labels it gives another class with confidence ≥ "
        f"{REVIEW_MIN_CONFIDENCE:.0%} are listed, most confident first — as `activespot review` lists them."
    )
    version = journal_version(project)
    shown = st.session_state.get(S.CONSISTENCY_SHOWN)
    disputed, problem = None, None
    if shown is not None and shown[0] == path:  # not a review of another project opened in this session
        try:
            disputed = disputed_labels(*shown)
        except ActivespotError as err:  # e.g. labels of one class: the command line's message
            problem = str(err)
            del st.session_state[S.CONSISTENCY_SHOWN]
    st.button(
        "Find disputed labels" if disputed is None else "Run the review again",
        key=S.CONSISTENCY_RUN,
        type="primary" if disputed is None else "secondary",
        icon=":material/rule:",
        on_click=_start_review,
        args=(path, version),
        disabled=disputed is not None and shown[1] == version,
        help="Trains one model per fold on the current labels; takes seconds to a minute.",
    )
    if problem:
        st.error(problem, icon=":material/error:")
    if disputed is None:
        return
    if shown[1] != version:
        st.caption(":orange[Labels changed since this list was made; run the review again to update it.]")
    if disputed.empty:
        st.success(
            f"No label is disputed with confidence ≥ {REVIEW_MIN_CONFIDENCE:.0%}.", icon=":material/check_circle:"
        )
        return
    if not annotator:
        st.warning("Enter your name in the sidebar to re-label spots.", icon=":material/person:")
    key = S.CONSISTENCY_TABLE.format(version=version)  # a new key after each label clears the selection
    view = disputed[["label", "predicted", "confidence", "p_label", "annotator", "source"]].assign(
        now=project.labels().reindex(disputed.index).fillna("")
    )
    st.dataframe(
        view,
        key=key,
        on_select="rerun",
        selection_mode="multi-row",
        column_config={
            "label": st.column_config.TextColumn("label", help="The label the model disputes."),
            "predicted": st.column_config.TextColumn("model", help="The out-of-fold model's class."),
            "confidence": st.column_config.ProgressColumn("confidence", min_value=0.0, max_value=1.0, format="%.2f"),
            "p_label": st.column_config.NumberColumn("p(label)", format="%.2f"),
            "now": st.column_config.TextColumn("current label", help="After any re-labelling since the review."),
        },
    )
    selected = D.selected_rows(disputed, key)
    st.caption(f"{len(disputed)} disputed labels · {len(selected)} selected")
    accept, relabel, rest = st.columns([2, 2, 1.3], vertical_alignment="bottom", border=True)
    args = (path, annotator, disputed, key)
    accept.caption("The label was wrong: store the model's class (as *accepted*, its confidence kept).")
    accept.button(
        f"Give {len(selected)} selected the model's class",
        key=S.CONSISTENCY_ACCEPT,
        icon=":material/check:",
        on_click=_relabel,
        args=args,
        kwargs={"accept": True},
        disabled=not annotator or not selected,
    )
    classes = project.store.classes()
    relabel.selectbox(
        "Re-label selected to", classes, index=None, placeholder="choose a class", key=S.CONSISTENCY_RELABEL_TO
    )
    relabel.button(
        f"Re-label {len(selected)} selected",
        key=S.CONSISTENCY_RELABEL,
        icon=":material/edit:",
        on_click=_relabel,
        args=args,
        kwargs={"accept": False},
        disabled=not annotator or not selected,
    )
    D.undo_button(rest, S.CONSISTENCY_UNDO, project, annotator=annotator, label="Undo last")
    D.redo_button(rest, S.CONSISTENCY_REDO, project, annotator=annotator)
    rest.download_button(
        "Loupe CSV",
        loupe_bytes(disputed["label"] + " -> " + disputed["predicted"], K.LOUPE_REVIEW_CATEGORY),
        K.REVIEW_EXPORT.format(round=project.last_round_number or 0),
        "text/csv",
        key=S.CONSISTENCY_DOWNLOAD,
        icon=":material/download:",
        help=f"Category '{K.LOUPE_REVIEW_CATEGORY}' ('label -> model') to re-check the spots in Loupe Browser.",
    )


def render_agreement(project: Project, *, annotator: str) -> None:
    """Draw the agreement page: a second annotation, and the consistency review."""
    st.title("Agreement")
    second, consistency = st.tabs([":material/compare_arrows: Second annotation", ":material/rule: Consistency review"])
    with second:
        _render_second_annotation(project)
    with consistency:
        _render_consistency(project, annotator=annotator)
