//! The web development toolset: `format_code` (JSON, SQL, Rust, TOML, by maintained parsers;
//! nothing is run) and `package_info` (a crate's or npm package's latest version and
//! description, from the registries' public APIs, whose base URLs are settings).

use super::{parse_arguments, run_blocking, schema_of, Tool, ToolContext, ToolError};
use crate::config::ToolSettings;
use crate::net::{configured_service_client, read_capped};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;
use std::time::Duration;

const MAX_CODE_BYTES: usize = 200 * 1024;
const RESPONSE_CAP: usize = 512 * 1024;

pub struct FormatCode;

#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
enum Language {
    Json,
    Sql,
    Rust,
    Toml,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct FormatArguments {
    /// One of json, sql, rust, toml.
    language: Language,
    /// The code to format.
    code: String,
}

#[async_trait::async_trait]
impl Tool for FormatCode {
    fn name(&self) -> &'static str {
        "format_code"
    }

    fn description(&self) -> &'static str {
        "Formats code with the language's standard layout: json, sql, rust (a whole file or items) or toml. Returns the formatted code, or where it does not parse."
    }

    fn parameters(&self) -> Value {
        schema_of::<FormatArguments>()
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs(3)
    }

    async fn call(&self, _context: &ToolContext, arguments: Value) -> Result<String, ToolError> {
        let arguments: FormatArguments = parse_arguments(arguments)?;
        if arguments.code.len() > MAX_CODE_BYTES {
            return Err(ToolError::InvalidArguments(format!(
                "the code is longer than {} KB",
                MAX_CODE_BYTES / 1024
            )));
        }
        run_blocking(self.timeout(), move || {
            format_code(arguments.language, &arguments.code)
        })
        .await
    }
}

fn format_code(language: Language, code: &str) -> Result<String, ToolError> {
    let invalid = |what: &str, e: String| {
        ToolError::InvalidArguments(format!("the {what} does not parse: {e}"))
    };
    match language {
        Language::Json => {
            let value: Value =
                serde_json::from_str(code).map_err(|e| invalid("JSON", e.to_string()))?;
            serde_json::to_string_pretty(&value).map_err(|e| ToolError::Failed(e.to_string()))
        }
        Language::Sql => {
            let statements =
                sqlparser::parser::Parser::parse_sql(&sqlparser::dialect::GenericDialect {}, code)
                    .map_err(|e| invalid("SQL", e.to_string()))?;
            Ok(statements
                .iter()
                .map(|s| format!("{s:#};"))
                .collect::<Vec<_>>()
                .join("\n\n"))
        }
        Language::Rust => {
            let file = syn::parse_file(code).map_err(|e| {
                let at = e.span().start();
                invalid(
                    "Rust",
                    format!("{e} (line {}, column {})", at.line, at.column + 1),
                )
            })?;
            Ok(prettyplease::unparse(&file))
        }
        Language::Toml => {
            let table: toml::Table = code
                .parse()
                .map_err(|e: toml::de::Error| invalid("TOML", e.to_string()))?;
            toml::to_string_pretty(&table).map_err(|e| ToolError::Failed(e.to_string()))
        }
    }
}

pub struct PackageInfo {
    crates_io_url: String,
    npm_url: String,
    http: reqwest::Client,
    timeout: Duration,
}

#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
enum Registry {
    /// Rust crates (crates.io)
    Crates,
    /// JavaScript packages (npm)
    Npm,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct PackageArguments {
    /// `crates` for a Rust crate, `npm` for a JavaScript package.
    registry: Registry,
    /// The package name, such as `serde` or `@types/node`.
    name: String,
}

impl PackageInfo {
    pub fn new(settings: &ToolSettings) -> PackageInfo {
        PackageInfo {
            crates_io_url: settings.crates_io_url.trim_end_matches('/').to_string(),
            npm_url: settings.npm_url.trim_end_matches('/').to_string(),
            http: configured_service_client(settings.http_timeout()),
            timeout: settings.http_timeout(),
        }
    }

    async fn fetch(&self, registry: &str, url: &str) -> Result<Option<Value>, ToolError> {
        let response = self
            .http
            .get(url)
            .header("Accept", "application/json")
            .send()
            .await
            .map_err(|e| {
                ToolError::Failed(if e.is_timeout() {
                    format!("the {registry} registry did not answer in time")
                } else {
                    format!("the {registry} registry cannot be reached (is this server offline?)")
                })
            })?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(ToolError::Failed(format!(
                "the {registry} registry answered HTTP {}",
                status.as_u16()
            )));
        }
        let (body, truncated) = read_capped(response, RESPONSE_CAP, self.timeout).await;
        if truncated {
            return Err(ToolError::Failed(format!(
                "the {registry} registry sent too large an answer"
            )));
        }
        serde_json::from_slice(&body).map(Some).map_err(|_| {
            ToolError::Failed(format!(
                "the {registry} registry sent an answer that is not JSON"
            ))
        })
    }
}

