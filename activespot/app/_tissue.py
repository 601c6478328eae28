"""Tissue page: the H&E image with every spot at its true size; zoom, pan, hover.

Spots are coloured by label, prediction, uncertainty or query membership. A Visium HD project
(500k+ bins) is drawn as one image, a pixel per bin (``_raster.py``), not one object per bin.

Hovering a bin of the raster cannot name it: Streamlit's deck.gl chart builds its tooltip and
its selection from the picked *object* (``{index, object}`` per layer), and a ``BitmapLayer``
pick has none (deck.gl puts the pixel in ``info.bitmap``, which Streamlit drops). So the raster
carries a layer of a few hundred square tiles (``_raster.tiles``): hovering one shows its bins'
counts and majority prediction, clicking one lists its bins, each with its label, prediction and
confidence, below the chart; the labelled and queried bins (at most ``HOVER_BINS``) are objects
of their own, so hovering one names it.
"""

from __future__ import annotations

import functools
import json

import numpy as np
import pandas as pd
import streamlit as st

from ..project import Project
from . import _data as D
from . import _raster as R
from . import _state as S

COLOR_BY = {
    "label": "Manual label",
    "prediction": "Prediction",
    "uncertainty": "Uncertainty",
    "query": "Queried this round",
}
_QUERY_COLOR = "#E4002B"
_VIEW_PX = 760  # chart height in screen pixels
HOVER_BINS = 5000  # at most this many labelled or queried bins are objects of their own (hover names them)
TILES_PER_SIDE = 32  # the raster's pickable tiles: at most 32 × 32 objects, whatever the number of bins
_UNCERTAINTY_LEVELS = 32  # shades of the uncertainty ramp in the raster (its palette is one byte per bin)
NO_ROUND = D.NO_ROUND
UNCERTAIN_RGB = (0, 90, 50)  # the least confident item's colour (dark green)
HOVER_RGBA = [255, 255, 255, 200]  # the hovered item: white, which no class colour is
SCROLL_ZOOM = {"speed": 0.002, "smooth": True}  # deck.gl's default (0.01) zooms ~4x per wheel step


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


def _relative_uncertainty(table: pd.DataFrame) -> np.ndarray:
    """1 − confidence, scaled so that the least confident item is 1 (0 where there is no prediction)."""
    u = (1 - table["confidence"].fillna(1.0).to_numpy()).clip(0, 1)
    return u / max(float(u.max()), 1e-9)


def _uncertainty_ramp(u: np.ndarray) -> np.ndarray:
    """``(n, 3)`` RGB from white (confident, 0) to dark green (least confident, 1).

    Green, because neither stain of an H&E is: a red ramp (the first one) vanished into eosin.
    """
    u = np.asarray(u, dtype=np.float64)[:, None]
    return np.rint(255 - u * (255 - np.array(UNCERTAIN_RGB))).astype(int)


