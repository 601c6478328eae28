"""What the pages share: the open project, cached heavy objects, class colours and actions.

Heavy objects (the sample with its counts and features, the tissue image, spot crops, a round's
predictions) are cached with ``st.cache_resource``/``st.cache_data`` keyed on the project folder
and the round number, so an interaction never reloads them; :data:`LOADS` counts real loads so
that tests and the benchmark can prove it. Labels are never cached: they are read from the
journal on every run and written to it the moment they are given.
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import tempfile
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from .. import _constants as K
from ..errors import ActivespotError
from ..project import Project, StaleLabelError, Suggestion
from . import _raster as R
from . import _state as S

logger = logging.getLogger(__name__)

#: How often each cached object was really loaded in this server process (not served from cache).
LOADS: Counter[str] = Counter()

# Colour-blind-friendly palette (Okabe-Ito first, then Tableau); a class keeps its colour in every
# view because colours follow the project's class order, which only grows.
PALETTE = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#CC79A7",
    "#56B4E9",
    "#D55E00",
    "#F0E442",
    "#8C564B",
    "#7F7F7F",
    "#17BECF",
    "#BCBD22",
    "#9467BD",
)
UNLABELLED_COLOR = "#D9D9D9"
VIEWS = Path(__file__).resolve().parent / "views"  # one small file per page (not "pages/": Streamlit's v1 folder)
CROP_SIZE = 168  # gallery crop side in screen pixels
CROP_CONTEXT = 3.0  # crop side as a multiple of the spot diameter (the ring marks the spot)
WIDE_CONTEXT = 12.0  # the "wider view" crop: a few hundred microns around the spot
LOCATOR_SIZE = 160  # side of the section map that shows where a crop comes from, in pixels
RASTER_MIN_ITEMS = 50_000  # more items than this are drawn as a raster even when they are not Visium HD bins
RASTER_MAX_SIDE = 2048  # the bin raster's largest side in pixels (2 µm bins are downsampled to it)
NO_ROUND = "no round yet"  # what a prediction reads before the first round
STALE_CHECK_MAX = 20_000  # at most this many spots of one action are checked for changes since shown


# --- the project of this run ------------------------------------------------------------------
@st.cache_resource(show_spinner="Reading the sample…", max_entries=4)
def load_sample(project_path: str) -> Any:
    """The project's sample (AnnData), read once per server process; features are added to it in place."""
    LOADS["sample"] += 1
    sample = Project.open(project_path).load_sample()
    _READY.add(project_path)
    return sample


_WARMING: set[str] = set()
_READY: set[str] = set()  # projects whose sample is in the cache
_WARMING_LOCK = threading.Lock()


def warm_up(project_path: str) -> None:
    """Read the sample and the tissue image in a background thread, once per project and process.

    The first page shows at once; by the time the annotator labels a spot or opens the tissue
    view, the cached objects are ready (a page that needs them sooner waits for the same load).
    """
    project_path = str(Path(project_path).absolute())
    with _WARMING_LOCK:
        if project_path in _WARMING:
            return
        _WARMING.add(project_path)

    def _load() -> None:
        try:
            load_sample(project_path)
            tissue_image(project_path)
        except Exception:  # the page that needs the object will load it again and show the error
            logger.exception("background loading of %s failed", project_path)
            with _WARMING_LOCK:
                _WARMING.discard(project_path)

    threading.Thread(target=_load, name="activespot-warm-up", daemon=True).start()


def open_project(project_path: str, *, wait: bool = True) -> Project:
    """A fresh :class:`Project` (its own database connection) sharing the cached sample.

    With ``wait=False`` the sample is attached only if it is already loaded: enough for pages
    that show the journal; pages that need spots call this again with ``wait=True``.
    """
    path = str(Path(project_path).absolute())
    if wait or path in _READY:
        return Project.open(path, sample=load_sample(path))
    return Project.open(path)


def current() -> tuple[Project, str]:
    """The project and annotator the entry point set for this run (pages call this)."""
    return st.session_state[S.PROJECT], st.session_state.get(S.ANNOTATOR, "").strip()


