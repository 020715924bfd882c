//! A fake Open-Meteo (forecast and geocoding on one base URL) with the real API's shapes:
//! `GET /v1/search?name=…` answers `{"results": [...]}` (no `results` key when nothing matches),
//! `GET /v1/forecast?latitude=…&longitude=…&current=…&temperature_unit=…` answers
//! `{"current_units": {...}, "current": {...}}`, and refusals are HTTP 400
//! `{"error": true, "reason": "…"}`.
//!
//! Places: `Paris` (France, and Paris in Texas), `Berlin`; and, for failure tests, `Redirect`
//! (the geocoder answers 302 to a metadata address), `Refused` (a place the forecast refuses),
//! `Slow` (no answer for 5 s), `Huge` (an endless body), `Garbled` (not JSON).

use axum::{
    extract::{Query, State},
    http::{header, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Json, Router,
};
use serde_json::{json, Value};
use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};
use tokio::net::TcpListener;

pub struct FakeWeather {
    addr: std::net::SocketAddr,
    forecasts: Arc<AtomicUsize>,
    _server: tokio_util::task::AbortOnDropHandle<()>,
}

impl FakeWeather {
    pub async fn start() -> FakeWeather {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        let forecasts = Arc::new(AtomicUsize::new(0));
        let app = Router::new()
            .route("/v1/search", get(search))
            .route("/v1/forecast", get(forecast))
            .with_state(forecasts.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeWeather {
            addr,
            forecasts,
            _server: tokio_util::task::AbortOnDropHandle::new(server),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// How many forecasts were asked for.
    pub fn forecast_requests(&self) -> usize {
        self.forecasts.load(Ordering::SeqCst)
    }
}

fn place(name: &str, lat: f64, lon: f64, country: &str, admin1: &str, zone: &str) -> Value {
    json!({
        "id": 1, "name": name, "latitude": lat, "longitude": lon, "elevation": 42.0,
        "feature_code": "PPLC", "country_code": "XX", "timezone": zone,
        "country": country, "admin1": admin1,
    })
}

async fn search(Query(query): Query<HashMap<String, String>>) -> Response {
    let Some(name) = query.get("name") else {
        return refuse("Parameter 'name' is required");
    };
    let results = match name.to_lowercase().as_str() {
        "paris" => vec![
            place(
                "Paris",
                48.85341,
                2.3488,
                "France",
                "Île-de-France",
                "Europe/Paris",
            ),
            place(
                "Paris",
                33.66094,
                -95.55551,
                "United States",
                "Texas",
                "America/Chicago",
            ),
        ],
        "berlin" => vec![place(
            "Berlin",
            52.52437,
            13.41053,
            "Germany",
            "Land Berlin",
            "Europe/Berlin",
        )],
        "refused" => vec![place("Refused", 999.0, 0.0, "Nowhere", "", "UTC")],
        "redirect" => {
            return (
                StatusCode::FOUND,
                [(header::LOCATION, "http://169.254.169.254/latest/meta-data/")],
            )
                .into_response()
        }
        "slow" => {
            tokio::time::sleep(Duration::from_secs(5)).await;
            vec![]
        }
        "huge" => {
            let padding = "x".repeat(1024 * 1024);
            return Json(json!({ "results": [], "padding": padding })).into_response();
        }
        "garbled" => return "<html>not json</html>".into_response(),
        _ => vec![],
    };
    if results.is_empty() {
        // Open-Meteo leaves `results` out when nothing matches.
        return Json(json!({ "generationtime_ms": 0.4 })).into_response();
    }
    Json(json!({ "results": results, "generationtime_ms": 0.6 })).into_response()
}

async fn forecast(
    State(forecasts): State<Arc<AtomicUsize>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    forecasts.fetch_add(1, Ordering::SeqCst);
    let coordinate = |key: &str| query.get(key).and_then(|v| v.parse::<f64>().ok());
    let (Some(latitude), Some(longitude)) = (coordinate("latitude"), coordinate("longitude"))
    else {
        return refuse(
            "Parameter 'latitude' and 'longitude' must have the same number of elements",
        );
    };
    if !(-90.0..=90.0).contains(&latitude) {
        return refuse(&format!(
            "Latitude must be in range of -90 to 90°. Given: {latitude}."
        ));
    }
    let imperial = query.get("temperature_unit").map(String::as_str) == Some("fahrenheit");
    let mph = query.get("wind_speed_unit").map(String::as_str) == Some("mph");
    let inch = query.get("precipitation_unit").map(String::as_str) == Some("inch");
    let mut units = serde_json::Map::new();
    let mut current = serde_json::Map::new();
    units.insert("time".into(), json!("iso8601"));
    units.insert("interval".into(), json!("seconds"));
    current.insert("time".into(), json!("2026-11-24T18:00"));
    current.insert("interval".into(), json!(900));
    for field in query
        .get("current")
        .map(String::as_str)
        .unwrap_or("")
        .split(',')
    {
        let (value, unit) = match field {
            "temperature_2m" if imperial => (json!(54.1), "°F"),
            "temperature_2m" => (json!(12.3), "°C"),
            "apparent_temperature" if imperial => (json!(50.2), "°F"),
            "apparent_temperature" => (json!(10.1), "°C"),
            "relative_humidity_2m" => (json!(81), "%"),
            "precipitation" if inch => (json!(0.0), "inch"),
            "precipitation" => (json!(0.0), "mm"),
            "weather_code" => (json!(3), "wmo code"),
            "wind_speed_10m" if mph => (json!(8.9), "mp/h"),
            "wind_speed_10m" => (json!(14.4), "km/h"),
            "wind_direction_10m" => (json!(225), "°"),
            "" => continue,
            other => {
                return refuse(&format!(
                    "Cannot initialize WeatherVariable from invalid String value {other} for key current"
                ))
            }
        };
        units.insert(field.into(), json!(unit));
        current.insert(field.into(), value);
    }
    Json(json!({
        "latitude": latitude, "longitude": longitude, "generationtime_ms": 0.1,
        "utc_offset_seconds": 3600, "timezone": "Europe/Paris", "timezone_abbreviation": "GMT+1",
        "elevation": 42.0, "current_units": units, "current": current,
    }))
    .into_response()
}

fn refuse(reason: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({ "error": true, "reason": reason })),
    )
        .into_response()
}
