//! 2.2 Microservices: the transactional outbox on PostgreSQL, relayed to
//! RabbitMQ with publisher confirms, and a consumer that drops duplicates.
//!
//! An order and its `order.placed` event commit in one transaction. A relay
//! locks unsent outbox rows (`FOR UPDATE SKIP LOCKED`, so relays may run
//! side by side), publishes them, waits for the broker's confirms, and only
//! then marks them sent. A relay that dies before publishing loses nothing;
//! one that dies after publishing but before marking sends the batch again
//! on restart: delivery is at least once. The consumer makes it effectively
//! once: the message id goes into a table with a unique key in the same
//! transaction as the consumer's own write, and a second copy is dropped.
//!
//! Needs PostgreSQL at `DATABASE_URL` and RabbitMQ at `AMQP_URL` (defaults
//! to the local servers); exits 77 without them.

use lapin::options::{
    BasicAckOptions, BasicGetOptions, BasicPublishOptions, BasicRejectOptions,
    ConfirmSelectOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};
use serde::{Deserialize, Serialize};
use thiserror::Error;
use tokio_postgres::{Client, GenericClient, NoTls};

#[derive(Debug, Error)]
pub enum OutboxError {
    #[error("database: {0}")]
    Db(#[from] tokio_postgres::Error),
    #[error("broker: {0}")]
    Amqp(#[from] lapin::Error),
    #[error("quantity must be positive, got {0}")]
    BadQuantity(i32),
    #[error("broker refused message {0}")]
    Nacked(String),
    #[error("message {0} was unroutable (no queue bound)")]
    Unroutable(String),
    #[error("relay crashed on purpose ({0:?})")]
    Crashed(Crash),
}

/// Where a relay run dies, to test what its restart does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Crash {
    Never,
    /// In batch `n` (from 1), rows locked, nothing published.
    BeforePublish(u32),
    /// In batch `n`, published and confirmed, not yet marked sent.
    AfterPublish(u32),
}

#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct OrderPlaced {
    pub order_id: i64,
    pub item: String,
    pub qty: i32,
}

/// One scratch schema: the service's tables, and the consumer's.
pub struct Shop {
    pub schema: String,
    pub queue: String,
}

