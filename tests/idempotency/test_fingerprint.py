"""The request fingerprint: the same JSON in any layout is one request; anything it says
differently, down to a number's last digit, is another."""

from __future__ import annotations

import json

from hypothesis import assume, given
from hypothesis import strategies as st

from endcap.idempotency.fingerprint import StreamedFingerprint, canonical_body, fingerprint

PATH = "/api/v1/campaigns"


def same(a: bytes, b: bytes) -> bool:
    return fingerprint("POST", PATH, a) == fingerprint("POST", PATH, b)


def test_key_order_whitespace_and_escapes_do_not_count() -> None:
    compact = b'{"name":"K\xc3\xa4se","skus":["a","b"],"cap":2}'
    assert same(compact, b'{\n  "cap": 2,\n  "skus": [ "a", "b" ],\n  "name": "K\\u00e4se"\n}')
    assert canonical_body(compact) == '{"cap":2,"name":"Käse","skus":["a","b"]}'.encode()


def test_nested_objects_are_sorted_too_but_lists_keep_their_order() -> None:
    assert same(b'{"a":{"y":1,"x":2}}', b'{"a":{"x":2,"y":1}}')
    assert not same(b'{"skus":["a","b"]}', b'{"skus":["b","a"]}')


def test_numbers_keep_the_text_they_were_sent_in() -> None:
    # The handlers read amounts as exact decimals, and one float would hold both of these.
    assert not same(b'{"budget":100000.000000000000001}', b'{"budget":100000}')
    assert not same(b'{"budget":1.10}', b'{"budget":1.1}')
    assert not same(b'{"budget":"1.10"}', b'{"budget":1.10}')  # a string is not a number
    assert same(b'{"budget": 1.10 }', b'{"budget":1.10}')


def test_values_and_the_path_still_count() -> None:
    assert not same(b'{"cap":2}', b'{"cap":3}')
    assert not same(b'{"cap":null}', b"{}")
    assert not same(b'{"on":true}', b'{"on":false}')
    assert fingerprint("POST", PATH, b"{}") != fingerprint("POST", PATH + "/x/book", b"{}")


def test_a_body_that_is_not_json_is_taken_as_sent() -> None:
    for raw in (b"", b"name=x&kind=agency", b'{"name": ', b"\xff\xfe{}", b"[" * 100_000):
        assert canonical_body(raw) == raw
    assert not same(b"name=x", b"name=x ")


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(JSON)
def test_any_layout_of_one_document_is_one_request(document: object) -> None:
    compact = json.dumps(document, separators=(",", ":")).encode()
    pretty = json.dumps(document, indent=2, sort_keys=True, ensure_ascii=True).encode()
    assert same(compact, pretty)
    assert json.loads(canonical_body(compact)) == document


def test_an_if_match_is_part_of_the_request() -> None:
    assert fingerprint("POST", PATH, b"", if_match='"3"') != fingerprint("POST", PATH, b"")
    assert fingerprint("POST", PATH, b"", if_match='"3"') != fingerprint(
        "POST", PATH, b"", if_match='"4"'
    )
    # Without one, a fingerprint is what it was before If-Match counted (records kept).
    assert fingerprint("POST", PATH, b"{}") == fingerprint("POST", PATH, b"{}", if_match=None)


UPLOAD = "/api/v1/ingest/products"


def _multipart(content: bytes, boundary: str) -> bytes:
    return (
        f'--{boundary}\r\nContent-Disposition: form-data; name="data"; filename="p.csv"\r\n'
        f"Content-Type: text/csv\r\n\r\n".encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )


def _streamed(body: bytes, boundary: str | None, cuts: list[int]) -> str:
    content_type = f'multipart/form-data; boundary="{boundary}"' if boundary else "text/csv"
    hashing = StreamedFingerprint("POST", UPLOAD, content_type=content_type)
    start = 0
    for cut in [*sorted({min(c, len(body)) for c in cuts}), len(body)]:
        hashing.update(body[start:cut])
        start = cut
    return hashing.hexdigest()


BOUNDARY = st.text(alphabet="0123456789abcdefABCDEF-_'", min_size=1, max_size=70)


@given(st.binary(max_size=400), BOUNDARY, BOUNDARY, st.lists(st.integers(0, 600), max_size=8))
def test_an_upload_is_one_request_however_it_is_cut_and_whatever_its_boundary(
    content: bytes, first: str, second: str, cuts: list[int]
) -> None:
    # A boundary never occurs in what it delimits (RFC 2046): that is how one is chosen.
    assume(all(f"--{b}".encode() not in content for b in (first, second)))
    sent, resent = _multipart(content, first), _multipart(content, second)
    assert _streamed(sent, first, []) == _streamed(resent, second, cuts)


@given(st.binary(max_size=200), st.binary(max_size=200), st.lists(st.integers(0, 300), max_size=5))
def test_another_file_is_another_request(a: bytes, b: bytes, cuts: list[int]) -> None:
    boundary = "f" * 32
    same_file = _streamed(_multipart(a, boundary), boundary, cuts) == _streamed(
        _multipart(b, boundary), boundary, []
    )
    assert same_file == (a == b)
    # A body that is not multipart is hashed exactly as sent.
    assert (_streamed(a, None, cuts) == _streamed(b, None, [])) == (a == b)
