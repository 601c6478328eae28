"""Fixtures of the cell tests; the tiny offline backbones are shared with the feature tests."""

from tests.features.conftest import tiny_backbones  # noqa: F401  (a fixture)
