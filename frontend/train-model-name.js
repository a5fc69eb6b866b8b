// A new model's name: 1-64 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit (the API's
// rule, core.models.MODEL_NAME), and the default one the Train page offers for a dataset.

export const MODEL_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/** Why `name` cannot name a model (null when it can). */
export function modelNameProblem(name) {
  if (!name) return "Name the new model.";
  if (MODEL_NAME.test(name)) return null;
  return "A model name has 1-64 lowercase letters, digits, '.', '_' or '-', and starts with a letter or digit.";
}

/**
 * A valid model name made from a dataset's name ("My Toys (v2).zip" -> "my-toys-v2"), not one of `taken`
 * (a number is added: "my-toys-v2-2").
 */
export function modelNameFrom(datasetName, taken = []) {
  const stem = String(datasetName || "")
    .replace(/\.(zip|tar|tgz|tar\.gz|tar\.bz2|tar\.xz)$/i, "")
    .toLowerCase()
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .replace(/[^a-z0-9._-]+/g, "-")
    .replace(/-{2,}/g, "-")
    .replace(/^[^a-z0-9]+/, "")
    .replace(/[._-]+$/, "");
  const base = (stem || "my-model").slice(0, 58).replace(/[._-]+$/, "") || "my-model";
  const used = new Set(taken);
  if (!used.has(base)) return base;
  for (let i = 2; ; i++) if (!used.has(`${base}-${i}`)) return `${base}-${i}`;
}
