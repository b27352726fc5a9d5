import gzip
import hashlib
import http.server
import io
import lzma
import threading
import zipfile
from functools import partial

import pytest

from rnnmem import corpus
from rnnmem.corpus import (CorpusError, RemoteCorpus, download_corpus, load_corpus, read_corpus_bytes,
                           read_text_file)
from rnnmem.text import encode_chars, normalize, words_read_before


def test_normalize_applies_text8_rules():
    assert normalize("Hello, World! 42 times") == " hello world four two times"
    assert normalize("  Ça   va? ") == " a va "  # non-ASCII letters are not letters in text8
    assert normalize("parts of ") == " parts of "  # a trailing space means a new word is starting
    assert normalize("parts of ", keep_trailing_space=False) == " parts of"
    assert normalize("") == "" and normalize("?!…") == ""
    assert normalize("<script>alert(1)</script>") == " script alert one script "


def test_normalize_is_idempotent_on_clean_text():
    clean = " anarchism is a political philosophy"
    assert normalize(clean) == clean


def test_encode_chars_maps_the_28_symbol_alphabet():
    assert encode_chars(" az").tolist() == [1, 2, 27]
    with pytest.raises(ValueError):
        encode_chars(" A")


def test_read_local_corpus_formats(tmp_path):
    text = b" the cat sat"
    (tmp_path / "a.txt").write_bytes(text)
    (tmp_path / "a.xz").write_bytes(lzma.compress(text))
    (tmp_path / "a.gz").write_bytes(gzip.compress(text))
    with zipfile.ZipFile(tmp_path / "a.zip", "w") as z:
        z.writestr("a", text)
    for name in ("a.txt", "a.xz", "a.gz", "a.zip"):
        assert read_corpus_bytes(tmp_path / name) == text
    with pytest.raises(CorpusError, match="not found"):
        read_corpus_bytes(tmp_path / "missing.txt")
    (tmp_path / "bad.xz").write_bytes(b"not xz")
    with pytest.raises(CorpusError, match="could not read"):
        read_corpus_bytes(tmp_path / "bad.xz")


def test_load_corpus_normalises_raw_text(tmp_path):
    (tmp_path / "raw.txt").write_text("The Cat, 2 dogs.")
    text, description = load_corpus(str(tmp_path / "raw.txt"))
    assert text == " the cat two dogs "
    assert "raw.txt" in description


def test_a_clean_looking_corpus_with_a_double_space_past_the_sample_is_normalised(tmp_path):
    """Two clean files joined ("…end " + " start…") look normalised in their first 100,000 characters; the
    double space would otherwise become an empty word of the vocabulary."""
    (tmp_path / "joined.txt").write_text(" word" * 30_000 + "  first second")
    text, _ = load_corpus(str(tmp_path / "joined.txt"))
    assert "  " not in text and text.endswith(" first second")


@pytest.fixture
def file_server(tmp_path):
    """A local HTTP file server standing in for text8's home."""
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield tmp_path, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _zip_bytes(text: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("text8", text)
    return buffer.getvalue()


def test_download_verifies_size_and_checksum(file_server):
    folder, url = file_server
    text = b" anarchism originated as a term"
    payload = _zip_bytes(text)
    (folder / "text8.zip").write_bytes(payload)
    good = RemoteCorpus("mini8", f"{url}/text8.zip", len(payload), hashlib.sha256(text).hexdigest(), "test")
    path = download_corpus(good)
    assert path.read_bytes() == text
    assert download_corpus(good) == path  # cached: no second download

    wrong_size = RemoteCorpus("mini8b", good.url, len(payload) + 1, good.text_sha256, "test")
    with pytest.raises(CorpusError, match="expected"):
        download_corpus(wrong_size)
    wrong_sum = RemoteCorpus("mini8c", good.url, len(payload), "0" * 64, "test")
    with pytest.raises(CorpusError, match="checksum"):
        download_corpus(wrong_sum)
    assert not (corpus.cache_dir() / "mini8c").exists()  # nothing half-verified is kept


def test_download_offline_gives_a_clear_error(file_server):
    _, url = file_server
    missing = RemoteCorpus("mini8d", f"{url}/nothing.zip", 10, "0" * 64, "test")
    with pytest.raises(CorpusError, match="--corpus PATH"):
        download_corpus(missing)
    unreachable = RemoteCorpus("mini8e", "http://127.0.0.1:9/text8.zip", 10, "0" * 64, "test")
    with pytest.raises(CorpusError, match="could not download"):
        download_corpus(unreachable, timeout=2)


def test_the_corpus_text8_is_the_verified_download(tmp_path, monkeypatch):
    """``--corpus text8`` goes through the checked download of TEXT8 (never an unverified file), and its
    text is used as it is when it is already text8-clean."""
    asked = []
    (tmp_path / "text8").write_bytes(b" anarchism originated as a term")

    def fake_download(remote):
        asked.append(remote)
        return tmp_path / "text8"

    monkeypatch.setattr(corpus, "download_corpus", fake_download)
    text, description = load_corpus("text8")
    assert asked == [corpus.TEXT8] and text == " anarchism originated as a term"
    assert corpus.TEXT8.url in description and "CC BY-SA" in description


def test_read_text_file_normalises_across_chunk_boundaries(tmp_path, monkeypatch):
    """Words, digits and multi-byte characters cut by a chunk boundary come out as if read whole."""
    text = "Grammar 1984 naïve—CAFÉ, the united States: 42 écoles!\n" * 50
    path = tmp_path / "text.txt"
    path.write_text(text, encoding="utf-8")
    for chunk in (1, 2, 3, 7, 64):
        monkeypatch.setattr(corpus, "_CHUNK_BYTES", chunk)
        assert read_text_file(path) == normalize(text, keep_trailing_space=False)


def test_read_text_file_stops_at_max_chars_and_refuses_endless_files(tmp_path, monkeypatch):
    monkeypatch.setattr(corpus, "_CHUNK_BYTES", 100)
    path = tmp_path / "text.txt"
    path.write_text("the cat sat on a mat " * 10_000)  # 210,000 bytes
    start = read_text_file(path, max_chars=1000)
    assert 1000 <= len(start) <= 1000 + 100 and normalize(path.read_text()).startswith(start)
    with pytest.raises(CorpusError, match="larger than 50,000 bytes"):
        read_text_file(path, max_bytes=50_000)
    with pytest.raises(CorpusError, match="only 0 characters of text in its first 50,000 bytes"):
        read_text_file("/dev/zero", max_chars=10, max_bytes=50_000)
    with pytest.raises(CorpusError, match="cannot read"):
        read_text_file(tmp_path)


def test_words_read_before_are_the_words_ended_before_the_current_one():
    text = " the grammar of grammar g"
    assert words_read_before(text, 0) == frozenset()  # the first word's leading space: nothing read yet
    assert words_read_before(text, text.index("grammar") + 3) == {"the"}  # inside the first "grammar"
    assert words_read_before(text, text.index(" of")) == {"the", "grammar"}  # the space before "of"
    assert words_read_before(text, len(text) - 1) == {"the", "grammar", "of"}  # typing "g", after 4 words
    assert words_read_before(" a b ", 4) == {"a", "b"}  # after a trailing space: the next word, all read
