"""The Train page in real Chromium against the real stack (`diffusegae serve` runs a training worker beside the model
worker): a dataset zip is uploaded and summarised, bad ones are refused in words, and a training is started, followed
(its loss curve grows), survives a reload, is cancelled, resumed, finishes, and its model opens in the editor."""

from __future__ import annotations

import json
import re
import secrets

import httpx

from tests.backend.test_datasets import GRID, zipped
from tests.service.helpers import toy_png

TRAIN_TIMEOUT_MS = 300_000  # the resumed run's GAE steps, then its domain check, prototypes and registration
STEP_TIMEOUT_MS = 120_000


def toys_zip(*, labels: bool = True, single_value: bool = False) -> bytes:
    """18 toy images at 16 px and their labels.csv (3 vehicles x 3 grounds x 2 views), as the service tests make it;
    `labels=False` leaves labels.csv out, `single_value` adds an attribute whose every row has the same value."""
    files = {f"{i}{b}{p}.png": toy_png(i, b, p, 16) for i, b, p in GRID}
    extra = ",kind" if single_value else ""
    rows = "".join(f"{i}{b}{p}.png,v{i},g{b},w{p}{',toy' if single_value else ''}\n" for i, b, p in GRID)
    if labels:
        files["labels.csv"] = f"file,vehicle,ground,view{extra}\n{rows}".encode()
    return zipped(files)


def open_train(page) -> None:
    page.goto("/train.html")
    page.wait_for_selector("body[data-ready=true]")


def drop_zip(page, name: str, data: bytes) -> None:
    page.set_input_files("[data-testid=dataset-file]", files=[{"name": name, "mimeType": "application/zip", "buffer": data}])


def chart_points(page) -> int:
    return int(page.get_attribute("[data-testid=loss-chart]", "data-points") or 0)


def wait_points_above(page, n: int) -> int:
    page.wait_for_function(
        "n => Number(document.querySelector('[data-testid=loss-chart]').dataset.points || 0) > n", arg=n,
        timeout=STEP_TIMEOUT_MS,
    )
    return chart_points(page)


def run_attr(page, name: str) -> str:
    return page.get_attribute("[data-testid=train-run]", f"data-{name}") or ""


def test_bad_dataset_zips_are_explained_in_words(page):
    open_train(page)
    assert page.input_value("[data-testid=dataset-resolution]") == "16"  # the default (tiny) model's resolution
    problem = page.locator("[data-testid=dataset-problem]")
    stored = page.locator("[data-testid=dataset-item]").count()

    drop_zip(page, "no-labels.zip", toys_zip(labels=False))
    problem.wait_for(state="visible")
    assert "labels.csv" in problem.text_content() and "no-labels.zip" in problem.text_content()

    drop_zip(page, "one-kind.zip", toys_zip(single_value=True))
    page.wait_for_function(
        "() => document.querySelector('[data-testid=dataset-problem]').textContent.includes('one-kind.zip')")
    text = problem.text_content()
    assert "single value" in text and "kind" in text, text
    assert page.locator("[data-testid=dataset-summary]").is_hidden()
    assert page.locator("[data-testid=dataset-item]").count() == stored  # nothing refused was stored
    assert not page.js_errors


