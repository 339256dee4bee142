// Python's routes.py in the browser: the routes a layer's spikes take to the outputs,
// through the layers' fedBy; a starving layer explains a vanishing gradient only when
// every route passes one.

/** Python's routes.blocked_routes: the blocked layers on the routes from `start` (itself
 * included) when every route passes one, an empty set when a route is open, null when
 * the wiring of `start` or of a later layer (up to `end`) is unknown. `order`: Map of
 * each layer's place; `fedBy`: Map of each layer's feeds (an array, or absent). */
export function blockedRoutes(start, order, fedBy, blocked, end = null) {
  if (!order.has(start)) return null;
  const top = end !== null && order.has(end) ? order.get(end) : Math.max(...order.values());
  const span = [...order.keys()].filter((n) => order.get(start) <= order.get(n) &&
    order.get(n) <= top);
  if (span.some((n) => !Array.isArray(fedBy.get(n)))) return null;
  const after = new Map(span.map((n) => [n, []]));
  for (const n of span) {
    for (const f of fedBy.get(n)) if (after.has(f) && order.get(f) < order.get(n)) after.get(f).push(n);
  }
  const reach = new Set([start]);
  const stack = [start];
  while (stack.length) {
    for (const n of after.get(stack.pop())) {
      if (!reach.has(n)) {
        reach.add(n);
        stack.push(n);
      }
    }
  }
  if (!blocked.has(start)) {
    const seen = new Set([start]);
    const open = [start];
    while (open.length) {
      const n = open.pop();
      if (after.get(n).length === 0) return new Set();
      for (const m of after.get(n)) {
        if (!seen.has(m) && !blocked.has(m)) {
          seen.add(m);
          open.push(m);
        }
      }
    }
  }
  return new Set([...reach].filter((n) => blocked.has(n)));
}
