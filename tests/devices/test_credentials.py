"""Device secrets hashed in Mosquitto's password_file format, checked against mosquitto_passwd."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from devices import credentials


def test_hash_and_verify() -> None:
    secret = credentials.new_secret()
    hashed = credentials.hash_secret(secret)
    assert hashed.startswith("$7$101$")
    assert credentials.verify_secret(secret, hashed)
    assert not credentials.verify_secret(secret + "x", hashed)
    assert not credentials.verify_secret(secret, "not-a-hash")
    assert credentials.hash_secret(secret) != hashed  # salted


@pytest.mark.skipif(shutil.which("mosquitto_passwd") is None, reason="mosquitto_passwd not installed")
def test_same_format_as_mosquitto_passwd(tmp_path: Path) -> None:
    pw = tmp_path / "pw"
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(pw), "CAM1", "s3cret-Ω"], check=True)
    user, hashed = pw.read_text().strip().split(":", 1)
    assert user == "CAM1"
    assert credentials.verify_secret("s3cret-Ω", hashed)
    assert not credentials.verify_secret("other", hashed)


def test_password_file_lines() -> None:
    text = credentials.password_file([("A", "$7$1$x$y"), ("B", "$7$1$z$w")])
    assert text == "A:$7$1$x$y\nB:$7$1$z$w\n"
