//! Charts a tool drew, drawn as SVG from their data. Every label goes in as text (escaped by
//! the view), so a CSV can put nothing but words on the page. The same view renders on the
//! server and in the browser; a folded table holds the numbers for screen readers and copying.

use crate::model::{nice_step, Chart, ChartKind};
use crate::text::{clip, plain_number};
use leptos::prelude::*;

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 300.0;
const LEFT: f64 = 60.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 64.0;
/// Labels under the x axis: at most this many, so they never overlap.
const MAX_X_LABELS: usize = 12;
/// Characters of an x label shown under the axis (the whole label is in the tooltip).
const X_LABEL_CHARS: usize = 14;

/// The value axis: from `min` to `max`, with a tick every `step`.
#[derive(Debug, PartialEq)]
pub struct ValueAxis {
    pub min: f64,
    pub max: f64,
    pub step: f64,
}

impl ValueAxis {
    /// An axis with round ticks that holds every value and zero (bars start at zero).
    pub fn for_values(values: impl Iterator<Item = f64>) -> ValueAxis {
        let (low, high) = values
            .filter(|v| v.is_finite())
            .fold((0.0f64, 0.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
        let high = if high == low { low + 1.0 } else { high };
        let step = nice_step((high - low) / 5.0);
        ValueAxis {
            min: (low / step).floor() * step,
            max: (high / step).ceil() * step,
            step,
        }
    }

    pub fn ticks(&self) -> Vec<f64> {
        let count = ((self.max - self.min) / self.step).round() as usize;
        (0..=count.min(20))
            .map(|i| self.min + self.step * i as f64)
            .collect()
    }

    /// The y coordinate of a value.
    fn y(&self, value: f64) -> f64 {
        TOP + (HEIGHT - TOP - BOTTOM) * (self.max - value) / (self.max - self.min)
    }

    /// A tick's label: short (12k, 3.5M) and with only the decimals the step needs.
    pub fn label(&self, value: f64) -> String {
        let magnitude = self.step.abs().max(value.abs());
        let (scaled, step, suffix) = if magnitude >= 1e9 && self.step >= 1e8 {
            (value / 1e9, self.step / 1e9, "B")
        } else if magnitude >= 1e6 && self.step >= 1e5 {
            (value / 1e6, self.step / 1e6, "M")
        } else if magnitude >= 1e4 && self.step >= 1e3 {
            (value / 1e3, self.step / 1e3, "k")
        } else {
            (value, self.step, "")
        };
        let decimals = (-step.log10().floor()).clamp(0.0, 10.0) as usize;
        let text = format!("{scaled:.decimals$}");
        let text = if text
            .trim_start_matches('-')
            .chars()
            .all(|c| c == '0' || c == '.')
        {
            "0".to_string()
        } else {
            text
        };
        format!("{text}{suffix}")
    }
}

fn px(value: f64) -> String {
    format!("{value:.1}")
}

#[component]
pub fn ChartFigure(chart: Chart) -> impl IntoView {
    let Chart {
        kind,
        title,
        x_label,
        y_label,
        points,
    } = chart;
    let axis = ValueAxis::for_values(points.iter().map(|p| p.value));
    let count = points.len().max(1);
    let plot_width = WIDTH - LEFT - RIGHT;
    let slot = plot_width / count as f64;
    let center = move |i: usize| LEFT + slot * (i as f64 + 0.5);
    let baseline = axis.y(0.0f64.clamp(axis.min, axis.max));
    let label_every = count.div_ceil(MAX_X_LABELS);
    // Long labels lean, so that more fit.
    let lean = points
        .iter()
        .step_by(label_every)
        .any(|p| p.label.chars().count() * 7 > slot as usize * label_every);
    let kind_name = match kind {
        ChartKind::Bar => "bar",
        ChartKind::Histogram => "histogram",
        ChartKind::Line => "line",
    };
    let description = format!("{kind_name} chart: {title}; {y_label} by {x_label}");

    let grid = axis
        .ticks()
        .into_iter()
        .map(|tick| {
            let y = px(axis.y(tick));
            let label = axis.label(tick);
            view! {
                <g>
                    <line x1=px(LEFT) x2=px(WIDTH - RIGHT) y1=y.clone() y2=y.clone() class="stroke-line" stroke-width="1"/>
                    <text x=px(LEFT - 6.0) y=y dy="0.32em" text-anchor="end" class="fill-muted" font-size="11">{label}</text>
                </g>
            }
        })
        .collect_view();

    let marks = match kind {
        ChartKind::Bar | ChartKind::Histogram => {
            // Histogram bins touch; bars keep a gap.
            let width = if kind == ChartKind::Histogram {
                (slot - 1.0).max(1.0)
            } else {
                (slot * 0.7).max(1.0)
            };
            points
                .iter()
                .enumerate()
                .map(|(i, point)| {
                    let y = axis.y(point.value);
                    let (top, height) = if y < baseline {
                        (y, baseline - y)
                    } else {
                        (baseline, y - baseline)
                    };
                    let tip = format!("{}: {}", point.label, plain_number(point.value));
                    view! {
                        <g data-testid="chart-mark">
                            <rect x=px(center(i) - width / 2.0) y=px(top) width=px(width) height=px(height.max(0.5)) class="fill-primary"/>
                            <title>{tip}</title>
                        </g>
                    }
                })
                .collect_view()
                .into_any()
        }
        ChartKind::Line => {
            let line: Vec<String> = points
                .iter()
                .enumerate()
                .map(|(i, p)| format!("{},{}", px(center(i)), px(axis.y(p.value))))
                .collect();
            let dots = (points.len() <= 60).then(|| {
                points
                    .iter()
                    .enumerate()
                    .map(|(i, point)| {
                        let tip = format!("{}: {}", point.label, plain_number(point.value));
                        view! {
                            <g data-testid="chart-mark">
                                <circle cx=px(center(i)) cy=px(axis.y(point.value)) r="3" class="fill-primary"/>
                                <title>{tip}</title>
                            </g>
                        }
                    })
                    .collect_view()
            });
            view! {
                <g>
                    <polyline points=line.join(" ") fill="none" stroke-width="2" class="stroke-primary"/>
                    {dots}
                </g>
            }
            .into_any()
        }
    };

    let x_labels = points
        .iter()
        .enumerate()
        .step_by(label_every)
        .map(|(i, point)| {
            let x = px(center(i));
            let y = px(HEIGHT - BOTTOM + 14.0);
            let text = clip(&point.label, X_LABEL_CHARS);
            let transform = lean.then(|| format!("rotate(-35 {x} {y})"));
            let anchor = if lean { "end" } else { "middle" };
            view! {
                <text x=x y=y text-anchor=anchor transform=transform class="fill-muted" font-size="11">{text}</text>
            }
        })
        .collect_view();

    let rows = points
        .iter()
        .map(|point| {
            view! {
                <tr>
                    <td class="pr-4">{point.label.clone()}</td>
                    <td class="text-right tabular-nums">{plain_number(point.value)}</td>
                </tr>
            }
        })
        .collect_view();

    view! {
        <figure data-testid="chart" data-kind=kind_name class="my-2 w-full max-w-2xl">
            <figcaption data-testid="chart-title" class="mb-1 text-sm font-medium">{title}</figcaption>
            <svg viewBox=format!("0 0 {WIDTH} {HEIGHT}") role="img" aria-label=description class="h-auto w-full overflow-visible">
                {grid}
                <line x1=px(LEFT) x2=px(WIDTH - RIGHT) y1=px(baseline) y2=px(baseline) class="stroke-muted" stroke-width="1"/>
                {marks}
                {x_labels}
                <text x=px(LEFT + plot_width / 2.0) y=px(HEIGHT - 4.0) text-anchor="middle" class="fill-muted" font-size="12">{x_label.clone()}</text>
                <text x="12" y=px(TOP + (HEIGHT - TOP - BOTTOM) / 2.0) transform=format!("rotate(-90 12 {})", px(TOP + (HEIGHT - TOP - BOTTOM) / 2.0)) text-anchor="middle" class="fill-muted" font-size="12">{y_label.clone()}</text>
            </svg>
            <details class="mt-1 text-xs text-muted">
                <summary class="cursor-pointer select-none">"Data"</summary>
                <table data-testid="chart-data" class="mt-1">
                    <thead>
                        <tr>
                            <th class="pr-4 text-left font-semibold">{x_label}</th>
                            <th class="text-right font-semibold">{y_label}</th>
                        </tr>
                    </thead>
                    <tbody>{rows}</tbody>
                </table>
            </details>
        </figure>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_value_axis_has_round_ticks_that_hold_every_value_and_zero() {
        let axis = ValueAxis::for_values([3.0, 14.0, 7.0].into_iter());
        assert_eq!(
            axis,
            ValueAxis {
                min: 0.0,
                max: 14.0,
                step: 2.0
            }
        );
        assert_eq!(axis.ticks(), [0.0, 2.0, 4.0, 6.0, 8.0, 10.0, 12.0, 14.0]);
        let negative = ValueAxis::for_values([-42.0, 10.0].into_iter());
        assert!(negative.min <= -42.0 && negative.max >= 10.0);
        assert_eq!(negative.ticks().first(), Some(&negative.min));
        // All zero: still an axis, not a division by zero.
        let flat = ValueAxis::for_values([0.0, 0.0].into_iter());
        assert!(flat.max > flat.min);
        assert!(flat.y(0.0).is_finite());
    }

    #[test]
    fn tick_labels_are_short_and_exact_enough() {
        let big = ValueAxis::for_values([2_400_000.0].into_iter());
        assert_eq!(big.label(big.step * 2.0), "1.0M");
        let thousands = ValueAxis::for_values([48_000.0].into_iter());
        assert_eq!(thousands.label(20_000.0), "20k");
        let small = ValueAxis::for_values([0.42].into_iter());
        assert_eq!(small.label(0.1), "0.1");
        assert_eq!(small.label(0.0), "0");
    }

    #[test]
    fn labels_are_text_in_the_rendered_svg() {
        let chart = Chart {
            kind: ChartKind::Bar,
            title: "<b>sales</b>".into(),
            x_label: "who".into(),
            y_label: "n".into(),
            points: vec![crate::model::ChartPoint {
                label: "<script>alert(1)</script>".into(),
                value: 3.0,
            }],
        };
        let html = view! { <ChartFigure chart/> }.to_html();
        assert!(!html.contains("<script>"), "{html}");
        assert!(!html.contains("<b>"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(html.contains("<rect"), "{html}");
        assert!(
            // Type-erased views put a `<!>` marker after the text: compare up to the text's end.
            html.contains("<title>&lt;script&gt;alert(1)&lt;/script&gt;: 3<"),
            "{html}"
        );
    }
}
