"""Cells page (HALS): the current region with its nuclei coloured by suggestion, accept or correct, next region.

Thin over :mod:`activespot.cells`: every label is stored in the project's journal the moment a
button is pressed (with the suggestion that was on screen), so a refresh loses nothing; the
classifier is retrained by :func:`activespot.cells.cell_round` whenever ``retrain_every`` new
labels have arrived or the region is done.

Widget keys (all prefixed ``cells_``): ``cells_region_{version}`` (the region chart; clicking a
nucleus selects it, and a new version after each label clears the click), ``cells_set_{index}``
(label the clicked nucleus with class ``index``), ``cells_editor`` (the table of the region's
cells, whose ``label`` column is edited to correct), ``cells_save`` (store the table's labels),
``cells_accept_all`` (store every shown suggestion of the region), ``cells_next`` (retrain and
move to the next region now), ``cells_undo`` and ``cells_redo`` (:data:`~activespot.app._state.CELLS_UNDO`,
``CELLS_REDO``: undo this annotator's last action, an "Accept all" as one, and redo it).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from .. import _constants as K
from ..errors import ActivespotError
from . import _data as D
from . import _state as S

__all__ = ["render_cells"]

_NO_SUGGESTION = "#ffffff"
_DISPLAY_SIDE = 480  # px: fits the left column of a laptop screen
_PICK = "cell"  # name of the chart's click selection
_NAME_NEEDED = "Enter your name in the sidebar to label cells: it is stored with every label."


def _region_chart(project, adata, current, labels: pd.Series, suggestions: pd.DataFrame, colours: dict[str, str]):
    """The region's pixels with a clickable ring per nucleus (colour = suggestion) and a dot per label given."""
    import altair as alt

    from ..cells import cell_patch_size
    from ..io import open_cell_image

    x0, y0, x1, y1 = current.region.box
    pixels = open_cell_image(project.sample.image).read(slice(y0, y1), slice(x0, x1))
    scale = _DISPLAY_SIDE / max(x1 - x0, y1 - y0)
    # A cell's patch is sized to hold one nucleus with a margin (HALS: 40 px at 40x), so a ring of a
    # quarter of its side goes round a typical nucleus, at whatever magnification the image has.
    cells_config = project.config.cells
    radius = cell_patch_size(adata, patch_px=cells_config.patch_px, patch_um=cells_config.patch_um) / 4
    xy = adata.obsm[K.SPATIAL_KEY]
    inside = np.flatnonzero((xy[:, 0] >= x0) & (xy[:, 0] < x1) & (xy[:, 1] >= y0) & (xy[:, 1] < y1))
    cells = adata.obs_names[inside]
    table = pd.DataFrame(
        {
            K.CELL_ID: cells,
            "x": xy[inside, 0],
            "y": xy[inside, 1],
            "suggestion": [suggestions["label"].get(c, "none") for c in cells],
            "confidence": [suggestions["confidence"].get(c) for c in cells],
            "label": [labels.get(c, "") for c in cells],
        }
    )
    names = list(colours)
    ring_colour = alt.Scale(domain=[*names, "none"], range=[*colours.values(), _NO_SUGGESTION])
    label_colour = alt.Scale(domain=names, range=list(colours.values()))
    width, height = round((x1 - x0) * scale), round((y1 - y0) * scale)
    # Explicit pixel ranges: Streamlit draws the view a little shorter than asked, which would squash nuclei.
    x = alt.X("x:Q", scale=alt.Scale(domain=[x0, x1], range=[0, width], nice=False, zero=False), axis=None)
    y = alt.Y("y:Q", scale=alt.Scale(domain=[y0, y1], range=[0, height], nice=False, zero=False), axis=None)
    url = _png_data_url(pixels, max_side=_DISPLAY_SIDE)
    corners = pd.DataFrame({"x": [x0], "x2": [x1], "y": [y0], "y2": [y1], "url": [url]})
    image = alt.Chart(corners).mark_image(aspect=False).encode(x=x, x2="x2:Q", y=y, y2="y2:Q", url="url:N")
    pick = alt.selection_point(name=_PICK, fields=[K.CELL_ID], on="click", clear="dblclick")
    ring_area = (2 * radius * scale) ** 2
    rings = (
        alt.Chart(table)
        .mark_point(filled=False, size=ring_area, opacity=1, clip=True)
        .encode(
            x=x,
            y=y,
            stroke=alt.Stroke("suggestion:N", scale=ring_colour, legend=None),
            strokeWidth=alt.condition(pick, alt.value(4), alt.value(2)),
            tooltip=[K.CELL_ID, "suggestion", alt.Tooltip("confidence:Q", format=".2f"), "label"],
        )
        .add_params(pick)
    )
    dots = (
        alt.Chart(table[table["label"] != ""])
        .mark_circle(size=ring_area / 10, opacity=1, clip=True)
        .encode(x=x, y=y, fill=alt.Fill("label:N", scale=label_colour, legend=None))
    )
    return alt.layer(image, rings, dots).properties(width=width, height=height).configure_view(strokeWidth=0)


