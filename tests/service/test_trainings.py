"""Your own data, your own model, through the API: a dataset is uploaded, trained on a training worker (a process of
its own beside the model worker), registered, and edited in, with no restart."""

from __future__ import annotations

import httpx

from tests.backend.test_datasets import GRID, zipped
from tests.service.helpers import toy_png, wait_image, wait_job
from tests.stack import Stack, wait_for


def test_a_dataset_becomes_a_model_that_serves_edits(tiny_model):
    with Stack(tiny_model) as st:
        st.start_worker()
        st.start_worker(env={"DGAE_WORKER_MODELS": "none", "DGAE_WORKER_TRAIN": "1"})
        st.url = st.start_api()
        st.wait_healthy(st.url, workers=2)
        with httpx.Client(base_url=st.url, timeout=60) as client:
            files = {f"{i}{b}{p}.png": toy_png(i, b, p, 16) for i, b, p in GRID}
            labels = "file,vehicle,ground,view\n" + "".join(f"{i}{b}{p}.png,v{i},g{b},w{p}\n" for i, b, p in GRID)
            ds = client.post("/api/datasets", files={"file": ("mine.zip", zipped({**files, "labels.csv": labels.encode()}))},
                             data={"resolution": "16"})
            assert ds.status_code == 201, ds.text
            body = {"dataset": ds.json()["id"], "name": "my-toys", "steps": 30}
            job = client.post("/api/trainings", json=body)
            assert job.status_code == 202 and job.json()["kind"] == "train", job.text
            done = wait_job(client, job.json()["id"], timeout=300)
            assert done["state"] == "succeeded", (done, st.logs())
            assert done["model"] == "my-toys" and done["progress"] == {"done": 30, "total": 30}
            assert done["training"]["stage"] == "done" and done["training"]["losses"]  # [step, loss], about 1/s
            assert all(1 <= step <= 30 and loss > 0 for step, loss in done["training"]["losses"])
            entry = wait_for(lambda: next((m for m in client.get("/api/models").json()["models"]
                                           if m["name"] == "my-toys" and m["status"] == "ready"), None), 30,
                             what="the trained model served")
            assert entry["attributes"] == ["vehicle", "ground", "view"] and entry["value_edits"] is True
            assert entry["values"]["ground"] == ["g0", "g1", "g2"] and not entry["shipped"]
            image = client.post("/api/images", files={"file": ("x.png", toy_png(1, 2, 0, 16), "image/png")},
                                data={"model": "my-toys"}).json()
            assert wait_image(client, image["id"])["status"] == "ready"
            r = client.post("/api/recombine?wait=60", json={"base": image["id"],
                                                            "attributes": {"ground": {"value": "g0"}}})
            assert r.status_code == 200, r.text
            again = client.post("/api/trainings", json=body)
            assert again.status_code == 409 and "my-toys" in again.json()["detail"]
            assert client.post("/api/trainings", json={**body, "dataset": "f" * 32, "name": "other"}).status_code == 404
