"""End to end in headless Chromium against `streamlit run app.py`: typing, clicking characters, share
links, and hostile input in the text boxes and in every URL parameter.

Run: pytest -m browser tests/e2e (screenshots and the server log land in test-artifacts/).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree
from urllib.parse import parse_qs, quote_plus, unquote_plus, urlencode, urlsplit

import pytest
from playwright.sync_api import expect

from rnnmem.links import MAX_LINK_CHARS
from rnnmem.text import normalize
from rnnmem.walkthrough import MOMENTS as WALKTHROUGH_MOMENTS
from rnnmem.walkthrough import PARAGRAPH as WALKTHROUGH_TEXT
from tests.e2e.conftest import watch_hosts

pytestmark = pytest.mark.browser

CELL_WIDTH, CELL_HEIGHT = 11, 22  # rnnmem.charts' character cells, in pixels
PAYLOAD = ('<img src=x onerror=alert(1)><script>window.__pwned=1</script> javascript:alert(1) '
           '[x](javascript:alert(1)) "><svg onload=alert(1)> :red[x] $x$ é😀')


def open_page(page, url: str) -> None:
    page.goto(url)
    # A deep link on a cold server first runs as an old-style page, then switches (ui._ensure_entrypoint).
    expect(page.get_by_role("link", name="Overview")).to_be_visible(timeout=60_000)
    wait_done(page)


def params(page) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).query)


def field(page, label: str):
    """The text box or area with this label (not its help button)."""
    return page.locator(f'input[aria-label="{label}"], textarea[aria-label="{label}"]')


def suggestions(page) -> list[str]:
    return page.locator('[data-testid="stProgress"]').all_inner_texts()


def assert_not_injected(page) -> None:
    """Nothing ran and nothing was inserted as markup."""
    assert page.dialogs == []
    assert page.evaluate("() => window.__pwned") is None
    assert page.locator('img[src="x"], svg[onload], a[href^="javascript:"]').count() == 0
    assert page.evaluate("() => Array.from(document.scripts).some(s => s.textContent.includes('__pwned'))") is False
    assert page.locator('[data-testid="stException"]').count() == 0


def wait_done(page) -> None:
    """The current script run has finished (call once the run is known to have started)."""
    expect(page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]')).to_be_attached(timeout=90_000)


def click_character(page, chart_index: int, column: int, line: int, *, hover: bool = False) -> None:
    wait_done(page)  # a chart still being redrawn would swallow the click
    # chart 0 of the Connectivity page is its colour scale; the text rows follow
    svg = page.locator('[data-testid="stVegaLiteChart"] svg').nth(chart_index + 1)
    svg.scroll_into_view_if_needed()
    box = svg.bounding_box()
    x, y = box["x"] + column * CELL_WIDTH + CELL_WIDTH / 2, box["y"] + line * CELL_HEIGHT + CELL_HEIGHT / 2
    if hover:
        page.mouse.move(x - 30, y)
        page.mouse.move(x, y, steps=3)
    else:
        page.mouse.click(x, y)


# ---- autocomplete ---------------------------------------------------------------------------------------

def test_typing_updates_suggestions_and_the_link(server, page):
    open_page(page, f"{server.url}/autocomplete?units=GRU")  # also the server's first request: a deep link
    expect(page.locator('[data-testid="stProgress"]')).to_have_count(5)
    start = suggestions(page)
    box = field(page, "Type here")
    expect(box).to_have_value("parts of north africa")

    box.fill("")
    box.press_sequentially("the united st", delay=40)
    expect(page.get_by_text("Completing st", exact=False)).to_be_visible()
    wait_done(page)  # the caption shows before the run has replaced the previous suggestions
    expect(page.locator('[data-testid="stProgress"]')).to_have_count(5)
    typed = suggestions(page)
    assert typed != start
    assert params(page)["text"] == ["the united st"]

    box.press("Backspace")
    box.press("Backspace")
    expect(page.get_by_text("Predicting the next word")).to_be_visible()  # still sensible after deleting
    wait_done(page)
    expect(page.locator('[data-testid="stProgress"]')).to_have_count(5)
    assert suggestions(page) != typed
    assert_not_injected(page)

    box.fill("he said that he was going to the city and that he ")  # "was" again: marked as already read
    expect(page.get_by_text("a word already read in the text", exact=False)).to_be_visible()
    wait_done(page)
    assert any(label.startswith("was ") and label.strip().endswith("↺") for label in suggestions(page))


def test_choosing_the_article_size_weights_changes_the_models_and_the_link(server, page):
    open_page(page, f"{server.url}/autocomplete?units=GRU")
    expect(page.get_by_text(re.compile(r"^gru \(shipped\) · .*2×224$"))).to_be_visible()
    start = suggestions(page)
    page.locator('[data-testid="stSidebar"]').get_by_text("Article-size", exact=True).click()
    expect(page.get_by_text(re.compile(r"^article/gru \(shipped\) · .*2×600$"))).to_be_visible(timeout=90_000)
    wait_done(page)
    expect(page.locator('[data-testid="stProgress"]')).to_have_count(5)
    assert params(page)["weights"] == ["Article-size"]
    assert suggestions(page) != start  # another model, other probabilities
    page.reload()  # the link alone brings the same models back
    expect(page.get_by_text(re.compile(r"^article/gru \(shipped\) · "))).to_be_visible(timeout=90_000)
    assert_not_injected(page)


# ---- connectivity ---------------------------------------------------------------------------------------

def test_clicking_a_character_moves_the_highlight(server, page):
    walkthrough = normalize(WALKTHROUGH_TEXT)
    open_page(page, f"{server.url}/connectivity?units=GRU")
    selected = page.get_by_text("Selected: character")
    learning = WALKTHROUGH_MOMENTS[0].position(walkthrough)
    expect(selected).to_contain_text(f"character {learning},")
    chart = page.locator('[data-testid="stVegaLiteChart"]').nth(1)  # the GRU's row (0: the colour scale)
    before = chart.screenshot()

    click_character(page, 0, column=10, line=0)
    expect(selected).to_contain_text("character 10,")
    expect(page.get_by_text("Desired: the")).to_have_count(2)  # the shipped GRU and the article's
    assert params(page)["pos"] == ["10"]
    wait_done(page)
    assert chart.screenshot() != before  # the green highlight and the outline moved

    grammar = WALKTHROUGH_MOMENTS[1].position(walkthrough)
    page.get_by_role("button", name=re.compile("second “grammar”")).click()
    expect(selected).to_contain_text(f"character {grammar},")
    expect(page.get_by_text("Desired: grammar")).to_have_count(2)
    assert params(page)["pos"] == [str(grammar)]
    recall = page.get_by_text(re.compile("“grammar”, read 130 characters back: .* of this row is on its letters"))
    expect(recall).to_have_count(2)  # under the shipped GRU's row and the article's
    expect(recall.nth(1)).to_contain_text("23% of this row is on its letters")  # the article's GRU, as published

    click_character(page, 1, column=20, line=0)  # a click in the article's row selects for every row
    expect(selected).to_contain_text("character 20,")
    wait_done(page)
    expect(page.get_by_text("GRU · the article's models (published)")).to_have_count(1)
    page.screenshot(path=str(server.log.parent / "connectivity_with_article_row.png"), full_page=True)
    assert_not_injected(page)


def test_hovering_selects_when_switched_on(server, page):
    open_page(page, f"{server.url}/connectivity?units=LSTM&hover=true&text={quote_plus('the cat sat on the mat')}")
    selected = page.get_by_text("Selected: character")
    expect(selected).to_contain_text("character 22,")  # a new text starts at its last character
    click_character(page, 0, column=5, line=0, hover=True)
    expect(selected).to_contain_text("character 5,")


def test_choosing_a_target_and_a_method_changes_the_view_and_the_link_and_a_download_matches(server, page):
    """Explain the GRU's second suggestion by gradient × input: the link carries both, the row is redrawn,
    and the row's CSV, downloaded, is named after the view and holds the library's numbers; then by
    integrated gradients, computed by the server's worker process."""
    import pandas as pd

    from rnnmem.attribution_methods import attribution
    from rnnmem.refs import load_model

    from tests.test_app import other_suggestion

    target, _ = other_suggestion("gru", WALKTHROUGH_TEXT, 20)  # a suggestion that is not the desired word
    open_page(page, f"{server.url}/connectivity?units=GRU&pos=20")
    chart = page.locator('[data-testid="stVegaLiteChart"]').nth(1)  # the GRU's row (0: the colour scale)
    expect(page.get_by_text("Desired: study")).to_have_count(2)
    before = chart.screenshot()

    page.get_by_text(target, exact=True).click()
    expect(page.get_by_text("Explained:")).to_have_count(1)  # the GRU's row; the article's keeps its desired word
    wait_done(page)
    assert params(page)["target"] == [target]
    page.get_by_text("grad_x_input", exact=True).click()
    expect(page.get_by_text("gradient × input: (∂z[y]/∂x_τ)·x_τ", exact=False)).to_be_visible()
    wait_done(page)
    assert params(page)["method"] == ["grad_x_input"] and params(page)["target"] == [target]
    assert chart.screenshot() != before
    explained = page.get_by_text("Explained:").inner_text().split(":", 1)[1].strip()

    # The GRU row's menu: a button showing "Download" (a chart toolbar's download icon is also named so)
    page.get_by_role("button").filter(has_text="Download").first.click()
    with page.expect_download() as info:
        page.get_by_role("button", name="row CSV").first.click()
    download = info.value
    name = download.suggested_filename
    assert name.startswith("connectivity-gru-row_") and name.endswith(".csv"), name
    assert "pos-20" in name and "method-grad-x-input" in name and f"target-{target}" in name, name
    table = pd.read_csv(download.path(), keep_default_na=False)
    expected = attribution(load_model("gru"), WALKTHROUGH_TEXT, 20, "grad_x_input", target)
    assert expected.word == explained
    assert "".join(table["char"]) == normalize(WALKTHROUGH_TEXT)
    assert list(table["state"]).index("selected") == 20
    pd.testing.assert_series_equal(table["gradient × input"], pd.Series(expected.values.astype(float),
                                                                        name="gradient × input"), rtol=1e-4, atol=1e-6)

    # The row as a figure (SVG): the text, its own colour scale and a title saying whose row this is
    svg_button = page.get_by_role("button", name="SVG").first
    if not svg_button.is_visible():  # the menu closed with the first download
        page.get_by_role("button").filter(has_text="Download").first.click()
    with page.expect_download(timeout=60_000) as info:
        svg_button.click()
    assert info.value.suggested_filename.startswith("connectivity-gru_") and info.value.suggested_filename.endswith(".svg")
    drawn = [element.text for element in ElementTree.parse(info.value.path()).getroot().iter()
             if element.tag.endswith("text") and element.text]
    assert drawn[-2] == "|gradient × input| / row maximum"
    assert f": gradient × input of “{explained}” at character 20, " in drawn[-1], drawn[-1]

    # Integrated gradients (computed in the server's worker process): its completeness line is shown
    page.get_by_text("integrated_gradients", exact=True).click()
    # (get_by_text finds nothing for "Σ attributions", though it does without the "Σ"; a filter does)
    completeness = page.locator('[data-testid="stCaptionContainer"]').filter(has_text="Σ attributions")
    expect(completeness).to_be_visible(timeout=90_000)  # seconds of work
    wait_done(page)
    assert params(page)["method"] == ["integrated_gradients"]
    assert_not_injected(page)


