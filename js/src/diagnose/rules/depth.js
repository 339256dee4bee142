// How the firing rate changes with depth: a rate that fades layer after layer. Mirrors
// Python's spikewidget/diagnose/rules/depth.py.

/** Python's depth.mean_rate: spikes per neuron per observation (exact for whole counts). */
function meanRate(st) {
  let sum = 0;
  for (let i = 0; i < st.counts.length; i++) sum += st.counts[i];
  return sum / (Math.max(st.nObs, 1) * st.n);
}

/** Python's depth.recovers_after: a layer after the run (stop) fires at least as much as
 * the run's last layer above dead_rate (end - 1): a dip, not a fade toward the output. */
function recoversAfter(rates, end, stop) {
  for (let k = stop + 1; k < rates.length; k++) if (rates[k] >= rates[end - 1]) return true;
  return false;
}

/** Python's depth.feeds: `after` is fed by `before` where the wiring is known, else next
 * to it in model order. */
function feeds(before, after) {
  return !Array.isArray(after.fedBy) || after.fedBy.includes(before.name);
}

// Python's check_depth_fade: the mean rate falls at every one of >= 3 spiking layers in a
// row until one fires below dead_rate, by more than depth_fade_ratio over the run, and no
// later layer recovers to the rate before that drop.
export function checkDepthFade(layers, loss, th, { say, text, consts }) {
  const { min_layers: minLayers, step } = consts.rules.rate_fades_with_depth.constants;
  const spiking = layers.filter((s) => s.role !== "input" && !s.graded && s.isBinary && s.n > 0);
  const rates = spiking.map(meanRate);
  const out = [];
  let start = 0;
  while (start < spiking.length) {
    let stop = start;
    while (stop + 1 < spiking.length && rates[stop + 1] * step < rates[stop] &&
        feeds(spiking[stop], spiking[stop + 1])) {
      stop++;
    }
    let end = -1;
    for (let k = start; k <= stop && end < 0; k++) if (rates[k] < th.dead_rate) end = k;
    if (end >= 0 && end - start + 1 >= minLayers && !recoversAfter(rates, end, stop)) {
      const ratio = rates[stop] > 0 ? rates[start] / rates[stop] : Infinity;
      if (ratio > th.depth_fade_ratio) {
        const chain = spiking.slice(start, stop + 1)
          .map((s, k) => text("rate_fades_with_depth", "link", { name: s.name, rate: rates[start + k] }))
          .join(" → ");
        out.push(say("critical", "rate_fades_with_depth", spiking[end].name,
          rates[stop] === 0 ? "to_zero" : "fading", "normalise",
          { ratio, layers: stop - start + 1, chain }));
      }
    }
    start = stop + 1;
  }
  return out;
}
