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

/// Outbound requests to addresses people choose (webhook URLs) and tools call: the guard against
/// server-side request forgery. Only http and https; every address a name resolves to must be
/// public, and the connection goes to one of the addresses checked (the check is the resolver
/// itself, so a name cannot resolve differently between check and connect); an address written
/// in the URL is checked the same way; redirects are not followed; no proxy from the
/// environment. Named hosts an administrator lists (`outbound.allowed_hosts`) are exempt.
#[derive(Clone, Debug, Default)]
pub struct OutboundPolicy {
    /// Lower-case host names or addresses, as written in URLs.
    allowed_hosts: std::sync::Arc<Vec<String>>,
}

impl OutboundPolicy {
    pub fn new<S: AsRef<str>>(allowed_hosts: impl IntoIterator<Item = S>) -> OutboundPolicy {
        OutboundPolicy {
            allowed_hosts: std::sync::Arc::new(
                allowed_hosts
                    .into_iter()
                    .map(|h| {
                        h.as_ref()
                            .trim()
                            .trim_start_matches('[')
                            .trim_end_matches(']')
                            .to_ascii_lowercase()
                    })
                    .filter(|h| !h.is_empty())
                    .collect(),
            ),
        }
    }

    fn allows(&self, host: &str) -> bool {
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .trim_end_matches('.')
            .to_ascii_lowercase();
        self.allowed_hosts.contains(&host)
    }

    /// Whether a URL may be requested, before any name is resolved: the scheme, no
    /// credentials, and an address written in it (in any of the forms URL parsers accept:
    /// decimal, hex or octal IPv4, IPv6, IPv4-mapped IPv6), which no resolver sees.
    pub fn check_url(&self, url: &reqwest::Url) -> Result<(), String> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("only http and https URLs, not {}:", url.scheme()));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("a URL with a user name or password is not accepted".into());
        }
        let host = url.host_str().unwrap_or_default();
        if self.allows(host) {
            return Ok(());
        }
        // The URL parser has already turned 2130706433, 0x7f.1 and 0177.0.0.1 into 127.0.0.1.
        let literal = match url.host() {
            None => return Err("the URL has no host".into()),
            Some(url::Host::Ipv4(v4)) => Some(std::net::IpAddr::V4(v4)),
            Some(url::Host::Ipv6(v6)) => Some(std::net::IpAddr::V6(v6)),
            Some(url::Host::Domain(_)) => None,
        };
        match literal.and_then(forbidden_reason) {
            Some(reason) => Err(format!("{host} is {reason}")),
            None => Ok(()),
        }
    }

    /// Checks a URL as a request to it would be checked, resolving its name now (for an
    /// immediate answer when it is registered; the request itself checks again).
    pub async fn check_destination(
        &self,
        url: &reqwest::Url,
        timeout: Duration,
    ) -> Result<(), String> {
        self.check_url(url)?;
        let Some(url::Host::Domain(name)) = url.host() else {
            return Ok(());
        };
        if self.allows(name) {
            return Ok(());
        }
        let port = url.port_or_known_default().unwrap_or(80);
        let lookup = tokio::net::lookup_host((name, port));
        let addresses = tokio::time::timeout(timeout, lookup)
            .await
            .map_err(|_| format!("{name} did not resolve in time"))?
            .map_err(|_| format!("{name} does not resolve"))?;
        let addresses: Vec<std::net::IpAddr> = addresses.map(|a| a.ip()).collect();
        check_addresses(name, &addresses)
    }

    /// A client that holds to this policy, bounded by `timeout`.
    pub fn client(&self, timeout: Duration) -> GuardedClient {
        GuardedClient {
            policy: self.clone(),
            http: reqwest::Client::builder()
                .connect_timeout(timeout.min(Duration::from_secs(5)))
                .timeout(timeout)
                .redirect(reqwest::redirect::Policy::none())
                .no_proxy()
                .dns_resolver(std::sync::Arc::new(GuardedResolver {
                    policy: self.clone(),
                }))
                .user_agent(concat!("OllamaStack/", env!("CARGO_PKG_VERSION")))
                .build()
                .expect("a client with these settings always builds"),
        }
    }
}

/// A client bound to an `OutboundPolicy`: build requests with `request`, send them with `send`.
#[derive(Clone, Debug)]
pub struct GuardedClient {
    policy: OutboundPolicy,
    http: reqwest::Client,
}

/// Why an outbound request did not get an answer.
#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    /// The policy refused the destination; nothing was sent.
    #[error("refused: {0}")]
    Refused(String),
    #[error("{0}")]
    Failed(String),
}

impl GuardedClient {
    pub fn request(&self, method: reqwest::Method, url: reqwest::Url) -> reqwest::RequestBuilder {
        self.http.request(method, url)
    }

    pub fn get(&self, url: reqwest::Url) -> reqwest::RequestBuilder {
        self.http.get(url)
    }