# ---- nothing leaves the machine ---------------------------------------------------------------------------

def test_no_page_makes_a_request_to_another_host(server, page):
    """Every page, its icons and fonts come from the app's own server (the page fixture records requests
    to any other host and fails the test on one); the page icon is inlined."""
    for path in ("", "autocomplete?units=GRU", "connectivity?units=GRU&text=the+cat", "accuracy?units=GRU",
                 "training?units=GRU"):
        open_page(page, f"{server.url}/{path}")
        expect(page.get_by_role("heading").first).to_be_visible()
    icon = page.evaluate("() => document.querySelector(\"link[rel='shortcut icon']\").href")
    assert icon.startswith("data:image/svg+xml")
    page.wait_for_timeout(1000)  # late requests (icons, fonts) are recorded too
    assert page.foreign_requests == []


# ---- share links ------------------------------------------------------------------------------------------

def test_a_copied_address_reproduces_the_view(server, page, browser):
    open_page(page, f"{server.url}/connectivity?units=GRU&units=NLSTM")
    text = "the history of the united states begins with the arrival of people"
    area = field(page, "Text")
    area.fill(text)
    area.press("Control+Enter")
    expect(page.get_by_text("Selected: character")).to_contain_text(f"character {len(normalize(text)) - 1},")
    expect(page.locator('[data-testid="stVegaLiteChart"]')).to_have_count(3)  # the scale and two units
    click_character(page, 1, column=20, line=0)
    expect(page.get_by_text("Selected: character")).to_contain_text("character 20,")
    wait_done(page)
    link = page.url
    assert params(page)["units"] == ["GRU", "NLSTM"] and params(page)["pos"] == ["20"]
    view = page.get_by_text("Selected: character").inner_text()
    desired = page.get_by_text("Desired:").all_inner_texts()

    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    foreign = watch_hosts(context)
    try:
        other = context.new_page()
        other.dialogs = []
        open_page(other, link)
        expect(field(other, "Text")).to_have_value(text)
        expect(other.get_by_text("Selected: character")).to_have_text(view)
        expect(other.locator('[data-testid="stVegaLiteChart"]')).to_have_count(3)
        wait_done(other)
        assert other.get_by_text("Desired:").all_inner_texts() == desired
        assert other.url == link
        other.screenshot(path=str(server.log.parent / "share_link_opened.png"), full_page=True)
    finally:
        context.close()
    assert not foreign, foreign