def page_file(name: str) -> str:
    """Absolute path of page ``name`` (``views/NAME.py``): for ``st.Page``, ``st.page_link``, ``AppTest.switch_page``.

    Absolute, so that the pages are found whichever entry point runs the app (``activespot app``
    runs the packaged one, ``streamlit run app.py`` the checkout's wrapper).
    """
    return str(VIEWS / f"{name}.py")


def class_colors(project: Project) -> dict[str, str]:
    """Colour of each class of ``project``, stable across views, renames and merges.

    A declared class takes the colour of its declaration slot (a merge frees a slot without moving
    the others); a label in use that was never declared takes a slot after them.
    """
    slots = project.store.class_slots()
    first_free = max(slots.values(), default=-1) + 1
    undeclared = [name for name in project.store.classes() if name not in slots]
    slots.update({name: first_free + i for i, name in enumerate(undeclared)})
    return {name: PALETTE[slot % len(PALETTE)] for name, slot in slots.items()}


def hex_to_rgb(color: str) -> list[int]:
    """``'#rrggbb'`` to ``[r, g, b]``."""
    return [int(color[i : i + 2], 16) for i in (1, 3, 5)]


def legend_html(counts: dict[str, int], colors: dict[str, str]) -> str:
    """A compact legend: a coloured dot, the class name and its count, per class."""
    chips = "".join(
        f'<span style="display:inline-flex;align-items:center;margin:0 14px 4px 0;white-space:nowrap">'
        f'<span style="width:12px;height:12px;border-radius:50%;background:{colors.get(name, UNLABELLED_COLOR)};'
        f'display:inline-block;margin-right:6px;border:1px solid #0003"></span>{_escape(name)}'
        f'<span style="color:#888;margin-left:4px">{count}</span></span>'
        for name, count in counts.items()
    )
    return f'<div data-testid="activespot-legend" style="line-height:1.9">{chips}</div>'


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def selected_rows(table: pd.DataFrame, key: str) -> list[str]:
    """Index of the rows selected in the dataframe widget ``key`` that showed ``table``.

    Positions the table no longer has (it changed since the click) are dropped.
    """
    rows = ((st.session_state.get(key) or {}).get("selection") or {}).get("rows") or []
    return [table.index[i] for i in rows if 0 <= i < len(table)]


# --- uploads ----------------------------------------------------------------------------------
@contextmanager
def uploaded_file(name: str, data: bytes, *, expected: str) -> Iterator[Path]:
    """The bytes of an upload as a temporary file, for the readers the command line uses.

    The uploaded name is shown but never used as a path (it is the browser's to choose). An
    upload over ``APP_UPLOAD_LIMIT_MB`` is refused before it is written, saying what was
    ``expected``; an :class:`~activespot.errors.ActivespotError` raised inside the block comes out
    as a ``ValueError`` with the command line's message, the temporary path replaced by the name.
    """
    if len(data) > K.APP_UPLOAD_LIMIT_MB * 1024 * 1024:
        msg = f"{name}: larger than {K.APP_UPLOAD_LIMIT_MB} MB; {expected}"
        raise ValueError(msg)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "upload.csv"
        path.write_bytes(data)
        try:
            yield path
        except ActivespotError as err:
            raise ValueError(str(err).replace(str(path), name)) from None


# --- rounds -----------------------------------------------------------------------------------
def round_numbers(project: Project) -> tuple[int | None, int | None]:
    """(latest round with a model and its predictions, latest round with a query); cheap, from the journal only.

    The first is the number :meth:`~activespot.project.Project.model_round` answers with (a round
    of one of ``MODEL_ROUND_KINDS``: trained here or transferred), read from the rounds table so
    that it can key the cache without checking the round's files on every run.
    """
    rounds = project.store.rounds()
    models = rounds[rounds[K.ROUND_KIND_COLUMN].isin(K.MODEL_ROUND_KINDS)]
    return (int(models["round"].max()) if len(models) else None), (int(rounds["round"].max()) if len(rounds) else None)


