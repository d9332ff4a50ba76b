//! Three services on loopback: `gateway` (HTTP) calls `orders` (HTTP),
//! which publishes a message to RabbitMQ that `billing` consumes. Each
//! has its own JSON subscriber shipping to the collector, and each works
//! inside a span that carries the trace context it received.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use lapin::message::DeliveryResult;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions,
    QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};
use serde::Deserialize;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tracing::instrument::WithSubscriber;
use tracing::{Dispatch, Instrument, Span};

use crate::collector::{Collector, Shipper, subscriber};
use crate::traceparent::{
    TraceParent, TraceParentError, new_span_id, new_trace_id, parse,
};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("RabbitMQ: {0}")]
    Amqp(#[from] lapin::Error),
    #[error("listener: {0}")]
    Io(#[from] std::io::Error),
}

// ANCHOR: context
/// The trace context one service works in.
pub struct Context {
    pub trace_id: u128,
    pub span_id: u64,
    /// The caller's span, when a valid `traceparent` came in.
    pub parent_id: Option<u64>,
    pub flags: u8,
    /// Why a received value was ignored (the trace restarts here).
    pub ignored: Option<TraceParentError>,
}

impl Context {
    /// Continue the caller's trace, or start one: a missing or invalid
    /// value must not fail the request (Trace Context, section 4).
    pub fn accept(received: Option<&str>) -> Context {
        let parsed = received.map(parse);
        let span_id = new_span_id();
        match parsed {
            Some(Ok(tp)) => Context {
                trace_id: tp.trace_id,
                span_id,
                parent_id: Some(tp.parent_id),
                flags: tp.flags,
                ignored: None,
            },
            other => Context {
                trace_id: new_trace_id(),
                span_id,
                parent_id: None,
                flags: 0x01,
                ignored: other.and_then(Result::err),
            },
        }
    }

    /// What this service sends on: the same trace, its own span as the
    /// parent, and of the flags only the sampled bit (the others are
    /// reserved and must be sent as zero).
    pub fn outgoing(&self) -> TraceParent {
        TraceParent {
            trace_id: self.trace_id,
            parent_id: self.span_id,
            flags: self.flags & 0x01,
        }
    }
}
// ANCHOR_END: context

// ANCHOR: traced
impl Context {
    /// The span every line logged in this unit of work carries.
    pub fn span(&self) -> Span {
        let parent = self.parent_id.map(|p| format!("{p:016x}"));
        tracing::info_span!(
            "work",
            trace_id = %format!("{:032x}", self.trace_id),
            span_id = %format!("{:016x}", self.span_id),
            parent_id = parent.unwrap_or_default(),
        )
    }
}

/// Runs `work` with this service's subscriber, inside the context's
/// span. The span is made inside the subscriber's scope so it is that
/// subscriber's span.
pub async fn traced<T>(
    dispatch: &Dispatch,
    ctx: &Context,
    work: impl Future<Output = T>,
) -> T {
    async {
        if let Some(why) = &ctx.ignored {
            let span = ctx.span();
            span.in_scope(|| {
                tracing::warn!(error = %why, "traceparent ignored, new trace")
            });
        }
        work.instrument(ctx.span()).await
    }
    .with_subscriber(dispatch.clone())
    .await
}
// ANCHOR_END: traced

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    // A value that is not visible ASCII is no valid traceparent.
    headers.get(name).map(|v| v.to_str().unwrap_or("invalid"))
}

// ---------------------------------------------------------------------
// gateway

#[derive(Clone)]
struct Gateway {
    dispatch: Dispatch,
    orders: Option<String>,
    http: Client<HttpConnector, Full<Bytes>>,
}

#[derive(Deserialize)]
struct Checkout {
    order: u64,
    email: String,
}