pub async fn connect_pg() -> Result<Client, tokio_postgres::Error> {
    let url = support::pg::database_url();
    let (client, connection) = tokio_postgres::connect(&url, NoTls).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

pub async fn connect_amqp() -> Result<Connection, lapin::Error> {
    let url = support::amqp::amqp_url();
    Connection::connect(&url, ConnectionProperties::default()).await
}

// ANCHOR: schema
const SCHEMA: &str = "
CREATE TABLE orders (
    id   bigserial PRIMARY KEY,
    item text NOT NULL,
    qty  integer NOT NULL CHECK (qty > 0));
CREATE TABLE outbox (
    id         bigserial PRIMARY KEY,
    message_id uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
    topic      text NOT NULL,
    payload    text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at    timestamptz);
CREATE INDEX outbox_unsent ON outbox (id) WHERE sent_at IS NULL;
-- The consumer's side (its own database in production).
CREATE TABLE processed_messages (message_id text PRIMARY KEY);
CREATE TABLE shipments (id bigserial PRIMARY KEY, order_id bigint NOT NULL);
";
// ANCHOR_END: schema

impl Shop {
    pub async fn create(
        pg: &Client,
        amqp: &Channel,
    ) -> Result<Shop, OutboxError> {
        let shop = Shop {
            schema: support::unique_name("outbox"),
            queue: support::unique_name("orders_placed"),
        };
        pg.batch_execute(&format!(
            "CREATE SCHEMA {s}; SET search_path TO {s};
             {SCHEMA} RESET search_path;",
            s = shop.schema
        ))
        .await?;
        let durable = QueueDeclareOptions {
            durable: true,
            ..Default::default()
        };
        amqp.queue_declare(
            shop.queue.as_str().into(),
            durable,
            FieldTable::default(),
        )
        .await?;
        Ok(shop)
    }

    pub async fn drop_all(
        &self,
        pg: &Client,
        amqp: &Channel,
    ) -> Result<(), OutboxError> {
        pg.batch_execute(&format!("DROP SCHEMA {} CASCADE", self.schema))
            .await?;
        amqp.queue_delete(
            self.queue.as_str().into(),
            QueueDeleteOptions::default(),
        )
        .await?;
        Ok(())
    }

    pub async fn count(
        &self,
        pg: &Client,
        sql_from: &str,
    ) -> Result<i64, OutboxError> {
        let sql = format!("SELECT count(*) FROM {}.{sql_from}", self.schema);
        Ok(pg.query_one(&sql, &[]).await?.get(0))
    }

    // ANCHOR: place_order
    pub async fn insert_order(
        &self,
        tx: &impl GenericClient,
        item: &str,
        qty: i32,
    ) -> Result<i64, OutboxError> {
        let sql = format!(
            "INSERT INTO {}.orders (item, qty) VALUES ($1, $2) RETURNING id",
            self.schema
        );
        Ok(tx.query_one(&sql, &[&item, &qty]).await?.get(0))
    }

    pub async fn insert_event(
        &self,
        tx: &impl GenericClient,
        event: &OrderPlaced,
    ) -> Result<(), OutboxError> {
        let payload = serde_json::json!(event).to_string();
        let sql = format!(
            "INSERT INTO {}.outbox (topic, payload)
             VALUES ('order.placed', $1)",
            self.schema
        );
        tx.execute(&sql, &[&payload]).await?;
        Ok(())
    }

    /// The order and its event commit together, or neither does.
    pub async fn place_order(
        &self,
        pg: &mut Client,
        item: &str,
        qty: i32,
    ) -> Result<i64, OutboxError> {
        if qty <= 0 {
            return Err(OutboxError::BadQuantity(qty));
        }
        let tx = pg.transaction().await?;
        let order_id = self.insert_order(&tx, item, qty).await?;
        let event = OrderPlaced {
            order_id,
            item: item.into(),
            qty,
        };
        self.insert_event(&tx, &event).await?;
        tx.commit().await?;
        Ok(order_id)
    }
    // ANCHOR_END: place_order

    // ANCHOR: relay
    /// One relay process: publishes every unsent row, `batch` at a time,
    /// and returns how many messages it published (confirmed).
    pub async fn relay(
        &self,
        batch: i64,
        crash: Crash,
    ) -> Result<u64, OutboxError> {
        let mut pg = connect_pg().await?;
        let amqp = connect_amqp().await?;
        let channel = amqp.create_channel().await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        let select = format!(
            "SELECT id, message_id::text, payload FROM {}.outbox
             WHERE sent_at IS NULL ORDER BY id LIMIT $1
             FOR UPDATE SKIP LOCKED",
            self.schema
        );
        let mark = format!(
            "UPDATE {}.outbox SET sent_at = now() WHERE id = ANY($1)",
            self.schema
        );
        let (mut published, mut n) = (0, 0);
        loop {
            let tx = pg.transaction().await?;
            let rows = tx.query(&select, &[&batch]).await?;
            if rows.is_empty() {
                return Ok(published);
            }
            n += 1;
            if crash == Crash::BeforePublish(n) {
                return Err(OutboxError::Crashed(crash));
            }
            let mut confirms = Vec::new();
            for row in &rows {
                let id: String = row.get(1);
                let payload: String = row.get(2);
                let confirm = self.publish(&channel, &id, &payload).await?;
                confirms.push((id, confirm));
            }
            for (id, confirm) in confirms {
                let confirmation = confirm.await?;
                if !confirmation.is_ack() {
                    return Err(OutboxError::Nacked(id));
                }
                if confirmation.take_message().is_some() {
                    return Err(OutboxError::Unroutable(id));
                }
                published += 1;
            }
            if crash == Crash::AfterPublish(n) {
                return Err(OutboxError::Crashed(crash));
            }
            let ids: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
            tx.execute(&mark, &[&ids]).await?;
            tx.commit().await?;
        }
    }
    // ANCHOR_END: relay

    async fn publish(
        &self,
        channel: &Channel,
        message_id: &str,
        payload: &str,
    ) -> Result<lapin::PublisherConfirm, OutboxError> {
        let properties = BasicProperties::default()
            .with_message_id(message_id.into())
            .with_content_type("application/json".into())
            .with_delivery_mode(2); // persistent
        // mandatory: an unroutable message comes back instead of vanishing.
        let options = BasicPublishOptions {
            mandatory: true,
            ..Default::default()
        };
        let confirm = channel
            .basic_publish(
                "".into(),
                self.queue.as_str().into(),
                options,
                payload.as_bytes(),
                properties,
            )
            .await?;
        Ok(confirm)
    }

    // ANCHOR: consume
    /// Drains the queue; returns what happened to each delivery.
    pub async fn consume(
        &self,
        pg: &mut Client,
        channel: &Channel,
    ) -> Result<Consumed, OutboxError> {
        let mut seen = Consumed::default();
        let remember = format!(
            "INSERT INTO {}.processed_messages (message_id) VALUES ($1)
             ON CONFLICT DO NOTHING",
            self.schema
        );
        let ship = format!(
            "INSERT INTO {}.shipments (order_id) VALUES ($1)",
            self.schema
        );
        let get = BasicGetOptions { no_ack: false };
        while let Some(message) =
            channel.basic_get(self.queue.as_str().into(), get).await?
        {
            seen.delivered += 1;
            let delivery = &message.delivery;
            let id = delivery.properties.message_id().clone();
            let event = serde_json::from_slice::<OrderPlaced>(&delivery.data);
            let (Some(id), Ok(event)) = (id, event) else {
                // Poison: no id or no order. Reject without requeue (a
                // dead-letter exchange would keep it for a human).
                seen.rejected += 1;
                delivery
                    .reject(BasicRejectOptions { requeue: false })
                    .await?;
                continue;
            };
            let tx = pg.transaction().await?;
            if tx.execute(&remember, &[&id.as_str()]).await? == 1 {
                tx.execute(&ship, &[&event.order_id]).await?;
                seen.processed += 1;
            } else {
                seen.duplicates += 1;
            }
            tx.commit().await?;
            // Ack after the commit: a crash in between redelivers, and the
            // unique key drops the copy.
            delivery.ack(BasicAckOptions::default()).await?;
        }
        Ok(seen)
    }
    // ANCHOR_END: consume
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Consumed {
    pub delivered: u64,
    pub processed: u64,
    pub duplicates: u64,
    pub rejected: u64,
}

async fn demo(
    shop: &Shop,
    pg: &mut Client,
    channel: &Channel,
) -> Result<(), OutboxError> {
    for (i, item) in ["tea", "mug", "kettle", "cups", "tray", "spoon"]
        .iter()
        .enumerate()
    {
        shop.place_order(pg, item, i as i32 + 1).await?;
    }
    println!(
        "6 orders placed; outbox rows: {}",
        shop.count(pg, "outbox").await?
    );
    let runs = [
        Crash::BeforePublish(1),
        Crash::AfterPublish(2),
        Crash::Never,
    ];
    for crash in runs {
        let published = match shop.relay(2, crash).await {
            Ok(n) => format!("published {n}"),
            Err(OutboxError::Crashed(_)) => "crashed".to_string(),
            Err(e) => return Err(e),
        };
        let unsent = shop.count(pg, "outbox WHERE sent_at IS NULL").await?;
        println!("relay run ({crash:?}): {published}, unsent left {unsent}");
    }
    let bad = BasicProperties::default();
    let options = BasicPublishOptions::default();
    channel
        .basic_publish(
            "".into(),
            shop.queue.as_str().into(),
            options,
            b"{}",
            bad,
        )
        .await?
        .await?;
    println!("one poison message (no id, no order) published by hand");
    let seen = shop.consume(pg, channel).await?;
    println!(
        "consumer: delivered {}, processed {}, duplicates dropped {}, \
         rejected {}",
        seen.delivered, seen.processed, seen.duplicates, seen.rejected
    );
    println!("shipments: {}", shop.count(pg, "shipments").await?);
    let bad = shop.place_order(pg, "nothing", 0).await;
    println!(
        "bad order: {}",
        bad.map_or_else(|e| e.to_string(), |id| id.to_string())
    );
    Ok(())
}

#[tokio::main]
async fn main() {
    const NAME: &str = "outbox_relay";
    let mut pg = connect_pg().await.unwrap_or_else(|e| {
        support::skip::exit_unavailable(
            NAME,
            "PostgreSQL (set DATABASE_URL)",
            e,
        )
    });
    let amqp = connect_amqp().await.unwrap_or_else(|e| {
        support::skip::exit_unavailable(NAME, "RabbitMQ (set AMQP_URL)", e)
    });
    let result = async {
        let channel = amqp.create_channel().await?;
        let shop = Shop::create(&pg, &channel).await?;
        let outcome = demo(&shop, &mut pg, &channel).await;
        shop.drop_all(&pg, &channel).await?;
        outcome
    }
    .await;
    if let Err(e) = result {
        eprintln!("{NAME}: {e}");
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn setup(test: &str) -> Option<(Client, Connection, Channel, Shop)> {
        let pg =
            support::skip::in_test(test, "PostgreSQL", connect_pg().await)?;
        let amqp =
            support::skip::in_test(test, "RabbitMQ", connect_amqp().await)?;
        let channel = amqp.create_channel().await.unwrap();
        let shop = Shop::create(&pg, &channel).await.unwrap();
        Some((pg, amqp, channel, shop))
    }

    #[tokio::test]
    async fn crashes_lose_nothing_and_duplicates_are_dropped() {
        let Some((mut pg, _amqp, channel, shop)) = setup("outbox_crash").await
        else {
            return;
        };
        const N: i64 = 20;
        const BATCH: i64 = 5;
        for i in 0..N {
            shop.place_order(&mut pg, &format!("item {i}"), 1)
                .await
                .unwrap();
        }
        let unsent = async |pg: &Client| {
            shop.count(pg, "outbox WHERE sent_at IS NULL")
                .await
                .unwrap()
        };
        // Batch 1 sent and marked; dies in batch 2 holding its row locks,
        // which roll back: those rows are unsent again.
        let r = shop.relay(BATCH, Crash::BeforePublish(2)).await;
        assert!(matches!(r, Err(OutboxError::Crashed(_))));
        assert_eq!(unsent(&pg).await, N - BATCH);
        // Two batches sent and marked, the third sent but not marked.
        let r = shop.relay(BATCH, Crash::AfterPublish(3)).await;
        assert!(matches!(r, Err(OutboxError::Crashed(_))));
        assert_eq!(unsent(&pg).await, N - 3 * BATCH);
        // The restart sends that third batch again.
        let published = shop.relay(BATCH, Crash::Never).await.unwrap();
        assert_eq!(published, BATCH as u64);
        assert_eq!(unsent(&pg).await, 0);

        let seen = shop.consume(&mut pg, &channel).await.unwrap();
        let d = BATCH as u64; // the batch published twice
        println!("orders {N}, {seen:?}");
        assert_eq!(
            seen,
            Consumed {
                delivered: N as u64 + d,
                processed: N as u64,
                duplicates: d,
                rejected: 0
            }
        );
        assert_eq!(shop.count(&pg, "shipments").await.unwrap(), N);
        let distinct = "(SELECT DISTINCT order_id FROM {s}.shipments) x";
        let distinct = distinct.replace("{s}", &shop.schema);
        let sql = format!("SELECT count(*) FROM {distinct}");
        let n: i64 = pg.query_one(&sql, &[]).await.unwrap().get(0);
        assert_eq!(n, N, "every order shipped exactly once");
        shop.drop_all(&pg, &channel).await.unwrap();
    }

    #[tokio::test]
    async fn the_order_and_its_event_commit_together_or_not_at_all() {
        let Some((mut pg, _amqp, channel, shop)) = setup("outbox_atomic").await
        else {
            return;
        };
        {
            let tx = pg.transaction().await.unwrap();
            let order_id = shop.insert_order(&tx, "tea", 1).await.unwrap();
            let event = OrderPlaced {
                order_id,
                item: "tea".into(),
                qty: 1,
            };
            shop.insert_event(&tx, &event).await.unwrap();
            // The process dies before COMMIT: the transaction is dropped.
        }
        assert_eq!(shop.count(&pg, "orders").await.unwrap(), 0);
        assert_eq!(shop.count(&pg, "outbox").await.unwrap(), 0);
        let err = shop.place_order(&mut pg, "tea", 0).await.unwrap_err();
        assert!(matches!(err, OutboxError::BadQuantity(0)));
        shop.place_order(&mut pg, "tea", 2).await.unwrap();
        assert_eq!(shop.count(&pg, "orders").await.unwrap(), 1);
        assert_eq!(shop.count(&pg, "outbox").await.unwrap(), 1);
        shop.drop_all(&pg, &channel).await.unwrap();
    }

    #[tokio::test]
    async fn two_relays_side_by_side_publish_each_row_once() {
        let Some((mut pg, _amqp, channel, shop)) = setup("outbox_pair").await
        else {
            return;
        };
        for i in 0..30 {
            shop.place_order(&mut pg, &format!("item {i}"), 1)
                .await
                .unwrap();
        }
        let (a, b) = tokio::join!(
            shop.relay(3, Crash::Never),
            shop.relay(3, Crash::Never)
        );
        assert_eq!(a.unwrap() + b.unwrap(), 30, "SKIP LOCKED: no row twice");
        let seen = shop.consume(&mut pg, &channel).await.unwrap();
        assert_eq!((seen.delivered, seen.duplicates), (30, 0));
        shop.drop_all(&pg, &channel).await.unwrap();
    }

    #[tokio::test]
    async fn poison_messages_are_rejected_and_the_rest_still_flow() {
        let Some((mut pg, _amqp, channel, shop)) = setup("outbox_poison").await
        else {
            return;
        };
        shop.place_order(&mut pg, "tea", 1).await.unwrap();
        let queue = shop.queue.as_str();
        let no_id = BasicProperties::default();
        let with_id = BasicProperties::default().with_message_id("m-1".into());
        for (body, props) in
            [(&b"{\"order_id\":1}"[..], no_id), (b"not json", with_id)]
        {
            channel
                .basic_publish(
                    "".into(),
                    queue.into(),
                    Default::default(),
                    body,
                    props,
                )
                .await
                .unwrap()
                .await
                .unwrap();
        }
        assert_eq!(shop.relay(10, Crash::Never).await.unwrap(), 1);
        let seen = shop.consume(&mut pg, &channel).await.unwrap();
        assert_eq!(
            seen,
            Consumed {
                delivered: 3,
                processed: 1,
                duplicates: 0,
                rejected: 2
            }
        );
        let sql =
            format!("SELECT count(*) FROM {}.processed_messages", shop.schema);
        let n: i64 = pg.query_one(&sql, &[]).await.unwrap().get(0);
        assert_eq!(n, 1, "a rejected message leaves no dedupe row");
        shop.drop_all(&pg, &channel).await.unwrap();
    }

    #[tokio::test]
    async fn an_unroutable_event_stays_unsent() {
        let Some((mut pg, _amqp, channel, shop)) =
            setup("outbox_unroutable").await
        else {
            return;
        };
        shop.place_order(&mut pg, "tea", 1).await.unwrap();
        let gone = Shop {
            schema: shop.schema.clone(),
            queue: support::unique_name("none"),
        };
        let r = gone.relay(10, Crash::Never).await;
        assert!(matches!(r, Err(OutboxError::Unroutable(_))), "{r:?}");
        assert_eq!(
            shop.count(&pg, "outbox WHERE sent_at IS NULL")
                .await
                .unwrap(),
            1
        );
        shop.drop_all(&pg, &channel).await.unwrap();
    }
}
