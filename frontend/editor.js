// The editor: base slot, one slot per model attribute (donor + blend weight), decoding options,
// the live result, before/after comparison, download, curl, and the interpolation strip.

import { api, getApiKey, urls, withKey } from "./api.js";
import { $, debounce, el, guarded, imageLabel, showError } from "./common.js";
import { DRAG_TYPE } from "./gallery.js";
import { JobRunner } from "./jobs.js";

export const WEIGHT = { min: -0.5, max: 1.5, step: 0.05 };
const RENDER_DEBOUNCE_MS = 350;

export class Editor {
  constructor(store, model) {
    this.store = store;
    this.model = model;
    this.attributes = model.attributes; // names come from the model, never hard-coded
    this.base = null;
    this.slots = Object.fromEntries(this.attributes.map((a) => [a, { donor: null, weight: 1 }]));
    this.resultUrl = null;

    this.runner = new JobRunner({
      submit: (body) => api.recombine(body),
      els: { progress: $("#result-progress"), state: $("[data-testid=job-state]"), cancel: $("#cancel") },
      onResult: (job) => this.showResult(job),
    });
    this.interp = new JobRunner({
      label: "Interpolation",
      submit: (body) => api.interpolate(body),
      els: { progress: $("#interp-progress"), state: $("[data-testid=interp-state]"), cancel: $("#interp-cancel") },
      onResult: (job, body) => this.showStrip(job, body),
    });
    this.scheduleRender = debounce(() => this.renderNow(), RENDER_DEBOUNCE_MS);

    this.buildSlots();
    this.bindBase();
    this.bindOptions();
    this.bindResult();
    this.bindInterpolation();
    store.on(() => this.onImages());
    this.onImages();
  }

  // ---- slots -------------------------------------------------------------------------------

  buildSlots() {
    const values = this.model.values || {};
    const sizes = this.model.chunk_sizes || [];
    const root = $("#slots");
    root.replaceChildren(
      ...this.attributes.map((attr, i) => {
        const id = attr.replace(/[^a-zA-Z0-9_-]/g, "_");
        const n = (values[attr] || []).length;
        const meta = [sizes[i] ? `chunk ${sizes[i]}` : null, n ? `${n} values` : null].filter(Boolean).join(" · ");
        const slider = el("input", {
          type: "range",
          id: `weight-${id}`,
          min: String(WEIGHT.min),
          max: String(WEIGHT.max),
          step: String(WEIGHT.step),
          value: "1",
          list: "weight-ticks",
          disabled: true,
          dataset: { testid: `weight-${attr}` },
        });
        const output = el("output", { for: `weight-${id}`, dataset: { testid: `weight-value-${attr}` } }, "1.00");
        const picker = el("select", { id: `picker-${id}`, dataset: { testid: `picker-${attr}` } });
        const slot = el(
          "div",
          { class: "slot empty", dataset: { testid: `slot-${attr}`, slot: attr } },
          el("div", { class: "slot-thumb", dataset: { testid: `slot-thumb-${attr}` } }, el("span", {}, "base")),
          el(
            "div",
            { class: "slot-body" },
            el(
              "div",
              { class: "slot-head" },
              el("label", { class: "slot-title", for: `picker-${id}` }, attr),
              meta ? el("small", {}, meta) : null,
              el(
                "button",
                {
                  type: "button",
                  class: "small clear",
                  "aria-label": `Clear the ${attr} donor`,
                  dataset: { testid: `clear-${attr}` },
                  onclick: () => this.setDonor(attr, null),
                },
                "Clear",
              ),
            ),
            picker,
            el(
              "div",
              { class: "weight-row" },
              el("label", { for: `weight-${id}` }, `${attr} weight`),
              slider,
              output,
              el("div", { class: "weight-scale", "aria-hidden": "true" }, el("span", {}, "0 base"), el("span", {}, "1 donor")),
            ),
          ),
        );
        slider.addEventListener("input", () => {
          this.slots[attr].weight = Number(slider.value);
          output.textContent = Number(slider.value).toFixed(2);
          this.changed();
        });
        picker.addEventListener("change", () => this.setDonor(attr, picker.value || null));
        this.makeDropTarget(slot, (id) => this.setDonor(attr, id));
        this.slots[attr].els = { slot, slider, output, picker, thumb: $(".slot-thumb", slot) };
        return slot;
      }),
    );
    // Tick marks at base (0) and donor (1).
    document.body.append(el("datalist", { id: "weight-ticks" }, el("option", { value: "0" }), el("option", { value: "1" })));
  }

