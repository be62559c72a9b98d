"""Local stand-ins for the official images an mlstack stack names (see catalog.py, build.py)."""

from .catalog import E2E_IMAGES, ensure_images

__all__ = ["E2E_IMAGES", "ensure_images"]
