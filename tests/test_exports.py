"""Downloads: charts as SVG and PNG, tables and matrices as CSV and JSON, parsed back and compared with what
the views show; file names from a view's link state."""

import io
import json
import re
import xml.etree.ElementTree as ElementTree

import numpy as np
import pandas as pd
import pytest

from rnnmem import charts
from rnnmem.analysis import connectivity_matrix
from rnnmem.attribution_methods import attribution
from rnnmem.exports import (MAX_NAME_CHARS, chart_png, chart_svg, export_name, frame_csv, frame_json, matrix_frame,
                            vega_lite_spec)

TEXT = "the cat sat on a mat"


@pytest.fixture(scope="module")
def shown(tiny_models):
    """The Connectivity page's view of one position: its chart frame, spec and download table."""
    row = attribution(tiny_models["gru"], TEXT, 12, "grad_x_input")
    frame = charts.connectivity_text_frame(row.text, row.scaled_row(), 12, raw=row.values)
    return row, charts.connectivity_text_spec(frame), charts.connectivity_table(frame, "grad_x_input")


def test_a_rows_csv_and_json_parse_back_to_the_values_shown(shown):
    row, spec, table = shown
    chart_data = spec["datasets"]["chars"]  # what the chart draws
    for parsed in (pd.read_csv(io.BytesIO(frame_csv(table)), keep_default_na=False),
                   pd.DataFrame(json.loads(frame_json(table)))):
        assert list(parsed.columns) == ["position", "char", "seen", "grad_x_input", "scaled", "state"]
        assert "".join(parsed["char"]) == row.text
        np.testing.assert_allclose(parsed["grad_x_input"], row.values, rtol=1e-12)  # signed, as computed
        np.testing.assert_allclose(parsed["grad_x_input"], chart_data["raw"], rtol=1e-12)
        np.testing.assert_allclose(parsed["scaled"], chart_data["connectivity"], rtol=1e-12)
        assert (parsed["scaled"] >= 0).all() and parsed["scaled"].max() == pytest.approx(1.0)
        assert list(parsed["state"]).count("selected") == 1 and parsed["state"][12] == "selected"


def test_the_matrix_csv_and_json_parse_back_to_the_matrix(tiny_models):
    result = connectivity_matrix(tiny_models["lstm"], TEXT)
    table = matrix_frame(result.connectivity, result.text, result.desired)
    parsed = pd.read_csv(io.BytesIO(frame_csv(table)), keep_default_na=False)
    np.testing.assert_allclose(parsed[[str(i) for i in range(len(TEXT) + 1)]].to_numpy(), result.connectivity,
                               rtol=1e-7)
    assert list(parsed["desired"]) == result.desired and "".join(parsed["char"]) == result.text
    records = json.loads(frame_json(table))
    assert records[5]["desired"] == "cat" and records[5]["5"] == pytest.approx(float(result.connectivity[5, 5]))
    with pytest.raises(ValueError, match="must be"):
        matrix_frame(result.connectivity[:3], result.text)


def test_a_chart_downloads_as_svg_and_png(shown):
    row, spec, _ = shown
    svg = chart_svg(spec)
    root = ElementTree.fromstring(svg)  # well-formed XML
    assert root.tag.endswith("svg")
    drawn = "".join(element.text or "" for element in root.iter() if element.tag.endswith("text"))
    assert drawn.replace(" ", "") == row.text.replace(" ", "")  # every character of the text, in order
    png = chart_png(spec, scale=1)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")  # the IHDR chunk
    assert spec["width"] <= width <= spec["width"] + 20 and spec["height"] <= height <= spec["height"] + 20  # padding
    double = chart_png(spec)  # PNG_SCALE
    assert (int.from_bytes(double[16:20], "big"), int.from_bytes(double[20:24], "big")) == (2 * width, 2 * height)


def svg_texts(svg: bytes) -> list[str]:
    return [element.text for element in ElementTree.fromstring(svg).iter()
            if element.tag.endswith("text") and element.text]


def png_size(png: bytes) -> tuple[int, int]:
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")  # the IHDR chunk


