//! `csv_chart`: a chart of one column of a CSV the person pasted (in the arguments, or the last
//! one they sent in the conversation). The tool returns the chart as data; the page draws it as
//! SVG with every label escaped, so nothing in the CSV can become markup.

use super::csv_stats::{csv_text, is_missing, parse_number, parse_table, Table};
use super::{parse_arguments, run_blocking, schema_of, Tool, ToolContext, ToolError, ToolReply};
use crate::db::SharedStore;
use crate::model::{nice_step, Chart, ChartKind, ChartPoint};
use crate::text::{clip, plain_number};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;
use std::{collections::HashMap, fmt::Write, time::Duration};

/// Bars beyond this are unreadable: the largest are kept and the model is told.
const MAX_BARS: usize = 40;
/// A line keeps every point up to this many rows.
const MAX_LINE_POINTS: usize = 1_000;
const MAX_BINS: u32 = 50;
/// Labels are cut to this many characters (the page shortens them further on the axis).
const MAX_LABEL_CHARS: usize = 60;
const MAX_TITLE_CHARS: usize = 120;
/// Data lines the model reads back (the chart itself may hold more points).
const MAX_LISTED_POINTS: usize = 40;

pub struct CsvChart {
    store: SharedStore,
}

impl CsvChart {
    pub fn new(store: SharedStore) -> CsvChart {
        CsvChart { store }
    }
}

#[derive(Deserialize, JsonSchema, Clone, Copy, PartialEq, Debug)]
#[serde(rename_all = "lowercase")]
enum Kind {
    Auto,
    Bar,
    Histogram,
    Line,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Arguments {
    /// The column to chart (its header name).
    column: String,
    /// A column that labels each row (for example a month or a name): one bar or point per
    /// label with `column`'s value; values of the same label are added up.
    #[serde(default)]
    by: Option<String>,
    /// bar, line or histogram; auto (or absent) picks one: bars with `by`, a histogram for a
    /// number column, bars counting the values of a text column.
    #[serde(default)]
    kind: Option<Kind>,
    /// About this many histogram bins, 2 to 50 (their edges are rounded to round numbers;
    /// chosen from the number of values when absent).
    #[serde(default)]
    bins: Option<u32>,
    /// The chart's title (one is made from the column names when absent).
    #[serde(default)]
    title: Option<String>,
    /// The CSV text, header row first. Leave it out to use the last CSV the person pasted in
    /// this conversation.
    #[serde(default)]
    csv: Option<String>,
}

#[async_trait::async_trait]
impl Tool for CsvChart {
    fn name(&self) -> &'static str {
        "csv_chart"
    }

    fn description(&self) -> &'static str {
        "Draws a chart of one column of a CSV table for the person: a histogram of a number column, bars counting the values of a text column, or with `by` one bar or line point per label (for example sales by month). The person sees the chart; you get its data back to describe it. Without `csv`, uses the last CSV the person pasted in the conversation."
    }

    fn parameters(&self) -> Value {
        schema_of::<Arguments>()
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs(5)
    }

    async fn call(&self, context: &ToolContext, arguments: Value) -> Result<String, ToolError> {
        self.reply(context, arguments).await.map(|reply| reply.text)
    }

    async fn reply(&self, context: &ToolContext, arguments: Value) -> Result<ToolReply, ToolError> {
        let arguments: Arguments = parse_arguments(arguments)?;
        let text = csv_text(&self.store, context, arguments.csv.clone()).await?;
        run_blocking(self.timeout(), move || {
            let table = parse_table(&text)?;
            let drawn = draw(&table, &arguments)?;
            Ok(ToolReply {
                text: describe(&drawn),
                charts: vec![drawn.chart],
            })
        })
        .await
    }
}

/// A chart and what the model should know about how it was made.
struct Drawn {
    chart: Chart,
    /// Sentences about values left out or merged.
    notes: Vec<String>,
}

