"""Headless Debian Chromium through Playwright, set up the way this closed network needs it.

Shared by the UI tests and scripts/screenshots.py. Never run `playwright install`: the browser
download fails here; the project's `scripts/setup.sh --browser` installs /usr/bin/chromium.
"""

from __future__ import annotations

import os
import shutil

CHROMIUM = os.environ.get("DIFFUSEGAE_CHROMIUM", "/usr/bin/chromium")

# Without the background-networking flags Chromium floods the closed network with retries.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def chromium_path() -> str | None:
    """The Chromium binary, or None when it is not installed."""
    if os.path.exists(CHROMIUM):
        return CHROMIUM
    return shutil.which("chromium")


def launch(playwright):
    """A headless Chromium browser from a started `sync_playwright()`."""
    path = chromium_path()
    if path is None:
        raise RuntimeError("Chromium is missing: run `bash scripts/setup.sh --browser` (apt-get install chromium)")
    return playwright.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_ARGS)
