import pytest

from diffusegae.data import toys
from diffusegae.data.folder import DatasetError, load_folder


def _write(tmp_path, rows, header="file,shape,colour", images=None):
    for name in images if images is not None else {r.split(",")[0] for r in rows}:
        toys.render(0, 0, 0, 24).save(tmp_path / name)
    (tmp_path / "labels.csv").write_text("\n".join([header, *rows]) + "\n")
    return tmp_path, tmp_path / "labels.csv"


GOOD = ["a.png,circle,red", "b.png,square,red", "c.png,circle,blue", "d.png,square,blue"]


def test_loads_string_values(tmp_path):
    data = load_folder(*_write(tmp_path, GOOD), resolution=16)
    assert data.images.shape == (4, 3, 16, 16)
    assert data.attributes == ("shape", "colour")
    assert data.values == (("circle", "square"), ("blue", "red"))


def test_missing_image_names_the_row(tmp_path):
    d, csv = _write(tmp_path, GOOD + ["e.png,square,red"], images=["a.png", "b.png", "c.png", "d.png"])
    with pytest.raises(DatasetError, match=r"row 6: image 'e.png' not found"):
        load_folder(d, csv)


def test_unreadable_image(tmp_path):
    d, csv = _write(tmp_path, GOOD)
    (d / "c.png").write_bytes(b"not an image")
    with pytest.raises(DatasetError, match=r"row 4: cannot read image 'c.png'"):
        load_folder(d, csv)


def test_missing_column(tmp_path):
    with pytest.raises(DatasetError, match="missing column 'file'"):
        load_folder(*_write(tmp_path, ["a.png,circle"], header="image,shape", images=["a.png"]))
    with pytest.raises(DatasetError, match="at least 2 attribute columns"):
        load_folder(*_write(tmp_path, ["a.png,circle"], header="file,shape", images=["a.png"]))


def test_short_row(tmp_path):
    with pytest.raises(DatasetError, match="row 3: 2 fields, expected 3"):
        load_folder(*_write(tmp_path, ["a.png,circle,red", "b.png,square"], images=["a.png", "b.png"]))


def test_single_valued_attribute(tmp_path):
    rows = ["a.png,circle,red", "b.png,square,red"]
    with pytest.raises(DatasetError, match="attribute 'colour' has one value only"):
        load_folder(*_write(tmp_path, rows))


def test_no_group_can_form(tmp_path):
    rows = ["a.png,circle,red", "b.png,square,blue"]
    with pytest.raises(DatasetError, match="GROUP"):
        load_folder(*_write(tmp_path, rows))