@st.cache_data(show_spinner=False, max_entries=16)
def load_predictions(project_path: str, round_number: int) -> pd.DataFrame:
    """The predictions table of the model round ``round_number`` (read once per round)."""
    LOADS["predictions"] += 1
    latest = Project.open(project_path).model_round()
    if latest is None or latest.number != round_number:
        msg = f"{project_path}: round {round_number} has no intact predictions; train a new round"
        raise ValueError(msg)
    return latest.load_table(K.ROUND_PREDICTIONS)


@st.cache_data(show_spinner=False, max_entries=16)
def load_query(project_path: str, round_number: int) -> list[str]:
    """The spots a round asks about, in order (read once per round)."""
    LOADS["query"] += 1
    latest = Project.open(project_path).latest_round(containing=K.ROUND_QUERY)
    return [] if latest is None else [str(b) for b in latest.load_table(K.ROUND_QUERY).index]


def predictions(project: Project) -> pd.DataFrame | None:
    """The latest predictions table, from the cache."""
    trained, _ = round_numbers(project)
    return None if trained is None else load_predictions(str(project.path), trained)


def query(project: Project) -> list[str]:
    """The latest query, from the cache."""
    _, latest = round_numbers(project)
    return [] if latest is None else load_query(str(project.path), latest)


# --- images -----------------------------------------------------------------------------------
@st.cache_resource(show_spinner="Preparing the tissue image…", max_entries=4)
def tissue_image(project_path: str, max_side: int = 2000) -> dict[str, Any]:
    """The H&E image as a JPEG data URL with the geometry to place spots on it.

    JPEG, not PNG: a 2,000-pixel H&E is ~4 MB as PNG and ~0.3 MB as JPEG, and the browser is sent
    it again with every chart it draws (a colour switch, a label given on the Tissue page).

    Returns ``url`` (``None`` without an image), ``width``/``height`` (pixels of the image shown),
    ``x``/``y`` (spot centres in those pixels, in the sample's spot order) and ``radius`` (spot
    radius in those pixels: ``spot_diameter_fullres`` × the image's scale factor / 2).
    """
    LOADS["image"] += 1
    from PIL import Image

    from ..features import select_image

    adata = load_sample(project_path)
    library = adata.uns[K.SPATIAL_KEY][adata.uns[K.LIBRARY_ID_KEY]]
    coords = np.asarray(adata.obsm[K.SPATIAL_KEY], dtype=np.float64)[:, :2]
    diameter = float(library[K.SCALEFACTORS_KEY][K.SPOT_DIAMETER])
    try:
        image = select_image(adata)
        pixels, factor = image.thumbnail(max_side)
        scale = image.scale * factor
        buffer = io.BytesIO()
        Image.fromarray(np.ascontiguousarray(pixels[..., :3])).save(buffer, format="JPEG", quality=88)
        url = "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
        height, width = pixels.shape[:2]
    except (ValueError, ActivespotError) as err:  # no usable image: spots on a blank canvas
        logger.warning("tissue view without image: %s", err)
        scale = 1.0
        url = None
        width, height = (int(np.ceil(coords[:, i].max() + diameter)) for i in (0, 1))
    return {
        "url": url,
        "width": int(width),
        "height": int(height),
        "x": coords[:, 0] * scale + 0.5 * scale,
        "y": coords[:, 1] * scale + 0.5 * scale,
        "radius": diameter * scale / 2,
    }


@st.cache_resource(show_spinner="Placing the bins on their grid…", max_entries=4)
def bin_grid(project_path: str) -> R.BinGrid | None:
    """The grid the tissue view draws the items on as a raster; ``None`` to draw them one by one.

    Visium HD bins use their square grid (``array_row``/``array_col``), fitted to where the bins
    lie on the image shown, so a pixel covers its own bin. Other items are drawn as a raster only
    when there are more than ``RASTER_MIN_ITEMS``, on cells of their diameter; a few thousand
    Visium spots stay circles at their true size.
    """
    LOADS["grid"] += 1
    adata = load_sample(project_path)
    scalefactors = adata.uns[K.SPATIAL_KEY][adata.uns[K.LIBRARY_ID_KEY]][K.SCALEFACTORS_KEY]
    hd = K.BIN_SIZE_UM in scalefactors and {K.ARRAY_ROW, K.ARRAY_COL} <= set(adata.obs.columns)
    if not hd and adata.n_obs <= RASTER_MIN_ITEMS:
        return None
    geometry = tissue_image(project_path)
    xy = np.column_stack([geometry["x"], geometry["y"]])
    if hd:
        try:
            return R.fit_grid(adata.obs[K.ARRAY_ROW].to_numpy(), adata.obs[K.ARRAY_COL].to_numpy(), xy)
        except ValueError as err:  # a registration far from affine: bins placed by position instead
            logger.warning("%s: bins placed by position, not by their grid: %s", project_path, err)
    return R.grid_from_positions(xy, pitch=2 * float(geometry["radius"]))


