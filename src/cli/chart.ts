// Charts of load vs replicas for `governor simulate`: a terminal line chart (asciichart) and a standalone SVG.
import asciichart from 'asciichart';
import { formatSeconds } from '../common/duration.js';
import type { SimulationResult } from '../scaling/simulate.js';

export type SeriesStyle = 'line' | 'dashed' | 'dotted' | 'area';

export interface ChartSeries {
  readonly label: string;
  /** One value per time; undefined leaves a gap. */
  readonly values: readonly (number | undefined)[];
  /** left: replicas; right: load. */
  readonly axis: 'left' | 'right';
  readonly style: SeriesStyle;
  /** CSS colour for SVG. */
  readonly color: string;
  /** Whether the terminal chart shows it (it cannot draw dashes, so it shows fewer series). */
  readonly terminal?: boolean;
}

export interface ChartMarker {
  readonly t: number;
  readonly label: string;
}

export interface ChartData {
  readonly title: string;
  /** Seconds. */
  readonly times: readonly number[];
  readonly series: readonly ChartSeries[];
  readonly leftLabel: string;
  readonly rightLabel: string;
  readonly markers?: readonly ChartMarker[];
  /** Horizontal reference lines on the right axis (the thresholds). */
  readonly rightGuides?: readonly { readonly value: number; readonly label: string }[];
}

const COLORS = { load: '#9aa5b1', source: '#d9480f', target: '#1c7ed6', capacity: '#2b8a3e' };

/** Load, decided and reached replicas per workload, and the capacity for a migration. */
export function simulationChartData(r: SimulationResult): ChartData {
  const times = r.steps.map((s) => s.t);
  const series: ChartSeries[] = [{ label: 'load', values: r.steps.map((s) => s.load), axis: 'right', style: 'area', color: COLORS.load, terminal: false }];
  r.workloads.forEach((w, i) => {
    const color = w.role === 'source' ? COLORS.source : COLORS.target;
    const name = r.workloads.length > 1 ? `${w.role} ${w.name}` : w.name;
    series.push({ label: `${name} decided`, values: r.steps.map((s) => s.workloads[i]!.decided), axis: 'left', style: 'dashed', color, terminal: false });
    series.push({ label: `${name} reached`, values: r.steps.map((s) => s.workloads[i]!.reached), axis: 'left', style: 'line', color, terminal: true });
  });
  if (r.steps.some((s) => s.capacity !== undefined)) {
    series.push({ label: 'capacity', values: r.steps.map((s) => s.capacity), axis: 'left', style: 'dotted', color: COLORS.capacity, terminal: false });
  }
  const markers: ChartMarker[] = [];
  let phase: string | undefined;
  for (const s of r.steps) {
    if (s.action) markers.push({ t: s.t, label: s.action });
    if (s.phase && s.phase !== phase && (s.phase === 'Completed' || s.phase === 'RolledBack')) markers.push({ t: s.t, label: s.phase });
    phase = s.phase;
  }
  return {
    title: `${r.policy.kind} ${r.policy.namespace}/${r.policy.name}`,
    times,
    series,
    leftLabel: 'replicas',
    rightLabel: 'load',
    markers,
    rightGuides: [
      { value: r.policy.thresholds.low, label: 'low' },
      { value: r.policy.thresholds.high, label: 'high' },
    ],
  };
}

/**
 * Maps n values onto exactly `width` columns: longer series keep each column's maximum (spikes stay visible), shorter
 * ones repeat each value (a step chart across the full width).
 */
export function resample(values: readonly (number | undefined)[], width: number): number[] {
  const clean = values.map((v) => (v === undefined || !Number.isFinite(v) ? Number.NaN : v));
  if (!clean.length) return [];
  if (clean.length <= width) return Array.from({ length: width }, (_, c) => clean[Math.floor((c * clean.length) / width)]!);
  const out: number[] = [];
  for (let c = 0; c < width; c++) {
    const from = Math.floor((c * clean.length) / width);
    const to = Math.max(from + 1, Math.floor(((c + 1) * clean.length) / width));
    let m = Number.NaN;
    for (let i = from; i < to; i++) if (!Number.isNaN(clean[i]!)) m = Number.isNaN(m) ? clean[i]! : Math.max(m, clean[i]!);
    out.push(m);
  }
  return out;
}

