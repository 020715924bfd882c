//! `csv_summary`: summary statistics per column of a CSV the person pasted (in the arguments,
//! or, when the model passes none, the last CSV the person sent in the conversation).

use super::{parse_arguments, run_blocking, schema_of, Tool, ToolContext, ToolError};
use crate::db::SharedStore;
use crate::model::Role;
use crate::text::plain_number;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;
use std::{collections::HashMap, fmt::Write, time::Duration};

const MAX_CSV_BYTES: usize = 2 * 1024 * 1024;
const MAX_COLUMNS: usize = 100;
const MAX_ROWS: usize = 200_000;

pub struct CsvSummary {
    store: SharedStore,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Arguments {
    /// The CSV text, header row first. Leave it out to use the last CSV the person pasted in
    /// this conversation.
    #[serde(default)]
    csv: Option<String>,
    /// Only these columns (by header name); all columns when absent.
    #[serde(default)]
    columns: Option<Vec<String>>,
}

impl CsvSummary {
    pub fn new(store: SharedStore) -> CsvSummary {
        CsvSummary { store }
    }
}

/// The CSV a call is about: the one in its arguments, else the newest CSV the person sent in
/// this conversation. Refused above the size cap.
pub async fn csv_text(
    store: &SharedStore,
    context: &ToolContext,
    given: Option<String>,
) -> Result<String, ToolError> {
    let text = match given.filter(|c| !c.trim().is_empty()) {
        Some(text) => text,
        None => pasted_csv(store, context).await?,
    };
    if text.len() > MAX_CSV_BYTES {
        return Err(ToolError::InvalidArguments(format!(
            "the CSV is larger than {} MB",
            MAX_CSV_BYTES / 1024 / 1024
        )));
    }
    Ok(text)
}

/// The newest CSV in the person's messages of this conversation.
async fn pasted_csv(store: &SharedStore, context: &ToolContext) -> Result<String, ToolError> {
    let Some(conversation_id) = context.conversation_id else {
        return Err(ToolError::InvalidArguments(
            "no CSV given: pass the CSV text in `csv`".into(),
        ));
    };
    let messages = store
        .list_messages(context.owner_id, conversation_id)
        .await
        .map_err(|_| ToolError::Failed("the conversation cannot be read now".into()))?;
    messages
        .iter()
        .rev()
        .filter(|m| m.role == Role::User)
        .find_map(|m| find_csv(&m.content))
        .ok_or_else(|| {
            ToolError::Failed(
                "no CSV found in this conversation: ask the person to paste one (a header \
                 row, then rows, comma-, semicolon- or tab-separated)"
                    .into(),
            )
        })
}

#[async_trait::async_trait]
impl Tool for CsvSummary {
    fn name(&self) -> &'static str {
        "csv_summary"
    }

    fn description(&self) -> &'static str {
        "Summary statistics per column of a CSV table: rows, missing values, and for numbers min, max, mean, median, standard deviation and sum; for text the distinct values and the most common ones. Without `csv`, uses the last CSV the person pasted in the conversation."
    }

    fn parameters(&self) -> Value {
        schema_of::<Arguments>()
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs(5)
    }

    async fn call(&self, context: &ToolContext, arguments: Value) -> Result<String, ToolError> {
        let arguments: Arguments = parse_arguments(arguments)?;
        let text = csv_text(&self.store, context, arguments.csv).await?;
        let columns = arguments.columns;
        run_blocking(self.timeout(), move || {
            let table = parse_table(&text)?;
            summarize(&table, columns.as_deref())
        })
        .await
    }
}

/// A parsed CSV: header names and rows of cells.
#[derive(Debug)]
pub struct Table {
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// The index of the column named `name` (case and surrounding spaces ignored).
    pub fn column(&self, name: &str) -> Result<usize, ToolError> {
        self.headers
            .iter()
            .position(|h| h.eq_ignore_ascii_case(name.trim()))
            .ok_or_else(|| {
                ToolError::InvalidArguments(format!(
                    "there is no column '{name}' (the columns are {})",
                    self.headers.join(", ")
                ))
            })
    }

    /// The cells of one column, "" where a row is short.
    pub fn cells(&self, index: usize) -> impl Iterator<Item = &str> {
        self.rows
            .iter()
            .map(move |row| row.get(index).map(String::as_str).unwrap_or(""))
    }
}