def bin_raster(project_path: str, codes: np.ndarray, palette: np.ndarray) -> dict[str, Any]:
    """The project's items painted ``palette[codes]`` as a PNG data URL, with its placement on the image.

    Cached on the codes' digest: Streamlit hashes an array of 500k elements or more by a sample
    of it, which could miss a changed label; the digest of every byte cannot.
    """
    codes = np.ascontiguousarray(codes, dtype=np.uint8)
    palette = np.ascontiguousarray(palette, dtype=np.uint8)
    digest = hashlib.blake2b(codes.tobytes() + palette.tobytes(), digest_size=16).hexdigest()
    return _bin_raster(project_path, digest, codes, palette)


@st.cache_data(show_spinner="Drawing the bins…", max_entries=8)
def _bin_raster(project_path: str, digest: str, _codes: np.ndarray, _palette: np.ndarray) -> dict[str, Any]:
    """``url``, ``bounds`` (deck.gl corner order), ``width``, ``height``, ``step`` and ``png_bytes``."""
    LOADS["raster"] += 1
    raster = R.draw(bin_grid(project_path), _codes, _palette, max_side=RASTER_MAX_SIDE)
    url = R.png_data_url(raster.rgba)
    height, width = raster.rgba.shape[:2]
    return {
        "url": url,
        "bounds": raster.bounds,
        "width": width,
        "height": height,
        "step": raster.step,
        "png_bytes": len(url) * 3 // 4,
    }


@st.cache_resource(show_spinner=False, max_entries=4)
def bin_tiles(project_path: str, per_side: int) -> R.Tiles:
    """The raster's pickable tiles (at most ``per_side`` a side) and the tile of every bin."""
    return R.tiles(bin_grid(project_path), per_side=per_side)


@st.cache_resource(show_spinner="Placing the spots on the image…", max_entries=4)
def item_pixels(project_path: str) -> np.ndarray:
    """Which item each pixel of the tissue image shows (``-1``: none): spots as disks of their true size, bins as cells.

    What the region-selection view paints its items on (:func:`item_overlay`).
    """
    LOADS["pixels"] += 1
    geometry = tissue_image(project_path)
    grid = bin_grid(project_path)
    width, height = geometry["width"], geometry["height"]
    if grid is not None:
        return R.resampled_index(grid, width, height)
    xy = np.column_stack([geometry["x"], geometry["y"]])
    return R.disk_index(xy, float(geometry["radius"]), width, height)


def item_overlay(project_path: str, codes: np.ndarray, palette: np.ndarray) -> str:
    """The items painted ``palette[codes]`` on the tissue image's pixels, as a PNG data URL (cached on the codes)."""
    codes = np.ascontiguousarray(codes, dtype=np.uint8)
    palette = np.ascontiguousarray(palette, dtype=np.uint8)
    digest = hashlib.blake2b(codes.tobytes() + palette.tobytes(), digest_size=16).hexdigest()
    return _item_overlay(project_path, digest, codes, palette)


@st.cache_data(show_spinner=False, max_entries=16)
def _item_overlay(project_path: str, digest: str, _codes: np.ndarray, _palette: np.ndarray) -> str:
    LOADS["overlay"] += 1
    return R.paint(item_pixels(project_path), _codes, _palette)


@st.cache_resource(show_spinner=False, max_entries=8)
def _patches(project_path: str, context: float = CROP_CONTEXT) -> Any:
    LOADS["patches"] += 1
    from ..features import SpotPatches

    return SpotPatches(load_sample(project_path), size=CROP_SIZE, context_factor=context)


