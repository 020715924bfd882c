//! Rate limits and the client's address.
//!
//! Each person may make `limits.per_minute` requests a minute and `limits.per_hour` an hour;
//! a request without a person (before sign-in, a wrong token) counts against its client
//! address instead. Past either, the answer is 429 with `Retry-After`; every counted answer
//! carries the `RateLimit-*` headers (IETF draft: `RateLimit-Limit`, `-Remaining`, `-Reset`,
//! and `RateLimit-Policy` naming both windows). The counters are GCRA (the `governor` crate):
//! a full minute's worth may come at once, then one more each 60/per_minute seconds.
//!
//! The client's address is the TCP peer's, unless that peer is a configured proxy
//! (`limits.trusted_proxies`): then it is the last address in `X-Forwarded-For` that is not one
//! of those proxies. A forwarded header from anyone else is ignored, so a client cannot escape
//! its limit by inventing addresses. IPv6 clients are counted per /64, the block one
//! subscriber usually holds.
//!
//! The counters live in each instance's memory: behind a load balancer with several instances,
//! a person's effective limit is the sum over the instances that serve them.

use crate::config::LimitSettings;
use crate::error::AppError;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use governor::{
    clock::{Clock, DefaultClock},
    middleware::StateInformationMiddleware,
    Quota, RateLimiter,
};
use ipnet::IpNet;
use std::{
    collections::HashMap,
    net::{IpAddr, Ipv6Addr},
    num::NonZeroU32,
    sync::{Arc, Mutex},
    time::Duration,
};
use uuid::Uuid;

/// The address a request came from, as far as this server can tell (see the module notes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

/// Proxies whose `X-Forwarded-For` is believed.
#[derive(Clone, Debug, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Addresses (`10.0.0.5`) and ranges (`10.0.0.0/8`, `fd00::/8`).
    pub fn parse(list: &[String]) -> Result<TrustedProxies, String> {
        list.iter()
            .map(|entry| {
                let entry = entry.trim();
                entry
                    .parse::<IpNet>()
                    .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("{entry:?} is neither an address nor a CIDR range"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(TrustedProxies)
    }

    fn trusts(&self, address: IpAddr) -> bool {
        let address = canonical(address);
        self.0.iter().any(|net| net.contains(&address))
    }

    /// The client of a request that reached us from `peer` with these headers.
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.trusts(peer) {
            return peer;
        }
        // Each proxy appends the address it was reached from; walk back from the nearest.
        // Every X-Forwarded-For line counts, in order.
        let hops: Vec<IpAddr> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .map(parse_forwarded_address)
            .collect::<Option<Vec<_>>>()
            // A line a proxy of ours wrote is never garbage: someone else's is not believed.
            .unwrap_or_default();
        let mut client = peer;
        for hop in hops.into_iter().rev() {
            client = canonical(hop);
            if !self.trusts(client) {
                break;
            }
        }
        client
    }
}

/// One entry of `X-Forwarded-For`: an address, possibly with a port (`[::1]:80`, `1.2.3.4:80`).
fn parse_forwarded_address(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    if let Ok(address) = entry.parse::<IpAddr>() {
        return Some(address);
    }
    entry
        .parse::<std::net::SocketAddr>()
        .ok()
        .map(|socket| socket.ip())
}

/// IPv4-mapped IPv6 addresses (`::ffff:1.2.3.4`, what a dual-stack socket reports) are the IPv4
/// address they carry.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

/// Who a request is counted against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RateKey {
    Person(Uuid),
    /// An IPv4 address, or an IPv6 /64.
    Address(IpAddr),
}

impl RateKey {
    pub fn address(address: IpAddr) -> RateKey {
        RateKey::Address(match canonical(address) {
            IpAddr::V6(v6) => {
                let bits = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(Ipv6Addr::from(bits))
            }
            v4 => v4,
        })
    }
}

