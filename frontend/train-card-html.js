// A model card's HTML (GET /api/models/{name} `card_html`, rendered from MODEL_CARD.md) made safe to show in the
// page: only plain document elements and attributes are kept, links go to http(s) or this site, and an image of the
// card's own folder (eval/<figure>.png) is shown through the model's (signed) figure URL or dropped.

const KEEP = new Set(
  "a abbr b blockquote br caption code dd del div dl dt em h1 h2 h3 h4 h5 h6 hr i img li ol p pre s small span strong sub sup table tbody td tfoot th thead tr ul".split(
    " ",
  ),
);
const DROP_WITH_CONTENT = new Set(["script", "style", "template", "iframe", "object", "embed", "noscript", "svg", "math", "form"]);
const ATTRS = { a: ["href", "title"], img: ["src", "alt", "title"], td: ["colspan", "rowspan", "align"], th: ["colspan", "rowspan", "align"], code: ["class"] };

function safeHref(href) {
  try {
    const url = new URL(href, location.href);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch {
    return null;
  }
}

/** The figure URL (of `figures`, signed by the API) an image path of the card names, or null. */
function figureUrl(src, figures) {
  if (/^[a-z][a-z0-9+.-]*:|^\//i.test(src)) return null; // only paths inside the model's folder
  const path = src.replace(/^\.\//, "").split(/[?#]/)[0];
  return figures.find((u) => new URL(u, location.href).pathname.endsWith(`/files/${path}`)) || null;
}

function clean(node, doc, figures) {
  for (const child of [...node.childNodes]) {
    if (child.nodeType === Node.TEXT_NODE) continue;
    if (child.nodeType !== Node.ELEMENT_NODE) {
      child.remove();
      continue;
    }
    const tag = child.tagName.toLowerCase();
    if (DROP_WITH_CONTENT.has(tag)) {
      child.remove();
      continue;
    }
    clean(child, doc, figures);
    if (!KEEP.has(tag)) {
      child.replaceWith(...child.childNodes); // unknown element: its text stays
      continue;
    }
    const allowed = ATTRS[tag] || [];
    for (const attr of [...child.attributes]) if (!allowed.includes(attr.name)) child.removeAttribute(attr.name);
    if (tag === "a") {
      const href = child.getAttribute("href");
      const safe = href ? safeHref(href) : null;
      if (safe) {
        child.setAttribute("href", safe);
        child.setAttribute("rel", "noopener noreferrer");
        child.setAttribute("target", "_blank");
      } else child.removeAttribute("href");
    }
    if (tag === "img") {
      const url = figureUrl(child.getAttribute("src") || "", figures);
      if (url) {
        child.setAttribute("src", url);
        child.setAttribute("loading", "lazy");
      } else child.replaceWith(doc.createTextNode(child.getAttribute("alt") || ""));
    }
  }
}

/** The nodes of the card `html`, cleaned (see above); `figures`: the model's figure URLs. */
export function cardNodes(html, figures = []) {
  const doc = new DOMParser().parseFromString(`<body>${html || ""}</body>`, "text/html"); // inert: nothing runs
  clean(doc.body, doc, figures);
  return [...doc.body.childNodes].map((n) => document.importNode(n, true));
}
