"""``io`` sits below ``features``: reading images and cells never imports the feature code."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import IMAGE, MASK, REPO


def test_reading_images_and_cells_imports_nothing_from_features():
    script = (
        "import sys\n"
        "import activespot.io as io\n"
        f"image = io.open_cell_image({str(IMAGE)!r})\n"
        "image.read(slice(0, 64), slice(0, 64))\n"
        f"io.read_cells({str(IMAGE)!r}, {str(MASK)!r})\n"
        "print(sorted(m for m in sys.modules if m.startswith('activespot.features')))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, check=True)
    assert done.stdout.strip() == "[]", done.stdout
