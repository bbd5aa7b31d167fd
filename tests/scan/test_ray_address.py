"""`scan --engine ray --address`: an address nothing answers is a one-line error, not Ray's minutes of
connect retries (its own module: the Ray tests' module fixture keeps a local instance connected)."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("isolated_registry")]


def test_unreachable_address_is_one_line_error_not_endless_retries(models_dir, images):
    """Ray retries a head that is not there for minutes; a closed port is refused at once."""
    import socket
    import time

    ray = pytest.importorskip("ray")
    if ray.is_initialized():
        ray.shutdown()
    from typer.testing import CliRunner

    from synthdetect.cli import app

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.monotonic()
    r = CliRunner().invoke(app, ["scan", str(images["white"]), "--models-dir", str(models_dir), "--engine", "ray",
                                 "--address", f"127.0.0.1:{port}", "--no-cache"])
    assert time.monotonic() - t0 < 30
    assert r.exit_code != 0 and f"cannot reach the Ray cluster at 127.0.0.1:{port}" in r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize("address, expected", [
    ("HEAD:6379", ("HEAD", 6379)), ("ray://10.0.0.5:10001", ("10.0.0.5", 10001)),
    ("[::1]:6379", ("::1", 6379)), ("auto", None), ("local", None), ("http://x:1", None), ("HEAD", None),
])
def test_host_port_of_ray_addresses(address, expected):
    from synthdetect.scan.engines.ray_engine import host_port

    assert host_port(address) == expected
