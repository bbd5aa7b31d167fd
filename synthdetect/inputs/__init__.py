"""From a path on disk to the pixels a model reads (no torch).

* ``discovery``: files, directories and stdin ``-`` -> ordered, de-duplicated candidates.
* ``decoding``: open read-only, decode with Pillow (EXIF orientation, RGB, bomb guard) -> ``Decoded``
  or ``DecodeError`` with a one-line reason.
* ``preprocess``: card-driven crops and normalisation (``to_input``, ``to_inputs``).
* ``quality``: the input-quality gates (docs/quality.md).
* ``pool``: the bounded decode pool shared by scan, train probe and report thumbnails.
* ``datasets``: labelled image sets (``DIR``, ``DIR@LISTFILE``, ``manifest.csv``) for training and evaluation.

This ``__init__`` imports nothing: import the modules (``from synthdetect.inputs import decoding``).
"""
