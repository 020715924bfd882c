//! Current weather for a place, from an Open-Meteo-compatible API whose base URL is a setting:
//! the place name is geocoded (`/v1/search`), then the forecast API gives the current values
//! (`/v1/forecast?current=…`). Calls are bounded in time and size, follow no redirect, and go
//! through the outbound guard (no private address unless the host is configured or allowed).

use super::{parse_arguments, schema_of, Tool, ToolContext, ToolError};
use crate::config::ToolSettings;
use crate::net::{read_capped, GuardedClient, OutboundError, OutboundPolicy};
use schemars::JsonSchema;
use serde::{de::DeserializeOwned, Deserialize};
use serde_json::Value;
use std::time::Duration;

const MAX_LOCATION_CHARS: usize = 100;
/// The most of a response body read: a geocoding or forecast answer is a few KB.
const RESPONSE_CAP: usize = 256 * 1024;
/// The current values asked of the forecast API, in the order they are reported.
const CURRENT_FIELDS: &str = "temperature_2m,apparent_temperature,relative_humidity_2m,precipitation,weather_code,wind_speed_10m,wind_direction_10m";

pub struct Weather {
    forecast_url: Option<String>,
    geocoding_url: Option<String>,
    timeout: Duration,
    http: GuardedClient,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
enum Units {
    /// °C, km/h, mm
    #[default]
    Metric,
    /// °F, mph, inches
    Imperial,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Arguments {
    /// The place: a city or town name such as `Paris` or `Springfield, Illinois`.
    location: String,
    /// `metric` (°C, km/h, mm; the default) or `imperial` (°F, mph, inches).
    #[serde(default)]
    units: Units,
}

#[derive(Deserialize)]
struct Places {
    #[serde(default)]
    results: Vec<Place>,
}

#[derive(Deserialize)]
struct Place {
    name: String,
    latitude: f64,
    longitude: f64,
    #[serde(default)]
    country: Option<String>,
    #[serde(default)]
    admin1: Option<String>,
}

#[derive(Deserialize)]
struct Forecast {
    #[serde(default)]
    current_units: serde_json::Map<String, Value>,
    current: serde_json::Map<String, Value>,
    #[serde(default)]
    timezone: Option<String>,
}

impl Weather {
    pub fn new(settings: &ToolSettings, outbound: &OutboundPolicy) -> Weather {
        let trim = |url: &String| url.trim_end_matches('/').to_string();
        let forecast_url = settings.weather_url.as_ref().map(trim);
        Weather {
            geocoding_url: settings
                .geocoding_url
                .as_ref()
                .map(trim)
                .or_else(|| forecast_url.clone()),
            forecast_url,
            timeout: settings.http_timeout(),
            http: outbound.client(settings.http_timeout()),
        }
    }

    /// GETs `url` and parses the JSON answer; every failure is a sentence for the model.
    async fn get_json<T: DeserializeOwned>(
        &self,
        service: &str,
        url: &str,
        query: &[(&str, &str)],
    ) -> Result<T, ToolError> {
        let url = reqwest::Url::parse(url).map_err(|_| {
            ToolError::Failed(format!("the {service} service's address is not valid"))
        })?;
        let request = self.http.get(url).query(query);
        let response = self.http.send(request).await.map_err(|e| {
            ToolError::Failed(match e {
                OutboundError::Refused(_) => {
                    format!("the {service} service's address is not one this server may call")
                }
                OutboundError::Failed(reason) if reason.starts_with("timed out") => {
                    format!("the {service} service did not answer in time")
                }
                OutboundError::Failed(_) => format!("the {service} service cannot be reached"),
            })
        })?;
        let status = response.status();
        if status.is_redirection() {
            return Err(ToolError::Failed(format!(
                "the {service} service answered with a redirect, which is not followed"
            )));
        }
        let (body, truncated) = read_capped(response, RESPONSE_CAP, self.timeout).await;
        if truncated {
            return Err(ToolError::Failed(format!(
                "the {service} service sent an answer larger than {} KB",
                RESPONSE_CAP / 1024
            )));
        }
        if !status.is_success() {
            // Open-Meteo explains refusals as {"error": true, "reason": "…"}.
            let reason = serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|v| v["reason"].as_str().map(|r| r.chars().take(200).collect()))
                .unwrap_or_else(|| format!("HTTP {}", status.as_u16()));
            return Err(ToolError::Failed(format!(
                "the {service} service refused the request: {reason}"
            )));
        }
        serde_json::from_slice(&body).map_err(|_| {
            ToolError::Failed(format!(
                "the {service} service sent an answer that is not the expected JSON"
            ))
        })
    }
}

#[async_trait::async_trait]
impl Tool for Weather {
    fn name(&self) -> &'static str {
        "weather"
    }