export interface TerminalChartOptions {
  /** Columns for the plot area (default 72). */
  readonly width?: number;
  /** Rows per panel (default 10 for replicas, 6 for load). */
  readonly height?: number;
  /** ANSI colours (only on a TTY). */
  readonly color?: boolean;
}

const ANSI = [asciichart.lightred, asciichart.lightblue, asciichart.green, asciichart.magenta];

/** Two stacked panels sharing the time axis: load on top, reached replicas below, then a legend. */
export function terminalChart(data: ChartData, opts: TerminalChartOptions = {}): string {
  const width = Math.max(20, opts.width ?? 72);
  const height = Math.max(3, opts.height ?? 10);
  const out: string[] = [data.title, ''];
  const pad = (x: number, w: number) => {
    const s = Number.isInteger(x) ? String(x) : x.toFixed(1);
    return s.padStart(w);
  };
  const right = data.series.filter((s) => s.axis === 'right');
  const left = data.series.filter((s) => s.axis === 'left' && s.terminal !== false);
  const labelWidth = 8;
  if (right.length) {
    out.push(`${data.rightLabel}:`);
    const values = right.map((s) => resample(s.values, width));
    const max = Math.max(1, ...values.flat().filter((v) => !Number.isNaN(v)));
    const fmt = (x: number) => (max >= 20 ? String(Math.round(x)).padStart(labelWidth) : pad(x, labelWidth));
    out.push(asciichart.plot(values, { height: Math.max(3, Math.round(height * 0.6)), min: 0, max, format: fmt }));
    out.push('');
  }
  if (left.length) {
    out.push(`${data.leftLabel}:`);
    const values = left.map((s) => resample(s.values, width));
    const max = Math.max(1, ...values.flat().filter((v) => !Number.isNaN(v)));
    const colors = opts.color ? left.map((_, i) => ANSI[i % ANSI.length]) : undefined;
    // Integer labels need at least as many rows as the range, else asciichart repeats labels.
    const h = Math.min(Math.max(height, 3), Math.max(3, max));
    out.push(asciichart.plot(values, { height: h, min: 0, max, format: (x) => pad(Math.round(x), labelWidth), ...(colors ? { colors } : {}) }));
  }
  // x axis: start, middle and end times under the plot area (asciichart's label column is labelWidth + 2 wide).
  const cols = data.times.length ? width : 0;
  const t0 = data.times[0] ?? 0;
  const t1 = data.times.at(-1) ?? 0;
  const a = formatSeconds(t0);
  const m = formatSeconds((t0 + t1) / 2);
  const b = formatSeconds(t1);
  const axis = Array(cols).fill(' ');
  const put = (at: number, s: string) => {
    for (let i = 0; i < s.length && at + i < cols; i++) axis[Math.max(0, at) + i] = s[i];
  };
  put(0, a);
  if (cols > a.length + m.length + b.length + 4) put(Math.floor(cols / 2 - m.length / 2), m);
  put(cols - b.length, b);
  out.push(' '.repeat(labelWidth + 2) + axis.join(''));
  const legend = left.map((s, i) => (opts.color ? `${ANSI[i % ANSI.length]}──${asciichart.reset} ${s.label}` : `(${i + 1}) ${s.label}`));
  if (!opts.color && left.length > 1) legend.push('(same glyphs without colour: see the table or --svg)');
  out.push(`${' '.repeat(labelWidth + 2)}${legend.join('   ')}`);
  if (data.markers?.length) out.push(`${' '.repeat(labelWidth + 2)}events: ${data.markers.map((mk) => `${mk.label} at ${formatSeconds(mk.t)}`).join(', ')}`);
  return out.join('\n') + '\n';
}

// --- SVG ---------------------------------------------------------------------------------------------------------

