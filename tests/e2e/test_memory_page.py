"""The Memory page in headless Chromium: it draws the profile and the summaries, a setting lands in the link,
a download holds exactly the numbers the page shows, and the accuracy breaks down by repetition and by
recall distance.

Run: pytest -m browser tests/e2e/test_memory_page.py
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from rnnmem.memory_tables import read_csv
from tests.e2e.test_browser import assert_not_injected, open_page, params, wait_done

pytestmark = pytest.mark.browser


def test_memory_page_profile_setting_in_the_link_and_a_download(server, page):
    open_page(page, f"{server.url}/memory?units=GRU&positions=200&seed=3")
    expect(page.get_by_role("heading", name="Memory profile")).to_be_visible()
    expect(page.get_by_text(re.compile(r"seed 3: GRU: 198 positions in 1 sequence"))).to_be_visible()
    expect(page.locator('[data-testid="stVegaLiteChart"]')).to_have_count(3)  # profile, breakdowns, one matrix
    table = page.locator('[data-testid="stTable"]').first  # the summaries; then the recall table
    expect(table).to_contain_text("d90")

    page.locator('[data-testid="stMain"]').get_by_text("words", exact=True).first.click()  # the profile's distance in words
    # the rerun has drawn the profile in words (the URL changes at once, before the rerun starts)
    expect(page.locator('[data-testid="stVegaLiteChart"]').first).to_contain_text("words back", timeout=90_000)
    wait_done(page)
    assert params(page)["scale"] == ["words"] and params(page)["positions"] == ["200"]
    with page.expect_download() as info:
        page.locator('[data-testid="stDownloadButton"]').nth(0).get_by_role("button").click()  # the profile's CSV
    profile = read_csv(open(info.value.path(), "rb").read())
    assert info.value.suggested_filename.startswith("memory-profile-words_")
    assert set(profile["scale"]) == {"words"} and profile["distance"].max() <= 40

    with page.expect_download() as info:
        page.locator('[data-testid="stDownloadButton"]').nth(4).get_by_role("button").click()  # the summaries' CSV
        # (0–3: the profile's CSV, JSON, PNG and SVG)
    download = info.value
    assert download.suggested_filename == ("memory-summaries_source-Walkthrough_units-GRU_positions-200_seed-3_"
                                           "article-True_stored-True.csv")
    rows = read_csv(open(download.path(), "rb").read())
    shown = table.inner_text()
    # ours, the article's and the shipped model's stored held-out figures (memory.json), 3 measures each
    assert list(rows["unit"].unique()) == ["GRU"] and len(rows) == 9
    assert rows["source"].unique().tolist() == ["this app's model", "article (published)", "stored: test split"]
    for value in rows["mean"]:
        assert f"{value:.3f}" in shown  # every number downloaded is the one on the page

    recall = page.locator('[data-testid="stTable"]').nth(1)
    expect(recall).to_contain_text("lift, read 100+ back")
    expect(recall).to_contain_text("23.0%")  # the article's GRU on the first "grammar", from its published row
    with page.expect_download() as info:
        page.locator('[data-testid="stDownloadButton"]').nth(6).get_by_role("button").click()  # the recall CSV
    assert info.value.suggested_filename.startswith("memory-recall_source-Walkthrough_units-GRU_")
    rows = read_csv(open(info.value.path(), "rb").read())
    shares = rows[(rows["recalled"] == "all") & (rows["measure"] == "share")]
    assert shares["source"].tolist() == ["this app's model", "article (published)", "stored: test split"]
    expect(recall).to_contain_text("1,642")  # the stored figures' recall moments, 300,000 test characters
    shown = recall.inner_text()
    for value in shares["mean"]:
        assert f"{100 * value:.1f}%" in shown

    page.locator('[data-testid="stMain"]').get_by_text("repetition", exact=True).click()  # the breakdown's kind
    breakdown = page.locator('[data-testid="stVegaLiteChart"]').nth(1)
    expect(breakdown).to_contain_text("rarer, already read in its sequence", timeout=90_000)
    wait_done(page)
    # the browser writes a bound widget's value into the address on its own schedule, after the run that drew
    # it (a widget that lost its place lost that binding: rnnmem/app/params.py, "Stable places"): wait for it
    expect(page).to_have_url(re.compile(r"[?&]by=repetition(&|$)"), timeout=30_000)
    page.locator('[data-testid="stMain"]').get_by_text("distance", exact=True).click()
    # the paragraph's one repeated rarer word, the second "grammar", was read 130 characters before
    expect(breakdown).to_contain_text("rarer, read 100+ characters back", timeout=90_000)
    wait_done(page)
    expect(page).to_have_url(re.compile(r"[?&]by=distance(&|$)"), timeout=30_000)
    assert_not_injected(page)
    log = server.log_text()
    assert "Traceback" not in log, log[-3000:]


def test_clicking_a_unit_in_the_profiles_legend_picks_it_out(server, page):
    """The caption's promise, in the browser: a click on "LSTM" in the profile's legend fades the other
    units' lines (to 0.15 opacity) and their legend entries; nothing is faded before."""
    open_page(page, f"{server.url}/memory?units=GRU&units=LSTM&positions=200&seed=3")
    profile = page.locator('[data-testid="stVegaLiteChart"]').first
    expect(profile.locator("svg text").filter(has_text="LSTM")).to_have_count(1, timeout=90_000)
    wait_done(page)
    faded = profile.locator('svg [opacity="0.15"]')
    assert faded.count() == 0
    label = profile.locator("svg text").filter(has_text="LSTM").bounding_box()
    # a click where the label is drawn (the chart's top svg element takes the pointer events)
    page.mouse.click(label["x"] + label["width"] / 2, label["y"] + label["height"] / 2)
    expect(faded.first).to_be_attached()
    assert faded.count() >= 2  # the GRU's two lines (ours and the article's), or their points
