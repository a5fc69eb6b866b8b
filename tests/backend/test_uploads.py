"""The upload checks as pure functions: batch specs (CSV, JSON), batch zips, ids, images.

Every input must end as a value or an `UploadError` with a 4xx status, never another exception
(which the API would answer with a 500). The hypothesis tests fuzz the parsers for a bounded
number of examples (DGAE_FUZZ_EXAMPLES, default 300 each); the named cases are the ones that answered 500 before.
"""

from __future__ import annotations

import io
import json
import os
import struct
import zipfile
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from backend.api.bodies import json_depth, parse_spec
from backend.api.uploads import UploadError, check_image, read_zip
from core.store import valid_id
from tests.zips import central_offset, make_zip, patch_member

ATTRS = ["identity", "background", "pose"]
ZIP_LIMITS = {"max_member_bytes": 100_000, "max_total_bytes": 300_000, "max_files": 20}
# examples per fuzz test; DGAE_FUZZ_EXAMPLES=5000 for a longer hunt
FUZZ = settings(max_examples=int(os.environ.get("DGAE_FUZZ_EXAMPLES", "300")), deadline=None, database=None,
                suppress_health_check=list(HealthCheck))


def _outcome(fn: Any) -> Any:
    """The value, or the 4xx UploadError; anything else fails the test."""
    try:
        return fn()
    except UploadError as e:
        assert 400 <= e.status < 500 and isinstance(e.message, str) and e.message, (e.status, e.message)
        return e


def _png(colour: tuple[int, int, int] = (200, 30, 30), size: tuple[int, int] = (8, 8)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, format="PNG")
    return buf.getvalue()


# --- CSV and JSON specs ---

BAD_SPECS = {
    "csv extra cell": ("base,background\na.png,b.png,extra\n", "row 2"),
    "csv extra cells later": ("base,background\na.png,b.png\nb.png,a.png,more,cells\n", "row 3"),
    "csv field over 131072": ("base,background\n" + "a" * 131_073 + ",b.png\n", "CSV"),
    "csv bare CR": ("base,background\na.png,b\rx.png\n", "CSV"),
    "csv quote in a quoted field": ('base,background\n"a.png"x,b.png\n', "CSV"),
    "csv open quote": ('base,background\n"a.png,b.png\n', "CSV"),
    "csv empty column name": ("base,,background\na.png,,b.png\n", "column"),
    "csv column twice": ("base,base\na.png,b.png\n", "column"),
    "csv no base": ("background\nb.png\n", "base"),
    "json 100000 deep": ("[" * 100_000 + "]" * 100_000, "deep"),
    "json 5000 deep items": ('{"items": ' + "[" * 5_000 + "]" * 5_000 + "}", "deep"),
    "json unterminated": ('[{"base": "a.png"}', "JSON"),
    "json items not a list": ('{"items": 3}', "list"),
    "a number": ("3", "CSV"),
}


@pytest.mark.parametrize("text,words", list(BAD_SPECS.values()), ids=list(BAD_SPECS))
def test_bad_specs_are_422(text, words):
    with pytest.raises(UploadError) as e:
        parse_spec(text, ATTRS)
    assert e.value.status == 422 and words in e.value.message, e.value.message


def test_specs_that_parse():
    assert parse_spec("base,background,background_weight,pose\na.png,b.png,0.5,\nb.png,,,a.png\n", ATTRS) == [
        {"base": "a.png", "attributes": {"background": {"donor": "b.png", "weight": "0.5"}}},
        {"base": "b.png", "attributes": {"pose": {"donor": "a.png", "weight": 1.0}}}]
    assert parse_spec("base\r\na.png\r\n\r\nb.png\r\n", ATTRS) == [{"base": "a.png", "attributes": {}},
                                                                     {"base": "b.png", "attributes": {}}]
    assert parse_spec("base,seed\na.png,\n", ATTRS) == [{"base": "a.png", "attributes": {}}]  # short rows are fine
    items = [{"base": "a.png", "attributes": ["background"]}, {"base": "b.png", "attributes": "pose"}]
    assert parse_spec(json.dumps(items), ATTRS) == items  # a list of raw items; the route validates each
    assert parse_spec(json.dumps({"items": items}), ATTRS) == items
    deep_ok = {"items": [{"base": "a.png", "attributes": {"pose": {"donor": "b.png", "weight": 1}}}]}
    assert parse_spec(json.dumps(deep_ok), ATTRS) == deep_ok["items"]