@st.cache_data(show_spinner=False, max_entries=2000)
def spot_crop(project_path: str, barcode: str, context: float = CROP_CONTEXT) -> bytes:
    """PNG of the spot with its surroundings (``context`` spot widths) and a ring at the spot's true outline."""
    from PIL import Image, ImageDraw

    patches = _patches(project_path, context)
    position = load_sample(project_path).obs_names.get_loc(barcode)
    image = Image.fromarray(patches[int(position)][..., :3])
    draw = ImageDraw.Draw(image)
    radius = max(CROP_SIZE / context / 2, 3.0)
    centre = CROP_SIZE / 2
    box = (centre - radius, centre - radius, centre + radius, centre + radius)
    draw.ellipse(box, outline=(0, 0, 0), width=3)
    draw.ellipse(box, outline=(255, 255, 255), width=1)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@st.cache_resource(show_spinner=False, max_entries=4)
def _section_thumbnail(project_path: str) -> tuple[Any, float]:
    """The tissue image at ``LOCATOR_SIZE`` pixels a side (RGB array) and its scale from the tissue view's pixels."""
    from PIL import Image

    geometry = tissue_image(project_path)
    width, height = geometry["width"], geometry["height"]
    factor = LOCATOR_SIZE / max(width, height)
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    if geometry["url"] is None:
        return Image.new("RGB", size, (245, 245, 245)), factor
    data = base64.b64decode(geometry["url"].split(",", 1)[1])
    return Image.open(io.BytesIO(data)).convert("RGB").resize(size, Image.Resampling.LANCZOS), factor


@st.cache_data(show_spinner=False, max_entries=2000)
def spot_locator(project_path: str, barcode: str) -> bytes:
    """PNG of the whole section, small, with the spot marked: where in the tissue the crop comes from.

    A cortical layer or a tumour margin is decided by where a spot sits, which its crop alone
    does not show.
    """
    from PIL import ImageDraw

    thumbnail, factor = _section_thumbnail(project_path)
    geometry = tissue_image(project_path)
    position = int(load_sample(project_path).obs_names.get_loc(barcode))
    x, y = geometry["x"][position] * factor, geometry["y"][position] * factor
    image = thumbnail.copy()
    draw = ImageDraw.Draw(image)
    reach = max(0.06 * LOCATOR_SIZE, geometry["radius"] * factor * 1.5)  # visible even on a small card
    for width, colour in ((6, (255, 255, 255)), (3, (0, 0, 0))):
        draw.ellipse((x - reach, y - reach, x + reach, y + reach), outline=colour, width=width)
        draw.line((x - 2 * reach, y, x - reach, y), fill=colour, width=width)
        draw.line((x + reach, y, x + 2 * reach, y), fill=colour, width=width)
        draw.line((x, y - 2 * reach, x, y - reach), fill=colour, width=width)
        draw.line((x, y + reach, x, y + 2 * reach), fill=colour, width=width)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def show_spot(barcode: str, project_path: str, *, width: int, locator: bool = True, wider: bool = False) -> None:
    """The spot's crop, the section map with the spot marked beside it, and (``wider``) a wider view on demand."""
    if locator:
        crop, where = st.columns([3, 2], gap="small")
        crop.image(spot_crop(project_path, barcode), width=width, output_format="PNG")
        where.image(spot_locator(project_path, barcode), width="stretch", output_format="PNG", caption="where")
    else:
        st.image(spot_crop(project_path, barcode), width=width, output_format="PNG")
    if wider:
        with st.popover("Wider view", icon=":material/zoom_out_map:"):
            st.image(spot_crop(project_path, barcode, WIDE_CONTEXT), width=3 * CROP_SIZE, output_format="PNG")
            st.caption(f"{WIDE_CONTEXT:g} spot widths around `{barcode}`; the ring is the spot.")


# --- actions (called from widget callbacks; every label is stored at once) ---------------------
def flash(kind: str, message: str) -> None:
    """Show ``message`` (``'success'``, ``'info'`` or ``'error'``) at the top of the next run."""
    st.session_state[S.FLASH] = (kind, message)


