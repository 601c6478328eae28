"""activespot: active learning to annotate Visium spots and histology cells with few clicks."""

__version__ = "0.1.0"

__all__ = ["__version__"]
