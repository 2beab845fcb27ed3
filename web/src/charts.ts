// Chart.js, registered with only the pieces the dashboard uses so the
// bundle stays small. Charts draw on <canvas>, which the CSP allows.

import {
  BarController,
  type Plugin,
  BarElement,
  CategoryScale,
  Chart,
  Filler,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
} from 'chart.js';

/**
 * Span is a stretch of the x axis to shade, in category units: the
 * category i spans [i, i + 1) (a day's point stands at its middle), so a
 * span from 3.25 to 3.5 covers the second quarter of the fourth day.
 */
export interface Span {
  from: number;
  to: number;
  /** what it is, for the canvas's data-spans (a test reads them) */
  id: string;
}

declare module 'chart.js' {
  interface PluginOptionsByType<TType> {
    spans?: { spans: Span[] };
  }
}

const spanFill = 'rgba(220, 53, 69, 0.22)';

/**
 * spansPlugin shades options.plugins.spans.spans behind the datasets, each
 * at least 3 px wide, and records what it drew on the canvas as
 * data-spans: JSON [{id, x0, x1, y0, y1}] in CSS pixels.
 */
const spansPlugin: Plugin = {
  id: 'spans',
  beforeDatasetsDraw(chart) {
    // (options are deep-partial in Chart.js's types; setSpans sets whole spans)
    const spans = (chart.options.plugins?.spans?.spans ?? []) as Span[];
    const n = chart.data.labels?.length ?? 0;
    const drawn: { id: string; x0: number; x1: number; y0: number; y1: number }[] = [];
    const x = chart.scales.x;
    const area = chart.chartArea;
    if (n > 0 && x && area) {
      const c0 = x.getPixelForValue(0);
      const w = n > 1 ? x.getPixelForValue(1) - c0 : area.right - area.left;
      const at = (v: number) => c0 - w / 2 + v * w;
      const ctx = chart.ctx;
      ctx.save();
      ctx.fillStyle = spanFill;
      for (const s of spans) {
        let x0 = Math.max(area.left, at(Math.max(0, s.from)));
        let x1 = Math.min(area.right, at(Math.min(n, s.to)));
        if (x1 < x0) continue;
        if (x1 - x0 < 3) {
          const mid = (x0 + x1) / 2;
          x0 = Math.max(area.left, mid - 1.5);
          x1 = Math.min(area.right, x0 + 3);
        }
        ctx.fillRect(x0, area.top, x1 - x0, area.bottom - area.top);
        drawn.push({ id: s.id, x0, x1, y0: area.top, y1: area.bottom });
      }
      ctx.restore();
    }
    chart.canvas.dataset.spans = JSON.stringify(drawn);
  },
};

Chart.register(BarController, BarElement, CategoryScale, Filler, Legend, LinearScale, LineController, LineElement, PointElement, Tooltip, spansPlugin);
// The legend shows only on charts of several datasets (multiChart).
Chart.defaults.plugins.legend.display = false;
Chart.defaults.font.family = 'system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans SC", "Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", sans-serif';
Chart.defaults.animation = false;

const primary = '#0d6efd';

export type Series = { labels: string[]; data: number[]; label: string };

function base(kind: 'line' | 'bar', canvas: HTMLCanvasElement, s: Series): Chart {
  return new Chart(canvas, {
    type: kind,
    data: {
      labels: s.labels,
      datasets: [
        {
          label: s.label,
          data: s.data,
          borderColor: primary,
          backgroundColor: kind === 'line' ? 'rgba(13,110,253,0.12)' : 'rgba(13,110,253,0.7)',
          fill: kind === 'line',
          tension: 0.25,
          pointRadius: 2,
          borderWidth: kind === 'line' ? 2 : 0,
        },
      ],
    },
    options: {
      responsive: true,
      maintainAspectRatio: false,
      interaction: { mode: 'index', intersect: false },
      plugins: { tooltip: { enabled: true } },
      scales: {
        x: { grid: { display: false }, ticks: { autoSkip: true, maxRotation: 0 } },
        y: { beginAtZero: true, ticks: { precision: 0 } },
      },
    },
  });
}

export function lineChart(canvas: HTMLCanvasElement, s: Series): Chart {
  return base('line', canvas, s);
}

export function barChart(canvas: HTMLCanvasElement, s: Series): Chart {
  return base('bar', canvas, s);
}

/** setSpans replaces the shaded spans of a chart and redraws it. */
export function setSpans(chart: Chart, spans: Span[]): void {
  chart.options.plugins = { ...chart.options.plugins, spans: { spans } };
  chart.update('none');
}

