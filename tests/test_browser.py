"""The page of `seqrnn serve` in a real browser: Debian's headless Chromium, driven by Selenium through
Debian's chromedriver, against a real server process on 127.0.0.1 with tiny models trained here.

Nothing is downloaded at run time. Without Chromium, chromedriver or the selenium package these tests
are skipped, and pytest's summary (`-ra`) says which is missing; `.ci/run` installs them.
`pytest -k browser` selects them. One of them takes a screenshot of the page in use, into a temporary
folder; `make screenshot` runs it with SEQRNN_SCREENSHOT=docs/serve.png to refresh the documentation's.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="browser tests skipped: FastAPI is not installed (pip install 'seqrnn[serve]')")
pytest.importorskip("httpx", reason="browser tests skipped: httpx is not installed (pip install 'seqrnn[test]')")

from test_serve import TEXT, _reviews, running_server  # noqa: E402  (the same data and server as the API tests)

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
SCREENSHOT_ENV = "SEQRNN_SCREENSHOT"  # where the screenshot goes (default: the test's temporary folder)
# what this machine needs: no sandbox as root, and no network at all beyond 127.0.0.1
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--window-size=900,1000"]
WAIT_S = 60  # longest wait for anything on the page (a loaded CI machine)


def _missing() -> str | None:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "browser tests skipped: the selenium package is not installed (pip install 'seqrnn[test]')"
    if CHROMIUM is None:
        return "browser tests skipped: no Chromium on PATH (apt-get install chromium chromium-driver)"
    if CHROMEDRIVER is None:
        return "browser tests skipped: no chromedriver on PATH (apt-get install chromium-driver)"
    return None


MISSING = _missing()
if MISSING is not None:  # one line in pytest's summary, for the whole file
    pytest.skip(MISSING, allow_module_level=True)
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Small models trained for real, a few seconds, a little longer than the API tests' so that the
    screenshot shows a sensible label and text: root/sentiment and root/charlm."""
    from seqrnn.tasks.charlm import CharLanguageModel
    from seqrnn.tasks.classifier import SentimentClassifier

    root = tmp_path_factory.mktemp("browser")
    texts, labels = _reviews(256)
    SentimentClassifier(preset="default", embed_size=16, hidden_size=16, seq_len=20, batch_size=16, epochs=8,
                        lr=1e-2, threads=1).fit(texts, labels, out_dir=root / "sentiment")
    CharLanguageModel(preset="default", hidden_size=64, embed_size=16, batch_size=4, num_steps=40, epochs=60,
                      lr=1e-2, dropout=0.0, threads=1).fit(TEXT, out_dir=root / "charlm")
    return root / "sentiment", root / "charlm"


@pytest.fixture(scope="module")
def base_url(models):
    with running_server(models) as (port, _):
        yield f"http://127.0.0.1:{port}/"


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    with tempfile.TemporaryDirectory(prefix="seqrnn-chromium-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in CHROMIUM_FLAGS + [f"--user-data-dir={profile}"]:
            options.add_argument(flag)
        driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
        try:
            driver.set_page_load_timeout(WAIT_S)
            yield driver
        finally:
            driver.quit()


def _post(url: str, body: dict) -> dict:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=WAIT_S) as r:
        return json.loads(r.read())


def _open(browser, base_url: str):
    """The page, loaded afresh, once it has read v1/info (the buttons are enabled then)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(base_url)
    WebDriverWait(browser, WAIT_S).until(lambda d: d.find_element(By.ID, "classify").is_enabled()
                                         and d.find_element(By.ID, "sample").is_enabled())
    assert not browser.find_element(By.ID, "info-error").is_displayed()


def _type(browser, element_id: str, text: str):
    from selenium.webdriver.common.by import By

    field = browser.find_element(By.ID, element_id)
    field.clear()
    field.send_keys(text)


def _classify(browser, reviews: list[str]) -> list[tuple[str, str, str, str]]:
    """Type the reviews, press Classify: the table's rows (label, probability, review, the bars' text)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    _type(browser, "reviews", "\n".join(reviews))
    browser.find_element(By.ID, "classify").click()
    WebDriverWait(browser, WAIT_S).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#sent-out table")
                                         or d.find_elements(By.CSS_SELECTOR, "#sent-out .error"))
    assert not browser.find_elements(By.CSS_SELECTOR, "#sent-out .error"), browser.find_element(By.ID, "sent-out").text
    rows = browser.find_elements(By.CSS_SELECTOR, "#sent-out table tr")[1:]
    return [tuple(cell.text for cell in row.find_elements(By.TAG_NAME, "td")) for row in rows]