# ---- hostile input ----------------------------------------------------------------------------------------

def test_hostile_text_typed_into_every_box_is_only_text(server, page):
    open_page(page, f"{server.url}/autocomplete?units=GRU")
    box = field(page, "Type here")
    box.fill(PAYLOAD)
    box.press("Enter")
    expect(page.locator('[data-testid="stProgress"]')).to_have_count(5)
    expect(box).to_have_value(PAYLOAD)
    assert_not_injected(page)

    page.get_by_test_id("stExpander").get_by_text("Models").click()
    model_box = field(page, "GRU")
    model_box.fill(PAYLOAD[:200])
    model_box.press("Enter")
    expect(page.get_by_text("Using the configured model")).to_be_visible()
    assert "<img src=x onerror=alert(1)>" in page.locator('[data-testid="stAlert"]').first.inner_text()
    assert_not_injected(page)

    open_page(page, f"{server.url}/connectivity?units=GRU")
    area = field(page, "Text")
    area.fill(PAYLOAD)
    area.press("Control+Enter")
    expect(page.get_by_text("Selected: character")).to_contain_text(f"character {len(normalize(PAYLOAD)) - 1},")
    expect(area).to_have_value(PAYLOAD)
    assert_not_injected(page)


PAGES = {
    "autocomplete": ["text", "k"],
    "connectivity": ["text", "pos", "hover", "colours", "article", "method", "target", "word"],
    "accuracy": ["split", "topk", "article", "maxseen", "eval"],
    "training": ["x", "logy"],
    "memory": ["source", "text", "positions", "seed", "scale", "maxdist", "logy", "article", "stored", "by", "topk",
               "seq", "diff_a", "diff_b"],
    "": [],
}