/// The CSV inside a message: a fenced ```csv block, else the whole message when it looks like
/// a table (two lines or more with the same number of separators, at least one).
pub fn find_csv(message: &str) -> Option<String> {
    let mut lines = message.lines();
    while let Some(line) = lines.next() {
        let fence = line.trim_start();
        if fence.starts_with("```")
            && fence
                .trim_start_matches('`')
                .trim()
                .eq_ignore_ascii_case("csv")
        {
            let block: Vec<&str> = lines
                .by_ref()
                .take_while(|l| !l.trim_start().starts_with("```"))
                .collect();
            return Some(block.join("\n"));
        }
    }
    let lines: Vec<&str> = message.lines().filter(|l| !l.trim().is_empty()).collect();
    for separator in [',', ';', '\t'] {
        let count = |line: &str| line.matches(separator).count();
        let mut widths: HashMap<usize, usize> = HashMap::new();
        for line in &lines {
            if count(line) > 0 {
                *widths.entry(count(line)).or_default() += 1;
            }
        }
        let Some((&width, &agreeing)) = widths.iter().max_by_key(|(w, n)| (**n, **w)) else {
            continue;
        };
        if agreeing >= 2 && agreeing * 10 >= lines.len() * 6 {
            // The table: the first run of lines with that many separators (prose around it is
            // left out).
            let table: Vec<&str> = lines
                .iter()
                .copied()
                .skip_while(|l| count(l) != width)
                .take_while(|l| count(l) == width)
                .collect();
            if table.len() >= 2 {
                return Some(table.join("\n"));
            }
        }
    }
    None
}

fn sniff_separator(header: &str) -> u8 {
    [b',', b';', b'\t']
        .into_iter()
        .max_by_key(|s| header.matches(*s as char).count())
        .unwrap_or(b',')
}

pub fn parse_table(text: &str) -> Result<Table, ToolError> {
    let text = text.trim_start_matches('\u{feff}');
    let header = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(sniff_separator(header))
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| ToolError::InvalidArguments(format!("the CSV cannot be read: {e}")))?
        .iter()
        .enumerate()
        .map(|(i, h)| {
            if h.is_empty() {
                format!("column {}", i + 1)
            } else {
                h.to_string()
            }
        })
        .collect();
    if headers.is_empty() {
        return Err(ToolError::InvalidArguments(
            "the CSV has no header row".into(),
        ));
    }
    if headers.len() > MAX_COLUMNS {
        return Err(ToolError::InvalidArguments(format!(
            "the CSV has more than {MAX_COLUMNS} columns"
        )));
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record
            .map_err(|e| ToolError::InvalidArguments(format!("the CSV cannot be read: {e}")))?;
        if record.iter().all(str::is_empty) {
            continue;
        }
        if rows.len() == MAX_ROWS {
            return Err(ToolError::InvalidArguments(format!(
                "the CSV has more than {MAX_ROWS} rows"
            )));
        }
        rows.push(record.iter().map(str::to_string).collect());
    }
    if rows.is_empty() {
        return Err(ToolError::InvalidArguments(
            "the CSV has a header but no rows".into(),
        ));
    }
    Ok(Table { headers, rows })
}

/// A number as people write them in tables: `1,234.5`, `12%`, `$3`, `-4e2`.
pub fn parse_number(cell: &str) -> Option<f64> {
    let cleaned: String = cell
        .trim()
        .trim_start_matches(['$', '€', '£'])
        .trim_end_matches('%')
        .chars()
        .filter(|c| *c != ',' && *c != '_' && *c != ' ')
        .collect();
    cleaned.parse::<f64>().ok().filter(|n| n.is_finite())
}

pub fn is_missing(cell: &str) -> bool {
    matches!(
        cell.trim().to_ascii_lowercase().as_str(),
        "" | "na" | "n/a" | "null" | "none" | "nan" | "-"
    )
}

