"""Webhooks through the whole stack: a real worker and API on the real Redis, and a receiver on loopback
(http.server in a thread) that checks each delivery's signature the way the README tells receivers to."""

from __future__ import annotations

import json
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from core.webhooks import EVENT_HEADER, EVENT_ID_HEADER, verify
from tests.fake_model import fake_model, publish_fake
from tests.service.helpers import toy_png, upload, wait_image, wait_job
from tests.stack import Stack, drop_prefix, free_port, stop_process, wait_for

SECRET = "whsec-service-test-5b1f"
ATTEMPTS = 3


class Receiver:
    """POSTs to /<name> are recorded; /fail-<n>/... answers 500 to the first n of them, /down/... always 500,
    /redirect/... 307 to /ok/redirected."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, dict[str, str], bytes, bool]] = []  # path, headers, body, signature valid
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    receiver.posts.append((self.path, dict(self.headers), body, verify(SECRET, self.headers, body)))
                    seen = sum(1 for p in receiver.posts if p[0] == self.path)
                first = self.path.split("/")[1]
                failing = first == "down" or (first.startswith("fail-") and seen <= int(first[5:]))
                self.send_response(307 if first == "redirect" else 500 if failing else 200)
                if first == "redirect":
                    self.send_header("Location", "/ok/redirected")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def at(self, path: str) -> list[tuple[str, dict[str, str], bytes, bool]]:
        with self.lock:
            return [p for p in self.posts if p[0] == path]


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()


@pytest.fixture(scope="module")
def hooked(tiny_model: Path, receiver: Receiver) -> Iterator[tuple[Stack, httpx.Client, list[str]]]:
    """A stack whose webhooks may go to the receiver's port only; quick retries; two encoded images."""
    env = {"DGAE_WEBHOOK_HOSTS": f"127.0.0.1:{receiver.port}", "DGAE_WEBHOOK_SECRET": SECRET,
           "DGAE_WEBHOOK_BACKOFF": "0.3", "DGAE_WEBHOOK_ATTEMPTS": str(ATTEMPTS), "DGAE_WEBHOOK_TIMEOUT": "5"}
    with Stack(tiny_model, env=env) as st:
        st.start_worker()
        st.url = st.start_api()
        st.wait_healthy(st.url)
        with httpx.Client(base_url=st.url, timeout=60) as client:
            ids = [upload(client, toy_png(i, b, p), f"t{i}.png").json()["id"] for i, b, p in ((0, 1, 2), (3, 4, 5))]
            assert all(wait_image(client, i)["status"] == "ready" for i in ids)
            yield st, client, ids


def _deliveries(receiver: Receiver, path: str, n: int, timeout: float = 30) -> list[tuple[str, dict[str, str], bytes, bool]]:
    wait_for(lambda: len(receiver.at(path)) >= n, timeout, what=f"{n} POST(s) to {path}")
    return receiver.at(path)


def _webhook_settled(client: httpx.Client, url: str) -> dict:
    def settled():
        body = client.get(url).json()
        return body if body["webhook"]["state"] in ("delivered", "failed") else None

    return wait_for(settled, 30, 0.1, what=f"the webhook of {url} to settle")


def test_a_finished_recombine_is_posted_once_signed_with_its_job_json(hooked, receiver):
    _, client, (a, b) = hooked
    r = client.post("/api/recombine", json={"base": a, "attributes": {"pose": {"donor": b}},
                                            "callback_url": receiver.url("/ok/recombine")})
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["webhook"] == {"url": receiver.url("/ok/recombine"), "state": "waiting", "attempts": 0, "last_error": None}
    assert wait_job(client, job["id"])["state"] == "succeeded"
    [(_, headers, body, valid)] = _deliveries(receiver, "/ok/recombine", 1)
    assert valid, headers
    assert headers[EVENT_HEADER] == "job" and headers[EVENT_ID_HEADER] == f"job-{job['id']}"
    sent = json.loads(body)
    shown = _webhook_settled(client, f"/api/jobs/{job['id']}")
    assert shown.pop("webhook") == {"url": receiver.url("/ok/recombine"), "state": "delivered", "attempts": 1,
                                    "last_error": None}
    assert sent == shown and sent["state"] == "succeeded" and "webhook" not in sent
    assert not verify("another-secret", headers, body)
    time.sleep(1.5)  # the sender polls every 0.2 s: a second delivery would have come by now
    assert len(receiver.at("/ok/recombine")) == 1