@pytest.mark.parametrize("path", list(PAGES))
def test_hostile_values_in_every_link_parameter(server, page, path):
    names = PAGES[path] + ["units", "gru_model", "lstm_model", "nlstm_model", "rnn_model"]
    known = [("units", "GRU"), ("units", "LSTM")] if path == "memory" else []  # two units: the difference's
    query = urlencode([(name, PAYLOAD) for name in names] + [(PAYLOAD, PAYLOAD)] + known)  # pickers, fewer to compute
    open_page(page, f"{server.url}/{path}?{query}")
    expect(page.locator('[data-testid="stAlert"]').first).to_be_visible()
    body = page.inner_text("body")
    assert f"The link asked for unknown units '{PAYLOAD[:30]}" in body  # shown literally, cut short
    assert f"parameters this page does not use ('{PAYLOAD[:30]}" in body
    if "text" in names and path != "memory":  # the Memory page's box shows only for a pasted text
        box = field(page, "Type here") if path == "autocomplete" else field(page, "Text")
        expect(box).to_have_value(PAYLOAD)
    assert_not_injected(page)


def test_a_huge_link_text_is_cut_with_a_message(server, page):
    open_page(page, f"{server.url}/connectivity?units=RNN&text={quote_plus('grammar ' * 1500)}&pos=5000")
    expect(page.get_by_text("the box takes 2,000, so it was cut")).to_be_visible()
    expect(page.get_by_text("using its first")).to_be_visible()
    expect(page.get_by_text("Desired:")).to_be_visible()
    assert_not_injected(page)


