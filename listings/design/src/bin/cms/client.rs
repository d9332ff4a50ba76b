//! A small HTTP client for the demo and the tests (plumbing).

use std::net::SocketAddr;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

pub type Error = Box<dyn std::error::Error + Send + Sync>;

pub struct Http {
    client: Client<HttpConnector, Full<Bytes>>,
    addr: SocketAddr,
}

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: hyper::HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `error` field of a JSON error body.
    pub fn error(&self) -> String {
        self.json()["error"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

impl Http {
    pub fn new(addr: SocketAddr) -> Http {
        let client = Client::builder(TokioExecutor::new()).build_http();
        Http { client, addr }
    }

    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Result<Reply, Error> {
        let mut request = hyper::Request::builder()
            .method(method)
            .uri(format!("http://{}{path}", self.addr));
        if let Some(token) = token {
            request =
                request.header("authorization", format!("Bearer {token}"));
        }
        let bytes = match body {
            Some(body) => {
                request = request.header("content-type", "application/json");
                Bytes::from(body.to_string())
            }
            None => Bytes::new(),
        };
        let response =
            self.client.request(request.body(Full::new(bytes))?).await?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await?.to_bytes();
        let body = String::from_utf8_lossy(&bytes).into_owned();
        Ok(Reply {
            status,
            headers,
            body,
        })
    }

    pub async fn get(
        &self,
        path: &str,
        token: Option<&str>,
    ) -> Result<Reply, Error> {
        self.call("GET", path, token, None).await
    }

    pub async fn post(
        &self,
        path: &str,
        token: &str,
        body: Value,
    ) -> Result<Reply, Error> {
        self.call("POST", path, Some(token), Some(body)).await
    }

    pub async fn put(
        &self,
        path: &str,
        token: &str,
        body: Value,
    ) -> Result<Reply, Error> {
        self.call("PUT", path, Some(token), Some(body)).await
    }
}
