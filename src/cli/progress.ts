// Progress of long operator commands on stderr: one line per phase change and at most one a
// second in between, with a percentage and a rate, so a terminal or a log both read well.
export function progressPrinter(label: string, write: (s: string) => void = (s) => process.stderr.write(s), now: () => number = Date.now) {
  let phase = '';
  let last = 0;
  let phaseStart = now();
  return (p: { phase: string; done: number; total: number }) => {
    const t = now();
    const end = p.done >= p.total;
    if (p.phase !== phase) {
      phase = p.phase;
      phaseStart = t;
    } else if (!end && t - last < 1000) return;
    last = t;
    const pct = p.total ? Math.floor((100 * p.done) / p.total) : 100;
    const secs = (t - phaseStart) / 1000;
    const rate = secs > 0.5 ? `, ${Math.round(p.done / secs)}/s` : '';
    write(`${label}: ${p.phase} ${p.done}/${p.total} (${pct}%${rate})\n`);
  };
}