def _fill(table: pd.DataFrame, color_by: str, colors: dict[str, str], alpha: int) -> list[list[int]]:
    grey = [*D.hex_to_rgb(D.UNLABELLED_COLOR), alpha // 2]
    if color_by in ("label", "prediction"):
        lookup = {name: [*D.hex_to_rgb(c), alpha] for name, c in colors.items()}
        return [lookup.get(v, grey) for v in table[color_by]]
    if color_by == "uncertainty":
        ramp = _uncertainty_ramp(_relative_uncertainty(table))
        return [[int(r), int(g), int(b), alpha] for r, g, b in ramp]
    query = [*D.hex_to_rgb(_QUERY_COLOR), 255]
    return [query if q else [255, 255, 255, alpha // 3] for q in table["queried"]]


MODES = {"look": "Look around", "select": "Select a region"}


def render_tissue(project: Project, *, annotator: str) -> None:
    """Draw the tissue view: look around (deck.gl), or select a region and label it (Plotly)."""
    st.title("Tissue")
    path = str(project.path)
    geometry = D.tissue_image(path)
    table = spot_table(project)
    colors = D.class_colors(project)
    grid = D.bin_grid(path)
    has_round = D.round_numbers(project)[0] is not None
    has_predictions = bool(table["prediction"].ne("").any())
    options = [k for k in COLOR_BY if has_predictions or k in ("label", "query")]
    item = "spot" if grid is None else "bin"
    mode_col, color_col, opacity_col = st.columns([1.3, 3, 1], vertical_alignment="bottom")
    mode = mode_col.segmented_control("View", list(MODES), format_func=MODES.get, default="look", key=S.TISSUE_MODE)
    color_by = color_col.radio(
        f"Colour {item}s by", options, format_func=COLOR_BY.get, horizontal=True, key=S.TISSUE_COLOR
    )
    opacity = opacity_col.slider(f"{item.capitalize()} opacity", 0.1, 1.0, 0.85, 0.05, key=S.TISSUE_OPACITY)
    _legend(table, color_by, colors)
    if mode == "select":
        from ._tissue_select import render_selection

        codes, palette = raster_codes(table, color_by, colors)
        cut = tile_objects = None
        if grid is not None:
            cut = D.bin_tiles(path, TILES_PER_SIDE)
            tile_objects = _tile_objects(table, cut, has_round=has_round)
        render_selection(
            project,
            table,
            geometry,
            codes=codes,
            palette=palette,
            opacity=opacity,
            has_round=has_round,
            tiles=cut,
            tile_objects=tile_objects,
            annotator=annotator,
        )
    elif grid is None:
        _draw_spots(table, geometry, color_by, colors, int(255 * opacity), has_round=has_round)
    else:
        _draw_raster(project, table, geometry, grid, color_by=color_by, colors=colors, opacity=opacity)


def _legend(table: pd.DataFrame, color_by: str, colors: dict[str, str]) -> None:
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
        st.caption("White: confident · dark green: least confident (1 − probability of the predicted class).")
    else:
        st.markdown(
            D.legend_html(
                {"queried": int(table["queried"].sum()), "other": int((~table["queried"]).sum())},
                {"queried": _QUERY_COLOR, "other": "#FFFFFF"},
            ),
            unsafe_allow_html=True,
        )


def _image_layer(geometry: dict) -> list:
    import pydeck as pdk

    if geometry["url"] is None:
        return []
    # Quoted: pydeck would otherwise read the data URL as a deck.gl expression.
    image = f"'{geometry['url']}'"
    width, height = geometry["width"], geometry["height"]
    return [pdk.Layer("BitmapLayer", image=image, bounds=[0, height, width, 0], id="he-image")]


def _deck(layers: list, geometry: dict, tooltip: str, *, compact: bool = False) -> object:
    import pydeck as pdk

    width, height = geometry["width"], geometry["height"]
    zoom = float(np.log2(_VIEW_PX / max(width, height)))
    deck = _compact_deck() if compact else pdk.Deck
    return deck(
        layers=layers,
        views=[pdk.View(type="OrthographicView", controller={"scrollZoom": SCROLL_ZOOM, "doubleClickZoom": True})],
        initial_view_state=pdk.ViewState(
            target=[width / 2, height / 2, 0], zoom=zoom, min_zoom=zoom - 1, max_zoom=zoom + 7
        ),
        map_style=None,
        tooltip={"html": tooltip, "style": {"fontSize": "12px"}},
    )


@functools.cache
def _compact_deck() -> type:
    """A ``pydeck.Deck`` whose JSON has no indentation.

    pydeck indents every number of every tile on a line of its own, which more than doubles what
    the browser is sent.
    """
    import pydeck as pdk
    from pydeck.bindings.json_tools import default_serialize

    class CompactDeck(pdk.Deck):
        def to_json(self) -> str:
            return json.dumps(self, sort_keys=True, default=default_serialize, separators=(",", ":"))

    return CompactDeck


def _draw_spots(
    table: pd.DataFrame, geometry: dict, color_by: str, colors: dict[str, str], alpha: int, *, has_round: bool
) -> None:
    """Every spot as a circle of its true size: a few thousand objects, each with its own tooltip."""
    import pydeck as pdk

    table["fill"] = _fill(table, color_by, colors, alpha)
    table["label_shown"] = table["label"].replace("", "—")
    table["prediction_shown"] = table.apply(_prediction_text, axis=1, has_round=has_round) if len(table) else ""
    data = table[["barcode", "x", "y", "fill", "label_shown", "prediction_shown", "queried"]]
    layers = _image_layer(geometry)
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
            highlight_color=HOVER_RGBA,
        )
    )
    tooltip = "<b>{barcode}</b><br/>label: {label_shown}<br/>prediction: {prediction_shown}"
    st.pydeck_chart(_deck(layers, geometry, tooltip, compact=True), height=_VIEW_PX, key=S.TISSUE_CHART)
    st.caption(
        f"{len(table):,} spots drawn at their true size (radius {geometry['radius']:.1f} image pixels). "
        "Scroll to zoom, drag to pan, hover a spot for details."
    )


def raster_codes(table: pd.DataFrame, color_by: str, colors: dict[str, str]) -> tuple[np.ndarray, np.ndarray]:
    """Per bin, an index into a palette of RGBA colours: the colours :func:`_fill` gives spots, as one byte each.

    ``palette[0]`` is transparent (no bin); alpha is relative (255 for a class, half for a bin
    without one): the layer's opacity scales it, so moving the slider does not redraw the image.
    """
    grey = [*D.hex_to_rgb(D.UNLABELLED_COLOR), 128]
    if color_by in ("label", "prediction"):
        palette = [[0, 0, 0, 0], grey, *([*D.hex_to_rgb(c), 255] for c in colors.values())]
        codes = pd.Categorical(table[color_by], categories=list(colors)).codes.astype(np.int64) + 2  # -1: none
        return codes.astype(np.uint8), np.array(palette, dtype=np.uint8)
    if color_by == "uncertainty":
        levels = np.linspace(0, 1, _UNCERTAINTY_LEVELS)
        ramp = np.column_stack([_uncertainty_ramp(levels), np.full_like(levels, 255)])
        u = _relative_uncertainty(table)
        codes = 1 + np.rint(u * (_UNCERTAINTY_LEVELS - 1)).astype(np.int64)
        return codes.astype(np.uint8), np.vstack([[0, 0, 0, 0], ramp]).astype(np.uint8)
    palette = [[0, 0, 0, 0], [255, 255, 255, 85], [*D.hex_to_rgb(_QUERY_COLOR), 255]]
    return (1 + table["queried"].to_numpy()).astype(np.uint8), np.array(palette, dtype=np.uint8)


def _prediction_text(row: pd.Series, *, has_round: bool) -> str:
    if not has_round:
        return NO_ROUND
    if not row["prediction"]:
        return "—"
    return f"{row['prediction']} ({row['confidence']:.2f})"


def _tile_objects(table: pd.DataFrame, cut: R.Tiles, *, has_round: bool) -> list[dict]:
    """One object per tile: its corners and a two-line summary (bins, labelled, queried; majority prediction)."""
    n = len(cut.numbers)
    slot = np.searchsorted(cut.numbers, cut.of_item)
    held = cut.of_item >= 0
    bins = np.bincount(slot[held], minlength=n)
    labelled = np.bincount(slot[held], weights=table["label"].ne("").to_numpy()[held], minlength=n).astype(int)
    queried = np.bincount(slot[held], weights=table["queried"].to_numpy()[held], minlength=n).astype(int)
    if has_round:
        classes = pd.Categorical(table["prediction"])
        votes = np.zeros((n, len(classes.categories) + 1), dtype=np.int64)
        np.add.at(votes, (slot[held], classes.codes[held].astype(np.int64) + 1), 1)
        votes[:, 0] = 0  # a bin without a prediction does not vote
        winner = votes.argmax(axis=1)
        names = ["—", *map(str, classes.categories)]
        majority = [
            f"most predicted: {names[w]} ({votes[t, w] / bins[t]:.0%})" if votes[t, w] else "no prediction"
            for t, w in enumerate(winner)
        ]
    else:
        majority = [f"prediction: {NO_ROUND}"] * n
    return [
        {
            "tile": int(number),
            "polygon": cut.corners[t].round(2).tolist(),
            "title": f"{bins[t]:,} bins · {labelled[t]:,} labelled · {queried[t]:,} queried",
            "details": f"{majority[t]} · click to list them",
        }
        for t, number in enumerate(cut.numbers)
    ]


def _bin_objects(table: pd.DataFrame, *, has_round: bool) -> pd.DataFrame:
    """The labelled and queried bins (the first ``HOVER_BINS``) as objects, so that hovering one names it."""
    shown = table[table["label"].ne("") | table["queried"]].head(HOVER_BINS)
    label = shown["label"].replace("", "—")
    prediction = shown.apply(_prediction_text, axis=1, has_round=has_round) if len(shown) else shown["label"]
    return pd.DataFrame(
        {
            "x": shown["x"],
            "y": shown["y"],
            "title": shown["barcode"],
            "details": "label: " + label + " · prediction: " + prediction,
        }
    )


def _draw_raster(
    project: Project,
    table: pd.DataFrame,
    geometry: dict,
    grid: R.BinGrid,
    *,
    color_by: str,
    colors: dict[str, str],
    opacity: float,
) -> None:
    """The bins as one image over the H&E, pickable tiles over it, and the clicked tile's bins below."""
    import pydeck as pdk

    path = str(project.path)
    codes, palette = raster_codes(table, color_by, colors)
    raster = D.bin_raster(path, codes, palette)
    cut = D.bin_tiles(path, TILES_PER_SIDE)
    has_round = D.round_numbers(project)[0] is not None
    layers = _image_layer(geometry)
    layers.append(
        pdk.Layer(
            "BitmapLayer",
            image=f"'{raster['url']}'",  # quoted, as the H&E's
            bounds=raster["bounds"],
            id="bins",
            opacity=opacity,
            # One texel per bin, never blended with its neighbours, however far the view zooms.
            texture_parameters={"minFilter": "nearest", "magFilter": "nearest", "mipmapFilter": "nearest"},
        )
    )
    layers.append(
        pdk.Layer(
            "PolygonLayer",
            data=_tile_objects(table, cut, has_round=has_round),
            id="tiles",
            get_polygon="polygon",
            # All but invisible, still picked. Streamlit draws the clicked tile in this colour made
            # opaque; the layer's opacity turns that into a light veil that leaves its bins visible.
            get_fill_color=[255, 255, 255, 3],
            opacity=0.35,
            stroked=False,
            pickable=True,
            auto_highlight=True,
            highlight_color=[255, 255, 255, 120],
        )
    )
    named = _bin_objects(table, has_round=has_round)
    if len(named):
        layers.append(
            pdk.Layer(
                "ScatterplotLayer",
                data=named,
                id="named-bins",
                get_position=["x", "y"],
                get_radius=grid.pitch / 2,
                radius_units="common",
                get_fill_color=[0, 0, 0, 1],
                pickable=True,
                auto_highlight=True,
                highlight_color=HOVER_RGBA,
            )
        )
    event = st.pydeck_chart(
        _deck(layers, geometry, "<b>{title}</b><br/>{details}", compact=True),
        height=_VIEW_PX,
        key=S.TISSUE_CHART,
        on_select="rerun",
        selection_mode="single-object",
    )
    step = raster["step"]
    resolution = "one pixel per bin" if step == 1 else f"one pixel per {step} × {step} bins (their majority colour)"
    st.caption(
        f"{len(table):,} bins drawn as a raster: {resolution}, a {raster['width']} × {raster['height']} image "
        f"({raster['png_bytes'] / 1e6:.1f} MB). Scroll to zoom, drag to pan; hover a region of "
        f"{cut.side} × {cut.side} bins for a summary and click it to list its bins"
        + ("; hover a labelled or queried bin to name it." if len(named) else ".")
    )
    _picked_bins(table, cut, event, has_round=has_round)


def _picked_bins(table: pd.DataFrame, cut: R.Tiles, event: object, *, has_round: bool) -> None:
    """The bins of the tile clicked in the chart (or the one bin clicked), as a table below it."""
    objects = ((event or {}).get("selection") or {}).get("objects") or {}
    tile = (objects.get("tiles") or [None])[0]
    named = (objects.get("named-bins") or [None])[0]
    if tile:
        rows = table[cut.of_item == int(tile["tile"])]
    elif named:
        rows = table[table["barcode"] == named["title"]]
    else:
        return
    shown = pd.DataFrame(
        {
            "bin": rows["barcode"],
            "label": rows["label"].replace("", "—"),
            "prediction": rows["prediction"].replace("", "—") if has_round else NO_ROUND,
            "confidence": rows["confidence"],
            "queried": rows["queried"],
        }
    )
    st.markdown(f"**{len(rows):,} bin{'s' if len(rows) != 1 else ''} clicked**")
    st.dataframe(shown, hide_index=True, column_config={"confidence": st.column_config.NumberColumn(format="%.2f")})
