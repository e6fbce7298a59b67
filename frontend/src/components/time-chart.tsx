// A uPlot line chart over epoch-second timestamps: canvas-drawn, so thousands of live points stay cheap.
import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

import { useEffectiveTheme } from '@/hooks/use-theme';
import { getSiteTimeZone, useSiteTimeZone } from '@/lib/site-time';

export interface ChartSeries {
  label: string;
  values: ArrayLike<number | null>;
  /** CSS custom property holding the colour, e.g. `--chart-1`. */
  colorVar: string;
  unit?: string;
  fill?: boolean;
  /** Dashed stroke (canvas dash pattern), e.g. a forecast. */
  dash?: number[];
  /** Line width in CSS pixels (default 2; band edges are thinner). */
  width?: number;
}

export interface TimeChartProps {
  /** Epoch seconds, ascending. */
  ts: ArrayLike<number>;
  series: ChartSeries[];
  /** Accessible name; the chart is announced as one image with this label. */
  label: string;
  height?: number;
  /** Draw as a bare sparkline: no axes, no cursor. */
  sparkline?: boolean;
  /** Step-style bars for counts such as anomalies per bucket. */
  bars?: boolean;
  /** Shade between two series (indexes into `series`), e.g. a forecast's P10–P90 band. */
  band?: { upper: number; lower: number; colorVar: string };
}

function cssVar(name: string, fallback: string): string {
  const value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return value || fallback;
}

function withAlpha(color: string, alpha: number): string {
  const match = /^#([0-9a-f]{6})$/i.exec(color);
  if (!match || !match[1]) return color;
  const n = parseInt(match[1], 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
}

/** Axis label for epoch seconds in the site's zone: seconds for short spans, dates for long ones. */
export function formatTick(seconds: number, span: number, timeZone = getSiteTimeZone()): string {
  const date = new Date(seconds * 1000);
  if (span > 2 * 86_400) return date.toLocaleDateString(undefined, { month: 'short', day: 'numeric', timeZone });
  if (span > 3 * 3600) {
    return date.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', hour12: false, timeZone });
  }
  return date.toLocaleTimeString(undefined, {
    hour: '2-digit',
    minute: '2-digit',
    second: span > 600 ? undefined : '2-digit',
    hour12: false,
    timeZone,
  });
}

function buildOptions(props: TimeChartProps, width: number, zone: string): uPlot.Options {
  const { series, height = 240, sparkline = false, bars = false, band } = props;
  const axisColor = cssVar('--text-muted', '#555');
  const gridColor = cssVar('--border', '#ddd');
  const timeAxis: uPlot.Axis = {
    stroke: axisColor,
    grid: { stroke: gridColor, width: 1 },
    ticks: { stroke: gridColor, width: 1 },
    values: (_u, splits) => {
      const span = splits.length > 1 ? (splits[splits.length - 1] ?? 0) - (splits[0] ?? 0) : 0;
      return splits.map((v) => formatTick(v, span, zone));
    },
    // Whole seconds at least: the API pushes every few seconds, sub-second ticks only repeat labels.
    incrs: [
      1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10_800, 21_600, 43_200, 86_400, 172_800, 604_800,
    ],
    size: 36,
    // Room for an HH:MM:SS label between ticks, so narrow charts (the sensor panel) do not overlap them.
    space: 90,
  };
  const axis = (unit?: string): uPlot.Axis => ({
    stroke: axisColor,
    grid: { stroke: gridColor, width: 1 },
    ticks: { stroke: gridColor, width: 1 },
    values: unit ? (_u, splits) => splits.map((v) => `${v} ${unit}`) : undefined,
    size: unit ? 70 : 50,
  });
  return {
    width,
    height,
    legend: { show: false },
    cursor: sparkline ? { show: false } : { drag: { x: true, y: false } },
    scales: { x: { time: true } },
    // ticks fall on the site's midnights and hours, not the browser's
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), zone),
    bands: band
      ? [{ series: [band.upper + 1, band.lower + 1], fill: withAlpha(cssVar(band.colorVar, '#2563eb'), 0.18) }]
      : undefined,
    axes: sparkline ? [{ show: false }, { show: false }] : [timeAxis, axis(series[0]?.unit)],
    series: [
      {},
      ...series.map((s) => {
        const stroke = cssVar(s.colorVar, '#2563eb');
        return {
          label: s.label,
          stroke,
          width: s.width ?? (sparkline ? 1.5 : 2),
          dash: s.dash,
          fill: s.fill ? withAlpha(stroke, 0.15) : undefined,
          points: { show: false },
          paths: bars ? uPlot.paths.stepped?.({ align: 1 }) : undefined,
          spanGaps: true,
        } satisfies uPlot.Series;
      }),
    ],
  };
}

function toData(props: TimeChartProps): uPlot.AlignedData {
  return [props.ts as number[], ...props.series.map((s) => s.values as (number | null)[])];
}

export function TimeChart(props: TimeChartProps) {
  const { label, height = 240, sparkline = false, series } = props;
  const container = useRef<HTMLDivElement>(null);
  const chart = useRef<uPlot | null>(null);
  const theme = useEffectiveTheme();
  const zone = useSiteTimeZone();
  const band = props.band ? `${props.band.upper}-${props.band.lower}-${props.band.colorVar}` : '';
  const shape = `${series.map((s) => `${s.label}:${s.colorVar}:${s.unit ?? ''}`).join('|')}|${height}|${sparkline}|${props.bars ?? false}|${theme}|${zone}|${band}`;
  const latest = useRef(props);
  latest.current = props;

  // (Re)create the chart when its shape or the theme changes.
  useEffect(() => {
    const el = container.current;
    if (!el) return;
    const plot = new uPlot(buildOptions(latest.current, el.clientWidth || 600, zone), toData(latest.current), el);
    chart.current = plot;
    let observer: ResizeObserver | undefined;
    if (typeof ResizeObserver !== 'undefined') {
      observer = new ResizeObserver((entries) => {
        const width = Math.floor(entries[0]?.contentRect.width ?? 0);
        if (width > 0) plot.setSize({ width, height: latest.current.height ?? 240 });
      });
      observer.observe(el);
    }
    return () => {
      observer?.disconnect();
      plot.destroy();
      chart.current = null;
    };
  }, [shape, zone]);

  // New data: redraw in place, no re-creation.
  useEffect(() => {
    chart.current?.setData(toData(props));
  });

  return (
    <div
      ref={container}
      className={sparkline ? 'chart chart--sparkline' : 'chart'}
      role="img"
      aria-label={label}
      style={{ minHeight: height }}
    />
  );
}
