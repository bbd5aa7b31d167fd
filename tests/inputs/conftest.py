"""Fixtures of tests/inputs: ``make_set`` (a tiny labelled image set in tmp, shared with tests/train)."""

from tests.train.conftest import make_set_fixture  # noqa: F401
