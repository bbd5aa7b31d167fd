"""Moved: run -> ONNX + card is ``synthdetect.train.export.export_run``."""

from .export import export_run  # noqa: F401  # moved: see synthdetect.train.export
