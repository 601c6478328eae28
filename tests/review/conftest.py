"""The review tests use the transfer tests' real DLPFC subsets (two adjacent sections, their layer labels)."""

from tests.transfer.conftest import SECTIONS, _one_torch_thread, samples, source_project, subsets, truth

__all__ = ["SECTIONS", "_one_torch_thread", "samples", "source_project", "subsets", "truth"]
