//! A fake crates.io API and npm registry (on one base URL), with their real answers' shapes:
//! `GET /api/v1/crates/{name}` → `{"crate": {...}}`, `GET /{name}/latest` (a scoped name's
//! slash escaped as `%2F`) → the latest version's manifest; 404 for unknown names. The crate
//! `slow` answers after 3 s.

use axum::{
    extract::Path,
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::get,
    Json, Router,
};
use serde_json::json;
use std::time::Duration;
use tokio::net::TcpListener;

pub struct FakeRegistry {
    addr: std::net::SocketAddr,
    _server: tokio_util::task::AbortOnDropHandle<()>,
}

impl FakeRegistry {
    pub async fn start() -> FakeRegistry {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        let app = Router::new()
            .route("/api/v1/crates/{name}", get(krate))
            .route("/{name}/latest", get(npm_latest));
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeRegistry {
            addr,
            _server: tokio_util::task::AbortOnDropHandle::new(server),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

async fn krate(Path(name): Path<String>) -> Response {
    match name.as_str() {
        "serde" => Json(json!({
            "categories": [], "keywords": [], "versions": [],
            "crate": {
                "id": "serde", "name": "serde", "max_version": "1.0.228",
                "max_stable_version": "1.0.228", "newest_version": "1.0.228",
                "description": "A generic serialization/deserialization framework",
                "homepage": "https://serde.rs", "repository": "https://github.com/serde-rs/serde",
                "documentation": "https://docs.rs/serde", "downloads": 700000000u64,
                "updated_at": "2025-09-27T16:51:35.145018Z"
            }
        }))
        .into_response(),
        "slow" => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            StatusCode::NOT_FOUND.into_response()
        }
        _ => (
            StatusCode::NOT_FOUND,
            Json(json!({"errors": [{"detail": "crate `x` does not exist"}]})),
        )
            .into_response(),
    }
}

async fn npm_latest(Path(name): Path<String>) -> Response {
    match name.as_str() {
        "@types/node" => Json(json!({
            "name": "@types/node", "version": "24.10.1",
            "description": "TypeScript definitions for node", "license": "MIT",
            "homepage": "https://github.com/DefinitelyTyped/DefinitelyTyped/tree/master/types/node",
            "repository": {"type": "git", "url": "https://github.com/DefinitelyTyped/DefinitelyTyped.git"}
        }))
        .into_response(),
        _ => (StatusCode::NOT_FOUND, Json(json!("Not Found"))).into_response(),
    }
}
