// Small DOM helpers shared by the components; none of them looks anything up in the document.

/** Create an element: el("button", {class: "x", onclick: fn, dataset: {action: "y"}}, "text", child). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "dataset") Object.assign(node.dataset, v);
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k in node && typeof v !== "string") node[k] = v;
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) node.append(c);
  return node;
}

let lastId = 0;

/** A document-unique id for label/input pairs, so two mounted components never share one. */
export function uid(prefix) {
  lastId += 1;
  return `${prefix.replace(/[^a-zA-Z0-9_-]/g, "_")}-${lastId}`;
}

/** The element inside `root` that `selector` names; throws when the markup lacks it. */
export function part(root, selector) {
  const node = root.querySelector(selector);
  if (!node) throw new Error(`missing ${selector} in ${root.className || root.tagName}`);
  return node;
}

export function setProgress(bar, done, total) {
  const frac = total > 0 ? Math.max(0, Math.min(1, done / total)) : 0;
  bar.value = frac;
  bar.setAttribute("aria-valuetext", total > 0 ? `${done} of ${total}` : "waiting");
}

export function debounce(fn, ms) {
  let t = null;
  const wrapped = (...args) => {
    clearTimeout(t);
    t = setTimeout(() => fn(...args), ms);
  };
  wrapped.cancel = () => clearTimeout(t);
  return wrapped;
}

/** Enable or disable a link styled as a button. */
export function setLinkEnabled(a, enabled) {
  a.classList.toggle("disabled", !enabled);
  if (enabled) a.removeAttribute("aria-disabled");
  else {
    a.setAttribute("aria-disabled", "true");
    a.removeAttribute("href");
  }
}
