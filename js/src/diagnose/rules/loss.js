// The training loss: stuck at the chance level ln C. Mirrors Python's
// spikewidget/diagnose/rules/loss.py.

export function checkLossAtChance(layers, loss, th, { say }) {
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
  let sum = 0;
  for (const v of window) sum += v;
  return [say("warning", "loss_at_chance", "loss", "chance", "outputs_first",
    { mean: sum / window.length, classes: loss.nClasses, chance, records: window.length },
    loss.recentEpochs[start])];
}