fn draw(table: &Table, arguments: &Arguments) -> Result<Drawn, ToolError> {
    let index = table.column(&arguments.column)?;
    let column = table.headers[index].clone();
    let kind = arguments.kind.unwrap_or(Kind::Auto);
    if let Some(bins) = arguments.bins {
        if !(2..=MAX_BINS).contains(&bins) {
            return Err(ToolError::InvalidArguments(format!(
                "bins must be between 2 and {MAX_BINS}"
            )));
        }
    }
    let present: Vec<&str> = table.cells(index).filter(|c| !is_missing(c)).collect();
    let missing = table.rows.len() - present.len();
    if present.is_empty() {
        return Err(ToolError::Failed(format!(
            "the column '{column}' has no values"
        )));
    }
    let numbers: Vec<f64> = present.iter().filter_map(|c| parse_number(c)).collect();
    let numeric = numbers.len() == present.len();
    let mut drawn = match (&arguments.by, kind) {
        (Some(_), Kind::Histogram) => {
            return Err(ToolError::InvalidArguments(
                "a histogram counts the values of one column: leave out `by`".into(),
            ))
        }
        (Some(by), kind) => {
            let kind = if kind == Kind::Line {
                ChartKind::Line
            } else {
                ChartKind::Bar
            };
            by_label(table, index, table.column(by)?, kind)?
        }
        (None, Kind::Histogram | Kind::Auto) if numeric => {
            histogram(&column, &numbers, arguments.bins)
        }
        (None, Kind::Line) if numeric => in_row_order(&column, table, index),
        (None, Kind::Histogram | Kind::Line) => {
            return Err(ToolError::InvalidArguments(format!(
                "the column '{column}' is text, not numbers: draw bars counting its values \
                 (kind bar), or pass a number column"
            )))
        }
        (None, Kind::Bar | Kind::Auto) => counts(&column, &present),
    };
    if missing > 0 {
        drawn
            .notes
            .push(format!("{missing} rows without a value were left out."));
    }
    if let Some(title) = arguments
        .title
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        drawn.chart.title = clip(title, MAX_TITLE_CHARS);
    }
    Ok(drawn)
}

/// Counts of each number of a column in equal bins whose edges are round numbers (as d3 and
/// most plotting tools make them), about `bins` of them.
fn histogram(column: &str, numbers: &[f64], bins: Option<u32>) -> Drawn {
    let (min, max) = numbers
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| {
            (lo.min(x), hi.max(x))
        });
    // Sturges' rule when no number of bins is asked for.
    let wanted = bins
        .map(|b| b as f64)
        .unwrap_or_else(|| ((numbers.len() as f64).log2().ceil() + 1.0).clamp(2.0, 20.0));
    let points = if max - min <= f64::EPSILON * max.abs().max(1.0) {
        vec![ChartPoint {
            label: plain_number(min),
            value: numbers.len() as f64,
        }]
    } else {
        let step = nice_step((max - min) / wanted);
        let start = (min / step).floor() * step;
        // A tiny allowance, so that 0.3 / 0.1 lands in bin 3, not 2.
        let bin_of = |x: f64| ((x - start) / step + 1e-9).floor() as usize;
        // The largest value on an edge closes the last bin, as in d3; otherwise it opens one.
        let last = bin_of(max);
        let on_edge = (start + step * last as f64 - max).abs() < step * 1e-9;
        let count = if on_edge { last.max(1) } else { last + 1 };
        let mut counts = vec![0usize; count];
        for &x in numbers {
            counts[bin_of(x).min(count - 1)] += 1;
        }
        let decimals = (-step.log10().floor()).clamp(0.0, 12.0) as usize;
        let edge = |i: usize| {
            let text = format!("{:.decimals$}", start + step * i as f64);
            // "-0" reads oddly on an axis.
            if text
                .trim_start_matches('-')
                .chars()
                .all(|c| c == '0' || c == '.')
            {
                text.trim_start_matches('-').to_string()
            } else {
                text
            }
        };
        counts
            .iter()
            .enumerate()
            .map(|(i, &n)| ChartPoint {
                label: format!("{}–{}", edge(i), edge(i + 1)),
                value: n as f64,
            })
            .collect()
    };
    Drawn {
        chart: Chart {
            kind: ChartKind::Histogram,
            title: clip(&format!("Distribution of {column}"), MAX_TITLE_CHARS),
            x_label: clip(column, MAX_LABEL_CHARS),
            y_label: "rows".into(),
            points,
        },
        notes: Vec::new(),
    }
}

