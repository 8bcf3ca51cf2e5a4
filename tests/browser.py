"""A real headless browser (Debian's chromium) for tests that look at pages, offline."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Headless, software WebGL (SwiftShader), and no network at all: no DNS, every connection through a
# proxy that does not exist, none of the browser's own background traffic.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--proxy-server=127.0.0.1:9",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1200,760",
    "--virtual-time-budget=10000",
]


def _chromium(page: Path, folder: Path, *extra: str) -> subprocess.CompletedProcess:
    if CHROMIUM is None:
        pytest.skip("no chromium here: `make test` installs Debian's chromium where apt-get can")
    command = [CHROMIUM, *FLAGS, f"--user-data-dir={folder / 'profile'}", *extra, page.resolve().as_uri()]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def screenshot(page: Path, folder: Path) -> np.ndarray:
    """[H,W,3] uint8 what the browser shows of `page` once its scripts have run."""
    shot = folder / "screenshot.png"
    _chromium(page, folder, f"--screenshot={shot}")
    return np.asarray(Image.open(shot).convert("RGB"))


def dom(page: Path, folder: Path) -> str:
    """The page's document once its scripts have run."""
    return _chromium(page, folder, "--dump-dom").stdout


def pixels_near(image: np.ndarray, rgb: tuple[int, int, int], tolerance: int = 40) -> int:
    """How many pixels of `image` are within `tolerance` (per channel) of the colour `rgb`."""
    return int(
        (np.abs(image.astype(np.int16) - np.array(rgb, dtype=np.int16)).max(axis=-1) <= tolerance).sum()
    )
