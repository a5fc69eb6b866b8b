"""POST /api/datasets: an archive of labelled images is checked whole, and refused with the rows or files named,
before anything of it is stored."""

from __future__ import annotations

import io
import itertools
import tarfile
import zipfile

import pytest
from PIL import Image

from tests.service.helpers import toy_png

GRID = list(itertools.product(range(3), range(3), range(2)))  # identity, background, pose: 18 images


def toy_rows(rows=GRID, size: int = 32) -> dict[str, bytes]:
    files = {f"img/{i}-{b}-{p}.png": toy_png(i, b, p, size) for i, b, p in rows}
    labels = "file,identity,background,pose\n" + "".join(f"img/{i}-{b}-{p}.png,id{i},bg{b},pose{p}\n" for i, b, p in rows)
    return {**files, "labels.csv": labels.encode()}


def zipped(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return out.getvalue()


def tarred(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return out.getvalue()


def post(client, archive: bytes, name: str = "toys.zip", **form):
    return client.post("/api/datasets", files={"file": (name, archive, "application/octet-stream")},
                       data={"resolution": "32", **form})


def stored(services) -> list[str]:
    return list(services.store.blobs.keys("datasets/"))


def test_a_dataset_is_checked_stored_listed_and_deleted(no_worker_api):
    client, services = no_worker_api
    r = post(client, zipped(toy_rows()), name="toys.zip")
    assert r.status_code == 201, r.text
    ds = r.json()
    assert (ds["name"], ds["images"], ds["resolution"]) == ("toys.zip", 18, 32)
    assert ds["attributes"] == ["identity", "background", "pose"] and ds["values"]["pose"] == ["pose0", "pose1"]
    assert ds["counts"]["identity"] == {"id0": 6, "id1": 6, "id2": 6} and ds["warnings"] == []
    sheet = client.get(ds["contact_sheets"]["background"])
    assert sheet.status_code == 200 and Image.open(io.BytesIO(sheet.content)).height >= 3 * 48
    assert [d["id"] for d in client.get("/api/datasets").json()["datasets"]] == [ds["id"]]
    assert services.store.dataset_file(ds["id"], "images/img/0-0-0.png") == toy_png(0, 0, 0, 32)
    again = post(client, tarred(toy_rows()), name="toys.tar.gz")
    assert again.status_code == 201 and again.json()["images"] == 18
    assert client.delete(f"/api/datasets/{ds['id']}").status_code == 204
    assert client.get(f"/api/datasets/{ds['id']}").status_code == 404
    assert not any(k.startswith(f"datasets/{ds['id']}/") for k in stored(services))


def _without(files: dict[str, bytes], name: str) -> dict[str, bytes]:
    return {k: v for k, v in files.items() if k != name}


def _labels(files: dict[str, bytes], text: str) -> dict[str, bytes]:
    return {**files, "labels.csv": text.encode()}


GOOD = toy_rows()
LABELS = GOOD["labels.csv"].decode()
CASES = {
    "no labels.csv": (_without(GOOD, "labels.csv"), 422, "needs one labels.csv"),
    "listed, missing": (_without(GOOD, "img/1-1-1.png"), 422, "img/1-1-1.png"),
    "present, unlisted": ({**GOOD, "img/extra.png": toy_png(0, 0, 0)}, 422, "not listed in labels.csv: img/extra.png"),
    "not an image": ({**GOOD, "img/0-0-0.png": b"not a picture"}, 415, "img/0-0-0.png"),
    "one value": (_labels(GOOD, LABELS.replace(",pose1\n", ",pose0\n")), 422, "single value"),
    "too few images": (_labels(GOOD, LABELS.replace("img/0-0-0.png,id0,bg0,pose0", "img/0-0-0.png,id0,bg0,pose9")), 422,
                       "pose='pose9' (1)"),
    # two images that share all three values with each other and none with the rest
    "no partner": (_labels({**GOOD, "img/x1.png": toy_png(4, 5, 2), "img/x2.png": toy_png(4, 5, 3)},
                           LABELS + "img/x1.png,id4,bg5,pose2\nimg/x2.png,id4,bg5,pose2\n"), 422,
                   "2 image(s) have no partner"),
    "too small": (toy_rows(size=16), 422, "smaller than the resolution"),
    "too many attributes": (_labels(GOOD, LABELS.replace("pose\n", "pose," + ",".join(f"a{i}" for i in range(9)) + "\n")),
                            422, "at most 10"),
    "a path with ..": ({**GOOD, "../evil.png": toy_png(0, 0, 0)}, 422, "not a relative name"),
    # every problem of the files and the labels is said at once, not one per upload
    "missing and one value": (_labels(_without(GOOD, "img/1-1-1.png"), LABELS.replace(",pose1\n", ",pose0\n")), 422,
                              "2 problems: (1) 1 file(s) listed in labels.csv are not in the archive: img/1-1-1.png. "
                              "(2) attribute(s) with a single value"),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_a_bad_dataset_is_refused_with_the_reason_and_nothing_is_stored(no_worker_api, case):
    client, services = no_worker_api
    files, status, words = CASES[case]
    r = post(client, zipped(files))
    assert r.status_code == status and words in r.json()["detail"], (case, r.text)
    assert stored(services) == [] and client.get("/api/datasets").json()["datasets"] == []


def test_a_symlink_and_an_oversize_archive_are_refused(no_worker_api):
    client, services = no_worker_api
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tf:
        link = tarfile.TarInfo("img/link.png")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tf.addfile(link)
    r = post(client, out.getvalue(), name="x.tar")
    assert r.status_code == 422 and "link" in r.json()["detail"]
    services.settings.max_dataset_bytes = 1000
    r = post(client, zipped(GOOD))
    assert r.status_code == 413 and "DGAE_MAX_DATASET_BYTES" in r.json()["detail"]
    assert stored(services) == []
