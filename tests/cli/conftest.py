"""Fixtures for the CLI tests of the training verbs (train, evaluate, export, ensemble), shared with
tests/train: tiny labelled image sets, ``invoke`` (``synthdetect`` in-process), two exported tiny models."""

from tests.train.conftest import _threads, exported, invoke, tiny_sets  # noqa: F401
