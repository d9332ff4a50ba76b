//! Reaching RabbitMQ: `AMQP_URL`, or the standard local default. The
//! client (`lapin`) is the listing's own; this module only names the
//! address, so the support crate stays free of an AMQP client.

/// The default when `AMQP_URL` is not set: the local broker, user
/// guest/guest, the default virtual host `/` (written `%2f`).
pub const DEFAULT_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

/// The broker address: `AMQP_URL`, or [`DEFAULT_URL`].
pub fn amqp_url() -> String {
    std::env::var("AMQP_URL").unwrap_or_else(|_| DEFAULT_URL.to_string())
}
