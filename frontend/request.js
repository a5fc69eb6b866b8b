// From an edit (the editor's state) to the POST /api/recombine body, and the same as a curl command.
// edit = {base, attributes: {attr: {donor, value, weight}}, options: {x_T, seed, steps, sampler, problem}}

import { imageLabel } from "./labels.js";

/**
 * The recombine body: an attribute with a donor blends towards it ({donor, weight}), one with a value towards that
 * value's prototype ({value, weight}); one with neither keeps the base. Throws when the options are invalid.
 */
export function recombineBody(edit) {
  const { problem, ...options } = edit.options;
  if (problem) throw new Error(problem);
  const attributes = {};
  for (const [attr, { donor, value, weight }] of Object.entries(edit.attributes)) {
    const w = Math.round(weight * 1000) / 1000;
    if (donor) attributes[attr] = { donor, weight: w };
    else if (value) attributes[attr] = { value, weight: w };
  }
  return { base: edit.base, attributes, ...options };
}

/** The donors named in an edit, in attribute order. */
export function donorsOf(edit) {
  return Object.values(edit.attributes)
    .map((slot) => slot.donor)
    .filter(Boolean);
}

/** Why rendering `edit` has to wait (null when it can go). */
export function blocker(edit, store) {
  if (!edit.base) return "pick a base image";
  for (const id of [edit.base, ...donorsOf(edit)]) {
    const img = store.get(id);
    if (!img) return "waiting for the image list";
    if (img.status === "failed") return `image ${imageLabel(img)} failed to encode`;
    if (img.status !== "ready") return `waiting for ${imageLabel(img)} to encode`;
  }
  return null;
}

/** `curl` for the edit's request (?wait=120 returns the PNG), or a comment saying what is wrong. */
export function curlCommand(edit, { origin, apiKey }) {
  let body;
  try {
    body = recombineBody(edit);
  } catch (err) {
    return `# ${err.message}`;
  }
  const q = (s) => `'${s.replace(/'/g, "'\\''")}'`;
  const lines = [`curl -sS -X POST ${q(`${origin}/api/recombine?wait=120`)}`, `  -H 'Content-Type: application/json'`];
  if (apiKey) lines.push(`  -H ${q(`X-API-Key: ${apiKey}`)}`);
  lines.push(`  -d ${q(JSON.stringify(body))}`, `  -o result.png`);
  return lines.join(" \\\n");
}