// ANCHOR: gateway
async fn checkout(
    State(gw): State<Gateway>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let ctx = Context::accept(header(&headers, "traceparent"));
    let trace_id = format!("{:032x}", ctx.trace_id);
    traced(&gw.dispatch, &ctx, async {
        // Careless on purpose: the headers and the raw body, as a
        // developer logs them while debugging. Redaction must cope.
        let raw = String::from_utf8_lossy(&body);
        tracing::info!(?headers, body = %raw, "checkout received");
        let order: Checkout = match serde_json::from_slice(&body) {
            Ok(order) => order,
            Err(e) => {
                tracing::warn!(error = %e, "checkout refused");
                return (StatusCode::BAD_REQUEST, e.to_string())
                    .into_response();
            }
        };
        let Some(orders) = &gw.orders else {
            return (StatusCode::OK, trace_id).into_response();
        };
        let next = ctx.outgoing().to_string();
        let body =
            serde_json::json!({"order": order.order, "email": order.email});
        let request = Request::post(format!("{orders}/orders"))
            .header("traceparent", next)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body.to_string())));
        let Ok(request) = request else {
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        };
        let call = gw.http.request(request);
        match tokio::time::timeout(Duration::from_secs(2), call).await {
            Ok(Ok(r)) if r.status().is_success() => {
                (StatusCode::OK, trace_id).into_response()
            }
            outcome => {
                let why = match outcome {
                    Ok(Ok(r)) => r.status().to_string(),
                    Ok(Err(e)) => e.to_string(),
                    Err(_) => "timed out".to_string(),
                };
                tracing::error!(error = %why, "orders failed");
                StatusCode::BAD_GATEWAY.into_response()
            }
        }
    })
    .await
}
// ANCHOR_END: gateway

/// One line per request: what the flood test sends.
async fn ping(State(gw): State<Gateway>, headers: HeaderMap) -> StatusCode {
    let ctx = Context::accept(header(&headers, "traceparent"));
    traced(&gw.dispatch, &ctx, async {
        tracing::info!("ping");
    })
    .await;
    StatusCode::NO_CONTENT
}

async fn serve(router: Router) -> Result<(String, JoinHandle<()>), Error> {
    let (listener, addr) = support::loopback::listener()?;
    listener.set_nonblocking(true)?;
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Ok((format!("http://{addr}"), task))
}

/// The gateway alone; `orders` is the orders service's base URL.
pub async fn gateway(
    collector: &Collector,
    orders: Option<String>,
) -> Result<(String, JoinHandle<()>), Error> {
    let shipper = Shipper {
        service: "gateway",
        collector: collector.clone(),
    };
    let http = Client::builder(TokioExecutor::new()).build_http();
    let state = Gateway {
        dispatch: subscriber(shipper),
        orders,
        http,
    };
    let router = Router::new()
        .route("/checkout", post(checkout))
        .route("/ping", get(ping))
        .with_state(state);
    serve(router).await
}

// ---------------------------------------------------------------------
// orders

#[derive(Clone)]
struct Orders {
    dispatch: Dispatch,
    channel: Channel,
    queue: Arc<str>,
}

// ANCHOR: orders
async fn create_order(
    State(o): State<Orders>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let ctx = Context::accept(header(&headers, "traceparent"));
    traced(&o.dispatch, &ctx, async {
        let Ok(order) = serde_json::from_slice::<Checkout>(&body) else {
            tracing::warn!("order refused: not an order");
            return StatusCode::BAD_REQUEST;
        };
        tracing::info!(order = order.order, customer = %order.email,
            "order accepted");
        // The trace context rides in a message header, as text.
        let mut headers = FieldTable::default();
        let value = AMQPValue::LongString(ctx.outgoing().to_string().into());
        headers.insert("traceparent".into(), value);
        let props = BasicProperties::default().with_headers(headers);
        let body = order.order.to_string().into_bytes();
        let publish = o.channel.basic_publish(
            "".into(),
            o.queue.as_ref().into(),
            BasicPublishOptions::default(),
            &body,
            props,
        );
        match publish.await {
            Ok(_) => StatusCode::ACCEPTED,
            Err(e) => {
                tracing::error!(error = %e, "publish failed");
                StatusCode::SERVICE_UNAVAILABLE
            }
        }
    })
    .await
}
// ANCHOR_END: orders

