// The loss curve of a training: an SVG line plot of [step, loss] pairs over the steps asked for, redrawn as the
// series grows, with the last checkpoint (and a resume's starting point) marked.

const NS = "http://www.w3.org/2000/svg";
const W = 480;
const H = 200;
const PAD = { left: 52, right: 10, top: 10, bottom: 24 };

function svg(tag, attrs = {}, text = null) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== null && v !== undefined) node.setAttribute(k, String(v));
  if (text !== null) node.textContent = text;
  return node;
}

/** 0.0123 -> "0.0123", 12345 -> "1.23e+4": short labels for the loss axis. */
export function formatLoss(v) {
  if (!Number.isFinite(v)) return "–";
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e4)) return v.toExponential(2);
  return Number(v.toPrecision(3)).toString();
}

/**
 * mount(svgElement) -> {draw(points, {total, checkpoint, resumedAt})}. `points` are [step, loss] pairs in step order;
 * the x axis runs from step 0 to `total` (or the last step, if more). A loss that falls by a factor of ten or more
 * is drawn on a log scale (the axis says so). The element gets data-points (how many are drawn) and an
 * accessible name saying the same in words.
 */
export function mount(root) {
  root.setAttribute("viewBox", `0 0 ${W} ${H}`);
  root.setAttribute("role", "img");

  function draw(points, { total = 0, checkpoint = null, resumedAt = null } = {}) {
    const pts = points.filter(([s, l]) => Number.isFinite(s) && Number.isFinite(l));
    const x1 = Math.max(total || 0, pts.length ? pts[pts.length - 1][0] : 0, 1);
    const losses = pts.map((p) => p[1]);
    let lo = losses.length ? Math.min(...losses) : 0;
    let hi = losses.length ? Math.max(...losses) : 1;
    const log = lo > 0 && hi / lo >= 10;
    const f = log ? Math.log10 : (v) => v;
    if (hi === lo) {
      hi = log ? hi * 1.1 : hi + Math.abs(hi || 1) * 0.05;
      lo = log ? lo / 1.1 : lo - Math.abs(lo || 1) * 0.05;
    }
    const [flo, fhi] = [f(lo), f(hi)];
    const plotW = W - PAD.left - PAD.right;
    const plotH = H - PAD.top - PAD.bottom;
    const x = (step) => PAD.left + (step / x1) * plotW;
    const y = (loss) => PAD.top + (1 - (f(loss) - flo) / (fhi - flo)) * plotH;
    const bottom = H - PAD.bottom;

    const parts = [
      svg("rect", { class: "plot-area", x: PAD.left, y: PAD.top, width: plotW, height: plotH }),
      svg("line", { class: "axis", x1: PAD.left, y1: bottom, x2: W - PAD.right, y2: bottom }),
      svg("line", { class: "axis", x1: PAD.left, y1: PAD.top, x2: PAD.left, y2: bottom }),
      svg("text", { class: "tick", x: PAD.left, y: H - 6, "text-anchor": "start" }, "0"),
      svg("text", { class: "tick", x: W - PAD.right, y: H - 6, "text-anchor": "end" }, `${x1} steps`),
    ];
    if (pts.length) {
      parts.push(
        svg("text", { class: "tick", x: PAD.left - 4, y: PAD.top + 9, "text-anchor": "end" }, formatLoss(hi)),
        svg("text", { class: "tick", x: PAD.left - 4, y: bottom, "text-anchor": "end" }, formatLoss(lo)),
      );
      if (log) parts.push(svg("text", { class: "tick", x: PAD.left - 4, y: PAD.top + plotH / 2, "text-anchor": "end" }, "log"));
    } else {
      parts.push(svg("text", { class: "empty", x: PAD.left + plotW / 2, y: PAD.top + plotH / 2, "text-anchor": "middle" }, "no loss yet"));
    }
    for (const [step, cls, what] of [
      [resumedAt, "mark resumed", "resumed from the checkpoint at step"],
      [checkpoint, "mark checkpoint", "last checkpoint at step"],
    ]) {
      if (!Number.isFinite(step) || step <= 0) continue;
      const line = svg("line", { class: cls, x1: x(step), y1: PAD.top, x2: x(step), y2: bottom });
      line.append(svg("title", {}, `${what} ${step}`));
      parts.push(line);
    }
    if (pts.length) {
      const coords = pts.map(([s, l]) => `${x(s).toFixed(1)},${y(l).toFixed(1)}`).join(" ");
      parts.push(svg("polyline", { class: "loss-line", points: coords, "vector-effect": "non-scaling-stroke" }));
      const [ls, ll] = pts[pts.length - 1];
      parts.push(svg("circle", { class: "loss-last", cx: x(ls), cy: y(ll), r: 3 }));
    }
    root.replaceChildren(...parts);
    root.dataset.points = String(pts.length);
    const last = pts[pts.length - 1];
    root.setAttribute(
      "aria-label",
      last
        ? `Loss curve: ${pts.length} point${pts.length === 1 ? "" : "s"}; loss ${formatLoss(last[1])} at step ${last[0]} of ${x1}`
        : "Loss curve: no loss yet",
    );
  }

  draw([]);
  return { draw };
}