@pytest.mark.parametrize("colours", list(charts.COLOUR_MAPPINGS))
def test_a_downloaded_row_carries_its_own_colour_scale_and_a_title(shown, colours):
    """On the page one colour scale serves every row; a row taken out of the page (a download) draws its
    own below the text, coloured as the cells are and named as the attribution, and a title saying whose
    row, which word and where."""
    row, _, _ = shown
    frame = charts.connectivity_text_frame(row.text, row.scaled_row(), 12, raw=row.values)
    spec = charts.connectivity_text_spec(frame, colours=colours, titles=("|grad × input| / max", "grad × input"))
    title = charts.connectivity_title("GRU", "grad × input", row.word, row.text, 12)
    assert title == f"GRU: grad × input of “{row.word}” at character 12, a space"  # TEXT[12]
    figure = charts.connectivity_figure(spec, colours=colours, value="grad × input", title=title)
    text_part, scale_part = figure["vconcat"]
    assert scale_part["encoding"]["fill"]["scale"] == text_part["layer"][0]["encoding"]["fill"]["scale"]
    assert ("fillOpacity" in scale_part["encoding"]) == (colours == "faded")
    assert figure["datasets"]["chars"] is frame  # the row's data is not copied
    drawn = svg_texts(chart_svg(figure))
    characters = len(row.text.replace(" ", ""))
    assert "".join(drawn[:characters]) == row.text.replace(" ", "")  # the text first, then the scale
    assert drawn[characters:] == ["0", "0.25", "0.5", "0.75", "1", "|grad × input| / row maximum", title]
    (alone_width, alone_height), (width, height) = png_size(chart_png(spec, scale=1)), png_size(
        chart_png(figure, scale=1))
    assert width >= alone_width and height > alone_height + 40  # the title and the scale, beside nothing
    from PIL import Image

    corner = Image.open(io.BytesIO(chart_png(figure, scale=1))).convert("RGBA").getpixel((0, 0))
    assert corner == (255, 255, 255, 255)  # on white, readable in any viewer (the page's rows are transparent)
    plain = charts.connectivity_figure(spec, colours=colours)
    assert "title" not in plain and "connectivity / row maximum" in svg_texts(chart_svg(plain))


def test_an_altair_chart_downloads_and_its_spec_is_plain_json():
    frame = charts.accuracy_frame([("gru", "here", {"accuracy_by_chars_seen": {"top1": [0.2, 0.5, 0.7]}})],
                                  topk=[1])
    chart = charts.accuracy_chart(frame)
    assert ElementTree.fromstring(chart_svg(chart)).tag.endswith("svg")
    spec = vega_lite_spec(charts.connectivity_text_spec(charts.connectivity_text_frame(" ab", np.ones(3), 2)))
    assert json.loads(json.dumps(spec))["datasets"]["chars"][1]["char"] == "a"


def test_file_names_say_the_view_and_its_state_in_safe_characters():
    name = export_name("connectivity-gru", {"units": ["GRU", "LSTM"], "pos": 12, "method": "integrated_gradients",
                                            "target": "top-2", "empty": ""}, "svg")
    assert name == "connectivity-gru_units-GRU+LSTM_pos-12_method-integrated-gradients_target-top-2.svg"
    hostile = {"text": '<img src=x onerror=alert(1)> ../../etc/passwd é😀 ' * 50, "pos": 3}
    long = export_name("connectivity", hostile, "csv")
    assert re.fullmatch(r"[A-Za-z0-9_+.-]+", long) and len(long) <= MAX_NAME_CHARS and long.endswith(".csv")
    assert ".." not in long and "/" not in long
    other = export_name("connectivity", {**hostile, "text": hostile["text"] + "x"}, "csv")
    assert other != long  # a cut value leaves a hash of the whole state
    many = export_name("v", {f"key{i}": "value" * 5 for i in range(40)}, "json")
    assert len(many) <= MAX_NAME_CHARS and re.search(r"_[0-9a-f]{8}\.json$", many)
    assert export_name("", {}, "") == "view"