    /// Checks the request's URL (the resolver checks the addresses of names), then sends it.
    pub async fn send(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, OutboundError> {
        let request = request
            .build()
            .map_err(|e| OutboundError::Failed(error_chain(&e)))?;
        self.policy
            .check_url(request.url())
            .map_err(OutboundError::Refused)?;
        self.http.execute(request).await.map_err(|error| {
            // The resolver's refusal is in the error's sources.
            let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&error);
            while let Some(cause) = source {
                if let Some(refused) = cause.downcast_ref::<Refused>() {
                    return OutboundError::Refused(refused.0.clone());
                }
                source = cause.source();
            }
            OutboundError::Failed(error_chain(&error))
        })
    }
}

/// An error with its causes, without the URL (which may carry a secret query).
pub fn error_chain(error: &reqwest::Error) -> String {
    let what = if error.is_timeout() {
        "timed out".to_string()
    } else if error.is_connect() {
        "could not connect".to_string()
    } else if error.is_redirect() {
        "redirect".to_string()
    } else if error.is_body() || error.is_decode() {
        "the answer could not be read".to_string()
    } else {
        "the request failed".to_string()
    };
    let mut causes = Vec::new();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !causes.contains(&text) {
            causes.push(text);
        }
        source = cause.source();
    }
    if causes.is_empty() {
        what
    } else {
        format!("{what}: {}", causes.join(": "))
    }
}

/// All of a name's addresses must be public.
fn check_addresses(name: &str, addresses: &[std::net::IpAddr]) -> Result<(), String> {
    if addresses.is_empty() {
        return Err(format!("{name} does not resolve"));
    }
    for address in addresses {
        if let Some(reason) = forbidden_reason(*address) {
            return Err(format!("{name} resolves to {address}, {reason}"));
        }
    }
    Ok(())
}

/// The resolver of guarded clients: a name's addresses, only when every one is public.
struct GuardedResolver {
    policy: OutboundPolicy,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy.clone();
        Box::pin(async move {
            let host = name.as_str().to_string();
            let addresses: Vec<std::net::SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if !policy.allows(&host) {
                let ips: Vec<std::net::IpAddr> = addresses.iter().map(|a| a.ip()).collect();
                check_addresses(&host, &ips).map_err(
                    |reason| -> Box<dyn std::error::Error + Send + Sync> {
                        Box::new(Refused(reason))
                    },
                )?;
            }
            let addresses: reqwest::dns::Addrs = Box::new(addresses.into_iter());
            Ok(addresses)
        })
    }
}

/// An outbound address the policy refuses.
#[derive(Debug, thiserror::Error)]
#[error("refused: {0}")]
pub struct Refused(pub String);

/// Why an address is not one the server may be sent to, if it is not: private networks,
/// loopback, link-local (cloud metadata services live there), CGNAT, multicast, unspecified,
/// reserved and documentation ranges, and IPv6 forms that carry an IPv4 address (mapped,
/// NAT64, 6to4, Teredo), which could carry a private one.
pub fn forbidden_reason(address: std::net::IpAddr) -> Option<&'static str> {
    use std::net::IpAddr;
    match address {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            if v4.is_unspecified() || a == 0 {
                Some("an unspecified address")
            } else if v4.is_loopback() {
                Some("a loopback address")
            } else if v4.is_private() {
                Some("a private address")
            } else if v4.is_link_local() {
                Some("a link-local address (where metadata services answer)")
            } else if a == 100 && (64..128).contains(&b) {
                Some("a shared (CGNAT) address")
            } else if v4.is_multicast() {
                Some("a multicast address")
            } else if v4.is_broadcast() || a >= 240 {
                Some("a reserved address")
            } else if (a == 192 && b == 0 && (c == 0 || c == 2))
                || (a == 198 && (b == 18 || b == 19))
                || (a == 198 && b == 51 && c == 100)
                || (a == 203 && b == 0 && c == 113)
            {
                Some("a reserved or documentation address")
            } else {
                None
            }
        }
        IpAddr::V6(v6) => {
            let segments = v6.segments();
            if v6.is_unspecified() {
                Some("an unspecified address")
            } else if v6.is_loopback() {
                Some("a loopback address")
            } else if v6.to_ipv4_mapped().is_some() {
                Some("an IPv4-mapped address")
            } else if segments[..6] == [0; 6] {
                Some("an IPv4-compatible address")
            } else if segments[0] == 0x64 && segments[1] == 0xff9b {
                Some("a NAT64 address")
            } else if segments[0] == 0x2002 {
                Some("a 6to4 address")
            } else if segments[0] == 0x2001 && segments[1] == 0 {
                Some("a Teredo address")
            } else if segments[0] == 0x2001 && segments[1] == 0xdb8 {
                Some("a documentation address")
            } else if segments[0] & 0xfe00 == 0xfc00 {
                Some("a private (unique local) address")
            } else if segments[0] & 0xffc0 == 0xfe80 {
                Some("a link-local address")
            } else if segments[0] & 0xff00 == 0xff00 {
                Some("a multicast address")
            } else {
                None
            }
        }
    }
}
