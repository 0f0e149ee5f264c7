"""The web chat page of `mmbind serve` in a real headless Chromium (the system's package, driven with
playwright's Python API; `make test` installs it): attach a generated video (its preview shows), ask, see
the answer stream in and equal a direct ``model.generate``; a second question keeps the history; "New
chat" clears it. The page as the test saw it is saved to ``test-artifacts/serve_chat_page.png``."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support.media import write_video
from tests.support.serve import start_server

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium() -> str | None:
    """The system's Chromium (or Chrome) executable, if any."""
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.mark.slow
def test_chat_page_streams_an_answer_about_a_video(run, generator, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason="playwright is not installed (pip install -e .[dev])")
    browser_path = find_chromium()
    if browser_path is None:
        pytest.skip("no Chromium found on PATH (`make test` installs it: apt-get install -y chromium)")
    video = write_video(tmp_path / "clip.mp4", 12, width=64, height=48)
    question = "What is moving in the video?"
    from mmbind.inference import Query

    want = generator.answer([Query(question, "video", video)], max_new_tokens=128, batch_size=1)[0]
    assert want
    ARTIFACTS.mkdir(exist_ok=True)
    with start_server(run, max_tokens=128) as url, sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=browser_path, headless=True,
                                             args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 760})
            page.set_default_timeout(60_000)
            page.goto(url + "/")
            page.wait_for_function("document.getElementById('model').textContent === 'tiny'")
            page.set_input_files("#file", str(video))
            page.wait_for_selector("#preview video#preview-media")
            page.evaluate("""() => { window.updates = 0;
                new MutationObserver(() => window.updates++).observe(document.getElementById('log'),
                    {subtree: true, characterData: true, childList: true}); }""")
            page.fill("#question", question)
            page.click("#send")
            page.wait_for_selector(".assistant[data-done='true']")
            answer = page.inner_text(".assistant .text")
            assert answer == want
            assert page.evaluate("window.updates") >= 4  # the answer arrived in pieces, not at once
            assert page.locator(".user video").count() == 1  # the attached video shows in the conversation
            page.screenshot(path=str(ARTIFACTS / "serve_chat_page.png"), full_page=True)

            page.fill("#question", "And what colour is it?")
            page.click("#send")
            page.wait_for_selector(".assistant:nth-of-type(4)[data-done='true']")
            history = [(question, want)]
            second = generator.answer([Query("And what colour is it?", "video", video, tuple(history))],
                                      max_new_tokens=128, batch_size=1)[0]
            assert page.locator(".assistant .text").nth(1).inner_text() == second  # history was sent
            page.screenshot(path=str(ARTIFACTS / "serve_chat_page_two_rounds.png"), full_page=True)
            page.click("#new")
            assert page.locator("#log .msg").count() == 0
        finally:
            browser.close()
