import random

import pytest
from helpers.pages import SEED, full_page, traditional
from hypothesis import given, settings
from hypothesis import strategies as st

from bannedbook.errors import Rejected
from bannedbook.text.decode import _looks_binary, declared_charset, decode


def test_utf8_and_bom():
    assert decode(SEED.encode()).encoding == "utf-8"
    decoded = decode(b"\xef\xbb\xbf" + SEED.encode())
    assert decoded.encoding == "utf-8-sig" and decoded.text == SEED


def test_declared_gbk_uses_superset():
    decoded = decode(full_page("gb2312").encode("gb18030"))
    assert decoded.encoding == "gb18030"
    assert "哈萨克斯坦" in decoded.text


def test_undeclared_gb18030_is_detected():
    decoded = decode(SEED.encode("gb18030"))
    assert decoded.encoding == "gb18030"
    assert decoded.text == SEED


def test_declared_big5():
    page = traditional(full_page("big5"))
    decoded = decode(page.encode("big5", "xmlcharrefreplace"))
    assert decoded.encoding in ("cp950", "big5hkscs")
    assert "哈薩克斯坦" in decoded.text


def test_declared_charset_variants():
    assert declared_charset(b'<meta charset="GBK">') == "gbk"
    assert declared_charset(b"<meta http-equiv='Content-Type' content='text/html; charset=big5'>") == "big5"
    assert declared_charset(b"<p>no meta</p>") is None


def test_wrong_declaration_falls_back_with_warning():
    decoded = decode(full_page("big5").encode("utf-8"))
    assert decoded.encoding == "utf-8"
    assert "declares charset big5" in decoded.warning


@pytest.mark.parametrize("data", [b"", b"   \n", random.Random(1).randbytes(5000), bytes(range(32)) * 50])
def test_rejects_empty_and_binary(data):
    with pytest.raises(Rejected):
        decode(data)


def test_truncated_mid_character_keeps_the_rest():
    data = SEED.encode()
    cut = data[: len(data) // 2]
    while cut[-1] & 0xC0 == 0x80 or cut[-1] < 0x80:  # end inside a multi-byte character
        cut = cut[:-1]
    decoded = decode(cut)
    assert decoded.encoding == "utf-8" and "truncated" in decoded.warning


def test_a_few_bad_bytes_in_utf8_are_replaced_not_guessed():
    data = SEED.encode()
    middle = len(data) // 2
    corrupt = data[:middle] + b"\xff" + data[middle:]
    decoded = decode(corrupt)
    assert decoded.encoding == "utf-8"
    assert decoded.text.count("\ufffd") >= 1
    assert "普京" in decoded.text


@settings(max_examples=200, deadline=None, database=None)
@given(st.text(st.sampled_from("中a \t\n\r\f\x00\x01\x08\x0b\x0e\x1f\x7f"), max_size=400))
def test_binary_means_more_control_characters_than_one_in_a_hundred(text):
    controls = sum(1 for char in text if char < " " and char not in "\t\n\r\f")
    assert _looks_binary(text) == (controls > max(2, len(text) // 100))