def show_flash() -> None:
    """Show and forget the message of the last action."""
    kind, message = st.session_state.pop(S.FLASH, (None, None))
    if kind == "error":
        st.error(message, icon=":material/error:")
    elif kind:
        st.toast(message, icon=":material/check_circle:" if kind == "success" else ":material/info:")


def _need_annotator(annotator: str) -> bool:
    if annotator:
        return True
    flash("error", "Enter your name in the sidebar first: it is stored with every label.")
    return False


def label_spots(
    project_path: str,
    labels: dict[str, str | None],
    *,
    annotator: str,
    source: str = K.SOURCE_MANUAL,
    predicted: pd.DataFrame | None = None,
    expected: dict[str, int | None] | None = None,
) -> None:
    """Store ``labels`` as one action (``None`` clears a label); the model's suggestion shown for each spot is kept.

    ``expected`` is each spot's newest event id when the page showed it: if one changed since (a
    colleague, another tab), nothing is stored and the refused labels wait in
    ``S.STALE`` with the message saying who changed what, for the page to offer to
    overwrite them anyway.
    """
    if not _need_annotator(annotator) or not labels:
        return
    suggestions = {}
    if predicted is not None:
        known = predicted.reindex(list(labels)).dropna(subset=["label"])
        suggestions = {b: Suggestion(str(r.label), float(r.confidence)) for b, r in known.iterrows()}
    try:
        open_project(project_path).add_labels(
            labels, annotator=annotator, source=source, suggestions=suggestions, expected=expected
        )
    except StaleLabelError as err:
        st.session_state[S.STALE] = {"labels": labels, "source": source, "message": str(err)}
        return
    except (ActivespotError, ValueError) as err:
        flash("error", str(err))
        return
    if all(label is None for label in labels.values()):
        flash("success", f"Cleared the labels of {len(labels)} spot{'s' if len(labels) != 1 else ''}")
    elif len(labels) == 1:
        barcode, label = next(iter(labels.items()))
        flash("success", f"{barcode} → {label} ({source})")
    else:
        flash("success", f"{len(labels)} spots labelled ({source})")


def remember_shown(key: str, project: Project, barcodes: Any) -> None:
    """Keep, under ``key``, each of ``barcodes``' newest event id as this run shows them (see :func:`shown_state`).

    Past ``STALE_CHECK_MAX`` spots (a lasso over a Visium HD section) nothing is kept and the
    action is not checked: reading that many ids on every run would cost more than the check saves.
    """
    barcodes = list(barcodes)
    st.session_state[key] = project.store.newest_events(barcodes) if len(barcodes) <= STALE_CHECK_MAX else None


def shown_state(key: str, barcodes: Any) -> dict[str, int | None] | None:
    """The ``expected`` of :func:`label_spots`: each spot's newest event when last shown (``None``: not checked)."""
    seen = st.session_state.get(key, {})
    return None if seen is None else {barcode: seen.get(barcode) for barcode in barcodes}


def show_refused(project_path: str, annotator: str, predicted: pd.DataFrame | None) -> None:
    """If labels were refused because their spots changed since shown: who changed what, and keep or overwrite."""
    refused = st.session_state.get(S.STALE)
    if not refused:
        return
    with st.container(border=True):
        st.warning(refused["message"], icon=":material/sync_problem:")
        keep, overwrite, _ = st.columns([1, 1, 3])
        keep.button("Keep their label", key=S.STALE_KEEP, on_click=_keep_theirs, icon=":material/close:")
        overwrite.button(
            f"Overwrite with mine ({', '.join(sorted({v or 'cleared' for v in refused['labels'].values()}))})",
            key=S.STALE_OVERWRITE,
            on_click=_overwrite,
            args=(project_path, annotator, predicted),
            icon=":material/edit:",
            disabled=not annotator,
        )


def _overwrite(project_path: str, annotator: str, predicted: pd.DataFrame | None) -> None:
    refused = st.session_state.pop(S.STALE, None)
    if refused:
        label_spots(project_path, refused["labels"], annotator=annotator, source=refused["source"], predicted=predicted)


def _keep_theirs() -> None:
    st.session_state.pop(S.STALE, None)


