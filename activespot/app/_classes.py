"""Classes page: add, rename and merge classes; each change is an event, history is never rewritten."""

from __future__ import annotations

import streamlit as st

from .. import _constants as K
from ..errors import ProjectError
from ..project import Project
from . import _data as D
from . import _state as S


def _change(project_path: str, kind: str, annotator: str) -> None:
    if not annotator:
        D.flash("error", "Enter your name in the sidebar first: it is stored with every change.")
        return
    project = D.open_project(project_path, wait=False)
    store = project.store
    get = st.session_state.get
    try:
        if kind == "exclude":
            name = (get(S.CLASSES_EXCLUDE_NAME) or K.DEFAULT_EXCLUSION_CLASS).strip()
            added = project.set_exclusion_class(name, annotator=annotator)
            message = (
                f"{'Added' if added else 'Marked'} {name!r} as the exclusion class: its spots are left out of "
                "the Loupe exports and agreement, and flagged in the AnnData."
            )
        elif kind == "unexclude":
            project.set_exclusion_class(None, annotator=annotator)
            message = "No exclusion class: exports include every spot."
        elif kind == "add":
            name = (get(S.CLASSES_NEW) or "").strip()
            store.add_classes([name], annotator=annotator)
            message = f"Added class {name!r}."
        elif kind == "rename":
            old, new = get(S.CLASSES_RENAME_FROM), (get(S.CLASSES_RENAME_TO) or "").strip()
            store.rename_class(old, new, annotator=annotator)
            message = f"Renamed {old!r} to {new!r}; labels given as {old!r} now read as {new!r}."
        else:
            source, into = get(S.CLASSES_MERGE_FROM), get(S.CLASSES_MERGE_INTO)
            if source == into:
                msg = "choose two different classes to merge"
                raise ValueError(msg)
            store.merge_class(source, into, annotator=annotator)
            message = f"Merged {source!r} into {into!r}."
    except (ValueError, ProjectError) as err:
        D.flash("error", str(err))
        return
    D.flash("success", message)


def render_classes(project: Project, *, annotator: str) -> None:
    """Draw the classes page."""
    st.title("Classes")
    path = str(project.path)
    declared = project.store.declared_classes()
    counts = project.info()["classes"]
    colors = D.class_colors(project)
    st.markdown(D.legend_html(counts, colors), unsafe_allow_html=True)
    undeclared = [c for c in counts if c not in declared]
    if undeclared:
        st.caption("In use but never declared: " + ", ".join(undeclared))
    if not annotator:
        st.warning("Enter your name in the sidebar to change classes.", icon=":material/person:")
    add, rename, merge = st.columns(3, border=True)
    with add:
        st.markdown("**Add a class**")
        st.text_input("New class", key=S.CLASSES_NEW, placeholder="e.g. Necrosis")
        st.button("Add", key=S.CLASSES_ADD, on_click=_change, args=(path, "add", annotator), disabled=not annotator)
    with rename:
        st.markdown("**Rename**")
        st.selectbox("Class", declared, key=S.CLASSES_RENAME_FROM)
        st.text_input("New name", key=S.CLASSES_RENAME_TO)
        st.button(
            "Rename",
            key=S.CLASSES_RENAME,
            on_click=_change,
            args=(path, "rename", annotator),
            disabled=not annotator or not declared,
        )
    with merge:
        st.markdown("**Merge**")
        st.selectbox("Fold this class…", declared, key=S.CLASSES_MERGE_FROM)
        st.selectbox("…into", declared, index=min(1, len(declared) - 1) if declared else None, key=S.CLASSES_MERGE_INTO)
        st.button(
            "Merge",
            key=S.CLASSES_MERGE,
            on_click=_change,
            args=(path, "merge", annotator),
            disabled=not annotator or len(declared) < 2,
        )
    _render_exclusion(path, project.exclusion_class(), annotator)
    st.caption(
        "Renames and merges are events in the journal: labels keep the name they were given with, and "
        "read under the new name. Colours follow the class order, the same on every page."
    )


def _render_exclusion(path: str, exclusion: str | None, annotator: str) -> None:
    """The exclusion class: spots outside the annotated tissue, learnt by the model, left out of exports."""
    with st.container(border=True):
        st.markdown("**Exclusion class** (not tissue)")
        if exclusion is None:
            st.caption(
                "Edge spots outside the annotated tissue need a class of their own, or the model labels them "
                "confidently as tissue. Mark one: the model learns it like any other class, the Loupe exports and "
                "agreement leave its spots out, the AnnData keeps them flagged."
            )
        else:
            st.caption(f"**{exclusion}** is the exclusion class: its spots are left out of exports and agreement.")
        name_col, mark_col, unmark_col = st.columns([2, 1, 1], vertical_alignment="bottom")
        name_col.text_input("Class", key=S.CLASSES_EXCLUDE_NAME, placeholder=K.DEFAULT_EXCLUSION_CLASS)
        mark_col.button(
            "Mark as exclusion class",
            key=S.CLASSES_EXCLUDE,
            on_click=_change,
            args=(path, "exclude", annotator),
            disabled=not annotator,
            help="Adds the class when it is new (default name: Not tissue).",
        )
        unmark_col.button(
            "No exclusion class",
            key=S.CLASSES_UNEXCLUDE,
            on_click=_change,
            args=(path, "unexclude", annotator),
            disabled=not annotator or exclusion is None,
        )
