"""Reading a page's state from its link: what each raw URL value means, and the one-line message for a value
the page cannot use. Pure functions over strings (no Streamlit), so every odd value a link can carry is
tested here (tests/test_properties.py); ``rnnmem.ui`` shows the messages under the page title.

The rules mirror what Streamlit's bound widgets do with the same value, so the message says what the
page then shows: a slider reads a number with Python's ``float`` syntax, drops values that are not
finite or out of range (the widget's default is used), and truncates a fractional one.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from urllib.parse import quote_plus

from .errors import quoted

SHOWN_CHARS = 40  # characters of a bad value quoted in a message
# The longest address the app promises to open, and the longest it writes: 8,000 characters fits the
# request-line limits of common proxies (nginx's 8 KB default) and every browser. Links come back from the
# pages' state, so the app cuts its own state (the longest text) to stay within this.
MAX_LINK_CHARS = 8_000
# Characters counted for the scheme, host and page path in front of the query when the page's own address
# is unknown (a page reads it from the browser: rnnmem.app.params.page_address_chars).
ORIGIN_ALLOWANCE = 200


def link_number(raw: str | None) -> float | None:
    """The finite number in a link value, as a bound slider reads it; None when absent or unusable."""
    if raw is None:
        return None
    try:
        number = float(raw)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def link_int(raw: str | None) -> int | None:
    """The whole number a bound integer slider takes from a link value (truncated), or None."""
    number = link_number(raw)
    return None if number is None else int(number)


def number_problem(raw: str | None, low: int, high: int, what: str, fallback: str) -> str | None:
    """Why the link's integer ``what`` cannot be used as it is (``fallback`` says what is shown instead),
    or None when it is absent, empty or a whole number in [low, high]."""
    if raw is None or raw == "":
        return None
    number = link_number(raw)
    if number is None:
        return f"The link's {what} {quoted(raw, SHOWN_CHARS)} is not a whole number; {fallback}."
    if not low <= number <= high:
        # the link's own value where it is not a plain whole number: 10.5 truncated would read "10 is out of
        # range (1 to 10)"
        shown = f"{int(number):,}" if abs(number) < 1e18 and number == int(number) else quoted(raw, SHOWN_CHARS)
        return f"The link's {what} {shown} is out of range ({low} to {high:,}); {fallback}."
    if number != int(number):
        return f"The link's {what} {quoted(raw, SHOWN_CHARS)} is not a whole number; using {int(number)}."
    return None


def choice_problem(raw: str | None, allowed: Sequence[str], what: str) -> str | None:
    if raw is None or raw == "" or raw in allowed:
        return None
    return f"The link's {what} {quoted(raw, SHOWN_CHARS)} is not one of {', '.join(allowed)}; using the default."


def choices_problem(values: Iterable[str], allowed: Sequence[str], what: str) -> str | None:
    """Message for the values of a list parameter outside ``allowed`` (the widget drops them)."""
    bad = [v for v in values if v != "" and v not in allowed]
    if not bad:
        return None
    shown = ", ".join(quoted(v, SHOWN_CHARS) for v in bad[:5])
    return f"The link asked for unknown {what} {shown}; ignored. Choose from: {', '.join(allowed)}."


def bool_problem(raw: str | None, what: str) -> str | None:
    if raw is None or raw == "" or raw.lower() in ("true", "false"):
        return None
    return f"The link's {what} setting {quoted(raw, SHOWN_CHARS)} is not true or false; using the default."


def text_problem(raw: str | None, limit: int) -> str | None:
    """Message when the link's text is longer than its box takes (the box keeps ``limit`` characters)."""
    if raw is None or len(raw) <= limit:
        return None
    return f"The link's text is {len(raw):,} characters; the box takes {limit:,}, so it was cut."


def unknown_params_problem(names: Iterable[str], known: Iterable[str]) -> str | None:
    """Message naming the link's parameters a page does not use (typos, or junk)."""
    known = set(known)
    unknown = [name for name in names if name not in known]
    if not unknown:
        return None
    shown = ", ".join(quoted(name, 30) for name in unknown[:5])
    return f"The link has parameters this page does not use ({shown}); they are ignored."


# ---- the link's length -----------------------------------------------------------------------------------

def _encoded(text: str) -> str:
    """``text`` as Streamlit writes it in a query (form encoding: a space is '+', UTF-8 bytes as %XX, every
    character but letters, digits and ``-_.~`` escaped): the server writes with ``urllib.parse.urlencode``,
    a bound widget in the browser with a strict ``encodeURIComponent``, which escapes ``!'()*`` too."""
    return quote_plus(text)


def link_length(params: Mapping[str, Sequence[str]], origin_chars: int = ORIGIN_ALLOWANCE) -> int:
    """Characters of a page's address with these query parameters, ``origin_chars`` of them in front of the
    query (scheme, host and page path)."""
    pairs = [f"{_encoded(name)}={_encoded(value)}" for name, values in params.items() for value in values]
    return origin_chars + 1 + len("&".join(pairs))


def cut_to_fit(text: str, budget: int, keep: str = "head") -> str:
    """The longest start (``keep="head"``) or end (``"tail"``) of ``text`` whose encoding in a link takes at
    most ``budget`` characters."""
    chars = text if keep == "head" else text[::-1]
    used = count = 0
    for char in chars:
        used += len(_encoded(char))
        if used > budget:
            break
        count += 1
    return text[:count] if keep == "head" else text[len(text) - count:]


def fit_link(params: Mapping[str, Sequence[str]], name: str, keep: str = "head",
             origin_chars: int = ORIGIN_ALLOWANCE) -> str | None:
    """When the address with ``params`` (``origin_chars`` in front of the query) is longer than
    ``MAX_LINK_CHARS``, the value of ``name`` cut so that it fits (see ``cut_to_fit``); None when it already
    fits."""
    if link_length(params, origin_chars) <= MAX_LINK_CHARS:
        return None
    value = params[name][-1] if params.get(name) else ""
    others = {key: values for key, values in params.items() if key != name}
    budget = MAX_LINK_CHARS - link_length({**others, name: [""]}, origin_chars)
    return cut_to_fit(value, max(budget, 0), keep)


__all__ = ["MAX_LINK_CHARS", "ORIGIN_ALLOWANCE", "link_length", "cut_to_fit", "fit_link", "link_number", "link_int", "number_problem", "choice_problem", "choices_problem", "bool_problem",
           "text_problem", "unknown_params_problem"]
