// Which epoch live mode shows: the newest one that holds enough to be judged.

/**
 * Whether epoch `e` holds enough to be judged in live mode: every layer the epoch before
 * recorded has a step in it, or some layer has two (a layer that stopped recording does
 * not hold the view back). An epoch that has just begun (the first layers of its first
 * step) would otherwise show as "0 critical" for a moment.
 */
export function epochReady(store, e) {
  const chunk = store.chunks.get(e);
  if (!chunk) return false;
  const have = chunk.layers.filter(Boolean);
  if (have.length === 0) return false;
  const i = store.epochs.indexOf(e);
  const prev = i > 0 ? store.chunks.get(store.epochs[i - 1]) : null;
  if (!prev) return true;
  if (prev.layers.every((l, k) => !l || chunk.layers[k])) return true;
  return have.some((l) => l.s.n_steps >= 2);
}

/** The epoch live mode shows: the newest that is ready, else the newest (null if none). */
export function liveEpoch(store) {
  const eps = store.epochs;
  for (let i = eps.length - 1; i >= 0; i--) if (epochReady(store, eps[i])) return eps[i];
  return eps.length ? eps[eps.length - 1] : null;
}
