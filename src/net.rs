//! Outbound HTTP shared by the server's clients (Ollama, the agent's tools).

use std::time::Duration;

/// A client for services an administrator configured (a weather API, a registry): bounded in
/// time, and it follows no redirect, so a configured host cannot send the server elsewhere
/// (to a private address, a metadata service) behind the administrator's back.
pub fn configured_service_client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("OllamaStack/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("a client with these settings always builds")
}

/// Reads at most `cap` bytes of a body within `deadline`; a large or endless body is never held
/// whole. Returns what was read and whether the body went on past the cap.
pub async fn read_capped(
    mut response: reqwest::Response,
    cap: usize,
    deadline: Duration,
) -> (Vec<u8>, bool) {
    let mut body = Vec::new();
    let mut truncated = false;
    let read = async {
        while let Ok(Some(chunk)) = response.chunk().await {
            let room = cap - body.len();
            body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if chunk.len() > room {
                truncated = true;
                break;
            }
        }
    };
    let _ = tokio::time::timeout(deadline, read).await;
    (body, truncated)
}