/// How many times each value of a column appears, most common first.
fn counts(column: &str, present: &[&str]) -> Drawn {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for cell in present {
        *counts.entry(cell).or_default() += 1;
    }
    let mut counted: Vec<(&str, usize)> = counts.into_iter().collect();
    counted.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let mut notes = Vec::new();
    if counted.len() > MAX_BARS {
        let rest: usize = counted[MAX_BARS - 1..].iter().map(|(_, n)| n).sum();
        notes.push(format!(
            "{} distinct values: the {} most common are shown, the other {} rows are one bar, 'other'.",
            counted.len(),
            MAX_BARS - 1,
            rest
        ));
        counted.truncate(MAX_BARS - 1);
        counted.push(("other", rest));
    }
    Drawn {
        chart: Chart {
            kind: ChartKind::Bar,
            title: clip(&format!("{column}: rows per value"), MAX_TITLE_CHARS),
            x_label: clip(column, MAX_LABEL_CHARS),
            y_label: "rows".into(),
            points: counted
                .into_iter()
                .map(|(label, count)| ChartPoint {
                    label: clip(label, MAX_LABEL_CHARS),
                    value: count as f64,
                })
                .collect(),
        },
        notes,
    }
}

/// One point per label of the `by` column (in the order labels first appear), summing the
/// values of rows that share a label.
fn by_label(table: &Table, index: usize, by: usize, kind: ChartKind) -> Result<Drawn, ToolError> {
    let (column, by_name) = (&table.headers[index], &table.headers[by]);
    let mut order: Vec<&str> = Vec::new();
    let mut sums: HashMap<&str, (f64, usize)> = HashMap::new();
    let mut skipped = 0usize;
    for row in &table.rows {
        let label = row.get(by).map(String::as_str).unwrap_or("");
        let value = row.get(index).map(String::as_str).unwrap_or("");
        match (is_missing(label), parse_number(value)) {
            (false, Some(value)) => {
                let entry = sums.entry(label).or_insert_with(|| {
                    order.push(label);
                    (0.0, 0)
                });
                entry.0 += value;
                entry.1 += 1;
            }
            _ => skipped += 1,
        }
    }
    if order.is_empty() {
        return Err(ToolError::Failed(format!(
            "no row has both a '{by_name}' and a number in '{column}'"
        )));
    }
    let mut notes = Vec::new();
    if skipped > 0 {
        notes.push(format!(
            "{skipped} rows without a '{by_name}' or without a number in '{column}' were left out."
        ));
    }
    if sums.values().any(|(_, n)| *n > 1) {
        notes.push(format!("Rows with the same '{by_name}' were added up."));
    }
    let cap = if kind == ChartKind::Bar {
        MAX_BARS
    } else {
        MAX_LINE_POINTS
    };
    if order.len() > cap {
        // Bars: the largest are kept, in their original order.
        let mut largest = order.clone();
        largest.sort_by(|a, b| sums[b].0.total_cmp(&sums[a].0));
        largest.truncate(cap);
        notes.push(format!(
            "{} labels: only the {cap} largest are shown.",
            order.len()
        ));
        order.retain(|label| largest.contains(label));
    }
    let points = order
        .iter()
        .map(|label| ChartPoint {
            label: clip(label, MAX_LABEL_CHARS),
            value: sums[label].0,
        })
        .collect();
    Ok(Drawn {
        chart: Chart {
            kind,
            title: clip(&format!("{column} by {by_name}"), MAX_TITLE_CHARS),
            x_label: clip(by_name, MAX_LABEL_CHARS),
            y_label: clip(column, MAX_LABEL_CHARS),
            points,
        },
        notes,
    })
}

