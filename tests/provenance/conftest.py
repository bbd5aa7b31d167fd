"""Fixtures for provenance tests: every evidence file is built here, offline."""

from __future__ import annotations

from pathlib import Path

import pytest

from . import provenance_builders as B


@pytest.fixture(scope="session")
def chain_es256():
    return B.make_chain("es256")


@pytest.fixture(scope="session")
def chain_ps256():
    return B.make_chain("ps256")


@pytest.fixture
def write(tmp_path):
    """write(name, bytes) -> Path; evidence files are written once and then only read."""

    def _w(name: str, data: bytes) -> Path:
        p = tmp_path / name
        p.write_bytes(data)
        return p

    return _w