def test_a_failing_receiver_is_retried_with_backoff_until_it_answers(hooked, receiver):
    _, client, (a, b) = hooked
    path = "/fail-2/interpolate"
    job = client.post("/api/interpolate", json={"base": a, "donor": b, "frames": 2, "callback_url": receiver.url(path)}).json()
    posts = _deliveries(receiver, path, 3)
    assert [p[3] for p in posts] == [True] * 3  # each attempt signed afresh
    assert len({p[1][EVENT_ID_HEADER] for p in posts}) == 1  # one event: receivers dedupe on its id
    assert len({p[2] for p in posts}) == 1
    assert json.loads(posts[0][2])["kind"] == "interpolate"
    shown = _webhook_settled(client, f"/api/jobs/{job['id']}")["webhook"]
    assert shown["state"] == "delivered" and shown["attempts"] == 3 and shown["last_error"] is None


def test_a_receiver_that_never_answers_2xx_is_given_up_after_the_attempts(hooked, receiver):
    _, client, (a, _) = hooked
    path = "/down/recombine"
    job = client.post("/api/recombine", json={"base": a, "callback_url": receiver.url(path)}).json()
    shown = _webhook_settled(client, f"/api/jobs/{job['id']}")["webhook"]
    assert shown["state"] == "failed" and shown["attempts"] == ATTEMPTS and shown["last_error"].startswith("HTTP 500")
    time.sleep(1.0)
    assert len(receiver.at(path)) == ATTEMPTS


def test_redirects_are_not_followed(hooked, receiver):
    _, client, (a, _) = hooked
    job = client.post("/api/recombine", json={"base": a, "callback_url": receiver.url("/redirect/x")}).json()
    shown = _webhook_settled(client, f"/api/jobs/{job['id']}")["webhook"]
    assert shown["state"] == "failed" and shown["last_error"].startswith("HTTP 307")
    assert len(receiver.at("/redirect/x")) == ATTEMPTS and receiver.at("/ok/redirected") == []


def test_with_no_allowed_hosts_a_callback_url_is_refused(tmp_path):
    """Webhooks off (the default): the API refuses the field instead of ignoring it (real Redis, no worker needed)."""
    from fastapi.testclient import TestClient

    from backend.api.main import create_app
    from core.records import Records
    from core.settings import Settings
    from tests.stack import TEST_REDIS_URL

    prefix = f"t-{uuid.uuid4().hex[:8]}:"
    records = Records.connect(TEST_REDIS_URL, prefix)
    publish_fake(records, fake_model())
    settings = Settings(redis_url=TEST_REDIS_URL, key_prefix=prefix, store_dir=tmp_path, frontend_dir=tmp_path / "no-ui")
    try:
        with TestClient(create_app(settings)) as client:
            for path, body in (("/api/recombine", {"base": "a" * 64, "callback_url": "http://127.0.0.1:9/x"}),
                               ("/api/interpolate", {"base": "a" * 64, "donor": "b" * 64, "callback_url": "http://127.0.0.1:9/x"}),
                               ("/api/batches", {"items": [{"base": "a" * 64}], "callback_url": "http://127.0.0.1:9/x"})):
                r = client.post(path, json=body)
                assert r.status_code == 422 and "webhooks are off" in r.json()["detail"], (path, r.text)
    finally:
        drop_prefix(prefix)
        records.close()


def test_a_batch_is_posted_once_when_its_last_item_ends_and_a_cancelled_job_is_posted_too(hooked, receiver):
    _, client, (a, b) = hooked
    r = client.post("/api/batches", json={"items": [{"base": a}, {"base": b, "attributes": {"pose": {"donor": a}}}],
                                          "callback_url": receiver.url("/ok/batch")})
    assert r.status_code == 202, r.text
    batch = r.json()
    [(_, headers, body, valid)] = _deliveries(receiver, "/ok/batch", 1)
    sent = json.loads(body)
    assert valid and headers[EVENT_HEADER] == "batch" and headers[EVENT_ID_HEADER] == f"batch-{batch['id']}"
    assert sent["id"] == batch["id"] and sent["state"] == "succeeded" and sent["done"] == 2
    assert [i["state"] for i in sent["items"]] == ["succeeded", "succeeded"]
    assert _webhook_settled(client, f"/api/batches/{batch['id']}")["webhook"]["state"] == "delivered"

    long = client.post("/api/recombine", json={"base": a, "steps": 400, "callback_url": receiver.url("/ok/cancelled")}).json()
    client.delete(f"/api/jobs/{long['id']}")
    [(_, _, body, valid)] = _deliveries(receiver, "/ok/cancelled", 1)
    assert valid and json.loads(body)["state"] == "cancelled"
    time.sleep(1.0)
    assert len(receiver.at("/ok/batch")) == len(receiver.at("/ok/cancelled")) == 1