UNDO_SHORTCUT = "U"  # every Undo button's key (C and R are Streamlit's own)
REDO_SHORTCUT = "Shift+U"  # every Redo button's key
_ITEM_CHARS = 24  # an item id longer than this is cut in a message (a Visium barcode is 18)
_CLASSES_NAMED = 5  # an undo or redo message names at most this many classes


def _what(store, action: int, verb: str) -> str:
    """What ``action`` labelled: "Undid: AAAC…-1 → L3 (manual)", "Undid 312 labels (accepted: L2 ×300, WM ×12)"."""
    given = store.action_events(action)
    source = store.actions().set_index(K.COL_ID).loc[store.label_action(action), K.COL_KIND]
    labels = given[K.COL_LABEL].fillna("cleared")
    if len(given) == 1:
        item = str(given[K.COL_ITEM].iloc[0])
        item = item if len(item) <= _ITEM_CHARS else item[: _ITEM_CHARS - 1] + "…"
        return f"{verb}: {item} → {labels.iloc[0]} ({source})"
    counts = labels.value_counts()
    shown = ", ".join(f"{label} ×{n:,}" for label, n in counts.head(_CLASSES_NAMED).items())
    more = f", {len(counts) - _CLASSES_NAMED} more classes" if len(counts) > _CLASSES_NAMED else ""
    return f"{verb} {len(given):,} labels ({source}: {shown}{more})"


def undo_last(project_path: str, *, annotator: str) -> None:
    """Undo this annotator's newest action (never someone else's); the message names its spots and classes."""
    if not _need_annotator(annotator):
        return
    store = open_project(project_path, wait=False).store
    undone = store.undo(annotator=annotator, only_own=True)
    if undone is None:
        flash("info", f"Nothing of {annotator}'s to undo.")
        return
    flash("success", _what(store, undone, "Undid"))


def redo_last(project_path: str, *, annotator: str) -> None:
    """Redo this annotator's newest undo (until they label again); the message names its spots and classes."""
    if not _need_annotator(annotator):
        return
    store = open_project(project_path, wait=False).store
    redone = store.redo(annotator=annotator)
    if redone is None:
        flash("info", f"Nothing of {annotator}'s to redo: only undos since your last label can be redone.")
        return
    flash("success", _what(store, redone, "Redid"))


def undo_button(
    where: Any, key: str, project: Project, *, annotator: str, then: Any = None, label: str = "Undo", **button: Any
) -> None:
    """An Undo button in ``where`` (a column or ``st``): the annotator's last action; ``then()`` runs after it.

    ``button`` are more arguments of ``st.button`` (``width``, ``help``).
    """
    where.button(
        label,
        key=key,
        icon=":material/undo:",
        on_click=_undo_then,
        args=(str(project.path), annotator, then),
        shortcut=UNDO_SHORTCUT,
        disabled=not annotator,
        **button,
    )


def _undo_then(project_path: str, annotator: str, then: Any) -> None:
    undo_last(project_path, annotator=annotator)
    if then is not None:
        then()


def redo_button(where: Any, key: str, project: Project, *, annotator: str, then: Any = None, **button: Any) -> None:
    """A Redo button in ``where`` (a column or ``st``) next to an Undo button; ``then()`` runs after the redo.

    Disabled while ``annotator`` has nothing to redo (no undo since their last label); ``button``
    are more arguments of ``st.button`` (``width``).
    """
    where.button(
        "Redo",
        key=key,
        icon=":material/redo:",
        on_click=_redo_then,
        args=(str(project.path), annotator, then),
        shortcut=REDO_SHORTCUT,
        disabled=not annotator or project.store.redoable(annotator) is None,
        help=f"Give back what your last undo took ({REDO_SHORTCUT}); a new label of yours ends what can be redone.",
        **button,
    )


def _redo_then(project_path: str, annotator: str, then: Any) -> None:
    redo_last(project_path, annotator=annotator)
    if then is not None:
        then()


def count_axis(**properties: Any) -> Any:
    """An altair axis for counts: whole numbers only (Vega still puts a tick at 0.5 when the largest count is 1)."""
    import altair as alt

    return alt.Axis(format="d", tickMinStep=1, labelExpr="datum.value % 1 ? '' : datum.label", **properties)