/** "Nice" tick values from 0 to at least max (1, 2, 2.5 or 5 × 10^k apart). */
export function niceTicks(max: number, count = 5): number[] {
  if (!(max > 0)) return [0, 1];
  const raw = max / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((f) => f * mag).find((s) => s >= raw)!;
  const ticks: number[] = [];
  for (let v = 0; v < max + step * 0.999; v += step) ticks.push(Math.round(v * 1e6) / 1e6);
  return ticks;
}

const TIME_STEPS = [1, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800];

/** Time ticks (seconds from 0) on round durations: 15s, 1m, 5m, 1h, 6h, 1d ... about `count` of them. */
export function timeTicks(span: number, count = 6): number[] {
  const step = TIME_STEPS.find((s) => span / s <= count) ?? Math.ceil(span / count / 86400) * 86400;
  const ticks: number[] = [];
  for (let v = 0; v <= span + 1e-9; v += step) ticks.push(v);
  return ticks;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const num = (x: number) => String(Math.round(x * 10) / 10);

export interface SvgOptions {
  readonly width?: number;
  readonly height?: number;
}

/** A self-contained SVG: replicas on the left axis (step lines), load on the right axis (shaded), legend below. */
export function svgChart(data: ChartData, opts: SvgOptions = {}): string {
  const W = opts.width ?? 960;
  const H = opts.height ?? 440;
  const m = { top: 40, right: 70, bottom: 70 + Math.ceil(data.series.length / 3) * 18, left: 60 };
  const totalH = H + m.bottom - 70;
  const pw = W - m.left - m.right;
  const ph = H - m.top - 70;
  const t0 = data.times[0] ?? 0;
  const t1 = Math.max(t0 + 1, data.times.at(-1) ?? 0);
  const x = (t: number) => m.left + ((t - t0) / (t1 - t0)) * pw;
  const maxOf = (axis: 'left' | 'right') =>
    Math.max(
      1,
      ...(axis === 'right' ? (data.rightGuides ?? []).map((g) => g.value) : []),
      ...data.series.filter((s) => s.axis === axis).flatMap((s) => s.values.filter((v): v is number => v !== undefined && Number.isFinite(v))),
    );
  const leftTicks = niceTicks(maxOf('left'));
  const rightTicks = niceTicks(maxOf('right'));
  const leftMax = leftTicks.at(-1)!;
  const rightMax = rightTicks.at(-1)!;
  const y = (v: number, axis: 'left' | 'right') => m.top + ph - (v / (axis === 'left' ? leftMax : rightMax)) * ph;

  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${totalH}" viewBox="0 0 ${W} ${totalH}" font-family="system-ui, -apple-system, 'Segoe UI', sans-serif" font-size="12">`);
  parts.push(`<title>${esc(data.title)}</title>`);
  parts.push(`<rect width="${W}" height="${totalH}" fill="#ffffff"/>`);
  parts.push(`<text x="${m.left}" y="22" font-size="15" font-weight="600" fill="#212529">${esc(data.title)}</text>`);
  // grid and axes
  for (const v of leftTicks) {
    const yy = num(y(v, 'left'));
    parts.push(`<line x1="${m.left}" x2="${m.left + pw}" y1="${yy}" y2="${yy}" stroke="#e9ecef"/>`);
    parts.push(`<text x="${m.left - 8}" y="${yy}" text-anchor="end" dominant-baseline="middle" fill="#495057">${num(v)}</text>`);
  }
  for (const v of rightTicks) {
    parts.push(`<text x="${m.left + pw + 8}" y="${num(y(v, 'right'))}" dominant-baseline="middle" fill="#868e96">${num(v)}</text>`);
  }
  for (const d of timeTicks(t1 - t0)) {
    const xx = num(x(t0 + d));
    parts.push(`<line x1="${xx}" x2="${xx}" y1="${m.top + ph}" y2="${m.top + ph + 5}" stroke="#495057"/>`);
    parts.push(`<text x="${xx}" y="${m.top + ph + 18}" text-anchor="middle" fill="#495057">${esc(formatSeconds(t0 + d))}</text>`);
  }
  parts.push(`<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="#adb5bd"/>`);
  parts.push(`<text transform="translate(16 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle" fill="#495057">${esc(data.leftLabel)}</text>`);
  parts.push(`<text transform="translate(${W - 12} ${m.top + ph / 2}) rotate(90)" text-anchor="middle" fill="#868e96">${esc(data.rightLabel)}</text>`);
  parts.push(`<text x="${m.left + pw / 2}" y="${m.top + ph + 36}" text-anchor="middle" fill="#495057">time</text>`);

  // series: areas first, then lines (step paths: a value holds until the next sync)
  const ordered = [...data.series].sort((a, b) => (a.style === 'area' ? -1 : 0) - (b.style === 'area' ? -1 : 0));
  for (const s of ordered) {
    const segs: string[] = [];
    let open = false;
    let lastX = 0;
    s.values.forEach((v, i) => {
      const t = data.times[i]!;
      if (v === undefined || !Number.isFinite(v)) {
        open = false;
        return;
      }
      const xx = num(x(t));
      const yy = num(y(v, s.axis));
      if (!open) {
        segs.push(`M${xx} ${yy}`);
        open = true;
      } else segs.push(`H${xx} V${yy}`);
      lastX = x(data.times[i + 1] ?? t);
    });
    if (!segs.length) continue;
    if (s.style === 'area') {
      const first = s.values.findIndex((v) => v !== undefined);
      const base = num(y(0, s.axis));
      parts.push(`<path d="${segs.join(' ')} L${num(lastX)} ${base} L${num(x(data.times[first]!))} ${base} Z" fill="${s.color}" fill-opacity="0.25" stroke="${s.color}" stroke-opacity="0.6" stroke-width="1"/>`);
    } else {
      const dash = s.style === 'dashed' ? ' stroke-dasharray="6 4"' : s.style === 'dotted' ? ' stroke-dasharray="2 3"' : '';
      const w = s.style === 'line' ? 2.2 : 1.5;
      parts.push(`<path d="${segs.join(' ')}" fill="none" stroke="${s.color}" stroke-width="${w}"${dash} stroke-linejoin="round"/>`);
    }
  }
  for (const g of data.rightGuides ?? []) {
    const yy = num(y(g.value, 'right'));
    parts.push(`<line x1="${m.left}" x2="${m.left + pw}" y1="${yy}" y2="${yy}" stroke="#868e96" stroke-dasharray="4 4" stroke-width="1"/>`);
    parts.push(`<text x="${m.left + pw - 4}" y="${num(y(g.value, 'right') - 4)}" text-anchor="end" fill="#868e96" font-size="11">${esc(g.label)} ${num(g.value)}</text>`);
  }
  for (const mk of data.markers ?? []) {
    const xx = num(x(mk.t));
    parts.push(`<line x1="${xx}" x2="${xx}" y1="${m.top}" y2="${m.top + ph}" stroke="#495057" stroke-dasharray="1 3"/>`);
    parts.push(`<text x="${xx}" y="${m.top - 6}" text-anchor="middle" fill="#495057" font-size="11">${esc(mk.label)}</text>`);
  }
  // legend, three entries per row
  data.series.forEach((s, i) => {
    const lx = m.left + (i % 3) * (pw / 3);
    const ly = m.top + ph + 56 + Math.floor(i / 3) * 18;
    if (s.style === 'area') parts.push(`<rect x="${lx}" y="${ly - 6}" width="24" height="10" fill="${s.color}" fill-opacity="0.35"/>`);
    else {
      const dash = s.style === 'dashed' ? ' stroke-dasharray="6 4"' : s.style === 'dotted' ? ' stroke-dasharray="2 3"' : '';
      parts.push(`<line x1="${lx}" x2="${lx + 24}" y1="${ly}" y2="${ly}" stroke="${s.color}" stroke-width="2"${dash}/>`);
    }
    parts.push(`<text x="${lx + 30}" y="${ly}" dominant-baseline="middle" fill="#212529">${esc(s.label)}${s.axis === 'right' ? ' (right axis)' : ''}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