  /** HTML5 drop target for gallery cards (and files from the desktop, which get uploaded first). */
  makeDropTarget(node, assign) {
    const accepts = (ev) => {
      const types = [...(ev.dataTransfer?.types || [])];
      return types.includes(DRAG_TYPE) || types.includes("text/plain") || types.includes("Files");
    };
    node.addEventListener("dragenter", (ev) => {
      if (accepts(ev)) {
        ev.preventDefault();
        node.classList.add("over");
      }
    });
    node.addEventListener("dragover", (ev) => {
      if (!accepts(ev)) return;
      ev.preventDefault();
      ev.dataTransfer.dropEffect = "copy";
      node.classList.add("over");
    });
    node.addEventListener("dragleave", (ev) => {
      if (!node.contains(ev.relatedTarget)) node.classList.remove("over");
    });
    node.addEventListener("drop", (ev) => {
      ev.preventDefault();
      node.classList.remove("over");
      const files = [...(ev.dataTransfer?.files || [])];
      if (files.length) {
        guarded(async () => {
          const [img] = await this.store.upload(files.slice(0, 1));
          if (img) assign(img.id);
        });
        return;
      }
      const id = ev.dataTransfer.getData(DRAG_TYPE) || ev.dataTransfer.getData("text/plain");
      if (id && /^[0-9a-zA-Z_-]+$/.test(id.trim())) assign(id.trim());
    });
  }

  setDonor(attr, id) {
    const slot = this.slots[attr];
    slot.donor = id || null;
    this.paintSlot(attr);
    this.changed();
  }

  paintSlot(attr) {
    const slot = this.slots[attr];
    const { slot: node, slider, picker, thumb } = slot.els;
    const img = slot.donor ? this.store.get(slot.donor) : null;
    node.classList.toggle("empty", !slot.donor);
    node.dataset.donor = slot.donor || "";
    slider.disabled = !slot.donor;
    slider.setAttribute(
      "aria-valuetext",
      slot.donor ? `${Number(slider.value).toFixed(2)} (0 is the base, 1 the donor)` : "no donor: the base's value",
    );
    thumb.replaceChildren(
      slot.donor
        ? el("img", { src: urls.image(slot.donor), alt: `${attr} donor ${img ? imageLabel(img) : slot.donor}` })
        : el("span", {}, "base"),
    );
    if (slot.donor && img && img.status !== "ready") thumb.append(el("span", { class: `badge ${img.status}` }, img.status));
    picker.value = slot.donor || "";
  }

  // ---- base ----------------------------------------------------------------------------------

  bindBase() {
    const slot = $("[data-testid=base-slot]");
    this.makeDropTarget(slot, (id) => this.setBase(id));
    $("#base-picker").addEventListener("change", (ev) => this.setBase(ev.target.value || null));
  }

  setBase(id) {
    this.base = id || null;
    this.paintBase();
    this.changed();
  }

  paintBase() {
    const thumb = $("[data-testid=base-thumb]");
    const img = this.base ? this.store.get(this.base) : null;
    $("[data-testid=base-slot]").dataset.base = this.base || "";
    $("[data-testid=base-slot]").classList.toggle("empty", !this.base);
    thumb.replaceChildren(
      this.base ? el("img", { src: urls.image(this.base), alt: `Base ${img ? imageLabel(img) : ""}` }) : el("span", {}, "drop a base image"),
    );
    $("#base-picker").value = this.base || "";
    const status = $("[data-testid=base-status]");
    status.textContent = !this.base ? "Drag an image here or choose one." : img ? `${img.status}${img.error ? `: ${img.error}` : ""}` : "";
    const cmp = $("[data-testid=compare-base]");
    if (this.base) {
      cmp.src = urls.image(this.base);
      cmp.hidden = false;
    } else cmp.hidden = true;
  }

  // ---- options -------------------------------------------------------------------------------

