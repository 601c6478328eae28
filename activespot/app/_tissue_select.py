"""Tissue page, "Select a region": draw a box or a lasso (or click) on the H&E, then label the region at once.

The view is a Plotly chart: deck.gl (the "Look around" view) reports a click on one object but
no box or lasso, while ``st.plotly_chart(on_select=...)`` returns the shapes drawn. The H&E is
the chart's background image, and the spots (or Visium HD bins) are painted at their true size on
an image of the same pixels (``_raster.disk_index`` / ``resampled_index``), so neither 5,000 spots
nor 600,000 bins are sent to the browser as objects; a layer of invisible points (every spot, or
the raster's tiles) carries the hover text and the clicks. Which items a shape holds is decided
here from their positions (:mod:`._region`), and an action on the region is one journal action:
one undo reverts it whole.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from .. import _constants as K
from ..project import Project
from . import _data as D
from . import _region as G
from . import _state as S

VEIL = 0.6  # a selected item is drawn this much closer to white (no class colour is white), fully opaque
_VIEW_PX = 760
_ACTIONS = {
    "label": "Label as",
    "correct": "Correct predictions to",
}


def _selection() -> np.ndarray:
    return np.asarray(st.session_state.get(S.TISSUE_SELECTION, []), dtype=np.int64)


def _set_selection(positions: np.ndarray) -> None:
    st.session_state[S.TISSUE_SELECTION] = np.asarray(positions, dtype=np.int64).tolist()


def apply_drawing(drawn: G.Drawn, *, xy: np.ndarray, grid, tile_of_item: np.ndarray | None) -> None:
    """Update the selection from what was drawn since the last run (a rerun showing the same drawing changes nothing).

    A box or lasso replaces the selection (shift held, Plotly keeps several shapes: their union);
    a click adds the item (or the tile's bins) or removes it when it is already selected. Plotly
    answers a second click on the same point by deselecting it, which arrives as an empty drawing
    right after that click: it removes the item again, as a second click should.
    """
    last = st.session_state.get(S.TISSUE_DRAWN)
    if drawn.signature == (last or {}).get("signature"):
        return
    if drawn.polygons:
        _set_selection(G.items_in_polygons(drawn.polygons, xy=xy, grid=grid))
    elif drawn.clicked:
        _set_selection(G.toggled(_selection(), G.clicked_items(drawn.clicked, tile_of_item)))
    elif last and last.get("clicked") and not last.get("polygons"):
        _set_selection(G.toggled(_selection(), G.clicked_items(last["clicked"], tile_of_item)))
    st.session_state[S.TISSUE_DRAWN] = {
        "signature": drawn.signature,
        "clicked": drawn.clicked,
        "polygons": bool(drawn.polygons),
    }


def with_selection(codes: np.ndarray, palette: np.ndarray, selection: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The items' codes and palette with the selected items in a veiled copy of their colour.

    One picture holds the colours and the selection: Plotly draws only one of several layout
    images placed on exactly the same rectangle, and one picture is less to send anyway.
    """
    palette = np.asarray(palette, dtype=np.uint8)
    veiled = palette.astype(np.float64)
    veiled[:, :3] = veiled[:, :3] * (1 - VEIL) + 255 * VEIL
    veiled[:, 3] = 255
    shown = np.array(codes, dtype=np.uint8)
    shown[selection] += len(palette)
    return shown, np.vstack([palette, np.rint(veiled).astype(np.uint8)])


def _figure(geometry: dict, overlay: str, points: pd.DataFrame, *, opacity: float) -> object:
    import plotly.graph_objects as go

    width, height = geometry["width"], geometry["height"]
    image = {"xref": "x", "yref": "y", "x": 0, "y": 0, "sizex": width, "sizey": height, "sizing": "stretch"}
    images = []
    if geometry["url"] is not None:
        images.append({**image, "source": geometry["url"], "layer": "below"})
    images.append({**image, "source": overlay, "opacity": opacity, "layer": "above"})
    figure = go.Figure(
        go.Scattergl(
            # Sent as bytes (Plotly encodes NumPy arrays): float32 is precise enough for image pixels.
            x=points["x"].to_numpy(np.float32),
            y=points["y"].to_numpy(np.float32),
            customdata=points["item"].to_numpy(),  # Plotly sends it in the smallest integer type that holds it
            text=points["text"],
            mode="markers",
            marker={"size": float(points["size"].iloc[0]), "color": "rgba(0,0,0,0)"},
            hovertemplate="%{text}<extra></extra>",
            selected={"marker": {"opacity": 0}},
            unselected={"marker": {"opacity": 0}},
            showlegend=False,
        )
    )
    figure.update_layout(
        images=images,
        height=_VIEW_PX,
        margin={"l": 0, "r": 0, "t": 0, "b": 0},
        dragmode="select",
        uirevision="tissue",  # a new figure (labels recoloured) keeps the zoom and the pan
        hovermode="closest",
        plot_bgcolor="white",
        newselection={"line": {"color": "#111111", "width": 2, "dash": "dot"}},
        xaxis={"range": [0, width], "visible": False, "constrain": "domain"},
        yaxis={"range": [height, 0], "visible": False, "scaleanchor": "x", "constrain": "domain"},
    )
    return figure


def _hover_points(table: pd.DataFrame, geometry: dict, *, has_round: bool, tiles, tile_objects) -> pd.DataFrame:
    """The invisible points that carry hover and clicks: every spot, or (bins) every tile and the named bins."""
    if tiles is None:
        label = table["label"].replace("", "—")
        if has_round:
            prediction = table["prediction"].replace("", "—") + table["confidence"].map(
                lambda c: "" if np.isnan(c) else f" ({c:.2f})"
            )
        else:
            prediction = pd.Series(D.NO_ROUND, index=table.index)
        # The hover text is most of what the browser is sent again after each action: kept short
        # (the barcode is in the "Look around" view's tooltip).
        text = "label " + label + "<br>model " + prediction
        size = max(4.0, 2 * float(geometry["radius"]) * _VIEW_PX / max(geometry["width"], geometry["height"]))
        return pd.DataFrame(
            {"x": table["x"], "y": table["y"], "item": np.arange(len(table)), "text": text, "size": size}
        )
    centres = tiles.corners.mean(axis=1)
    return pd.DataFrame(
        {
            "x": centres[:, 0],
            "y": centres[:, 1],
            "item": -1 - tiles.numbers,
            "text": [f"<b>{o['title']}</b><br>{o['details'].split(' · click')[0]}" for o in tile_objects],
            "size": 14.0,
        }
    )


def render_selection(
    project: Project,
    table: pd.DataFrame,
    geometry: dict,
    *,
    codes: np.ndarray,
    palette: np.ndarray,
    opacity: float,
    has_round: bool,
    tiles=None,
    tile_objects=None,
    annotator: str,
) -> None:
    """The region-selection view: the chart, then what is selected and what can be done with it."""
    path = str(project.path)
    grid = D.bin_grid(path)
    xy = np.column_stack([table["x"].to_numpy(), table["y"].to_numpy()])
    key = S.TISSUE_SELECT
    apply_drawing(
        G.drawn_shapes(st.session_state.get(key)),
        xy=xy,
        grid=grid,
        tile_of_item=None if tiles is None else tiles.of_item,
    )
    selection = _selection()
    # What the page shows of the selected spots: a region action is refused if one changed since.
    D.remember_shown(S.TISSUE_SEEN, project, table["barcode"].to_numpy()[selection])
    D.show_refused(path, annotator, D.predictions(project))
    shown, shown_palette = with_selection(codes, palette, selection)
    chart, side = st.columns([3, 1])
    with chart:
        figure = _figure(
            geometry,
            D.item_overlay(path, shown, shown_palette),
            _hover_points(table, geometry, has_round=has_round, tiles=tiles, tile_objects=tile_objects),
            opacity=opacity,
        )
        st.plotly_chart(
            figure,
            key=key,
            on_select="rerun",
            selection_mode=("box", "lasso", "points"),
            config={"scrollZoom": True, "displaylogo": False, "modeBarButtonsToRemove": ["autoScale2d"]},
        )
        item = "bin" if grid is not None else "spot"
        st.caption(
            f"Drag to draw a box (or pick the lasso in the chart's toolbar); hold Shift to draw several. "
            f"Click a {item} to add it to the selection or take it out"
            + (" (a click takes a whole tile of bins)." if tiles is not None else ".")
            + " Scroll to zoom; the toolbar's pan tool moves the view."
        )
    with side:
        _selection_panel(project, table, selection, annotator=annotator, item=item)


def _selection_panel(
    project: Project, table: pd.DataFrame, selection: np.ndarray, *, annotator: str, item: str
) -> None:
    classes = project.store.classes()
    n = int(selection.size)
    st.markdown(f"**{n:,} {item}{'s' if n != 1 else ''} selected**")
    if n:
        mix = G.selection_mix(table, selection, classes=classes)
        st.dataframe(mix, width="stretch", height=min(38 + 35 * len(mix), 300))
    else:
        st.caption("Nothing selected yet: draw on the tissue.")
    # Always drawn, so that the class stays chosen from one region to the next.
    st.selectbox("Class", classes, index=None, placeholder="choose a class", key=S.TISSUE_CLASS)
    _region_actions(project, annotator=annotator, disabled=not annotator or not n)
    left, right, again = st.columns(3)
    left.button(
        "Deselect", key=S.TISSUE_DESELECT, on_click=_set_selection, args=(np.empty(0),), disabled=not n, width="stretch"
    )
    D.undo_button(right, S.TISSUE_UNDO, project, annotator=annotator, width="stretch")
    D.redo_button(again, S.TISSUE_REDO, project, annotator=annotator, width="stretch")


def _region_actions(project: Project, *, annotator: str, disabled: bool) -> None:
    """The four actions on the selection, each one journal action."""
    path = str(project.path)
    predicted = D.predictions(project)
    st.button(
        "Label all as this class",
        key=S.TISSUE_LABEL,
        type="primary",
        icon=":material/format_paint:",
        on_click=_region_label,
        args=(path, annotator, K.SOURCE_MANUAL, predicted),
        disabled=disabled,
        width="stretch",
    )
    st.button(
        "Correct predictions to this class",
        key=S.TISSUE_CORRECT,
        icon=":material/edit:",
        on_click=_region_label,
        args=(path, annotator, K.SOURCE_CORRECTED, predicted),
        disabled=disabled or predicted is None,
        width="stretch",
    )
    st.button(
        "Accept the predictions",
        key=S.TISSUE_ACCEPT,
        icon=":material/check:",
        on_click=_region_accept,
        args=(path, annotator, predicted),
        disabled=disabled or predicted is None,
        width="stretch",
    )
    st.button(
        "Clear their labels",
        key=S.TISSUE_CLEAR,
        icon=":material/ink_eraser:",
        on_click=_region_clear,
        args=(path, annotator),
        disabled=disabled,
        width="stretch",
    )


def _selected_barcodes(project_path: str) -> pd.Index:
    return D.load_sample(project_path).obs_names[_selection()]


def _region_label(project_path: str, annotator: str, source: str, predicted: pd.DataFrame | None) -> None:
    target = st.session_state.get(S.TISSUE_CLASS)
    if not target:
        D.flash("info", "Choose the class first.")
        return
    barcodes = _selected_barcodes(project_path)
    if source == K.SOURCE_CORRECTED:
        # A spot already predicted as the target is not a correction (accept it instead).
        known = predicted["label"].reindex(barcodes).astype(object)
        barcodes = barcodes[known.ne(target).to_numpy() & known.notna().to_numpy()]
        if not len(barcodes):
            D.flash("info", f"Every selected spot with a prediction is already predicted as {target}.")
            return
    _store(project_path, dict.fromkeys(barcodes, target), annotator=annotator, source=source, predicted=predicted)


def _region_accept(project_path: str, annotator: str, predicted: pd.DataFrame) -> None:
    known = predicted["label"].reindex(_selected_barcodes(project_path)).dropna()
    if known.empty:
        D.flash("info", "No selected spot has a prediction.")
        return
    _store(
        project_path, known.astype(str).to_dict(), annotator=annotator, source=K.SOURCE_ACCEPTED, predicted=predicted
    )


def _region_clear(project_path: str, annotator: str) -> None:
    barcodes = _selected_barcodes(project_path)
    labelled = D.open_project(project_path).labels().index.intersection(barcodes)
    if labelled.empty:
        D.flash("info", "No selected spot has a label to clear.")
        return
    _store(project_path, dict.fromkeys(labelled), annotator=annotator, source=K.SOURCE_MANUAL)


def _store(project_path: str, labels: dict, *, annotator: str, source: str, predicted: pd.DataFrame | None = None):
    """One journal action for the region, refused if one of its spots changed since the page showed it.

    Once stored, the selection is spent; refused, it stays, and the page says who changed what.
    """
    expected = D.shown_state(S.TISSUE_SEEN, labels)
    D.label_spots(project_path, labels, annotator=annotator, source=source, predicted=predicted, expected=expected)
    if st.session_state.get(S.FLASH, ("",))[0] == "success":
        _set_selection(np.empty(0))