def _generate(browser, start: str, length: int, seed: int, **fields: str) -> list[int]:
    """Fill in the generation fields and press Generate; wait for the end of the stream. Returns the
    lengths the output had each time the page changed it (recorded in the page, as it happened)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    _type(browser, "start", start)
    _type(browser, "length", str(length))
    _type(browser, "seed", str(seed))
    for element_id, value in fields.items():  # top-n, top-p, temperature: as typed ("" leaves it empty)
        _type(browser, element_id.replace("_", "-"), value)
    browser.execute_script("""
        window.seen = [];
        const out = document.getElementById("gen-out");
        new MutationObserver(() => window.seen.push(out.textContent.length))
            .observe(out, {childList: true, characterData: true, subtree: true});""")
    browser.find_element(By.ID, "sample").click()
    final = len(start) + length
    WebDriverWait(browser, WAIT_S).until(
        lambda d: len(d.find_element(By.ID, "gen-out").get_attribute("textContent")) >= final
        or "error" in d.find_element(By.ID, "gen-out").get_attribute("class"))
    return browser.execute_script("return window.seen;")


def test_browser_classifies_typed_reviews(browser, base_url):
    reviews = ["a wonderful and great movie, I loved it", "boring and dull plot, I hated it"]
    _open(browser, base_url)
    rows = _classify(browser, reviews)
    expected = _post(base_url + "v1/sentiment", {"texts": reviews})["results"]
    assert [row[2] for row in rows] == reviews
    for (label, probability, _, _), result in zip(rows, expected):
        assert label == ("positive" if result["label"] else "negative")
        assert probability == f"{result['probability']:.4f}" and 0.0 <= float(probability) <= 1.0


def test_browser_streams_a_generation_as_it_grows(browser, base_url):
    """The text appears piece by piece (the page changed it several times before the end), and what it
    shows in the end is the text the API gives for the same seed without streaming."""
    from selenium.webdriver.common.by import By

    _open(browser, base_url)
    seen = _generate(browser, "To be", 4000, seed=11)
    shown = browser.find_element(By.ID, "gen-out").get_attribute("textContent")
    final = len("To be") + 4000
    assert "error" not in browser.find_element(By.ID, "gen-out").get_attribute("class"), shown
    assert len(shown) == final
    partial = sorted({n for n in seen if 0 < n < final})
    assert len(partial) >= 2, f"the output went through no intermediate lengths: {seen}"
    assert seen == sorted(seen)  # it only grew
    expected = _post(base_url + "v1/generate", {"start": "To be", "length": 4000, "seed": 11, "temperature": 1.0})
    assert shown == expected["texts"][0]


def test_browser_shows_the_models_facts(browser, base_url, models):
    """The Models table: each loaded model's task, classes, vocabulary size, when it was trained and its
    best validation figure, as v1/info gives them (read from the model directory)."""
    from selenium.webdriver.common.by import By

    _open(browser, base_url)
    info = json.loads(urllib.request.urlopen(base_url + "v1/info", timeout=WAIT_S).read())["about"]
    cells = {row.get_attribute("data-model"): [td.text for td in row.find_elements(By.TAG_NAME, "td")]
             for row in browser.find_elements(By.CSS_SELECTOR, "#models tr[data-model]")}
    name, task, classes, vocab, trained, validation = cells["sentiment"]
    assert task.startswith("sentiment") and classes == "0, 1" and vocab == f"{info['sentiment']['vocab_size']:,} words"
    assert trained and validation.startswith("accuracy ") and validation.split()[1].endswith("%")
    assert f"{100 * info['sentiment']['validation']['value']:.1f}%" in validation
    name, task, classes, vocab, trained, validation = cells["charlm"]
    assert task.startswith("charlm") and classes == "—" and vocab == f"{info['charlm']['vocab_size']:,} characters"
    assert validation.startswith("bits per char ") and f"{info['charlm']['validation']['value']:.3f}" in validation


def test_browser_draws_each_class_probability_as_a_bar(browser, base_url):
    from selenium.webdriver.common.by import By

    reviews = ["a wonderful and great movie, I loved it", "boring and dull plot, I hated it"]
    _open(browser, base_url)
    _classify(browser, reviews)
    expected = _post(base_url + "v1/sentiment", {"texts": reviews})["results"]
    for row, result in zip(browser.find_elements(By.CSS_SELECTOR, "#sent-out table tr")[1:], expected):
        bars = row.find_elements(By.CSS_SELECTOR, ".bar")
        assert [b.get_attribute("data-class") for b in bars] == list(result["probabilities"])
        for bar in bars:
            p = result["probabilities"][bar.get_attribute("data-class")]
            fill = bar.find_element(By.CSS_SELECTOR, ".fill")
            width = float(fill.value_of_css_property("width")[:-2])
            track = float(bar.find_element(By.CSS_SELECTOR, ".track").value_of_css_property("width")[:-2])
            assert abs(width - p * track) <= 1.5, (p, width, track)
        top = row.find_element(By.CSS_SELECTOR, ".bar.top")
        assert top.get_attribute("data-class") == str(result["label"])


def test_browser_generates_with_the_command_lines_options(browser, base_url):
    """Length, top-n, top-p, temperature and seed as typed give the API's text for the same options."""
    from selenium.webdriver.common.by import By

    _open(browser, base_url)
    for element_id in ("length", "top-n", "top-p", "temperature", "seed"):
        assert browser.find_element(By.ID, element_id).get_attribute("type") == "number"
    for options in ({"top_n": "1", "top_p": ""}, {"top_n": "", "top_p": "0.9", "temperature": "0.7"}):
        _generate(browser, "To be", 120, seed=5, **options)
        shown = browser.find_element(By.ID, "gen-out").get_attribute("textContent")
        request = {"start": "To be", "length": 120, "seed": 5, "temperature": float(options.get("temperature", 1.0))}
        request.update({k: float(v) if k == "top_p" else int(v) for k, v in options.items() if v and k != "temperature"})
        assert shown == _post(base_url + "v1/generate", request)["texts"][0], options
    _type(browser, "temperature", "1.0")
    _type(browser, "top-p", "")


