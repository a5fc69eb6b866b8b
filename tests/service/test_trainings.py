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


def _upload(client: httpx.Client) -> str:
    files = {f"{i}{b}{p}.png": toy_png(i, b, p, 16) for i, b, p in GRID}
    labels = "file,vehicle,ground,view\n" + "".join(f"{i}{b}{p}.png,v{i},g{b},w{p}\n" for i, b, p in GRID)
    ds = client.post("/api/datasets", files={"file": ("mine.zip", zipped({**files, "labels.csv": labels.encode()}))},
                     data={"resolution": "16"})
    assert ds.status_code == 201, ds.text
    return ds.json()["id"]


def _training(client: httpx.Client, job_id: str) -> dict:
    return client.get(f"/api/jobs/{job_id}").json()


def test_a_killed_training_worker_s_training_continues_from_its_checkpoint_and_a_cancelled_one_resumes(tiny_model):
    """SIGKILL of the training worker mid-GAE: the job is redelivered to a new training worker, which continues from
    the last checkpoint in the store (not step 0); cancelled, the job keeps that checkpoint, and POST .../resume
    continues it in a new job to a served model."""
    train_env = {"DGAE_WORKER_MODELS": "none", "DGAE_WORKER_TRAIN": "1"}
    with Stack(tiny_model) as st:
        st.start_worker()
        trainer = st.start_worker(env=train_env)
        st.url = st.start_api()
        st.wait_healthy(st.url, workers=2)
        with httpx.Client(base_url=st.url, timeout=60) as client:
            body = {"dataset": _upload(client), "name": "resumed-toys", "steps": 80, "checkpoint_every": 10}
            first = client.post("/api/trainings", json=body).json()["id"]
            at = wait_for(lambda: (_training(client, first)["training"]["checkpoint_step"] or 0) >= 10 or None, 300,
                          0.02, what="the first checkpoint")
            trainer.kill()  # SIGKILL, mid-GAE
            trainer.wait()
            killed_at = _training(client, first)
            assert killed_at["state"] == "running" and killed_at["progress"]["done"] < 80, killed_at
            st.start_worker(env=train_env)
            again = wait_for(lambda: (j := _training(client, first))["training"]["resumed_step"] and j, 120,
                             what="the training redelivered to the new worker")
            checkpoint = killed_at["training"]["checkpoint_step"]
            assert at and again["training"]["resumed_step"] == checkpoint >= 10, (again, st.logs())
            assert again["progress"]["done"] >= checkpoint  # from the checkpoint, not from step 0
            assert [s for s, _ in again["training"]["losses"]] == sorted(s for s, _ in again["training"]["losses"])
            later = wait_for(lambda: (j := _training(client, first))["training"]["checkpoint_step"] > checkpoint and j,
                             300, what="a checkpoint of the continued run")
            assert client.delete(f"/api/jobs/{first}").status_code == 200
            cancelled = wait_for(lambda: (j := _training(client, first))["state"] == "cancelled" and j, 10,
                                 what="the cancel")
            saved = cancelled["training"]["checkpoint_step"]
            assert saved >= later["training"]["checkpoint_step"]
            wrong = client.post(f"/api/trainings/{'0' * 32}/resume")
            assert wrong.status_code == 404
            second = client.post(f"/api/trainings/{first}/resume")
            assert second.status_code == 202, second.text
            resumed = wait_job(client, second.json()["id"], timeout=600)
            assert resumed["state"] == "succeeded", (resumed, st.logs())
            assert resumed["training"]["resume_from"] == first and resumed["training"]["resumed_step"] == saved
            assert resumed["model"] == "resumed-toys" and resumed["progress"]["done"] == 80
            sample = client.get(resumed["training"]["sample_url"])  # the figure of the last checkpoint
            assert sample.status_code == 200 and sample.content.startswith(b"\x89PNG"), sample.text
            assert client.post(f"/api/trainings/{second.json()['id']}/resume").status_code == 409  # succeeded
            refused = client.post(f"/api/trainings/{first}/resume")  # its model exists now
            assert refused.status_code == 409 and "resumed-toys" in refused.json()["detail"]
            wait_for(lambda: any(m["name"] == "resumed-toys" and m["status"] == "ready"
                                 for m in client.get("/api/models").json()["models"]), 30, what="the model served")


def test_unnamed_trainings_of_a_dataset_are_versions_and_a_retried_request_is_one_training(tiny_model):
    with Stack(tiny_model) as st:
        st.start_worker()
        st.start_worker(env={"DGAE_WORKER_MODELS": "none", "DGAE_WORKER_TRAIN": "1"})
        st.url = st.start_api()
        st.wait_healthy(st.url, workers=2)
        with httpx.Client(base_url=st.url, timeout=60) as client:
            body = {"dataset": _upload(client), "steps": 20, "chunk_sizes": [10, 6, 4]}
            wrong = client.post("/api/trainings", json={**body, "chunk_sizes": [10, 6]})
            assert wrong.status_code == 422 and "3 attributes" in wrong.json()["detail"]
            key = {"Idempotency-Key": "first"}
            first = client.post("/api/trainings", json=body, headers=key)
            assert first.status_code == 202, first.text
            assert client.post("/api/trainings", json=body, headers=key).json()["id"] == first.json()["id"]
            assert client.post("/api/trainings", json={**body, "steps": 21}, headers=key).status_code == 409
            second = client.post("/api/trainings", json=body)  # while the first runs: its name is not taken yet
            done = [wait_job(client, j.json()["id"], timeout=300) for j in (first, second)]
            assert [d["state"] for d in done] == ["succeeded", "succeeded"], (done, st.logs())
            assert [d["model"] for d in done] == ["mine", "mine-v2"]  # the dataset's name, then a new version
            third = client.post("/api/trainings", json={**body, "steps": 5000, "budget_s": 10})  # steps that fit
            budgeted = wait_job(client, third.json()["id"], timeout=300)
            assert budgeted["model"] == "mine-v3" and 1 <= budgeted["progress"]["total"] < 5000, budgeted
            model = wait_for(lambda: next((m for m in client.get("/api/models").json()["models"]
                                           if m["name"] == "mine" and m["status"] == "ready"), None), 30,
                             what="the first version served")
            assert model["chunk_sizes"] == [10, 6, 4]
