// The one table format every benchmark prints: figure, value, unit, target, verdict.
export interface Row {
  /** What was measured, e.g. "ECDSA leaf-chain checks". */
  figure: string;
  value: number;
  unit: string;
  /** The figure it must reach; omitted for figures reported without a target. */
  target?: number;
  /** 'min': value must be >= target (throughput); 'max': value must be <= target (latency, bytes). */
  goal?: 'min' | 'max';
}

function fmt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (Math.abs(n) >= 100) return Math.round(n).toLocaleString('en-US');
  return n.toFixed(Math.abs(n) >= 10 ? 1 : 2);
}

/** Prints rows as an aligned table and returns whether every target was met. */
export function printTable(title: string, rows: Row[]): boolean {
  const cells = rows.map((r) => {
    const target = r.target === undefined ? '' : `${r.goal === 'max' ? '<=' : '>='} ${fmt(r.target)}`;
    const ok = r.target === undefined ? '' : (r.goal === 'max' ? r.value <= r.target : r.value >= r.target) ? 'ok' : 'MISS';
    return [r.figure, fmt(r.value), r.unit, target, ok];
  });
  const head = ['figure', 'value', 'unit', 'target', ''];
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => c.map((x, i) => (i === 1 ? x.padStart(widths[i]!) : x.padEnd(widths[i]!))).join('  ').trimEnd();
  console.log(`\n${title}`);
  console.log(line(head));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const c of cells) console.log(line(c));
  return cells.every((c) => c[4] !== 'MISS');
}

/** Percentile (0..100) of an unsorted sample, nearest-rank. */
export function percentile(sample: number[], p: number): number {
  if (sample.length === 0) return NaN;
  const s = [...sample].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}