// ---------------------------------------------------------------------
// billing

// ANCHOR: billing
/// The trace context of a message: its `traceparent` header, if any.
fn message_traceparent(props: &BasicProperties) -> Option<String> {
    let value = props.headers().as_ref()?.inner().get("traceparent")?;
    match value {
        AMQPValue::LongString(s) => Some(s.to_string()),
        _ => Some("invalid".to_string()), // not text: a new trace
    }
}

async fn bill(dispatch: &Dispatch, props: &BasicProperties, body: &[u8]) {
    let ctx = Context::accept(message_traceparent(props).as_deref());
    traced(dispatch, &ctx, async {
        match std::str::from_utf8(body).map(str::parse::<u64>) {
            Ok(Ok(order)) => tracing::info!(order, "payment captured"),
            _ => tracing::warn!(bytes = body.len(), "not an order number"),
        }
    })
    .await
}
// ANCHOR_END: billing

/// The three services, a scratch queue between orders and billing, and
/// how many messages billing has handled.
pub struct Services {
    pub gateway: String,
    pub orders: String,
    pub billed: watch::Receiver<u64>,
    connection: Connection,
    channel: Channel,
    /// Billing's own channel, kept open for as long as it consumes.
    _billing: Channel,
    queue: String,
    tasks: Vec<JoinHandle<()>>,
}

impl Services {
    pub async fn start(
        collector: &Collector,
        amqp_url: &str,
    ) -> Result<Services, Error> {
        let props = ConnectionProperties::default();
        let connection = Connection::connect(amqp_url, props).await?;
        let channel = connection.create_channel().await?;
        let queue = support::unique_name("billing");
        let opts = QueueDeclareOptions {
            auto_delete: true,
            ..Default::default()
        };
        channel
            .queue_declare(queue.as_str().into(), opts, FieldTable::default())
            .await?;
        let orders_state = Orders {
            dispatch: subscriber(Shipper {
                service: "orders",
                collector: collector.clone(),
            }),
            channel: channel.clone(),
            queue: queue.as_str().into(),
        };
        let router = Router::new()
            .route("/orders", post(create_order))
            .with_state(orders_state);
        let (orders, orders_task) = serve(router).await?;
        let (gateway, gateway_task) =
            gateway(collector, Some(orders.clone())).await?;
        let (billed, billing_channel, billing_task) =
            billing(collector, &connection, &queue).await?;
        Ok(Services {
            gateway,
            orders,
            billed,
            connection,
            channel,
            _billing: billing_channel,
            queue,
            tasks: vec![orders_task, gateway_task, billing_task],
        })
    }

    /// The queue between orders and billing.
    pub fn queue(&self) -> &str {
        &self.queue
    }

    pub async fn stop(self) -> Result<(), Error> {
        for task in &self.tasks {
            task.abort();
        }
        let opts = QueueDeleteOptions::default();
        self.channel.queue_delete(self.queue().into(), opts).await?;
        self.connection.close(200, "bye".into()).await?;
        Ok(())
    }
}

async fn billing(
    collector: &Collector,
    connection: &Connection,
    queue: &str,
) -> Result<(watch::Receiver<u64>, Channel, JoinHandle<()>), Error> {
    let dispatch = subscriber(Shipper {
        service: "billing",
        collector: collector.clone(),
    });
    let channel = connection.create_channel().await?;
    let consumer = channel
        .basic_consume(
            queue.into(),
            "billing".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let (tx, mut rx) = mpsc::unbounded_channel();
    consumer.set_delegate(move |delivery: DeliveryResult| {
        let _ = tx.send(delivery);
        async {}
    });
    let (billed_tx, billed) = watch::channel(0u64);
    let task = tokio::spawn(async move {
        while let Some(Ok(Some(d))) = rx.recv().await {
            bill(&dispatch, &d.properties, &d.data).await;
            let _ = d.ack(BasicAckOptions::default()).await;
            billed_tx.send_modify(|n| *n += 1);
        }
    });
    Ok((billed, channel, task))
}