    fn description(&self) -> &'static str {
        "Returns the current weather (conditions, temperature, feels-like, humidity, precipitation, wind) for a place given by name, in metric or imperial units."
    }

    fn parameters(&self) -> Value {
        schema_of::<Arguments>()
    }

    fn timeout(&self) -> Duration {
        // Two calls, each with its own timeout, plus a margin.
        self.timeout * 2 + Duration::from_secs(1)
    }

    async fn call(&self, _context: &ToolContext, arguments: Value) -> Result<String, ToolError> {
        let arguments: Arguments = parse_arguments(arguments)?;
        let location = arguments.location.trim();
        if location.is_empty() {
            return Err(ToolError::InvalidArguments("the location is empty".into()));
        }
        if location.chars().count() > MAX_LOCATION_CHARS {
            return Err(ToolError::InvalidArguments(format!(
                "the location is longer than {MAX_LOCATION_CHARS} characters"
            )));
        }
        let (Some(forecast_url), Some(geocoding_url)) = (&self.forecast_url, &self.geocoding_url)
        else {
            return Err(ToolError::Failed(
                "the weather tool is not configured: an administrator sets tools.weather_url \
                 (OLLAMASTACK_WEATHER_URL), for example https://api.open-meteo.com, and for \
                 Open-Meteo itself tools.geocoding_url = https://geocoding-api.open-meteo.com"
                    .into(),
            ));
        };
        // "Springfield, Illinois": the geocoder matches names only; the rest narrows the pick.
        let (name, qualifier) = match location.split_once(',') {
            Some((name, rest)) => (name.trim(), Some(rest.trim().to_lowercase())),
            None => (location, None),
        };
        let places: Places = self
            .get_json(
                "geocoding",
                &format!("{geocoding_url}/v1/search"),
                &[
                    ("name", name),
                    ("count", "10"),
                    ("language", "en"),
                    ("format", "json"),
                ],
            )
            .await?;
        let place = pick_place(places.results, qualifier.as_deref())
            .ok_or_else(|| ToolError::Failed(format!("no place named '{location}' was found")))?;
        let (temperature, wind, precipitation) = match arguments.units {
            Units::Metric => ("celsius", "kmh", "mm"),
            Units::Imperial => ("fahrenheit", "mph", "inch"),
        };
        let forecast: Forecast = self
            .get_json(
                "weather",
                &format!("{forecast_url}/v1/forecast"),
                &[
                    ("latitude", &place.latitude.to_string()),
                    ("longitude", &place.longitude.to_string()),
                    ("current", CURRENT_FIELDS),
                    ("temperature_unit", temperature),
                    ("wind_speed_unit", wind),
                    ("precipitation_unit", precipitation),
                    ("timezone", "auto"),
                ],
            )
            .await?;
        Ok(describe(&place, &forecast))
    }
}

/// The first place whose region or country matches the qualifier, else the first place.
fn pick_place(places: Vec<Place>, qualifier: Option<&str>) -> Option<Place> {
    let matches = |place: &Place, qualifier: &str| {
        [&place.admin1, &place.country]
            .into_iter()
            .flatten()
            .any(|part| part.to_lowercase().contains(qualifier))
    };
    match qualifier.filter(|q| !q.is_empty()) {
        Some(qualifier) if places.iter().any(|p| matches(p, qualifier)) => {
            places.into_iter().find(|p| matches(p, qualifier))
        }
        _ => places.into_iter().next(),
    }
}

/// One sentence per fact, for the model to read.
fn describe(place: &Place, forecast: &Forecast) -> String {
    let value = |field: &str| forecast.current.get(field).and_then(Value::as_f64);
    let unit = |field: &str| {
        forecast
            .current_units
            .get(field)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let with_unit = |field: &str| {
        value(field).map(|v| {
            let unit = unit(field);
            let separator = if unit == "%" || unit.is_empty() {
                ""
            } else {
                " "
            };
            format!("{v}{separator}{unit}")
        })
    };
    let mut name = place.name.clone();
    for part in [&place.admin1, &place.country].into_iter().flatten() {
        if !part.is_empty() && *part != place.name {
            name.push_str(", ");
            name.push_str(part);
        }
    }
    let mut lines = vec![format!(
        "Current weather in {name} ({:.2}, {:.2})",
        place.latitude, place.longitude
    )];
    if let Some(time) = forecast.current.get("time").and_then(Value::as_str) {
        let zone = forecast.timezone.as_deref().unwrap_or("local time");
        lines.push(format!("Observed at: {time} ({zone})"));
    }
    if let Some(code) = value("weather_code") {
        lines.push(format!("Conditions: {}", conditions(code as i64)));
    }
    if let Some(t) = with_unit("temperature_2m") {
        lines.push(format!("Temperature: {t}"));
    }
    if let Some(t) = with_unit("apparent_temperature") {
        lines.push(format!("Feels like: {t}"));
    }
    if let Some(h) = with_unit("relative_humidity_2m") {
        lines.push(format!("Relative humidity: {h}"));
    }
    if let Some(p) = with_unit("precipitation") {
        lines.push(format!("Precipitation: {p}"));
    }
    if let Some(w) = with_unit("wind_speed_10m") {
        let from = value("wind_direction_10m")
            .map(|d| format!(" from the {} ({d}°)", compass(d)))
            .unwrap_or_default();
        lines.push(format!("Wind: {w}{from}"));
    }
    lines.join("\n")
}

/// WMO weather interpretation codes, as Open-Meteo documents them.
fn conditions(code: i64) -> &'static str {
    match code {
        0 => "clear sky",
        1 => "mainly clear",
        2 => "partly cloudy",
        3 => "overcast",
        45 | 48 => "fog",
        51 | 53 | 55 => "drizzle",
        56 | 57 => "freezing drizzle",
        61 => "light rain",
        63 => "rain",
        65 => "heavy rain",
        66 | 67 => "freezing rain",
        71 => "light snow",
        73 => "snow",
        75 => "heavy snow",
        77 => "snow grains",
        80..=82 => "rain showers",
        85 | 86 => "snow showers",
        95 => "thunderstorm",
        96 | 99 => "thunderstorm with hail",
        _ => "unknown conditions",
    }
}