/**
 * scoreChart is a line chart of scores in [-1, 1] (sentiment averages):
 * gaps where a value is null, an axis around 0 with decimal ticks.
 */
export function scoreChart(canvas: HTMLCanvasElement, labels: string[], data: (number | null)[], label: string): Chart {
  return new Chart(canvas, {
    type: 'line',
    data: { labels, datasets: [{ label, data, borderColor: primary, backgroundColor: 'rgba(13,110,253,0.12)', tension: 0.25, pointRadius: 3, borderWidth: 2, spanGaps: false }] },
    options: {
      responsive: true,
      maintainAspectRatio: false,
      interaction: { mode: 'index', intersect: false },
      plugins: { tooltip: { enabled: true } },
      scales: {
        x: { grid: { display: false }, ticks: { autoSkip: true, maxRotation: 0 } },
        y: { suggestedMin: -0.5, suggestedMax: 0.5, ticks: { maxTicksLimit: 7 } },
      },
    },
  });
}

const svgNS = 'http://www.w3.org/2000/svg';

/**
 * sparkline draws values (oldest first, at least two) as a small SVG line,
 * the last value marked by a dot; the polyline's points are in data-values.
 */
export function sparkline(values: number[], title: string): SVGSVGElement {
  const w = 120;
  const hgt = 28;
  const svg = document.createElementNS(svgNS, 'svg');
  svg.setAttribute('class', 'sparkline');
  svg.setAttribute('viewBox', `0 0 ${w} ${hgt}`);
  svg.setAttribute('width', String(w));
  svg.setAttribute('height', String(hgt));
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', title);
  svg.dataset.values = values.join(',');
  const t = document.createElementNS(svgNS, 'title');
  t.textContent = title;
  svg.appendChild(t);
  if (values.length < 2) return svg;
  const top = Math.max(1, ...values);
  const step = (w - 4) / (values.length - 1);
  const xy = values.map((v, i) => [2 + i * step, hgt - 3 - (Math.max(0, v) / top) * (hgt - 6)]);
  const line = document.createElementNS(svgNS, 'polyline');
  line.setAttribute('points', xy.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(' '));
  line.setAttribute('fill', 'none');
  line.setAttribute('stroke', primary);
  line.setAttribute('stroke-width', '1.5');
  svg.appendChild(line);
  const [lx, ly] = xy[xy.length - 1];
  const dot = document.createElementNS(svgNS, 'circle');
  dot.setAttribute('cx', lx.toFixed(1));
  dot.setAttribute('cy', ly.toFixed(1));
  dot.setAttribute('r', '2.5');
  dot.setAttribute('fill', '#dc3545');
  svg.appendChild(dot);
  return svg;
}

/** setSeries replaces a chart's data and redraws without animation. */
export function setSeries(chart: Chart, s: Series): void {
  chart.data.labels = s.labels;
  chart.data.datasets[0].data = s.data;
  chart.data.datasets[0].label = s.label;
  chart.update('none');
}

/** Dataset is one line or bar series of multiChart. */
export interface Dataset {
  label: string;
  data: number[];
  color: string;
  /** a dashed line without fill (a comparison: the previous period) */
  dashed?: boolean;
}

/**
 * multiChart draws several datasets on one axis with a legend: lines (the
 * dashed one unfilled) or bars (stacked when stacked is set).
 */
export function multiChart(kind: 'line' | 'bar', canvas: HTMLCanvasElement, labels: string[], sets: Dataset[], stacked = false): Chart {
  return new Chart(canvas, {
    type: kind,
    data: {
      labels,
      datasets: sets.map((d) => ({
        label: d.label,
        data: d.data,
        borderColor: d.color,
        backgroundColor: kind === 'bar' ? d.color : d.dashed ? 'transparent' : d.color + '1f',
        fill: kind === 'line' && !d.dashed,
        borderDash: d.dashed ? [6, 4] : [],
        tension: 0.25,
        pointRadius: labels.length > 60 ? 0 : 2,
        borderWidth: kind === 'line' ? 2 : 0,
      })),
    },
    options: {
      responsive: true,
      maintainAspectRatio: false,
      interaction: { mode: 'index', intersect: false },
      plugins: { tooltip: { enabled: true }, legend: { display: true, position: 'bottom', labels: { boxWidth: 12 } } },
      scales: {
        x: { stacked, grid: { display: false }, ticks: { autoSkip: true, maxRotation: 0 } },
        y: { stacked, beginAtZero: true, ticks: { precision: 0 } },
      },
    },
  });
}