  bindOptions() {
    const sampler = $("#sampler");
    const samplers = this.model.samplers || [];
    sampler.replaceChildren(
      el("option", { value: "" }, `default (${this.model.default_sampler || "model"})`),
      ...samplers.map((s) => el("option", { value: s }, s)),
    );
    const steps = $("#steps");
    steps.placeholder = `${this.model.default_steps ?? "default"}`;
    for (const radio of document.querySelectorAll("input[name=xT]")) {
      radio.addEventListener("change", () => {
        const random = this.xT() === "random";
        $("#seed").disabled = !random;
        $("#reseed").disabled = !random;
        this.changed();
      });
    }
    $("#reseed").addEventListener("click", () => {
      $("#seed").value = String(Math.floor(Math.random() * 2 ** 31));
      this.changed();
    });
    for (const id of ["#seed", "#steps", "#sampler"]) $(id).addEventListener("input", () => this.changed());
  }

  xT() {
    return document.querySelector("input[name=xT]:checked")?.value || "inferred";
  }

  /** Reads the decoding options; throws a readable error for out-of-range values. */
  options() {
    const stepsEl = $("#steps");
    const seedEl = $("#seed");
    const stepsRaw = stepsEl.value.trim();
    const steps = stepsRaw ? Number(stepsRaw) : null;
    const stepsOk = steps === null || (Number.isInteger(steps) && steps >= 2 && steps <= 1000);
    const seed = Number(seedEl.value || 0);
    const seedOk = Number.isInteger(seed) && seed >= 0;
    stepsEl.setAttribute("aria-invalid", String(!stepsOk));
    seedEl.setAttribute("aria-invalid", String(!seedOk));
    if (!stepsOk) throw new Error("Steps must be a whole number from 2 to 1000.");
    if (!seedOk) throw new Error("Seed must be a non-negative whole number.");
    return { x_T: this.xT(), seed, steps, sampler: $("#sampler").value || null };
  }

  // ---- request -------------------------------------------------------------------------------

  /** The POST /api/recombine body for the current state. Attributes without a donor keep the base. */
  body() {
    const attributes = {};
    for (const attr of this.attributes) {
      const { donor, weight } = this.slots[attr];
      if (donor) attributes[attr] = { donor, weight: Math.round(weight * 1000) / 1000 };
    }
    return { base: this.base, attributes, ...this.options() };
  }

  /** Why rendering has to wait (null when it can go). */
  blocker() {
    if (!this.base) return "pick a base image";
    const ids = [this.base, ...this.attributes.map((a) => this.slots[a].donor).filter(Boolean)];
    for (const id of ids) {
      const img = this.store.get(id);
      if (!img) return "waiting for the image list";
      if (img.status === "failed") return `image ${imageLabel(img)} failed to encode`;
      if (img.status !== "ready") return `waiting for ${imageLabel(img)} to encode`;
    }
    return null;
  }

  changed() {
    this.updateCurl();
    this.scheduleRender();
  }

  renderNow({ force = false } = {}) {
    const why = this.blocker();
    if (why) {
      if (this.runner.current === null) this.runner.setState("waiting", why);
      return;
    }
    let body;
    try {
      body = this.body();
    } catch (err) {
      // Half-typed options (e.g. "1" on the way to "100") wait quietly; the field says what is wrong.
      if (this.runner.current === null || force) this.runner.setState("waiting", err.message);
      if (force) showError(err);
      return;
    }
    this.runner.run(body, { force });
  }

  onImages() {
    const options = (emptyLabel) => [
      el("option", { value: "" }, emptyLabel),
      ...this.store.list
        .filter((img) => img.status !== "failed")
        .map((img) => el("option", { value: img.id }, `${imageLabel(img)}${img.status === "ready" ? "" : ` (${img.status})`}`)),
    ];
    $("#base-picker").replaceChildren(...options("— choose a base —"));
    for (const attr of this.attributes) {
      this.slots[attr].els.picker.replaceChildren(...options("— base (no donor) —"));
      this.paintSlot(attr);
    }
    this.paintBase();
    this.fillInterpDonors();
    // An image we were waiting for may be ready now.
    if (this.base && this.runner.els.state.dataset.state === "waiting") this.scheduleRender();
  }

  // ---- result --------------------------------------------------------------------------------

  bindResult() {
    $("#render").addEventListener("click", () => {
      this.scheduleRender.cancel();
      this.renderNow({ force: true });
    });
    const split = $("#compare-split");
    split.addEventListener("input", () => $("[data-testid=compare]").style.setProperty("--split", `${split.value}%`));
    $("#copy-curl").addEventListener("click", () => this.copyCurl());
    this.updateCurl();
  }

