// Chart.js, registered with only the pieces the dashboard uses so the
// bundle stays small. Charts draw on <canvas>, which the CSP allows.

import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Filler,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
} from 'chart.js';

Chart.register(BarController, BarElement, CategoryScale, Filler, LinearScale, LineController, LineElement, PointElement, Tooltip);
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

/** setSeries replaces a chart's data and redraws without animation. */
export function setSeries(chart: Chart, s: Series): void {
  chart.data.labels = s.labels;
  chart.data.datasets[0].data = s.data;
  chart.data.datasets[0].label = s.label;
  chart.update('none');
}