type Keyed = RateLimiter<
    RateKey,
    governor::state::keyed::DefaultKeyedStateStore<RateKey>,
    DefaultClock,
    StateInformationMiddleware,
>;

/// One window: its limit, its length and its counters.
struct Window {
    limit: u32,
    seconds: u64,
    counters: Keyed,
}

impl Window {
    fn new(limit: u32, seconds: u64) -> Option<Window> {
        let limit_nz = NonZeroU32::new(limit)?;
        // `limit` requests replenished evenly over the window, all of them available at once.
        let quota = Quota::with_period(Duration::from_secs(seconds) / limit)?.allow_burst(limit_nz);
        Some(Window {
            limit,
            seconds,
            counters: RateLimiter::keyed(quota).with_middleware::<StateInformationMiddleware>(),
        })
    }

    /// Seconds until `used` requests are replenished.
    fn reset_after(&self, remaining: u32) -> u64 {
        let used = u64::from(self.limit.saturating_sub(remaining));
        (used * self.seconds).div_ceil(u64::from(self.limit))
    }
}

/// What a counted request is told about its limit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateInfo {
    /// The limit of the window closest to running out.
    pub limit: u32,
    pub remaining: u32,
    /// Seconds until that window is whole again.
    pub reset_secs: u64,
    /// Both windows, as `RateLimit-Policy` lists them.
    pub policy: String,
}

impl RateInfo {
    /// Adds the `RateLimit-*` headers.
    pub fn write_headers(&self, headers: &mut HeaderMap) {
        for (name, value) in [
            ("ratelimit-limit", self.limit.to_string()),
            ("ratelimit-remaining", self.remaining.to_string()),
            ("ratelimit-reset", self.reset_secs.to_string()),
            ("ratelimit-policy", self.policy.clone()),
        ] {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(HeaderName::from_static(name), value);
            }
        }
    }
}

/// The answer for a request past its limit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused {
    pub retry_after_secs: u64,
    pub info: RateInfo,
}

impl Refused {
    pub fn error(&self) -> AppError {
        AppError::RateLimited {
            retry_after_secs: self.retry_after_secs,
        }
    }
}

/// Per-minute and per-hour request counters, by person or address.
pub struct RateLimits {
    windows: Vec<Window>,
    policy: String,
}

impl RateLimits {
    pub fn from_settings(settings: &LimitSettings) -> RateLimits {
        let windows: Vec<Window> = [(settings.per_minute, 60), (settings.per_hour, 3600)]
            .into_iter()
            .filter_map(|(limit, seconds)| Window::new(limit, seconds))
            .collect();
        let policy = windows
            .iter()
            .map(|w| format!("{};w={}", w.limit, w.seconds))
            .collect::<Vec<_>>()
            .join(", ");
        RateLimits { windows, policy }
    }

    /// Whether any limit is set.
    pub fn enabled(&self) -> bool {
        !self.windows.is_empty()
    }

    /// Counts one request against `key`. `None` when no limit is set.
    pub fn check(&self, key: RateKey) -> Option<Result<RateInfo, Refused>> {
        if self.windows.is_empty() {
            return None;
        }
        let mut tightest: Option<(u32, &Window)> = None;
        for window in &self.windows {
            match window.counters.check_key(&key) {
                Ok(snapshot) => {
                    let remaining = snapshot.remaining_burst_capacity();
                    let closer = tightest.is_none_or(|(least, w)| {
                        u64::from(remaining) * u64::from(w.limit)
                            < u64::from(least) * u64::from(window.limit)
                    });
                    if closer {
                        tightest = Some((remaining, window));
                    }
                }
                Err(not_until) => {
                    let wait = not_until.wait_time_from(DefaultClock::default().now());
                    let retry_after_secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                    return Some(Err(Refused {
                        retry_after_secs: retry_after_secs.max(1),
                        info: RateInfo {
                            limit: window.limit,
                            remaining: 0,
                            reset_secs: window.reset_after(0),
                            policy: self.policy.clone(),
                        },
                    }));
                }
            }
        }
        let (remaining, window) = tightest?;
        Some(Ok(RateInfo {
            limit: window.limit,
            remaining,
            reset_secs: window.reset_after(remaining),
            policy: self.policy.clone(),
        }))
    }

