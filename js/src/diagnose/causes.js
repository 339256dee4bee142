// Python's causes.py in the browser: a finding that follows from another names it as its
// cause, takes the "follows" fix, and sits right after it; groups sort by severity.

import { formatTemplate } from "./pyformat.js";
import { blockedRoutes } from "./routes.js";

/** Severity order of findings (most severe first). */
export const SEVERITY_RANK = { critical: 0, warning: 1, info: 2 };

const cmp = (a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2];

/** Python's causes.link_causes: effects name their cause, each root leads its group. */
export function linkCauses(found, order, categories, causes, follows, goneCategories = [],
  fedBy = new Map()) {
  const pos = (p) => (order.has(p.layer) ? order.get(p.layer) : order.size);
  const key = (p) => [SEVERITY_RANK[p.severity], pos(p), categories.indexOf(p.category)];
  const sorted = found.slice().sort((a, b) => cmp(key(a), key(b)));
  // Layers that pass no signal on; `through` links only across a chain of them.
  const gone = new Set(found.filter((p) => goneCategories.includes(p.category) ||
    (p.category === "dead_neurons" && p.severity === "critical")).map((p) => p.layer));
  const ranked = [...order.keys()].sort((a, b) => order.get(a) - order.get(b));
  const rank = new Map(ranked.map((layer, i) => [layer, i]));
  const firing = [0];
  for (const layer of ranked) firing.push(firing[firing.length - 1] + (gone.has(layer) ? 0 : 1));
  // the gone layers that cut a layer off: all its feeds from earlier layers are gone
  // (a feed that is not a recorded layer, such as the data, carries signal)
  const silenced = new Map();
  const silencedBy = (layer) => {
    if (!silenced.has(layer)) {
      const feeds = fedBy.get(layer).filter((f) => !order.has(f) || order.get(f) < order.get(layer));
      const out = new Set(feeds.length && feeds.every((f) => gone.has(f)) ? feeds : []);
      for (const f of [...out]) if (fedBy.has(f)) for (const g of silencedBy(f)) out.add(g);
      silenced.set(layer, out);
    }
    return silenced.get(layer);
  };
  const through = (c, p) => {
    if (!rank.has(c.layer) || pos(c) >= pos(p)) return false;
    if (fedBy.has(p.layer) && order.has(p.layer)) return silencedBy(p.layer).has(c.layer);
    return firing[rank.has(p.layer) ? rank.get(p.layer) : rank.size] === firing[rank.get(c.layer) + 1];
  };
  // between p and the loss: on every route from p to the outputs where the wiring is known
  const routes = new Map();
  const downstream = (c, p) => {
    if (pos(c) < pos(p)) return false;
    if (!routes.has(p.layer)) routes.set(p.layer, blockedRoutes(p.layer, order, fedBy, gone));
    const on = routes.get(p.layer);
    return on === null || on.has(c.layer);
  };
  const causeOf = (p) => {
    for (const [category, where] of causes[p.category] || []) {
      for (const c of sorted) {
        if (c === p || c.category !== category || c.layer === "loss") continue;
        if (category === "dead_neurons" && c.severity !== "critical") continue;
        if ((where === "same" && c.layer === p.layer) || (where === "through" && through(c, p)) ||
            (where === "upstream" && pos(c) <= pos(p)) || (where === "downstream" && downstream(c, p)) ||
            where === "any") return c;
      }
    }
    return null;
  };
  const parent = new Map(found.map((p) => [p, causeOf(p)]));
  const root = (p) => {
    const seen = new Set([p]);
    let c;
    while ((c = parent.get(p)) !== null && !seen.has(c)) {
      seen.add(c);
      p = c;
    }
    return p;
  };
  const groups = new Map();
  for (const p of found) {
    const c = parent.get(p);
    let item = p;
    let r = p;
    if (c !== null && root(c) !== p) {
      r = root(p);
      item = { ...p, cause: `${r.category} @ ${r.layer}`,
        fix: formatTemplate(follows, { category: r.category, layer: r.layer }) };
    }
    if (!groups.has(r)) groups.set(r, []);
    groups.get(r).push(item);
  }
  const groupKey = (r) => [Math.min(...groups.get(r).map((m) => SEVERITY_RANK[m.severity])),
    pos(r), SEVERITY_RANK[r.severity], categories.indexOf(r.category)];
  const roots = [...groups.keys()].sort((a, b) => {
    const ka = groupKey(a);
    const kb = groupKey(b);
    return ka[0] - kb[0] || ka[1] - kb[1] || ka[2] - kb[2] || ka[3] - kb[3];
  });
  const out = [];
  for (const r of roots) {
    const members = groups.get(r);
    out.push(...members.filter((m) => m.cause === null));
    out.push(...members.filter((m) => m.cause !== null).sort((a, b) => cmp(key(a), key(b))));
  }
  return out;
}
