"""Playwright fixtures for every browser test directory, loaded once from tests/conftest.py.

One definition matters: Playwright's sync API runs an event loop in the main thread, so two
copies of a session fixture (one per conftest that imported it) cannot both be started.
Debian's chromium only (never a downloaded browser). Each test's pages are screenshotted as
it goes (`shots.take(name)`); when the test fails they are kept, with a last one of each page
as the failure left it, under test-artifacts/<test>/.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Error as PlaywrightError

from tests.conftest import unavailable

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.stash[_FAILED] = report.failed


_FAILED = pytest.StashKey[bool]()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        unavailable("chromium", CHROMIUM, "CHROMIUM", "not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        found = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield found
        found.close()


class Shots:
    """Screenshots of each page the test visits, kept only if the test fails."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.pages: list[Any] = []
        self.count = 0

    def take(self, page: Any, name: str) -> None:
        self.count += 1
        page.screenshot(path=str(self.folder / f"{self.count:02d}-{name}.png"), full_page=True)


@pytest.fixture
def shots(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Shots]:
    folder = tmp_path / "shots"
    folder.mkdir()
    found = Shots(folder)
    yield found
    if request.node.stash.get(_FAILED, False):
        target = ARTIFACTS / request.node.name.replace("/", "_")
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(folder, target)


@pytest.fixture
def new_page(request: pytest.FixtureRequest, browser: Any, shots: Shots) -> Iterator[Any]:
    contexts: list[Any] = []

    def make() -> Any:
        context = browser.new_context(locale="es-CO", viewport={"width": 1366, "height": 800})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(5000)
        shots.pages.append(page)
        return page

    yield make
    if request.node.stash.get(_FAILED, False):  # each page as the failure left it
        for i, page in enumerate(shots.pages):
            with contextlib.suppress(PlaywrightError):  # a crashed page: keep the others
                page.screenshot(path=str(shots.folder / f"99-last-{i}.png"), full_page=True)
    for context in contexts:
        context.close()