def test_train_follow_reload_cancel_resume_and_open_in_editor(page, server_url):
    stem = f"ui-toys-{secrets.token_hex(3)}"
    name = stem  # the name the page makes of the zip's
    open_train(page)
    try:
        # 1. the dataset: its summary, per-value counts, contact sheets
        drop_zip(page, f"{stem}.zip", toys_zip())
        summary = page.locator("[data-testid=dataset-summary]")
        summary.wait_for(state="visible")
        assert summary.locator("[data-testid=dataset-attribute]").count() == 3
        assert page.get_attribute('[data-testid=value-count][data-value="w0"]', "data-count") == "9"
        assert page.get_attribute('[data-testid=value-count][data-value="g2"]', "data-count") == "6"
        assert "18 images" in page.text_content("[data-testid=dataset-facts]")
        assert "null" not in summary.text_content()
        page.wait_for_function(
            "() => [...document.querySelectorAll('[data-testid=contact-sheet]')].every(i => i.complete && i.naturalWidth > 0)"
            " && document.querySelectorAll('[data-testid=contact-sheet]').length === 3")
        assert page.locator(f"[data-testid=dataset-item]:has-text('{stem}')").count() == 1
        dataset_id = page.get_attribute("[data-testid=dataset-summary]", "data-dataset-id")

        # 2. the form: the defaults shown; a bad name is refused in words before anything is sent
        assert page.input_value("[data-testid=train-name]") == name
        assert page.input_value("[data-testid=train-steps]") == "2000"
        assert page.input_value("[data-testid=train-seed]") == "0"
        assert page.input_value("[data-testid=train-checkpoint-every]") == ""
        assert page.input_value("[data-testid=train-base]") == "tiny-toys-16"
        page.fill("[data-testid=train-name]", "Not A Name")
        page.click("[data-testid=train-start]")
        assert "lowercase" in page.locator("[data-testid=train-problem]").text_content()
        page.fill("[data-testid=train-name]", name)
        page.fill("[data-testid=train-steps]", "80")
        page.fill("[data-testid=train-checkpoint-every]", "10")
        page.click("[data-testid=train-start]")

        # 3. it runs: the curve grows, the stats fill in
        page.wait_for_selector("[data-testid=train-run][data-stage=gae]", timeout=STEP_TIMEOUT_MS)
        first = run_attr(page, "job-id")
        assert page.evaluate("localStorage.getItem('diffusegae.training')") == first
        assert page.locator("[data-testid=train-start]").is_disabled()  # one training at a time on this page
        n = wait_points_above(page, 0)
        page.wait_for_selector("[data-testid=train-checkpoint][data-step]:not([data-step=''])", timeout=STEP_TIMEOUT_MS)
        page.wait_for_function(
            "() => /^\\d+(\\.\\d+)?$/.test(document.querySelector('[data-testid=train-rate]').textContent)",
            timeout=STEP_TIMEOUT_MS)
        n = wait_points_above(page, n)
        assert re.fullmatch(r"\d+ / 80", page.text_content("[data-testid=train-step]"))
        assert page.locator("[data-testid=train-resume]").is_hidden()

        # 4. cancel, then resume: a new job, followed, the curve kept
        page.click("[data-testid=train-cancel]")
        page.wait_for_selector("[data-testid=train-run][data-state=cancelled]", timeout=STEP_TIMEOUT_MS)
        assert page.locator("[data-testid=train-cancel]").is_hidden()
        assert chart_points(page) >= n
        page.click("[data-testid=train-resume]")
        page.wait_for_function(
            "first => { const r = document.querySelector('[data-testid=train-run]');"
            " return r.dataset.jobId && r.dataset.jobId !== first; }", arg=first)
        second = run_attr(page, "job-id")
        assert chart_points(page) > 0, "the curve starts over after a resume"
        assert page.evaluate("localStorage.getItem('diffusegae.training')") == second
        assert page.locator("[data-testid=train-resume]").is_hidden()

        # 6. a reload attaches to the training followed (now the resumed one) again
        page.reload()
        page.wait_for_selector("body[data-ready=true]")
        page.wait_for_selector(f'[data-testid=train-run][data-job-id="{second}"]')
        wait_points_above(page, 0)  # the resumed job's own series holds the old points (once its worker started)

        # 5. it succeeds: the card, then the editor on the new model
        page.wait_for_selector("[data-testid=train-run][data-state=succeeded]", timeout=TRAIN_TIMEOUT_MS)
        page.wait_for_selector("[data-testid=model-result]", state="visible")
        job = page.evaluate(f"fetch('/api/jobs/{second}').then(r => r.json())")
        assert job["training"]["resume_from"] == first and job["model"] == name
        # the curve goes on from the old run: the resumed job's series starts before its checkpoint
        assert job["training"]["losses"][0][0] < job["training"]["resumed_step"]
        assert chart_points(page) == len(job["training"]["losses"])
        sample = page.locator("[data-testid=train-sample]")
        if job["training"].get("sample_url"):
            page.wait_for_function(
                "() => { const i = document.querySelector('[data-testid=train-sample]');"
                " return i.complete && i.naturalWidth > 0; }")
        else:
            assert sample.is_hidden()
        card = page.locator("[data-testid=model-card]")
        page.wait_for_function(
            "name => document.querySelector('[data-testid=model-card]').textContent.includes(name)"
            " && !!document.querySelector('[data-testid=model-card-status]')", arg=name)
        assert "vehicle" in card.text_content() and "g2" in card.text_content() and "null" not in card.text_content()
        page.click("[data-testid=open-editor]")
        page.wait_for_url(re.compile(rf"/\?model={re.escape(name)}$"))
        page.wait_for_selector("body[data-ready=true]", timeout=STEP_TIMEOUT_MS)
        page.wait_for_selector(f'[data-testid=model-picker][data-model="{name}"]')
        assert page.get_attribute("[data-testid=nav-train]", "href").endswith(f"train.html?model={name}")

        # the dataset list: Delete asks once more, then the dataset is gone
        open_train(page)
        item = page.locator(f'[data-testid=dataset-item][data-dataset-id="{dataset_id}"]')
        item.locator("[data-testid=dataset-delete]").click()
        assert item.locator("[data-testid=dataset-delete]").text_content() == "Delete?"
        item.locator("[data-testid=dataset-delete]").click()
        item.wait_for(state="detached")
        assert page.locator("[data-testid=dataset-summary]").is_hidden()
        assert not page.js_errors, page.js_errors
    finally:
        with httpx.Client(base_url=server_url, timeout=30) as client:  # the session's stack is shared
            client.delete(f"/api/models/{name}", params={"force": "true"})
            for ds in client.get("/api/datasets").json().get("datasets", []):
                if ds["name"].startswith(stem):
                    client.delete(f"/api/datasets/{ds['id']}")


def test_a_forgotten_training_is_dropped_on_reload(page):
    """A remembered job the API does not know (any more) is forgotten, not shown."""
    page.goto("/train.html")
    page.evaluate(f"localStorage.setItem('diffusegae.training', {json.dumps('f' * 32)})")
    open_train(page)
    assert page.locator("[data-testid=train-run]").is_hidden()
    assert page.evaluate("localStorage.getItem('diffusegae.training')") is None