pub fn summarize(table: &Table, only: Option<&[String]>) -> Result<String, ToolError> {
    let chosen: Vec<usize> = match only {
        None => (0..table.headers.len()).collect(),
        Some(names) => names
            .iter()
            .map(|name| table.column(name))
            .collect::<Result<_, _>>()?,
    };
    let mut out = format!(
        "{} rows, {} columns.\n",
        table.rows.len(),
        table.headers.len()
    );
    for index in chosen {
        let cells: Vec<&str> = table.cells(index).collect();
        let present: Vec<&str> = cells.iter().copied().filter(|c| !is_missing(c)).collect();
        let missing = cells.len() - present.len();
        let numbers: Vec<f64> = present.iter().filter_map(|c| parse_number(c)).collect();
        let _ = write!(out, "\n{}: ", table.headers[index]);
        if !present.is_empty() && numbers.len() == present.len() {
            let mut sorted = numbers.clone();
            sorted.sort_by(f64::total_cmp);
            let n = sorted.len() as f64;
            let sum: f64 = sorted.iter().sum();
            let mean = sum / n;
            let median = if sorted.len() % 2 == 1 {
                sorted[sorted.len() / 2]
            } else {
                (sorted[sorted.len() / 2 - 1] + sorted[sorted.len() / 2]) / 2.0
            };
            // Sample standard deviation, as spreadsheets' STDEV.
            let deviation = if sorted.len() > 1 {
                (sorted.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
            } else {
                0.0
            };
            let _ = write!(
                out,
                "numeric; count {}, missing {missing}, min {}, max {}, mean {}, median {}, std dev {}, sum {}",
                sorted.len(),
                plain_number(sorted[0]),
                plain_number(sorted[sorted.len() - 1]),
                plain_number(mean),
                plain_number(median),
                plain_number(deviation),
                plain_number(sum)
            );
        } else {
            let mut counts: HashMap<&str, usize> = HashMap::new();
            for cell in &present {
                *counts.entry(cell).or_default() += 1;
            }
            let mut common: Vec<(&str, usize)> = counts.iter().map(|(k, v)| (*k, *v)).collect();
            common.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
            let top: Vec<String> = common
                .iter()
                .take(3)
                .map(|(value, count)| {
                    let value: String = value.chars().take(60).collect();
                    format!("{value} ({count})")
                })
                .collect();
            let _ = write!(
                out,
                "text; count {}, missing {missing}, distinct {}, most common: {}",
                present.len(),
                counts.len(),
                if top.is_empty() {
                    "none".into()
                } else {
                    top.join(", ")
                }
            );
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SALES: &str = "region,units,price\nNorth,10,2.5\nSouth,4,3\nNorth,,4\nEast,6,\"1,000\"\n";

    #[test]
    fn numbers_and_text_are_summarised() {
        let table = parse_table(SALES).unwrap();
        let summary = summarize(&table, None).unwrap();
        assert!(summary.starts_with("4 rows, 3 columns."), "{summary}");
        assert!(
            summary.contains("units: numeric; count 3, missing 1, min 4, max 10, mean 6.6667, median 6, std dev 3.0551, sum 20"),
            "{summary}"
        );
        assert!(
            summary.contains("price: numeric; count 4, missing 0, min 2.5, max 1000"),
            "{summary}"
        );
        assert!(
            summary.contains("region: text; count 4, missing 0, distinct 3, most common: North (2), East (1), South (1)"),
            "{summary}"
        );
        let only = summarize(&table, Some(&["UNITS".to_string()])).unwrap();
        assert!(
            only.contains("units:") && !only.contains("region:"),
            "{only}"
        );
        let error = summarize(&table, Some(&["cost".to_string()])).unwrap_err();
        assert!(error.to_string().contains("no column 'cost'"), "{error}");
    }

    #[test]
    fn separators_and_layouts_people_paste() {
        let semicolons = parse_table("a;b\n1;2\n3;4").unwrap();
        assert_eq!(semicolons.headers, ["a", "b"]);
        let tabs = parse_table("\u{feff}a\tb\n1\t2").unwrap();
        assert_eq!(tabs.headers, ["a", "b"]);
        assert_eq!(parse_number("$1,234.5"), Some(1234.5));
        assert_eq!(parse_number("12%"), Some(12.0));
        assert_eq!(parse_number("inf"), None);
        assert!(parse_table("a,b\n")
            .unwrap_err()
            .to_string()
            .contains("no rows"));
        let wide = (0..101)
            .map(|i| format!("c{i}"))
            .collect::<Vec<_>>()
            .join(",")
            + "\n1";
        assert!(parse_table(&wide)
            .unwrap_err()
            .to_string()
            .contains("more than 100 columns"));
    }

    #[test]
    fn a_csv_is_found_in_what_the_person_wrote() {
        let fenced = "Here are my sales:\n```csv\nregion,units\nNorth,3\n```\nWhat is the mean?";
        assert_eq!(find_csv(fenced).unwrap(), "region,units\nNorth,3");
        let bare = "Sales below\nregion,units\nNorth,3\nSouth,4";
        assert_eq!(find_csv(bare).unwrap(), "region,units\nNorth,3\nSouth,4");
        assert_eq!(find_csv("What is the mean, roughly?"), None);
        assert_eq!(find_csv("no\ntable here"), None);
    }
}