  async showResult(job) {
    const blob = await api.jobResult(job.id);
    const url = URL.createObjectURL(blob);
    const probe = new Image();
    probe.src = url;
    await probe.decode(); // keep the previous result on screen until this one is ready
    const img = $("[data-testid=result-image]");
    img.src = url;
    img.hidden = false;
    img.dataset.jobId = job.id;
    $("[data-testid=result-empty]").hidden = true;
    if (this.resultUrl) URL.revokeObjectURL(this.resultUrl);
    this.resultUrl = url;
    const a = $("#download");
    a.href = url;
    a.download = `diffusegae-${job.id.slice(0, 8)}.png`;
    a.classList.remove("disabled");
    a.removeAttribute("aria-disabled");
  }

  curl() {
    let body;
    try {
      body = this.body();
    } catch (err) {
      return `# ${err.message}`;
    }
    const q = (s) => `'${s.replace(/'/g, "'\\''")}'`;
    const lines = [`curl -sS -X POST ${q(`${location.origin}/api/recombine?wait=120`)}`, `  -H 'Content-Type: application/json'`];
    if (getApiKey()) lines.push(`  -H ${q(`X-API-Key: ${getApiKey()}`)}`);
    lines.push(`  -d ${q(JSON.stringify(body))}`, `  -o result.png`);
    return lines.join(" \\\n");
  }

  updateCurl() {
    $("[data-testid=curl]").textContent = this.curl();
  }

  async copyCurl() {
    const text = this.curl();
    const button = $("#copy-curl");
    try {
      await navigator.clipboard.writeText(text);
      button.textContent = "Copied ✓";
    } catch {
      // No clipboard permission: open the request so it can be selected by hand.
      $("details.curl").open = true;
      button.textContent = "Shown below";
    }
    setTimeout(() => (button.textContent = "Copy curl"), 1500);
  }

  // ---- interpolation -------------------------------------------------------------------------

  bindInterpolation() {
    $("#interp-attr").replaceChildren(
      el("option", { value: "" }, "all attributes"),
      ...this.attributes.map((a) => el("option", { value: a }, a)),
    );
    $("#interp-run").addEventListener("click", () => this.runInterpolation());
  }

  fillInterpDonors() {
    const sel = $("#interp-donor");
    const prev = sel.value;
    const firstDonor = this.attributes.map((a) => this.slots[a].donor).find(Boolean) || "";
    sel.replaceChildren(
      el("option", { value: "" }, firstDonor ? "first slot donor" : "— choose a donor —"),
      ...this.store.ready().map((img) => el("option", { value: img.id }, imageLabel(img))),
    );
    sel.value = prev && this.store.get(prev) ? prev : "";
  }

  runInterpolation() {
    const attr = $("#interp-attr").value;
    const donor = $("#interp-donor").value || (attr && this.slots[attr].donor) || this.attributes.map((a) => this.slots[a].donor).find(Boolean);
    if (!this.base) return showError("Pick a base image first.");
    if (!donor) return showError("Choose a donor to interpolate towards (or put one in a slot).");
    const frames = Number($("#interp-frames").value);
    if (!Number.isInteger(frames) || frames < 2 || frames > 16) return showError("Frames must be a whole number from 2 to 16.");
    let opts;
    try {
      opts = this.options();
    } catch (err) {
      return showError(err);
    }
    $("[data-testid=interp-strip]").setAttribute("aria-busy", "true");
    this.interp.run({ base: this.base, donor, attributes: attr ? [attr] : null, frames, ...opts }, { force: true });
  }

  async showStrip(job, body) {
    const strip = $("[data-testid=interp-strip]");
    const imgs = Array.from({ length: body.frames }, (_, i) =>
      el(
        "li",
        {},
        el("img", { src: job.frame_urls?.[i] ? withKey(job.frame_urls[i]) : urls.frame(job.id, i), alt: `Frame ${i + 1} of ${body.frames}`, dataset: { testid: "interp-frame" } }),
        el("span", {}, `${(i / (body.frames - 1)).toFixed(2)}`),
      ),
    );
    await Promise.all(imgs.map((li) => li.firstChild.decode().catch(() => {})));
    strip.replaceChildren(...imgs);
    strip.dataset.jobId = job.id;
    strip.removeAttribute("aria-busy");
  }
}