def test_the_longest_promised_link_opens_with_its_messages(server, page):
    """A link of exactly MAX_LINK_CHARS characters, its text far longer than the box takes: the page opens,
    says what it cut, and the address it leaves is within the promise again."""
    start = f"{server.url}/connectivity?units=GRU&pos=3&text="
    link = start + ("grammar+" * MAX_LINK_CHARS)[:MAX_LINK_CHARS - len(start)]
    assert len(link) == MAX_LINK_CHARS
    open_page(page, link)
    expect(page.get_by_text("the box takes 2,000, so it was cut")).to_be_visible()
    expect(page.get_by_text("Selected: character")).to_contain_text("character 3,")
    expect(page.get_by_text("Desired:")).to_be_visible()
    assert len(page.url) <= MAX_LINK_CHARS and params(page)["pos"] == ["3"]
    assert_not_injected(page)


def test_a_hand_made_link_of_the_promised_length_keeps_its_whole_text(server, page):
    """A link of exactly MAX_LINK_CHARS characters whose text the box takes whole (1,300-odd characters,
    6 each in a link): the page counts its own address as the browser shows it, so nothing is cut."""
    start = f"{server.url}/autocomplete?units=GRU&text="
    letters = (MAX_LINK_CHARS - len(start)) // 6
    link = start + "a" * (MAX_LINK_CHARS - len(start) - 6 * letters) + "%C3%A9" * letters
    assert len(link) == MAX_LINK_CHARS
    text = unquote_plus(link[len(start):])
    open_page(page, link)
    expect(field(page, "Type here")).to_have_value(text, timeout=60_000)  # a cold server switches page first
    wait_done(page)
    expect(page.get_by_text("The text was cut")).to_have_count(0)
    assert params(page)["text"] == [text] and len(page.url) <= MAX_LINK_CHARS


def test_typed_text_that_would_make_a_too_long_link_is_cut_to_fit(server, page, browser):
    """1,998 characters, two in three of which take 6 in a link: the app keeps the end of the text that
    fits, says so, and the address it writes opens the same text again."""
    open_page(page, f"{server.url}/autocomplete?units=GRU")
    box = field(page, "Type here")
    typed = "ééa" * 666  # 8,658 characters in a link (the box counts UTF-16 units: no emoji here)
    box.fill(typed)
    box.press("Enter")
    expect(page.get_by_text("The text was cut to its last")).to_be_visible()
    wait_done(page)
    kept = box.input_value()
    assert 0 < len(kept) < len(typed) and typed.endswith(kept)
    assert len(page.url) <= MAX_LINK_CHARS
    other = browser.new_context().new_page()
    try:
        open_page(other, page.url)
        expect(field(other, "Type here")).to_have_value(kept)
    finally:
        other.context.close()


def test_server_log_has_no_tracebacks_or_warnings(server):
    """Runs last in this file: everything above went through the server without a logged problem."""
    log = server.log_text()
    for sign in ("Traceback", "Stack (most recent call last)", "WARNING", "ERROR", "Exception", "Error:"):
        assert sign not in log, log[-3000:]
