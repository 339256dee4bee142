// The training loss: stuck at the chance level ln C. Mirrors Python's
// spikewidget/diagnose/rules/loss.py.

/** Python's loss.clearly_below: the window's mean lies below chance beyond its noise
 * (`errors` standard errors) and by at least `share` of it. */
function clearlyBelow(window, chance, errors, share) {
  const n = window.length;
  let sum = 0;
  for (const v of window) sum += v;
  const mean = sum / n;
  let squares = 0;
  for (const v of window) squares += (v - mean) ** 2;
  const spread = n > 1 ? Math.sqrt(squares / (n - 1)) : 0;
  return mean < chance - Math.max(errors * spread / Math.sqrt(n), share * chance);
}

export function checkLossAtChance(layers, loss, th, { say, consts }) {
  if (!loss || loss.chance === null || loss.chance === undefined) return [];
  const w = th.loss_chance_window;
  const recent = loss.recent;
  if (recent.length < w) return [];
  const chance = loss.chance;
  const near = Array.from(recent, (v) => Math.abs(v - chance) <= th.loss_chance_tolerance * chance);
  for (let i = recent.length - w; i < recent.length; i++) if (!near[i]) return [];
  let start = near.length;
  while (start > 0 && near[start - 1]) start--;
  const window = recent.subarray(recent.length - w);
  const { below_errors: errors, below_share: share } = consts.rules.loss_at_chance.constants;
  if (clearlyBelow(window, chance, errors, share)) return [];
  let sum = 0;
  for (const v of window) sum += v;
  return [say("warning", "loss_at_chance", "loss", "chance", "outputs_first",
    { mean: sum / window.length, classes: loss.nClasses, chance, records: window.length },
    loss.recentEpochs[start])];
}
