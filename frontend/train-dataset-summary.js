// What a dataset holds (GET /api/datasets/{id}): images per value of each attribute, the contact sheet of each
// (a row of thumbnails per value) and the API's warnings (imbalance, duplicate images).

import { el } from "./dom.js";

/** "2.4 MB", "830 kB", "512 B". */
export function formatBytes(n) {
  if (!Number.isFinite(n)) return "";
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} MB`;
  if (n >= 1e3) return `${Math.round(n / 1e3)} kB`;
  return `${n} B`;
}

function attributeSection(ds, attr) {
  const counts = ds.counts?.[attr] || {};
  const values = ds.values?.[attr] || Object.keys(counts);
  const most = Math.max(1, ...values.map((v) => counts[v] || 0));
  const sheet = ds.contact_sheets?.[attr];
  return el(
    "section",
    { class: "attr-summary", dataset: { testid: "dataset-attribute", attribute: attr } },
    el("h4", {}, attr, el("small", {}, ` ${values.length} value${values.length === 1 ? "" : "s"}`)),
    el(
      "ul",
      { class: "value-counts", "aria-label": `Images per value of ${attr}` },
      ...values.map((v) =>
        el(
          "li",
          { dataset: { testid: "value-count", value: v, count: String(counts[v] || 0) } },
          el("span", { class: "value-name", title: v }, v),
          el("span", { class: "value-bar", style: `--share: ${((counts[v] || 0) / most).toFixed(3)}`, "aria-hidden": "true" }),
          el("span", { class: "value-n" }, String(counts[v] || 0)),
        ),
      ),
    ),
    sheet
      ? el(
          "a",
          { href: sheet, target: "_blank", title: `The contact sheet of ${attr} at full size` },
          el("img", {
            class: "contact-sheet",
            src: sheet,
            alt: `Contact sheet of ${attr}: a row of thumbnails per value`,
            loading: "lazy",
            dataset: { testid: "contact-sheet", attribute: attr },
          }),
        )
      : null,
  );
}

/** mount(root) -> {show(dataset), clear()}: the summary of one dataset, or nothing. */
export function mount(root) {
  function show(ds) {
    root.hidden = false;
    root.dataset.datasetId = ds.id;
    const created = ds.created ? new Date(ds.created * 1000).toLocaleString() : "";
    const warnings = ds.warnings || [];
    const parts = [
      el("h3", { class: "dataset-name", dataset: { testid: "dataset-name" } }, ds.name),
      el(
        "p",
        { class: "dataset-facts", dataset: { testid: "dataset-facts" } },
        `${ds.images} images · checked at ${ds.resolution} px · ${ds.attributes.length} attribute${ds.attributes.length === 1 ? "" : "s"}` +
          ` · ${formatBytes(ds.bytes)}`,
        created ? el("small", {}, ` · ${created}`) : null,
      ),
      warnings.length
        ? el(
            "ul",
            { class: "dataset-warnings", "aria-label": "Warnings", dataset: { testid: "dataset-warnings" } },
            ...warnings.map((w) => el("li", {}, w)),
          )
        : null,
      ...ds.attributes.map((a) => attributeSection(ds, a)),
    ];
    root.replaceChildren(...parts.filter(Boolean));
  }

  function clear() {
    root.hidden = true;
    delete root.dataset.datasetId;
    root.replaceChildren();
  }

  clear();
  return { show, clear };
}