@pytest.mark.parametrize(("url", "why"), [
    ("http://127.0.0.1:{other}/x", "is not one this service may call"),  # another port on the allowed host
    ("http://localhost:{port}/x", "is not one this service may call"),
    ("http://169.254.169.254/latest/meta-data/", "is not one this service may call"),
    ("http://u:p@127.0.0.1:{port}/x", "user name or password"),
    ("file:///etc/passwd", "http:// or https://"),
])
def test_a_callback_to_a_host_not_allowed_is_refused_at_submit(hooked, receiver, url, why):
    stack, client, (a, b) = hooked
    url = url.format(port=receiver.port, other=receiver.port + 1 if receiver.port < 65535 else 1024)
    before = set(stack_jobs(stack))
    for path, body in (("/api/recombine", {"base": a, "callback_url": url}),
                       ("/api/interpolate", {"base": a, "donor": b, "callback_url": url}),
                       ("/api/batches", {"items": [{"base": a}], "callback_url": url})):
        r = client.post(path, json=body)
        assert r.status_code == 422 and why in r.json()["detail"] and "callback_url" in r.json()["detail"], (path, r.text)
    r = client.post("/api/batches", json={"items": [{"base": a, "callback_url": receiver.url("/ok/item")}]})
    assert r.status_code == 422 and "one callback_url" in r.json()["detail"]
    assert set(stack_jobs(stack)) == before  # nothing was queued


def stack_jobs(stack: Stack) -> list[str]:
    import redis

    client = redis.Redis.from_url(stack.env["DGAE_REDIS_URL"], decode_responses=True)
    try:
        return list(client.scan_iter(match=f"{stack.name}:job:*", count=1000))
    finally:
        client.close()


@pytest.mark.slow
def test_a_job_that_ends_while_no_api_runs_is_delivered_when_one_starts(hooked, receiver):
    """The worker never sends: it queues the event in Redis, and whichever API process runs next delivers it."""
    import redis

    stack, client, (a, _) = hooked
    worker = next(p for p in stack.procs if "celery" in p.args)
    worker.send_signal(signal.SIGSTOP)  # the job must not end (and be delivered) before the API is gone
    try:
        job = client.post("/api/recombine", json={"base": a, "steps": 30, "callback_url": receiver.url("/ok/later")}).json()
        api = next(p for p in stack.procs if "uvicorn" in p.args)
        stop_process(api)
        stack.procs.remove(api)
    finally:
        worker.send_signal(signal.SIGCONT)
    r = redis.Redis.from_url(stack.env["DGAE_REDIS_URL"], decode_responses=True)
    try:
        wait_for(lambda: r.hget(f"{stack.name}:job:{job['id']}", "state") == "succeeded", 60, what="the job to end")
    finally:
        r.close()
    time.sleep(0.5)
    assert receiver.at("/ok/later") == []
    stack.url = stack.start_api(port=int(stack.url.rsplit(":", 1)[1]))  # the same address: the client goes on
    [(_, _, body, valid)] = _deliveries(receiver, "/ok/later", 1)
    assert valid and json.loads(body)["id"] == job["id"] and json.loads(body)["state"] == "succeeded"
    assert _webhook_settled(client, f"/api/jobs/{job['id']}")["webhook"]["state"] == "delivered"


@pytest.mark.slow
def test_diffusegae_serve_delivers_webhooks_too(tiny_model, receiver):
    env = {"DGAE_WEBHOOK_HOSTS": f"127.0.0.1:{receiver.port}", "DGAE_WEBHOOK_SECRET": SECRET}
    with Stack(tiny_model, env=env) as stack:
        _, url = stack.start_serve()
        stack.wait_healthy(url, timeout=90)
        with httpx.Client(base_url=url, timeout=60) as client:
            image = upload(client, toy_png(1, 2, 3), "t.png").json()["id"]
            assert wait_image(client, image)["status"] == "ready"
            job = client.post("/api/recombine", json={"base": image, "callback_url": receiver.url("/ok/serve")}).json()
            [(_, _, body, valid)] = _deliveries(receiver, "/ok/serve", 1)
            assert valid and json.loads(body)["id"] == job["id"]