    /// Forgets counters that are whole again, so that many addresses seen once do not stay in
    /// memory.
    pub fn forget_idle(&self) {
        for window in &self.windows {
            window.counters.retain_recent();
            window.counters.shrink_to_fit();
        }
    }

    /// How many keys are counted (for tests and benchmarks).
    pub fn tracked_keys(&self) -> usize {
        self.windows
            .iter()
            .map(|w| w.counters.len())
            .max()
            .unwrap_or(0)
    }

    /// Forgets idle counters every `every` until `stop`.
    pub fn spawn_cleanup(
        self: &Arc<Self>,
        every: Duration,
        stop: tokio_util::sync::CancellationToken,
    ) {
        if !self.enabled() {
            return;
        }
        let limits = Arc::downgrade(self);
        crate::periodic::every(every, stop, move || {
            // Weak: the task ends with the limits it cleans.
            let limits = limits.upgrade();
            async move {
                match limits {
                    Some(limits) => {
                        limits.forget_idle();
                        std::ops::ControlFlow::Continue(())
                    }
                    None => std::ops::ControlFlow::Break(()),
                }
            }
        });
    }
}

/// The event streams each person holds open, capped at `limits.max_streams_per_person`.
#[derive(Debug)]
pub struct StreamSlots {
    per_person: usize,
    open: Mutex<HashMap<Uuid, usize>>,
}

/// One open stream; dropping it (the stream ended or the client left) frees its slot.
#[derive(Debug)]
pub struct StreamSlot {
    slots: Arc<StreamSlots>,
    person: Uuid,
}

impl StreamSlots {
    pub fn new(per_person: usize) -> Arc<StreamSlots> {
        Arc::new(StreamSlots {
            per_person,
            open: Mutex::new(HashMap::new()),
        })
    }

