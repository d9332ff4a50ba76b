//! Fake delivery providers on loopback (axum) that answer the way APNs
//! and FCM do: 200 when delivered, 410 `Unregistered` for a device
//! token that is gone, 429 and 5xx when they want us to come back later.
//! They honour an idempotency key and count what they deliver, so a
//! test can say exactly how many notifications reached a user.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::Deserialize;
use tokio::sync::Notify;

/// What the provider is told to do; tests change it at will.
#[derive(Default)]
pub struct Script {
    /// Device tokens (or addresses) that answer 410 Unregistered.
    pub unregistered: HashSet<String>,
    /// Per recipient, statuses to answer before a success (429, 503...).
    pub faults: HashMap<String, VecDeque<u16>>,
    /// Every request fails with this status.
    pub always: Option<u16>,
    /// Every request takes this long to answer.
    pub delay: Duration,
}

/// One delivery: the idempotency key, the recipient, the text.
#[derive(Clone, Debug, PartialEq)]
pub struct Delivered {
    pub key: String,
    pub to: String,
    pub text: String,
}

#[derive(Default)]
pub struct Provider {
    pub script: Mutex<Script>,
    pub requests: AtomicU64,
    /// Requests whose key had been delivered before: answered 200,
    /// delivered nothing.
    pub repeats: AtomicU64,
    delivered: Mutex<Vec<Delivered>>,
    keys: Mutex<HashSet<String>>,
    changed: Notify,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[derive(Deserialize)]
struct SendBody {
    to: String,
    text: String,
}

fn reason(status: StatusCode, reason: &str) -> Response {
    let body = serde_json::json!({ "reason": reason }).to_string();
    (status, body).into_response()
}

// ANCHOR: provider
async fn send(
    State(p): State<Arc<Provider>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    p.requests.fetch_add(1, Ordering::SeqCst);
    let delay = lock(&p.script).delay;
    tokio::time::sleep(delay).await;
    let Some(key) = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .filter(|k| !k.is_empty())
    else {
        return reason(StatusCode::BAD_REQUEST, "MissingIdempotencyKey");
    };
    let Ok(msg) = serde_json::from_slice::<SendBody>(&body) else {
        return reason(StatusCode::BAD_REQUEST, "BadPayload");
    };
    {
        let mut s = lock(&p.script);
        if let Some(code) = s.always {
            return reason(status(code), "Unavailable");
        }
        if s.unregistered.contains(&msg.to) {
            return reason(StatusCode::GONE, "Unregistered");
        }
        let fault = s.faults.get_mut(&msg.to).and_then(|f| f.pop_front());
        if let Some(code) = fault {
            return reason(status(code), "TryLater");
        }
    }
    // Deliver once per key, however often the key comes back.
    if !lock(&p.keys).insert(key.to_string()) {
        p.repeats.fetch_add(1, Ordering::SeqCst);
        return StatusCode::OK.into_response();
    }
    lock(&p.delivered).push(Delivered {
        key: key.to_string(),
        to: msg.to,
        text: msg.text,
    });
    p.changed.notify_waiters();
    StatusCode::OK.into_response()
}
// ANCHOR_END: provider

fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

impl Provider {
    pub fn new() -> Arc<Self> {
        Arc::new(Provider::default())
    }

    pub fn script(&self) -> MutexGuard<'_, Script> {
        lock(&self.script)
    }

    pub fn delivered(&self) -> Vec<Delivered> {
        lock(&self.delivered).clone()
    }

    /// How many times each (recipient, text) was delivered: what a user
    /// saw, whatever keys the sender used (the tests want all 1s).
    pub fn per_message(&self) -> BTreeMap<(String, String), u32> {
        let mut counts = BTreeMap::new();
        for d in lock(&self.delivered).iter() {
            let seen = (d.to.clone(), d.text.clone());
            *counts.entry(seen).or_insert(0) += 1;
        }
        counts
    }

    /// Waits until `n` deliveries were made, or `limit` passes.
    pub async fn wait_for(&self, n: usize, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let changed = self.changed.notified();
            if lock(&self.delivered).len() >= n {
                return true;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return lock(&self.delivered).len() >= n;
            }
        }
    }
}

/// Serves the provider on a fresh loopback port; returns its URL.
pub async fn serve(p: Arc<Provider>) -> std::io::Result<String> {
    let (listener, addr) = support::loopback::listener()?;
    listener.set_nonblocking(true)?;
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let app = Router::new().route("/send", post(send)).with_state(p);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(format!("http://{addr}/send"))
}