/// A number column as a line, one point per row in the order of the table.
fn in_row_order(column: &str, table: &Table, index: usize) -> Drawn {
    let mut notes = Vec::new();
    let values: Vec<(usize, f64)> = table
        .cells(index)
        .enumerate()
        .filter_map(|(row, cell)| parse_number(cell).map(|value| (row + 1, value)))
        .collect();
    let step = values.len().div_ceil(MAX_LINE_POINTS).max(1);
    if step > 1 {
        notes.push(format!("{} rows: every {step}th is shown.", values.len()));
    }
    Drawn {
        chart: Chart {
            kind: ChartKind::Line,
            title: clip(&format!("{column} by row"), MAX_TITLE_CHARS),
            x_label: "row".into(),
            y_label: clip(column, MAX_LABEL_CHARS),
            points: values
                .into_iter()
                .step_by(step)
                .map(|(row, value)| ChartPoint {
                    label: row.to_string(),
                    value,
                })
                .collect(),
        },
        notes,
    }
}

/// What the model reads: what was drawn, then its data (so it can describe the chart).
fn describe(drawn: &Drawn) -> String {
    let chart = &drawn.chart;
    let kind = match chart.kind {
        ChartKind::Bar => "bar chart",
        ChartKind::Histogram => "histogram",
        ChartKind::Line => "line chart",
    };
    let mut text = format!(
        "The person now sees a {kind} titled \"{}\" ({} points; x: {}, y: {}). Describe what it \
         shows; do not draw it again as text or an image.\n",
        chart.title,
        chart.points.len(),
        chart.x_label,
        chart.y_label
    );
    for note in &drawn.notes {
        let _ = writeln!(text, "{note}");
    }
    let _ = writeln!(text, "\n{} | {}", chart.x_label, chart.y_label);
    for point in chart.points.iter().take(MAX_LISTED_POINTS) {
        let _ = writeln!(text, "{} | {}", point.label, plain_number(point.value));
    }
    if chart.points.len() > MAX_LISTED_POINTS {
        let _ = writeln!(
            text,
            "… and {} more points.",
            chart.points.len() - MAX_LISTED_POINTS
        );
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart(csv: &str, arguments: Value) -> Result<Drawn, ToolError> {
        let table = parse_table(csv).unwrap();
        let arguments: Arguments = parse_arguments(arguments)?;
        draw(&table, &arguments)
    }

    fn points(drawn: &Drawn) -> Vec<(String, f64)> {
        drawn
            .chart
            .points
            .iter()
            .map(|p| (p.label.clone(), p.value))
            .collect()
    }

    const SALES: &str =
        "month,region,units\nJan,North,10\nJan,South,4\nFeb,North,7\nMar,North,\nMar,South,12\n";

    #[test]
    fn a_number_column_becomes_a_histogram_that_counts_every_value() {
        let csv = "price\n1\n2\n2\n3\n9\n10\nNA\n";
        let drawn = chart(csv, serde_json::json!({"column": "price", "bins": 3})).unwrap();
        assert_eq!(drawn.chart.kind, ChartKind::Histogram);
        assert_eq!(
            points(&drawn),
            [
                ("0–2".to_string(), 1.0),
                ("2–4".to_string(), 3.0),
                ("4–6".to_string(), 0.0),
                ("6–8".to_string(), 0.0),
                ("8–10".to_string(), 2.0)
            ]
        );
        assert_eq!(drawn.chart.title, "Distribution of price");
        assert!(drawn
            .notes
            .iter()
            .any(|n| n.contains("1 rows without a value")));
        // Every value lands in a bin, the largest included.
        let sum: f64 = drawn.chart.points.iter().map(|p| p.value).sum();
        assert_eq!(sum, 6.0);
        // Edges at round numbers with the decimals they need, negative values included.
        let small = chart(
            "x\n-0.3\n0.05\n0.31\n",
            serde_json::json!({"column": "x", "bins": 6}),
        )
        .unwrap();
        assert_eq!(small.chart.points.first().unwrap().label, "-0.3–-0.2");
        assert_eq!(small.chart.points.last().unwrap().label, "0.3–0.4");
        assert_eq!(small.chart.points.iter().map(|p| p.value).sum::<f64>(), 3.0);
        // One value only: one bar.
        let single = chart("x\n5\n5\n", serde_json::json!({"column": "x"})).unwrap();
        assert_eq!(points(&single), [("5".to_string(), 2.0)]);
    }

    #[test]
    fn by_a_label_column_values_are_added_up_in_order_of_appearance() {
        let drawn = chart(SALES, serde_json::json!({"column": "units", "by": "month"})).unwrap();
        assert_eq!(drawn.chart.kind, ChartKind::Bar);
        assert_eq!(
            points(&drawn),
            [
                ("Jan".to_string(), 14.0),
                ("Feb".to_string(), 7.0),
                ("Mar".to_string(), 12.0)
            ]
        );
        assert_eq!(drawn.chart.title, "units by month");
        assert_eq!(
            (drawn.chart.x_label.as_str(), drawn.chart.y_label.as_str()),
            ("month", "units")
        );
        assert!(drawn.notes.iter().any(|n| n.contains("added up")));
        assert!(drawn.notes.iter().any(|n| n.contains("1 rows without")));
        let line = chart(
            SALES,
            serde_json::json!({"column": "units", "by": "month", "kind": "line", "title": "Units"}),
        )
        .unwrap();
        assert_eq!(line.chart.kind, ChartKind::Line);
        assert_eq!(line.chart.title, "Units");
    }

    #[test]
    fn a_text_column_is_counted_and_many_values_are_folded_into_other() {
        let drawn = chart(SALES, serde_json::json!({"column": "REGION"})).unwrap();
        assert_eq!(
            points(&drawn),
            [("North".to_string(), 3.0), ("South".to_string(), 2.0)]
        );
        let many: String = std::iter::once("name".to_string())
            .chain((0..100).map(|i| format!("n{i}")))
            .collect::<Vec<_>>()
            .join("\n");
        let folded = chart(&many, serde_json::json!({"column": "name"})).unwrap();
        assert_eq!(folded.chart.points.len(), MAX_BARS);
        assert_eq!(folded.chart.points.last().unwrap().label, "other");
        assert_eq!(folded.chart.points.last().unwrap().value, 61.0);
    }

    #[test]
    fn impossible_charts_are_clear_errors() {
        for (arguments, expected) in [
            (serde_json::json!({"column": "cost"}), "no column 'cost'"),
            (
                serde_json::json!({"column": "region", "kind": "histogram"}),
                "is text",
            ),
            (
                serde_json::json!({"column": "units", "by": "month", "kind": "histogram"}),
                "leave out `by`",
            ),
            (
                serde_json::json!({"column": "units", "bins": 500}),
                "bins must be",
            ),
            (
                serde_json::json!({"column": "units", "kind": "pie"}),
                "invalid arguments",
            ),
            (serde_json::json!({"columns": "units"}), "invalid arguments"),
            (
                serde_json::json!({"column": "region", "by": "month"}),
                "no row has both",
            ),
        ] {
            let error = chart(SALES, arguments.clone()).err().unwrap().to_string();
            assert!(error.contains(expected), "{arguments}: {error}");
        }
    }

    #[test]
    fn the_model_reads_the_data_it_can_describe() {
        let drawn = chart(SALES, serde_json::json!({"column": "units", "by": "month"})).unwrap();
        let text = describe(&drawn);
        assert!(
            text.contains("bar chart titled \"units by month\""),
            "{text}"
        );
        assert!(
            text.contains("month | units\nJan | 14\nFeb | 7\nMar | 12\n"),
            "{text}"
        );
    }

    #[test]
    fn labels_from_the_csv_stay_plain_text_of_bounded_length() {
        let csv = format!("who,n\n<script>alert(1)</script>{},1\n", "x".repeat(200));
        let drawn = chart(&csv, serde_json::json!({"column": "n", "by": "who"})).unwrap();
        let label = &drawn.chart.points[0].label;
        // Kept as text (the page escapes it when it draws), cut to a bounded length.
        assert!(label.starts_with("<script>"));
        assert_eq!(label.chars().count(), MAX_LABEL_CHARS);
        assert!(label.ends_with('…'));
    }
}