def _png_data_url(pixels: np.ndarray, *, max_side: int) -> str:
    """``pixels`` as an inline PNG, shrunk to ``max_side`` when larger (the browser only shows that many)."""
    import base64
    import io

    from PIL import Image

    picture = Image.fromarray(pixels)
    picture.thumbnail((max_side, max_side))
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _clicked_cell(key: str, cells) -> str | None:
    """The cell clicked on the region chart ``key`` (``None`` when none, or when it is not in ``cells``)."""
    points = ((st.session_state.get(key) or {}).get("selection") or {}).get(_PICK) or []
    clicked = str(points[0].get(K.CELL_ID)) if points else None
    return clicked if clicked in set(map(str, cells)) else None


def render_cells(project, *, annotator: str) -> None:
    """Draw the cells page of a cell project.

    Parameters
    ----------
    project
        A cell project (:meth:`activespot.project.Project.create_cells`); for a Visium project the
        page says so and stops.
    annotator
        Name stored with every label given on this page.
    """
    from ..cells import cell_round, label_cells, latest_cell_round, load_cells, needs_new_round
    from ..project import workload

    st.title("Cells")
    if project.sample.kind != K.SAMPLE_KIND_CELLS:
        st.info("This project annotates Visium spots; create a cell project with `activespot cells init`.")
        return
    if not annotator:
        st.warning(_NAME_NEEDED, icon=":material/person:")
    if project.sample.nuclei_format == K.NUCLEI_DETECTOR:
        st.warning("Nuclei were found by the built-in detector (scikit-image watershed), not read from a file.")
    try:
        with st.spinner("Describing cells…"):
            adata = load_cells(project)
        current = latest_cell_round(project)
        if st.button("Next region", key="cells_next") or needs_new_round(project, current):
            with st.spinner("Training on every label and choosing the next region…"):
                current = cell_round(project)
    except ActivespotError as err:
        st.error(str(err))
        return

    classes = project.store.classes()
    colours = D.class_colors(project)
    labels = project.labels()
    position = pd.Series(np.arange(adata.n_obs), index=adata.obs_names)
    cells = [c for c in adata.obs_names[list(current.region.cells)] if c not in labels.index]
    shown = len(current.suggestions) and bool(current.suggestions["shown"].all())
    x0, y0, x1, y1 = current.region.box
    st.caption(
        f"Round {current.number} · region x {x0}–{x1}, y {y0}–{y1} · {len(cells)} cells to label · "
        f"model trained on {current.n_trained} labels"
    )
    if not shown:
        needed = project.config.cells.min_labels_per_class
        st.info(f"Suggestions appear once every class has {needed} labels; label these cells by hand for now.")

    left, right = st.columns([3, 2])
    suggestions = current.suggestions if shown else current.suggestions.iloc[:0]
    chart_key = f"cells_region_{st.session_state.get('cells_version', 0)}"
    with left:
        st.altair_chart(_region_chart(project, adata, current, labels, suggestions, colours), on_select="rerun",
                        key=chart_key, width="content")  # fmt: skip
        legend = " ".join(f"<span style='color:{colours[c]}'>●</span> {c}" for c in classes)
        st.markdown(f"ring: suggestion · dot: label given · {legend}", unsafe_allow_html=True)
        clicked = _clicked_cell(chart_key, adata.obs_names[list(current.region.cells)].union(labels.index))
        if clicked is None:
            st.caption("Click a nucleus to label or correct it; double-click the picture to clear.")
        else:
            said = suggestions["label"].get(clicked)
            st.markdown(
                f"**Cell {clicked}** · suggestion: {said or 'none'}"
                + (f" ({suggestions['confidence'][clicked]:.2f})" if said else "")
                + (f" · label given: {labels[clicked]}" if clicked in labels.index else "")
            )
            for index, (column, name) in enumerate(zip(st.columns(len(classes)), classes, strict=True)):
                kind = "primary" if name == said else "secondary"
                if column.button(name, key=f"cells_set_{index}", type=kind, disabled=not annotator):
                    _store(project, {clicked: name}, annotator=annotator, current=current, label_cells=label_cells)

    table = pd.DataFrame(
        {
            K.CELL_ID: cells,
            "x": [round(float(adata.obsm[K.SPATIAL_KEY][position[c], 0]), 1) for c in cells],
            "y": [round(float(adata.obsm[K.SPATIAL_KEY][position[c], 1]), 1) for c in cells],
            "suggestion": [current.suggestions["label"].get(c) if shown else None for c in cells],
            "confidence": [current.suggestions["confidence"].get(c) if shown else None for c in cells],
            "label": [current.suggestions["label"].get(c) if shown else None for c in cells],
        }
    )
    if shown:
        right.caption("Least confident suggestions first: they are the ones most likely to need a correction.")
    edited = right.data_editor(
        table,
        key="cells_editor",
        hide_index=True,
        disabled=[K.CELL_ID, "x", "y", "suggestion", "confidence"],
        column_config={
            "label": st.column_config.SelectboxColumn("label", options=classes),
            "confidence": st.column_config.ProgressColumn("confidence", min_value=0.0, max_value=1.0, format="%.2f"),
        },
    )
    save, accept = right.columns(2)
    if save.button("Save labels", key="cells_save", disabled=not (annotator and cells)):
        given = {str(r[K.CELL_ID]): str(r["label"]) for _, r in edited.iterrows() if isinstance(r["label"], str)}
        _store(project, given, annotator=annotator, current=current, label_cells=label_cells)
    if accept.button("Accept all", key="cells_accept_all", disabled=not (annotator and shown and cells)):
        given = {c: str(current.suggestions.loc[c, "label"]) for c in cells}
        _store(project, given, annotator=annotator, current=current, label_cells=label_cells)
    undo, redo = right.columns(2)
    D.undo_button(
        undo,
        S.CELLS_UNDO,
        project,
        annotator=annotator,
        then=_new_chart,
        help=f"Take back your last action ({D.UNDO_SHORTCUT}): a label, or every cell of an Accept all at once.",
    )
    D.redo_button(redo, S.CELLS_REDO, project, annotator=annotator, then=_new_chart)

    st.subheader("Workload")
    overall = workload(project.store, by="all")
    metrics = st.columns(4)
    row = overall.iloc[0] if len(overall) else None
    metrics[0].metric("Labels", int(row["labels"]) if row is not None else 0)
    metrics[1].metric("Suggestions shown", int(row["suggestions_shown"]) if row is not None else 0)
    metrics[2].metric("Corrected", int(row["corrected"]) if row is not None else 0)
    reduction = row["workload_reduction"] if row is not None else float("nan")
    metrics[3].metric("Workload reduction", "–" if pd.isna(reduction) else f"{reduction:.1%}")
    if len(overall):
        st.dataframe(workload(project.store, by="annotator"))


def _store(project, given: dict[str, str], *, annotator: str, current, label_cells) -> None:
    if not given:
        st.warning("No labels chosen yet.")
        return
    try:
        counts = label_cells(project, given, annotator=annotator, current=current)
    except ActivespotError as err:
        st.error(str(err))
        return
    st.success(", ".join(f"{n} {source}" for source, n in counts.items() if n) + " stored.")
    _new_chart()
    st.rerun()


def _new_chart() -> None:
    """A new region chart key: the click on the old chart is not carried over."""
    st.session_state["cells_version"] = st.session_state.get("cells_version", 0) + 1