    /// A slot for one more stream of `person`, or 429 when they hold all of theirs.
    pub fn acquire(self: &Arc<Self>, person: Uuid) -> Result<StreamSlot, AppError> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let count = open.entry(person).or_default();
        if *count >= self.per_person {
            return Err(AppError::TooBusy {
                message: format!(
                    "you already follow {} live streams; close one (another tab?) and try again",
                    self.per_person
                ),
                retry_after_secs: 2,
            });
        }
        *count += 1;
        Ok(StreamSlot {
            slots: self.clone(),
            person,
        })
    }

    /// How many streams `person` holds open.
    pub fn open_for(&self, person: Uuid) -> usize {
        let open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        open.get(&person).copied().unwrap_or(0)
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self.slots.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = open.get_mut(&self.person) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.person);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(forwarded: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for line in forwarded {
            headers.append("x-forwarded-for", HeaderValue::from_str(line).unwrap());
        }
        headers
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn forwarded_addresses_are_believed_only_from_trusted_proxies() {
        let none = TrustedProxies::default();
        let forged = headers(&["203.0.113.9"]);
        assert_eq!(
            none.client_ip(ip("198.51.100.7"), &forged),
            ip("198.51.100.7")
        );

        let proxies = TrustedProxies::parse(&["10.0.0.0/8".into(), "127.0.0.1".into()]).unwrap();
        // The client said it was 1.1.1.1; the proxy appended what it saw.
        let chain = headers(&["1.1.1.1, 203.0.113.9, 10.1.2.3"]);
        assert_eq!(
            proxies.client_ip(ip("127.0.0.1"), &chain),
            ip("203.0.113.9")
        );
        // Two header lines count in order.
        let lines = headers(&["1.1.1.1", "203.0.113.9:4431"]);
        assert_eq!(proxies.client_ip(ip("10.9.9.9"), &lines), ip("203.0.113.9"));
        // Nothing forwarded: the proxy itself.
        assert_eq!(
            proxies.client_ip(ip("10.9.9.9"), &HeaderMap::new()),
            ip("10.9.9.9")
        );
        // Garbage in the header: the proxy, never a guess.
        let garbage = headers(&["not-an-address, 203.0.113.9"]);
        assert_eq!(proxies.client_ip(ip("10.9.9.9"), &garbage), ip("10.9.9.9"));
        // A dual-stack socket's mapped address is the IPv4 one.
        assert_eq!(
            proxies.client_ip(ip("::ffff:127.0.0.1"), &headers(&["[2001:db8::1]:80"])),
            ip("2001:db8::1")
        );
        assert!(TrustedProxies::parse(&["10.0.0.0/33".into()]).is_err());
        assert!(TrustedProxies::parse(&["proxy.local".into()]).is_err());
    }

    #[test]
    fn ipv6_clients_are_counted_per_64() {
        assert_eq!(
            RateKey::address(ip("2001:db8:1:2:aaaa::1")),
            RateKey::address(ip("2001:db8:1:2:bbbb::2"))
        );
        assert_ne!(
            RateKey::address(ip("2001:db8:1:2::1")),
            RateKey::address(ip("2001:db8:1:3::1"))
        );
        assert_eq!(
            RateKey::address(ip("::ffff:192.0.2.1")),
            RateKey::Address(ip("192.0.2.1"))
        );
    }

    #[test]
    fn a_burst_up_to_the_limit_passes_then_429_with_a_wait() {
        let limits = RateLimits::from_settings(&LimitSettings {
            per_minute: 5,
            per_hour: 100,
            ..Default::default()
        });
        let key = RateKey::Person(Uuid::now_v7());
        for expected_remaining in (0..5).rev() {
            let info = limits.check(key).unwrap().unwrap();
            assert_eq!(info.limit, 5);
            assert_eq!(info.remaining, expected_remaining);
            assert_eq!(info.policy, "5;w=60, 100;w=3600");
        }
        let refused = limits.check(key).unwrap().unwrap_err();
        assert!((1..=12).contains(&refused.retry_after_secs), "{refused:?}");
        assert_eq!(refused.info.remaining, 0);
        assert_eq!(refused.error().status_code(), 429);
        // Someone else is not affected.
        assert!(limits
            .check(RateKey::Person(Uuid::now_v7()))
            .unwrap()
            .is_ok());
        // No limits, no counting.
        let off = RateLimits::from_settings(&LimitSettings {
            per_minute: 0,
            per_hour: 0,
            ..Default::default()
        });
        assert!(off.check(key).is_none());
    }

    #[test]
    fn the_hour_window_binds_when_it_is_the_tighter() {
        let limits = RateLimits::from_settings(&LimitSettings {
            per_minute: 60,
            per_hour: 3,
            ..Default::default()
        });
        let key = RateKey::address(ip("192.0.2.1"));
        let first = limits.check(key).unwrap().unwrap();
        assert_eq!((first.limit, first.remaining), (3, 2));
        limits.check(key).unwrap().unwrap();
        limits.check(key).unwrap().unwrap();
        let refused = limits.check(key).unwrap().unwrap_err();
        assert_eq!(refused.info.limit, 3);
        // One request of the hour comes back after 1200 s.
        assert!(refused.retry_after_secs > 1000, "{refused:?}");
    }

    #[test]
    fn stream_slots_are_freed_when_dropped() {
        let slots = StreamSlots::new(2);
        let person = Uuid::now_v7();
        let a = slots.acquire(person).unwrap();
        let _b = slots.acquire(person).unwrap();
        assert_eq!(slots.acquire(person).unwrap_err().status_code(), 429);
        assert!(slots.acquire(Uuid::now_v7()).is_ok());
        drop(a);
        assert_eq!(slots.open_for(person), 1);
        assert!(slots.acquire(person).is_ok());
    }
}
