"""Tissue page: the H&E image with every spot at its true size; zoom, pan, hover.

Spots are coloured by label, prediction, uncertainty or query membership.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from ..project import Project
from . import _data as D
from . import _state as S

COLOR_BY = {
    "label": "Manual label",
    "prediction": "Prediction",
    "uncertainty": "Uncertainty",
    "query": "Queried this round",
}
_QUERY_COLOR = "#E4002B"


def spot_table(project: Project) -> pd.DataFrame:
    """One row per spot: position, radius, label, prediction, confidence and query membership."""
    geometry = D.tissue_image(str(project.path))
    barcodes = D.load_sample(str(project.path)).obs_names
    table = pd.DataFrame({"barcode": barcodes, "x": geometry["x"], "y": geometry["y"]})
    table["label"] = project.labels().reindex(barcodes).fillna("").to_numpy()
    predicted = D.predictions(project)
    if predicted is not None:
        table["prediction"] = predicted["label"].reindex(barcodes).fillna("").astype(str).to_numpy()
        table["confidence"] = predicted["confidence"].reindex(barcodes).to_numpy(dtype=float)
    else:
        table["prediction"] = ""
        table["confidence"] = np.nan
    table["queried"] = table["barcode"].isin(D.query(project))
    return table


def _fill(table: pd.DataFrame, color_by: str, colors: dict[str, str], alpha: int) -> list[list[int]]:
    grey = [*D.hex_to_rgb(D.UNLABELLED_COLOR), alpha // 2]
    if color_by in ("label", "prediction"):
        lookup = {name: [*D.hex_to_rgb(c), alpha] for name, c in colors.items()}
        return [lookup.get(v, grey) for v in table[color_by]]
    if color_by == "uncertainty":
        # white (confident) -> dark red (uncertain)
        u = (1 - table["confidence"].fillna(1.0).to_numpy()).clip(0, 1)
        u = u / max(float(u.max()), 1e-9)
        r = (255 - 75 * u).astype(int)
        g = (255 - 230 * u).astype(int)
        b = (255 - 215 * u).astype(int)
        return [[int(ri), int(gi), int(bi), alpha] for ri, gi, bi in zip(r, g, b, strict=True)]
    query = [*D.hex_to_rgb(_QUERY_COLOR), 255]
    return [query if q else [255, 255, 255, alpha // 3] for q in table["queried"]]


def render_tissue(project: Project, *, annotator: str) -> None:
    """Draw the tissue view."""
    import pydeck as pdk

    st.title("Tissue")
    path = str(project.path)
    geometry = D.tissue_image(path)
    table = spot_table(project)
    colors = D.class_colors(project)
    has_predictions = bool(table["prediction"].ne("").any())
    options = [k for k in COLOR_BY if has_predictions or k in ("label", "query")]
    left, right = st.columns([3, 1])
    color_by = left.radio("Colour spots by", options, format_func=COLOR_BY.get, horizontal=True, key=S.TISSUE_COLOR)
    opacity = right.slider("Spot opacity", 0.1, 1.0, 0.85, 0.05, key=S.TISSUE_OPACITY)
    alpha = int(255 * opacity)

    if color_by in ("label", "prediction"):
        counts = table.loc[table[color_by] != "", color_by].value_counts()
        legend = {name: int(counts.get(name, 0)) for name in colors}
        legend_colors = dict(colors)
        unlabelled = int((table[color_by] == "").sum())
        if unlabelled:
            legend["(none)"] = unlabelled
            legend_colors["(none)"] = D.UNLABELLED_COLOR
        st.markdown(D.legend_html(legend, legend_colors), unsafe_allow_html=True)
    elif color_by == "uncertainty":
        st.caption("White: confident · dark red: least confident (1 − probability of the predicted class).")
    else:
        st.markdown(
            D.legend_html(
                {"queried": int(table["queried"].sum()), "other": int((~table["queried"]).sum())},
                {"queried": _QUERY_COLOR, "other": "#FFFFFF"},
            ),
            unsafe_allow_html=True,
        )

    table["fill"] = _fill(table, color_by, colors, alpha)
    table["conf"] = table["confidence"].map(lambda c: "" if np.isnan(c) else f"{c:.2f}")
    table["label_shown"] = table["label"].replace("", "—")
    table["prediction_shown"] = table["prediction"].replace("", "—")
    data = table[["barcode", "x", "y", "fill", "label_shown", "prediction_shown", "conf", "queried"]]
    width, height = geometry["width"], geometry["height"]
    layers = []
    # Quoted: pydeck would otherwise read the data URL as a deck.gl expression.
    if geometry["url"] is not None:
        image = f"'{geometry['url']}'"
        layers.append(pdk.Layer("BitmapLayer", image=image, bounds=[0, height, width, 0], id="he-image"))
    layers.append(
        pdk.Layer(
            "ScatterplotLayer",
            data=data,
            id="spots",
            get_position=["x", "y"],
            get_radius=float(geometry["radius"]),
            radius_units="common",
            get_fill_color="fill",
            stroked=color_by == "query",
            get_line_color=[0, 0, 0, 160],
            line_width_min_pixels=0.5,
            pickable=True,
            auto_highlight=True,
            highlight_color=[255, 255, 0, 220],
        )
    )
    view_px = 760
    zoom = float(np.log2(view_px / max(width, height)))
    deck = pdk.Deck(
        layers=layers,
        views=[pdk.View(type="OrthographicView", controller=True)],
        initial_view_state=pdk.ViewState(
            target=[width / 2, height / 2, 0], zoom=zoom, min_zoom=zoom - 1, max_zoom=zoom + 7
        ),
        map_style=None,
        tooltip={
            "html": "<b>{barcode}</b><br/>label: {label_shown}<br/>prediction: {prediction_shown} ({conf})",
            "style": {"fontSize": "12px"},
        },
    )
    st.pydeck_chart(deck, height=view_px, key=S.TISSUE_CHART)
    st.caption(
        f"{len(table):,} spots drawn at their true size (radius {geometry['radius']:.1f} image pixels). "
        "Scroll to zoom, drag to pan, hover a spot for details."
    )
