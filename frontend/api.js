// Thin client for the public /api routes. Every error becomes an ApiError whose message is the
// API's `detail` (or a readable fallback), so the UI can show it as is.

const KEY_STORAGE = "diffusegae.apiKey";
const TERMINAL = new Set(["succeeded", "failed", "cancelled"]);

export function isTerminal(state) {
  return TERMINAL.has(state);
}

export function getApiKey() {
  try {
    return localStorage.getItem(KEY_STORAGE) || "";
  } catch {
    return "";
  }
}

export function setApiKey(key) {
  key = (key || "").trim();
  if (key) localStorage.setItem(KEY_STORAGE, key);
  else localStorage.removeItem(KEY_STORAGE);
}

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.name = "ApiError";
    this.status = status;
  }
}

/**
 * When a URL the API handed out stops working (ms since the epoch; Infinity if never). With API keys the
 * API signs the URLs of its answers (`?exp=<unix s>&sig=...`) for <img>, download links and EventSource,
 * which cannot send the key header; the key itself never goes in a URL. Get the resource again for fresh ones.
 */
export function expiresAt(url) {
  if (!url) return Infinity;
  const exp = new URL(url, location.origin).searchParams.get("exp");
  return exp ? Number(exp) * 1000 : Infinity;
}

async function detailOf(res) {
  let detail = "";
  try {
    const body = await res.json();
    if (typeof body.detail === "string") detail = body.detail;
    else if (Array.isArray(body.detail)) {
      // FastAPI validation errors: [{loc: ["body", "steps"], msg: "..."}]
      detail = body.detail
        .map((d) => {
          const where = (d.loc || []).filter((p) => p !== "body").join(".");
          return where ? `${where}: ${d.msg}` : d.msg;
        })
        .join("; ");
    } else if (body.detail) detail = JSON.stringify(body.detail);
  } catch {
    /* not JSON */
  }
  if (!detail) detail = `${res.status} ${res.statusText || "error"}`;
  if (res.status === 503) return `Service unavailable: ${detail}`;
  if (res.status === 401 || res.status === 403) return `${detail} (check the API key field at the top right)`;
  return detail;
}

async function request(method, path, { json, form, signal } = {}) {
  const headers = {};
  const key = getApiKey();
  if (key) headers["X-API-Key"] = key;
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form) body = form;
  let res;
  try {
    res = await fetch(path, { method, headers, body, signal });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(0, `Cannot reach the server: ${err.message}`);
  }
  if (!res.ok) throw new ApiError(res.status, await detailOf(res));
  return res;
}

const json = async (method, path, opts) => (await request(method, path, opts)).json();

export const api = {
  health: () => json("GET", "/api/health"),
  /** Every model: {models: [summary], default: name}. */
  models: () => json("GET", "/api/models"),
  /** The description of the model `name` (the controls' attributes, limits, examples); without a name, the default's. */
  model: (name) => json("GET", name ? `/api/model?name=${encodeURIComponent(name)}` : "/api/model"),
  listImages: () => json("GET", "/api/images").then((b) => b.images || []),
  getImage: (id) => json("GET", `/api/images/${id}`),
  /** Upload into `model` (a name; without one, the default model). */
  uploadImage(file, model = null) {
    const form = new FormData();
    form.append("file", file, file.name || "image.png");
    if (model) form.append("model", model);
    return json("POST", "/api/images", { form });
  },
  /** The same picture encoded in `model`: a new image (its own id) of that model. */
  encodeImage: (id, model) => json("POST", `/api/images/${id}/encode`, { json: { model } }),
  recombine: (body) => json("POST", "/api/recombine", { json: body }),
  /** A live-preview frame: {blob, jobId}, or null when it was not done within `wait` seconds. */
  async recombinePreview(body, wait = 30) {
    const res = await request("POST", `/api/recombine?wait=${wait}`, { json: body });
    if (res.status !== 200) return null;
    return { blob: await res.blob(), jobId: res.headers.get("X-Job-Id") };
  },
  interpolate: (body) => json("POST", "/api/interpolate", { json: body }),
  getJob: (id) => json("GET", `/api/jobs/${id}`),
  cancelJob: (id) => request("DELETE", `/api/jobs/${id}`).then(() => undefined),
  async jobResult(id) {
    const res = await request("GET", `/api/jobs/${id}/result.png`);
    return res.blob();
  },
  /** A batch whose items run in `model` (without one, the default model). */
  createBatch: (items, model = null) => json("POST", "/api/batches", { json: model ? { items, model } : { items } }),
  /** A zip of images and a spec; the images are uploaded into `model` and every item runs in it. */
  createBatchFromSpec(zipFile, spec, model = null) {
    const form = new FormData();
    form.append("file", zipFile, zipFile.name || "images.zip");
    form.append("spec", spec);
    if (model) form.append("model", model);
    return json("POST", "/api/batches", { form });
  },
  getBatch: (id) => json("GET", `/api/batches/${id}`),
  cancelBatch: (id) => request("DELETE", `/api/batches/${id}`).then(() => undefined),
};

/** The Train page's calls: datasets, trainings and one model's details (errors: ApiError with the API's detail,
 * which for a refused dataset names its rows or files). */
export const trainApi = {
  /** Upload a zip or tar of images with labels.csv, checked at `resolution` px: the dataset (DatasetOut). */
  uploadDataset(file, resolution) {
    const form = new FormData();
    form.append("file", file, file.name || "dataset.zip");
    if (resolution) form.append("resolution", String(resolution));
    return json("POST", "/api/datasets", { form });
  },
  /** The caller's datasets, newest first. */
  datasets: () => json("GET", "/api/datasets").then((b) => b.datasets || []),
  dataset: (id) => json("GET", `/api/datasets/${id}`),
  deleteDataset: (id) => request("DELETE", `/api/datasets/${id}`).then(() => null),
  /** {dataset, name, base_model?, steps, seed, checkpoint_every?} -> the training job (JobOut, kind "train"). */
  startTraining: (body) => json("POST", "/api/trainings", { json: body }),
  /** A cancelled or failed training continued from its last checkpoint: a new job. */
  resumeTraining: (jobId) => json("POST", `/api/trainings/${jobId}/resume`),
  /** One model with its card (card_html), examples and figures. */
  modelDetail: (name) => json("GET", `/api/models/${encodeURIComponent(name)}`),
};

/** URLs to load without headers, taken from the API's answers (signed there when the service has keys). */
export const urls = {
  image: (img) => img.url || `/api/images/${img.id}/image.png`,
  original: (img) => img.original_url || `/api/images/${img.id}/original`,
  jobResult: (jobOrItem) => jobOrItem.result_url,
  frame: (job, i) => job.frame_urls?.[i],
  events: (job) => job.events_url || `/api/jobs/${job.id}/events`,
  x0: (job) => job.x0_preview_url || null, // a long render's latest estimate while it runs
  batchZip: (batch) => batch.results_url,
  example: (url) => url, // the model's example images: the API signs them when keys are set
  modelThumb: (summary) => summary.thumbnail_url || null, // GET /api/models: a model's first example image
};
