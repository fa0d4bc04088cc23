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

from test_serve import (  # noqa: E402  (the same data and server as the API tests)
    TEXT,
    _reviews,
    _series,
    running_server,
    train_tiny_series_model,
)

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
    screenshot shows a sensible label, text and forecast: root/sentiment, root/charlm, root/series
    (a two-channel series classifier) and root/forecast (a monthly forecaster)."""
    from test_forecast import TINY, seasonal

    from seqrnn.tasks.charlm import CharLanguageModel
    from seqrnn.tasks.classifier import SentimentClassifier
    from seqrnn.tasks.forecast import Forecaster

    root = tmp_path_factory.mktemp("browser")
    texts, labels = _reviews(256)
    SentimentClassifier(preset="default", embed_size=16, hidden_size=16, seq_len=20, batch_size=16, epochs=8,
                        lr=1e-2, threads=1).fit(texts, labels, out_dir=root / "sentiment")
    CharLanguageModel(preset="default", hidden_size=64, embed_size=16, batch_size=4, num_steps=40, epochs=60,
                      lr=1e-2, dropout=0.0, threads=1).fit(TEXT, out_dir=root / "charlm")
    train_tiny_series_model(root / "series")
    monthly = [seasonal(96, seed=k, level=10.0**k) for k in (1, 2)]
    Forecaster(horizon=6, seed=2, **{**TINY, "epochs": 12, "windows_per_epoch": 512}).fit(monthly, out_dir=root / "forecast")
    return root / "sentiment", root / "charlm", root / "series", root / "forecast"


@pytest.fixture(scope="module")
def base_url(models):
    with running_server(models[:2], "--series", str(models[2]), "--forecast", str(models[3])) as (port, _):
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
    WebDriverWait(browser, WAIT_S).until(lambda d: all(d.find_element(By.ID, button).is_enabled() for button in
                                                       ("classify", "sample", "classify-series", "run-forecast")))
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


def _wait_for(browser, out_id: str, selector: str):
    """Wait until the output `out_id` shows `selector` or an error; fail on an error."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, WAIT_S).until(lambda d: d.find_elements(By.CSS_SELECTOR, f"#{out_id} {selector}")
                                         or d.find_elements(By.CSS_SELECTOR, f"#{out_id} .error"))
    errors = browser.find_elements(By.CSS_SELECTOR, f"#{out_id} .error")
    assert not errors, errors[0].text


def _forecast(browser, horizon: int | None = None, seed: int | None = None):
    """Press Forecast with the history and start as they are (the example the page filled in), the
    horizon and seed typed; wait for the chart."""
    from selenium.webdriver.common.by import By

    if horizon is not None:
        _type(browser, "horizon", str(horizon))
    _type(browser, "fc-seed", "" if seed is None else str(seed))
    browser.find_element(By.ID, "run-forecast").click()
    _wait_for(browser, "fc-out", "svg")


def _points(element) -> list[tuple[float, float]]:
    return [tuple(map(float, p.split(","))) for p in element.get_attribute("points").split()]


def test_browser_classifies_typed_series_with_class_bars(browser, base_url):
    """Series typed one per line (two channels separated by ;, a missing value left empty) get the API's
    labels and probabilities, each class a bar."""
    from selenium.webdriver.common.by import By

    X, _ = _series(3, seed=5)
    lines = [" ; ".join(", ".join(f"{v:.3f}" for v in channel) for channel in x) for x in X]
    lines[1] = lines[1].replace(lines[1].split(",")[2], " ", 1)  # a missing value: an empty field
    _open(browser, base_url)
    _type(browser, "series-values", "\n".join(lines))
    browser.find_element(By.ID, "classify-series").click()
    _wait_for(browser, "series-out", "table")
    series = [[[None if v.strip() == "" else float(v) for v in channel.split(",")] for channel in line.split(";")]
              for line in lines]
    assert series[1][0][2] is None
    expected = _post(base_url + "v1/classify", {"series": series})["results"]
    rows = browser.find_elements(By.CSS_SELECTOR, "#series-out table tr")[1:]
    assert len(rows) == 3
    for row, result in zip(rows, expected):
        cells = [cell.text for cell in row.find_elements(By.TAG_NAME, "td")]
        assert cells[1] == str(result["label"]) and cells[2] == f"{result['probability']:.4f}"
        bars = row.find_elements(By.CSS_SELECTOR, ".bar")
        assert [b.get_attribute("data-class") for b in bars] == list(result["probabilities"])
        assert row.find_element(By.CSS_SELECTOR, ".bar.top").get_attribute("data-class") == str(result["label"])


