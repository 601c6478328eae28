"""Region selection on the Tissue page: shapes drawn on the H&E back to spots, and one action per region."""

from __future__ import annotations

import base64
import io
import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from activespot import _constants as K
from activespot.app import _data as D
from activespot.app import _raster as R
from activespot.app import _region as G
from activespot.app import _state as S
from activespot.project import Project

from .conftest import journal, open_app


def _box(x0, x1, y0, y1) -> dict:
    return {"selection": {"points": [], "point_indices": [], "box": [{"x": [x0, x1], "y": [y0, y1]}], "lasso": []}}


def _decode(url: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGBA"))


# --- pure functions --------------------------------------------------------------------------------
def test_the_shapes_drawn_come_back_as_polygons_and_a_bare_click_as_its_point():
    drawn = G.drawn_shapes(
        {
            "selection": {
                "points": [{"customdata": [4]}],
                "box": [{"xref": "x", "yref": "y", "x": [10, 0], "y": [5, 0]}],
                "lasso": [{"x": [0, 4, 0], "y": [0, 0, 4]}],
            }
        }
    )
    assert len(drawn.polygons) == 2
    assert drawn.clicked == []  # the points inside a box are the box's, not clicks
    click = G.drawn_shapes({"selection": {"points": [{"customdata": [7]}], "box": [], "lasso": []}})
    assert click.clicked == [7]
    assert not click.polygons
    assert G.drawn_shapes(None).empty
    assert click.signature != drawn.signature


def test_a_lasso_selects_the_spots_whose_centre_is_inside():
    xy = np.array([[1.0, 1.0], [6.0, 6.0], [9.5, 1.0], [3.0, 2.0]])
    triangle = (np.array([0.0, 10.0, 0.0]), np.array([0.0, 0.0, 10.0]))
    assert G.items_in_polygons([triangle], xy=xy).tolist() == [0, 3]  # (6, 6) and (9.5, 1) lie past the edge
    two = G.items_in_polygons([triangle, (np.array([8.0, 10, 10, 8]), np.array([0.0, 0, 2, 2]))], xy=xy)
    assert two.tolist() == [0, 2, 3]


def test_on_a_grid_a_box_selects_the_bins_under_it_however_the_grid_is_registered():
    rows, cols = np.divmod(np.arange(100), 10)
    xy = np.column_stack([100 - cols * 4.0, rows * 4.0])  # mirrored: columns run right to left
    grid = R.fit_grid(rows, cols, xy)
    inside = G.items_in_polygons([(np.array([59, 101, 101, 59.0]), np.array([-1, -1, 9, 9.0]))], xy=xy, grid=grid)
    expected = np.flatnonzero((xy[:, 0] >= 59) & (xy[:, 1] <= 9))
    assert inside.tolist() == expected.tolist()


def test_a_click_adds_an_item_and_a_second_click_takes_it_out():
    selection = G.toggled(np.array([1, 2]), np.array([5]))
    assert selection.tolist() == [1, 2, 5]
    assert G.toggled(selection, np.array([5])).tolist() == [1, 2]
    tiles = np.array([0, 0, 1, 1, 1])
    assert G.clicked_items([-2], tiles).tolist() == [2, 3, 4]  # a tile's customdata is -1 - its number


def test_spots_are_painted_at_their_true_size_and_bins_follow_their_grid():
    index = R.disk_index(np.array([[20.0, 20.0], [60.0, 20.0]]), 10.0, 80, 40)
    assert index[20, 20] == 0
    assert index[20, 60] == 1
    assert index[20, 40] == -1
    assert abs((index == 0).sum() - np.pi * 100) < 0.05 * np.pi * 100
    rows, cols = np.divmod(np.arange(12), 4)
    grid = R.fit_grid(rows, cols, np.column_stack([cols * 10.0 + 5, rows * 10.0 + 5]))
    resampled = R.resampled_index(grid, 40, 30)
    assert resampled[5, 5] == 0
    assert resampled[25, 35] == 11
    assert resampled[15, 12] == 5
    palette = np.array([[0, 0, 0, 0], [255, 0, 0, 255], [0, 0, 255, 255]])
    picture = _decode(R.paint(resampled, np.arange(12) % 2 + 1, palette))
    assert picture.shape == (30, 40, 4)
    assert picture[5, 5].tolist() == [255, 0, 0, 255]
    assert picture[5, 15].tolist() == [0, 0, 255, 255]


def test_the_selection_mix_counts_labels_and_predictions():
    table = pd.DataFrame({"label": ["A", "", "B", ""], "prediction": ["A", "A", "", "B"]})
    mix = G.selection_mix(table, np.array([0, 1, 3]), classes=["A", "B"])
    assert mix.loc["A"].tolist() == [1, 2]
    assert mix.loc["(none)", "labelled"] == 2
    assert mix.loc["B", "predicted"] == 1


# --- the page --------------------------------------------------------------------------------------
def _select_page(demo_project):
    app = open_app(demo_project, page="tissue")
    app.session_state[S.TISSUE_MODE] = "select"
    app.run()
    assert not app.exception, app.exception
    return app


def _selected_in_box(project_path, fraction=0.3) -> tuple[dict, np.ndarray]:
    """A box over the top left of the section and the spots whose centre it holds."""
    geometry = D.tissue_image.__wrapped__(str(project_path))  # the same geometry, outside the app's cache
    x, y = geometry["x"], geometry["y"]
    x1 = x.min() + fraction * (x.max() - x.min())
    y1 = y.min() + fraction * (y.max() - y.min())
    inside = np.flatnonzero((x <= x1) & (y <= y1))
    return _box(0, x1, 0, y1), inside


def test_a_box_labels_its_spots_in_one_action_and_one_undo_reverts_the_region(demo_project):
    app = _select_page(demo_project)
    box, inside = _selected_in_box(demo_project)
    assert len(inside) > 50
    app.session_state[S.TISSUE_SELECT] = box
    app.run()
    assert not app.exception, app.exception
    assert any(f"{len(inside):,} spots selected" in m.value for m in app.markdown)
    classes = Project.open(demo_project).store.classes()
    app.selectbox(key=S.TISSUE_CLASS).set_value(classes[0]).run()
    before = journal(demo_project)
    app.button(key=S.TISSUE_LABEL).click().run()
    assert not app.exception, app.exception
    events = journal(demo_project).iloc[len(before) :]
    barcodes = Project.open(demo_project).barcodes[inside]
    assert set(events["item"]) == set(barcodes)
    assert events["action_id"].nunique() == 1
    assert set(events["label"]) == {classes[0]}
    assert set(events["source"]) == {K.SOURCE_MANUAL}
    assert app.session_state[S.TISSUE_SELECTION] == []  # the selection is spent
    assert app.selectbox(key=S.TISSUE_CLASS).value == classes[0]  # the class stays chosen for the next region
    labels_after = Project.open(demo_project).labels()

    app.button(key=S.TISSUE_UNDO).click().run()
    restored = Project.open(demo_project).labels()
    assert (restored.reindex(barcodes) != labels_after.reindex(barcodes)).any()
    previous = before.groupby("item")["label"].last().reindex(barcodes)  # what each spot had before the region
    assert restored.reindex(barcodes).fillna("-").tolist() == previous.fillna("-").tolist()


def test_accept_and_correct_inside_a_region_keep_the_suggestions(demo_project):
    app = _select_page(demo_project)
    box, inside = _selected_in_box(demo_project, fraction=0.25)
    app.session_state[S.TISSUE_SELECT] = box
    app.run()
    app.button(key=S.TISSUE_ACCEPT).click().run()
    assert not app.exception, app.exception
    events = journal(demo_project)
    accepted = events[events["source"] == K.SOURCE_ACCEPTED]
    assert len(accepted) == len(inside)
    assert accepted["action_id"].nunique() == 1
    assert (accepted["label"] == accepted["suggested_label"]).all()

    box, inside = _selected_in_box(demo_project, fraction=0.6)
    app.session_state[S.TISSUE_SELECT] = box
    app.run()
    predicted = Project.open(demo_project).predictions()
    barcodes = Project.open(demo_project).barcodes[inside]
    target = predicted["label"].reindex(barcodes).value_counts().index[-1]  # the rarest prediction inside
    app.selectbox(key=S.TISSUE_CLASS).set_value(target).run()
    app.button(key=S.TISSUE_CORRECT).click().run()
    assert not app.exception, app.exception
    corrected = journal(demo_project).query("source == 'corrected'")
    assert corrected["action_id"].nunique() == 1
    assert set(corrected["label"]) == {target}
    assert (corrected["suggested_label"] != target).all()
    assert corrected["suggestion_confidence"].notna().all()
    assert len(corrected) == int((predicted["label"].reindex(barcodes) != target).sum())


def test_clearing_a_region_adds_events_and_keeps_the_journal(demo_project):
    app = _select_page(demo_project)
    labelled = Project.open(demo_project).labels()
    box, _ = _selected_in_box(demo_project, fraction=1.0)
    app.session_state[S.TISSUE_SELECT] = box
    app.run()
    before = journal(demo_project)
    app.button(key=S.TISSUE_CLEAR).click().run()
    assert not app.exception, app.exception
    assert Project.open(demo_project).labels().empty
    events = journal(demo_project)
    assert len(events) == len(before) + len(labelled)  # nothing deleted: one new event per labelled spot
    assert events.iloc[len(before) :]["label"].isna().all()


@pytest.mark.parametrize("color_by", ["label", "prediction", "uncertainty", "query"])
def test_the_selection_view_paints_every_colouring_and_marks_the_selection(demo_project, color_by):
    app = _select_page(demo_project)
    app.radio(key=S.TISSUE_COLOR).set_value(color_by).run()
    box, inside = _selected_in_box(demo_project)
    app.session_state[S.TISSUE_SELECT] = box
    app.run()
    assert not app.exception, app.exception
    (chart,) = app.get("plotly_chart")
    spec = json.loads(chart.proto.spec)
    images = spec["layout"]["images"]
    assert images[0]["source"].startswith("data:image/jpeg")  # the H&E, then the spots with the selection
    assert len(images) == 2
    # Plotly draws one image per layer and rectangle: the spots must not share the H&E's layer.
    assert images[0]["layer"] != images[1]["layer"]
    overlay = _decode(images[1]["source"])
    geometry = D.tissue_image.__wrapped__(str(demo_project))
    pixel = np.floor(np.column_stack([geometry["x"], geometry["y"]]) - 0.5).astype(int)
    alpha = overlay[pixel[:, 1], pixel[:, 0], 3]
    chosen = np.zeros(len(alpha), dtype=bool)
    chosen[inside] = True
    assert (alpha[chosen] == 255).all()  # selected: opaque, veiled
    assert (overlay[pixel[chosen, 1], pixel[chosen, 0], :3] >= int(255 * 0.6)).all()
    points = spec["data"][0]
    items = points["customdata"]  # Plotly sends a NumPy array as its bytes
    items = np.frombuffer(base64.b64decode(items["bdata"]), dtype=items["dtype"]) if "bdata" in items else items
    assert sorted(items) == list(range(Project.open(demo_project).sample.n_spots))
    assert "()" not in "".join(points["text"])


def test_a_region_a_colleague_changed_since_it_was_shown_is_refused_until_overwritten(demo_project):
    app = _select_page(demo_project)
    box, inside = _selected_in_box(demo_project, fraction=0.3)
    app.session_state[S.TISSUE_SELECT] = box
    app.run()
    project = Project.open(demo_project)
    classes = project.store.classes()
    app.selectbox(key=S.TISSUE_CLASS).set_value(classes[0]).run()
    colleague = project.barcodes[inside[0]]
    project.add_labels({colleague: classes[1]}, annotator="Dr. Other")  # another tab, after the page was drawn
    before = journal(demo_project)
    app.button(key=S.TISSUE_LABEL).click().run()
    assert not app.exception, app.exception
    assert len(journal(demo_project)) == len(before)  # nothing stored
    assert any(colleague in w.value and "Dr. Other" in w.value for w in app.warning)
    assert len(app.session_state[S.TISSUE_SELECTION]) == len(inside)  # the selection is kept
    app.button(key=S.STALE_OVERWRITE).click().run()
    labels = Project.open(demo_project).labels()
    assert (labels.reindex(project.barcodes[inside]) == classes[0]).all()