fn compass(degrees: f64) -> &'static str {
    const POINTS: [&str; 8] = ["N", "NE", "E", "SE", "S", "SW", "W", "NW"];
    let index = ((degrees.rem_euclid(360.0) + 22.5) / 45.0) as usize % 8;
    POINTS[index]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::fake_weather::FakeWeather;
    use serde_json::json;
    use uuid::Uuid;

    fn context() -> ToolContext {
        ToolContext {
            owner_id: Uuid::nil(),
            conversation_id: None,
        }
    }

    fn tool(url: Option<String>) -> Weather {
        let settings = crate::config::Settings {
            tools: ToolSettings {
                weather_url: url,
                http_timeout_ms: 1_000,
                ..Default::default()
            },
            ..Default::default()
        };
        Weather::new(&settings.tools, &settings.outbound_policy())
    }

    #[tokio::test]
    async fn reports_the_current_weather_of_a_named_place_in_either_units() {
        let fake = FakeWeather::start().await;
        let weather = tool(Some(fake.url()));
        let metric = weather
            .call(&context(), json!({"location": "Paris"}))
            .await
            .unwrap();
        assert!(metric.contains("Paris, Île-de-France, France"), "{metric}");
        assert!(metric.contains("Temperature: 12.3 °C"), "{metric}");
        assert!(metric.contains("Conditions: overcast"), "{metric}");
        assert!(metric.contains("Wind: 14.4 km/h from the SW"), "{metric}");
        assert!(metric.contains("Relative humidity: 81%"), "{metric}");
        let imperial = weather
            .call(
                &context(),
                json!({"location": "Paris", "units": "imperial"}),
            )
            .await
            .unwrap();
        assert!(imperial.contains("Temperature: 54.1 °F"), "{imperial}");
        assert!(imperial.contains("mp/h"), "{imperial}");
        // The qualifier picks among places of the same name.
        let texas = weather
            .call(&context(), json!({"location": "Paris, Texas"}))
            .await
            .unwrap();
        assert!(texas.contains("Paris, Texas, United States"), "{texas}");
    }

    #[tokio::test]
    async fn failures_are_sentences_for_the_model() {
        let fake = FakeWeather::start().await;
        let weather = tool(Some(fake.url()));
        let cases = [
            (json!({"location": "Atlantis"}), "no place named 'Atlantis'"),
            (json!({"location": "  "}), "the location is empty"),
            (json!({"location": "x".repeat(101)}), "longer than 100"),
            (
                json!({"location": "Paris", "units": "kelvin"}),
                "unknown variant",
            ),
            (json!({"place": "Paris"}), "unknown field"),
            (
                json!({"location": "Redirect"}),
                "answered with a redirect, which is not followed",
            ),
            (
                json!({"location": "Refused"}),
                "refused the request: Latitude must be",
            ),
            (json!({"location": "Slow"}), "did not answer in time"),
            (json!({"location": "Huge"}), "larger than 256 KB"),
            (json!({"location": "Garbled"}), "not the expected JSON"),
        ];
        for (arguments, expected) in cases {
            let error = weather
                .call(&context(), arguments.clone())
                .await
                .unwrap_err();
            assert!(error.to_string().contains(expected), "{arguments}: {error}");
        }
        assert!(
            fake.forecast_requests() <= 2,
            "no forecast asked for a place not found"
        );
    }

    #[tokio::test]
    async fn unset_url_says_how_to_configure_it() {
        let error = tool(None)
            .call(&context(), json!({"location": "Paris"}))
            .await
            .unwrap_err();
        assert!(error.to_string().contains("tools.weather_url"), "{error}");
    }

    #[tokio::test]
    async fn an_unreachable_service_is_an_error() {
        // A port nothing listens on.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        drop(listener);
        let error = tool(Some(url))
            .call(&context(), json!({"location": "Paris"}))
            .await
            .unwrap_err();
        assert!(error.to_string().contains("cannot be reached"), "{error}");
    }

    #[test]
    fn compass_points() {
        assert_eq!(compass(0.0), "N");
        assert_eq!(compass(225.0), "SW");
        assert_eq!(compass(350.0), "N");
        assert_eq!(compass(-90.0), "W");
    }
}
