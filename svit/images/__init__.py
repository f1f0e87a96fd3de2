"""`svit images ROOT`: what is at every image path the records name (docs/images.md)."""

from svit.images.run import ImagesResult, run_images

__all__ = ["ImagesResult", "run_images"]