def test_browser_shows_a_clear_message_for_an_out_of_range_field(browser, base_url):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    _open(browser, base_url)
    limit = int(browser.find_element(By.ID, "length").get_attribute("max"))
    _generate(browser, "The ", limit + 1, seed=1)
    out = browser.find_element(By.ID, "gen-out")
    WebDriverWait(browser, WAIT_S).until(lambda d: "error" in out.get_attribute("class"))
    assert out.text == f"length: Input should be less than or equal to {limit}", out.text
    assert out.value_of_css_property("color") in ("rgba(176, 0, 32, 1)", "rgb(176, 0, 32)")  # the error red

    _type(browser, "reviews", "   ")
    browser.find_element(By.ID, "classify").click()
    assert browser.find_element(By.CSS_SELECTOR, "#sent-out .error").text == "write at least one review"


def test_browser_screenshot_of_the_page_in_use(browser, base_url, tmp_path):
    """Both models used once, as a reader would; a screenshot of the page as the browser draws it
    (into $SEQRNN_SCREENSHOT when set: `make screenshot`)."""
    from selenium.webdriver.common.by import By

    _open(browser, base_url)
    rows = _classify(browser, ["One of the best films I have seen: wonderful, great acting, I loved it.",
                               "A dull, boring mess. I hated every minute."])
    assert len(rows) == 2
    _type(browser, "temperature", "0.8")
    _generate(browser, "To be, or not", 300, seed=3)
    assert len(browser.find_element(By.ID, "gen-out").get_attribute("textContent")) == len("To be, or not") + 300
    height = int(browser.execute_script("return document.documentElement.scrollHeight;"))
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",  # the whole page, without a scroll bar
                            {"width": 900, "height": min(height, 3000), "deviceScaleFactor": 1, "mobile": False})
    try:
        time.sleep(0.2)  # one repaint at the new size
        screenshot = Path(os.environ.get(SCREENSHOT_ENV) or tmp_path / "serve.png")
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        assert browser.save_screenshot(str(screenshot)) and screenshot.stat().st_size > 10_000
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