_CSV_TEXT = st.lists(st.sampled_from(list('ab.png,"\r\n\x00 \t;') + ["\u2028", "é", "base", "background", "_weight"]),
                     max_size=80).map("".join)
_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=10),
                     lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
                     max_leaves=30)


def _check_items(result: Any) -> None:
    if not isinstance(result, UploadError):
        assert isinstance(result, list)


@FUZZ
@given(st.text(max_size=300))
def test_fuzz_any_text(text):
    _check_items(_outcome(lambda: parse_spec(text, ATTRS)))


@FUZZ
@given(st.sampled_from(["base", "base,background", "base,background,background_weight,pose,seed", "background,pose", ""]),
       _CSV_TEXT, st.integers(0, 140_000))
def test_fuzz_csv(header, body, long_field):
    text = f"{header}\n{body}" + ("\n" + "x" * long_field if long_field > 130_000 else "")
    _check_items(_outcome(lambda: parse_spec(text, ATTRS)))


@FUZZ
@given(_JSON, st.booleans())
def test_fuzz_json(value, wrap):
    text = json.dumps({"items": value} if wrap else value)
    _check_items(_outcome(lambda: parse_spec(text, ATTRS)))


_TRICKY_JSON = st.recursive(st.none() | st.integers() | st.text(alphabet='[]{}"\\ab,:', max_size=8),
                            lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(alphabet='[]{}"\\a', max_size=4),
                                                                                         inner, max_size=3),
                            max_leaves=40)


def _depth(value: Any) -> int:
    if isinstance(value, dict | list):
        return 1 + max([_depth(v) for v in (value.values() if isinstance(value, dict) else value)], default=0)
    return 0


@FUZZ
@given(_TRICKY_JSON, st.sampled_from([1, 2, 3, 5, 64, 1 << 18]))
def test_json_depth_ignores_brackets_in_strings(value, chunk):
    """The vectorised depth scan agrees with the parsed document, also when escapes straddle its chunks."""
    import backend.api.bodies as bodies

    text = json.dumps(value)
    old, bodies._DEPTH_CHUNK = bodies._DEPTH_CHUNK, chunk
    try:
        assert json_depth(text) == _depth(value), text
    finally:
        bodies._DEPTH_CHUNK = old


def test_json_depth_of_deep_and_broken_documents():
    assert json_depth("[" * 33 + "]" * 33) == 33 and json_depth("[" * 100_000) == 100_000
    assert json_depth('{"a": "[[[[\\"[[[", "b": [{"c": "\\\\"}]}') == 3
    assert json_depth("]]]]") <= 0 and json_depth(b"") == 0


# --- zips ---

@pytest.mark.filterwarnings("ignore:Duplicate name")
def test_zip_edge_cases():
    a, b = _png(), _png((10, 200, 10))
    assert read_zip(make_zip([("in/a.png", a), ("b.png", b), ("dir/", b""), ("__MACOSX/._a.png", b"x"), (".DS_Store", b"x")]),
                    **ZIP_LIMITS) == {"in/a.png": a, "b.png": b}
    cases = {
        "duplicate": (make_zip([("a.png", a), ("a.png", b)]), "twice"),
        "dotdot": (make_zip([("../a.png", a)]), "name"),
        "inner dotdot": (make_zip([("in/../../a.png", a)]), "name"),
        "absolute": (make_zip([("/etc/a.png", a)]), "name"),
        "backslash": (make_zip([("..\\a.png", a)]), "name"),
        "encrypted": (patch_member(make_zip([("a.png", a), ("b.png", b)]), "a.png", flags=0x1), "encrypted"),
        "method 99": (patch_member(make_zip([("a.png", a)]), "a.png", method=99), "a.png"),
        "method 14 (lzma) unreadable": (patch_member(make_zip([("a.png", a)]), "a.png", method=14), "a.png"),
        "bad crc": (make_zip([("a.png", a)]).replace(a[20:40], bytes(20)), "a.png"),
        "empty": (make_zip([]), "no files"),
        "not a zip": (b"PK\x03\x04 not really", "zip"),
    }
    link = zipfile.ZipInfo("link.png")
    link.external_attr = (0o120777 << 16)
    link.create_system = 3
    cases["symlink"] = (make_zip([(link, b"../../etc/passwd")]), "link")
    for what, (data, words) in cases.items():
        with pytest.raises(UploadError) as e:
            read_zip(data, **ZIP_LIMITS)
        assert 400 <= e.value.status < 500 and words in e.value.message, (what, e.value.message)