def test_browser_draws_a_forecast_with_its_intervals(browser, base_url):
    """The page starts with the example series of v1/info; Forecast draws the history, the median and
    both bands in an inline SVG (the 95% band around the 80% band around the median), and a table of
    the API's numbers for the same history, start, horizon and seed."""
    from selenium.webdriver.common.by import By

    _open(browser, base_url)
    facts = json.loads(urllib.request.urlopen(base_url + "v1/info", timeout=WAIT_S).read())["about"]["forecast"]
    history = [float(v) for v in browser.find_element(By.ID, "history").get_attribute("value").split(",")]
    start = browser.find_element(By.ID, "fc-start").get_attribute("value")
    assert start == facts["example"]["start"] and len(history) == len(facts["example"]["values"])
    assert browser.find_element(By.ID, "horizon").get_attribute("value") == str(facts["horizon"])
    _forecast(browser, horizon=4, seed=9)
    expected = _post(base_url + "v1/forecast", {"series": [{"values": history, "start": start}], "horizon": 4,
                                                "seed": 9})["results"][0]["forecast"]
    chart = browser.find_element(By.ID, "fc-chart")
    assert chart.tag_name == "svg" and chart.is_displayed()
    median = _points(chart.find_element(By.CSS_SELECTOR, "polyline.median"))
    shown = _points(chart.find_element(By.CSS_SELECTOR, "polyline.history"))
    band80 = _points(chart.find_element(By.CSS_SELECTOR, "polygon.band80"))
    band95 = _points(chart.find_element(By.CSS_SELECTOR, "polygon.band95"))
    assert len(median) == 4 and len(band80) == len(band95) == 8 and len(shown) == min(len(history), 48)
    assert shown[-1][0] < median[0][0]  # the forecast follows the history
    for k in range(4):  # SVG's y grows downward: upper bounds above (smaller y), lower ones below
        upper95, upper80, lower80, lower95 = band95[k][1], band80[k][1], band80[7 - k][1], band95[7 - k][1]
        assert upper95 <= upper80 <= median[k][1] <= lower80 <= lower95
    rows = browser.find_elements(By.CSS_SELECTOR, "#fc-table tr")[1:]
    assert [r.find_element(By.TAG_NAME, "td").text for r in rows] == [s["time"] for s in expected]
    assert [float(r.get_attribute("data-median")) for r in rows] == [s["median"] for s in expected]
    assert all("to" in r.find_elements(By.TAG_NAME, "td")[2].text for r in rows)


def test_browser_shows_the_forecasters_refusals(browser, base_url):
    """The API's one line for a start off the model's frequency; the page's own for what is not a number."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def refusal() -> str:
        browser.execute_script('document.getElementById("fc-out").textContent = "";')
        browser.find_element(By.ID, "run-forecast").click()
        WebDriverWait(browser, WAIT_S).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#fc-out .error"))
        return browser.find_element(By.CSS_SELECTOR, "#fc-out .error").text

    _open(browser, base_url)
    _type(browser, "fc-start", "2001-03-15")
    assert refusal().startswith("series[0].start '2001-03-15' is not on the model's frequency (monthly, MS)")
    _type(browser, "history", "1, 2, x")
    assert refusal() == 'not a number: "x"'
    _type(browser, "history", " ")
    assert refusal() == "write at least one value"

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
    name, task, classes, vocab, trained, validation = cells["series"]
    assert name == "Series classifier" and task.startswith("series") and classes == "0, 1" and vocab == "2 channels"
    assert trained
    name, task, classes, vocab, trained, validation = cells["forecast"]
    facts = info["forecast"]
    assert name == "Forecaster" and task.startswith("forecast") and classes == "—" and trained
    assert vocab == (f"2 series, monthly; horizon 6, context {facts['context_length']}, season 12")
    assert validation.startswith("MASE ") and f"{facts['validation']['value']:.3f}" in validation


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
    """Every model used once, as a reader would; a screenshot of the page as the browser draws it
    (into $SEQRNN_SCREENSHOT when set: `make screenshot`)."""
    from selenium.webdriver.common.by import By

    _open(browser, base_url)
    rows = _classify(browser, ["One of the best films I have seen: wonderful, great acting, I loved it.",
                               "A dull, boring mess. I hated every minute."])
    assert len(rows) == 2
    _type(browser, "temperature", "0.8")
    _generate(browser, "To be, or not", 300, seed=3)
    assert len(browser.find_element(By.ID, "gen-out").get_attribute("textContent")) == len("To be, or not") + 300
    browser.find_element(By.ID, "classify-series").click()  # the example series, as the page offers them
    _wait_for(browser, "series-out", "table")
    _forecast(browser, horizon=6)
    assert len(browser.find_elements(By.CSS_SELECTOR, "#fc-table tr")) == 7
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
