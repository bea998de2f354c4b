"""Synthetic tasks whose scenes are known, so a chain of thought can be checked against the image, not only its answer."""