/// crates.io names: ASCII letters, digits, `-` and `_`, at most 64.
fn valid_crate_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// npm names: lower case, URL-safe, optionally `@scope/`, at most 214.
fn valid_npm_name(name: &str) -> bool {
    let ok = |part: &str| {
        !part.is_empty()
            && !part.starts_with('.')
            && !part.starts_with('_')
            && part
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-._~".contains(c))
    };
    if name.len() > 214 {
        return false;
    }
    match name.strip_prefix('@') {
        Some(scoped) => {
            matches!(scoped.split_once('/'), Some((scope, package)) if ok(scope) && ok(package))
        }
        None => ok(name),
    }
}

fn text(value: &Value) -> Option<String> {
    value
        .as_str()
        .map(|s| s.chars().take(500).collect::<String>())
        .filter(|s| !s.trim().is_empty())
}

#[async_trait::async_trait]
impl Tool for PackageInfo {
    fn name(&self) -> &'static str {
        "package_info"
    }

    fn description(&self) -> &'static str {
        "Looks up a Rust crate (registry `crates`) or an npm package (registry `npm`): latest version, description, license, homepage and repository."
    }

    fn parameters(&self) -> Value {
        schema_of::<PackageArguments>()
    }

    fn timeout(&self) -> Duration {
        self.timeout + Duration::from_secs(1)
    }

    async fn call(&self, _context: &ToolContext, arguments: Value) -> Result<String, ToolError> {
        let arguments: PackageArguments = parse_arguments(arguments)?;
        let name = arguments.name.trim();
        match arguments.registry {
            Registry::Crates => {
                if !valid_crate_name(name) {
                    return Err(ToolError::InvalidArguments(format!(
                        "'{}' is not a crate name (letters, digits, - and _)",
                        name.chars().take(80).collect::<String>()
                    )));
                }
                let url = format!("{}/api/v1/crates/{name}", self.crates_io_url);
                let Some(found) = self.fetch("crates.io", &url).await? else {
                    return Err(ToolError::Failed(format!(
                        "there is no crate named '{name}' on crates.io"
                    )));
                };
                let krate = &found["crate"];
                let version =
                    text(&krate["max_stable_version"]).or_else(|| text(&krate["max_version"]));
                let mut lines = vec![format!(
                    "{} {} (crates.io)",
                    text(&krate["name"]).unwrap_or_else(|| name.to_string()),
                    version.unwrap_or_else(|| "(no version)".into())
                )];
                for (label, key) in [
                    ("Description", "description"),
                    ("Homepage", "homepage"),
                    ("Repository", "repository"),
                    ("Documentation", "documentation"),
                    ("Updated", "updated_at"),
                ] {
                    if let Some(value) = text(&krate[key]) {
                        lines.push(format!("{label}: {}", value.trim()));
                    }
                }
                if let Some(downloads) = krate["downloads"].as_u64() {
                    lines.push(format!("Downloads: {downloads}"));
                }
                Ok(lines.join("\n"))
            }
            Registry::Npm => {
                if !valid_npm_name(name) {
                    return Err(ToolError::InvalidArguments(format!(
                        "'{}' is not an npm package name",
                        name.chars().take(80).collect::<String>()
                    )));
                }
                // A scoped name's slash is part of the name: escaped in the path.
                let url = format!("{}/{}/latest", self.npm_url, name.replace('/', "%2F"));
                let Some(found) = self.fetch("npm", &url).await? else {
                    return Err(ToolError::Failed(format!(
                        "there is no npm package named '{name}'"
                    )));
                };
                let mut lines = vec![format!(
                    "{} {} (npm)",
                    text(&found["name"]).unwrap_or_else(|| name.to_string()),
                    text(&found["version"]).unwrap_or_else(|| "(no version)".into())
                )];
                for (label, key) in [
                    ("Description", "description"),
                    ("License", "license"),
                    ("Homepage", "homepage"),
                ] {
                    if let Some(value) = text(&found[key]) {
                        lines.push(format!("{label}: {}", value.trim()));
                    }
                }
                if let Some(repository) =
                    text(&found["repository"]["url"]).or_else(|| text(&found["repository"]))
                {
                    lines.push(format!("Repository: {repository}"));
                }
                Ok(lines.join("\n"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::fake_registry::FakeRegistry;
    use serde_json::json;

    fn context() -> ToolContext {
        ToolContext {
            owner_id: uuid::Uuid::nil(),
            conversation_id: None,
        }
    }

    #[tokio::test]
    async fn formats_each_language_and_says_where_it_does_not_parse() {
        let format = |language: &str, code: &str| {
            let arguments = json!({"language": language, "code": code});
            async move { FormatCode.call(&context(), arguments).await }
        };
        assert_eq!(
            format("json", r#"{"a":[1,2],"b":null}"#).await.unwrap(),
            "{\n  \"a\": [\n    1,\n    2\n  ],\n  \"b\": null\n}"
        );
        let sql = format("sql", "select a,b from t where a=1").await.unwrap();
        assert!(
            sql.starts_with("SELECT\n  a,\n  b\nFROM\n  t\nWHERE\n  a = 1;"),
            "{sql}"
        );
        assert_eq!(
            format("rust", "fn main(){let x=1;println!(\"{}\",x)}")
                .await
                .unwrap(),
            "fn main() {\n    let x = 1;\n    println!(\"{}\", x)\n}\n"
        );
        assert_eq!(
            format("toml", "a=1\n[b]\nc='x'").await.unwrap(),
            "a = 1\n\n[b]\nc = \"x\"\n"
        );
        let error = format("rust", "fn main() {").await.unwrap_err();
        assert!(
            error.to_string().contains("the Rust does not parse"),
            "{error}"
        );
        let error = format("json", "{").await.unwrap_err();
        assert!(
            error.to_string().contains("the JSON does not parse"),
            "{error}"
        );
        let error = format("cobol", "x").await.unwrap_err();
        assert!(error.to_string().contains("unknown variant"), "{error}");
        let error = format("json", &"1".repeat(MAX_CODE_BYTES + 1))
            .await
            .unwrap_err();
        assert!(error.to_string().contains("longer than"), "{error}");
    }

    #[tokio::test]
    async fn looks_packages_up_and_refuses_what_is_not_a_name() {
        let fake = FakeRegistry::start().await;
        let settings = ToolSettings {
            crates_io_url: fake.url(),
            npm_url: fake.url(),
            http_timeout_ms: 1_000,
            ..Default::default()
        };
        let tool = PackageInfo::new(&settings);
        let serde = tool
            .call(&context(), json!({"registry": "crates", "name": "serde"}))
            .await
            .unwrap();
        assert!(serde.starts_with("serde 1.0.228 (crates.io)"), "{serde}");
        assert!(
            serde.contains("Description: A generic serialization/deserialization framework"),
            "{serde}"
        );
        let types = tool
            .call(
                &context(),
                json!({"registry": "npm", "name": "@types/node"}),
            )
            .await
            .unwrap();
        assert!(types.starts_with("@types/node 24.10.1 (npm)"), "{types}");
        assert!(types.contains("License: MIT"), "{types}");
        for (arguments, expected) in [
            (
                json!({"registry": "crates", "name": "nope-nope"}),
                "no crate named 'nope-nope'",
            ),
            (
                json!({"registry": "npm", "name": "nope-nope"}),
                "no npm package named",
            ),
            (
                json!({"registry": "crates", "name": "../../admin"}),
                "not a crate name",
            ),
            (
                json!({"registry": "npm", "name": "a/../../b"}),
                "not an npm package name",
            ),
            (
                json!({"registry": "npm", "name": "UPPER"}),
                "not an npm package name",
            ),
            (json!({"registry": "pypi", "name": "x"}), "unknown variant"),
            (
                json!({"registry": "crates", "name": "slow"}),
                "did not answer in time",
            ),
        ] {
            let error = tool.call(&context(), arguments.clone()).await.unwrap_err();
            assert!(error.to_string().contains(expected), "{arguments}: {error}");
        }
        // Offline: nothing listens.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        drop(listener);
        let offline = PackageInfo::new(&ToolSettings {
            crates_io_url: url,
            ..settings
        });
        let error = offline
            .call(&context(), json!({"registry": "crates", "name": "serde"}))
            .await
            .unwrap_err();
        assert!(
            error
                .to_string()
                .contains("cannot be reached (is this server offline?)"),
            "{error}"
        );
    }
}