def test_zip_sizes_are_checked_by_real_bytes():
    big = b"\0" * 90_000  # compresses to almost nothing
    with pytest.raises(UploadError) as e:  # four members under the member limit, together over the total
        read_zip(make_zip([(f"{i}.png", big + bytes([i])) for i in range(4)], zipfile.ZIP_DEFLATED), **ZIP_LIMITS)
    assert e.value.status == 413
    lying = bytearray(make_zip([("a.png", big)], zipfile.ZIP_DEFLATED))
    central = central_offset(bytes(lying), "a.png")
    lying[central + 24:central + 28] = struct.pack("<I", 10)  # the central directory claims 10 bytes
    lying[22:26] = struct.pack("<I", 10)  # and so does the local header (the first member's, at offset 0)
    with pytest.raises(UploadError) as e:
        read_zip(bytes(lying), **{**ZIP_LIMITS, "max_member_bytes": 50_000})
    assert 400 <= e.value.status < 500


@FUZZ
@given(st.binary(max_size=2_000))
def test_fuzz_zip_any_bytes(data):
    _outcome(lambda: read_zip(data, **ZIP_LIMITS))


@FUZZ
@given(st.lists(st.tuples(st.text(alphabet="ab./\\é-_ ", min_size=1, max_size=12).filter(lambda n: n.strip("/")),
                          st.binary(max_size=300)), min_size=1, max_size=4),
       st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA]),
       st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=6))
def test_fuzz_zip_mutations(files, method, flips):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names
        data = bytearray(make_zip(files, method))
    for pos, value in flips:
        data[pos % len(data)] = value
    result = _outcome(lambda: read_zip(bytes(data), **ZIP_LIMITS))
    if not isinstance(result, UploadError):
        assert isinstance(result, dict) and all(isinstance(v, bytes) for v in result.values())


# --- ids ---

def test_ids_are_matched_whole():
    assert valid_id("a" * 32) and valid_id("0123456789abcdef" * 4)
    for bad in ("a" * 32 + "\n", "a" * 64 + "\n", "\n" + "a" * 32, "A" * 32, "a" * 31, "a" * 65, "a" * 32 + " ", "../" + "a" * 32):
        assert not valid_id(bad), repr(bad)


# --- images ---

def _jpeg(size: tuple[int, int]) -> bytes:
    buf = io.BytesIO()
    Image.radial_gradient("L").resize(size).convert("RGB").save(buf, format="JPEG", quality=80)
    return buf.getvalue()


def test_jpeg_is_verified_without_a_full_size_decode():
    data = _jpeg((1600, 1200))
    facts = check_image(data, max_pixels=10_000_000)
    assert (facts.format, facts.width, facts.height) == ("JPEG", 1600, 1200)
    with pytest.raises(UploadError) as e:
        check_image(data[: len(data) // 2], max_pixels=10_000_000)  # truncated: still found with a reduced decode
    assert e.value.status == 422
    with pytest.raises(UploadError) as e:
        check_image(data, max_pixels=1_000_000)
    assert e.value.status == 413


def _small(fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.radial_gradient("L").resize((40, 24)).convert("RGBA" if fmt != "JPEG" else "RGB").save(buf, format=fmt)
    return buf.getvalue()


SMALL = {fmt: _small(fmt) for fmt in ("PNG", "JPEG", "WEBP")}


@FUZZ
@given(st.sampled_from(sorted(SMALL)), st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=6),
       st.integers(0, 10_000))
def test_fuzz_images(fmt, flips, cut):
    data = bytearray(SMALL[fmt])
    for pos, value in flips:
        data[pos % len(data)] = value
    result = _outcome(lambda: check_image(bytes(data[: max(1, cut)]) if cut < len(data) else bytes(data), max_pixels=100_000,
                                          max_decodes=2))
    if not isinstance(result, UploadError):
        assert result.format in ("PNG", "JPEG", "WEBP")
