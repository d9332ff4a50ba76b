//! The messages in PostgreSQL: one sequence per conversation, bumped in the
//! same transaction as the insert, and a unique client message id per
//! sender, so that a retried send is stored once.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::Mutex;
use tokio_postgres::{Client, NoTls};

// ANCHOR: schema
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS conversations (
    id       bigint PRIMARY KEY,
    last_seq bigint NOT NULL DEFAULT 0   -- the last sequence handed out
);
CREATE TABLE IF NOT EXISTS members (
    conversation_id bigint NOT NULL REFERENCES conversations,
    user_id         text   NOT NULL,
    PRIMARY KEY (conversation_id, user_id)
);
CREATE INDEX IF NOT EXISTS members_by_user ON members (user_id);
CREATE TABLE IF NOT EXISTS messages (
    conversation_id bigint NOT NULL REFERENCES conversations,
    seq             bigint NOT NULL,
    sender          text   NOT NULL,
    client_msg_id   text   NOT NULL,
    body            text   NOT NULL,
    sent_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (conversation_id, seq),           -- history by range
    UNIQUE (conversation_id, sender, client_msg_id) -- a retry is a no-op
);
";
// ANCHOR_END: schema

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no such conversation, or you are not a member")]
    NotMember,
    #[error("database error: {0}")]
    Db(#[from] tokio_postgres::Error),
}

/// Where a message ended up: its sequence, and whether this send was a
/// retry of one already stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stored {
    pub seq: i64,
    pub duplicate: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Stamped {
    pub conv: i64,
    pub seq: i64,
    pub from: String,
    pub id: String,
    pub body: String,
}

/// A few connections, each used by one task at a time (a transaction needs
/// its connection to itself).
pub struct Store {
    clients: Vec<Mutex<Client>>,
    next: AtomicUsize,
}

pub async fn connect(
    url: &str,
    schema: &str,
) -> Result<Client, tokio_postgres::Error> {
    let mut config: tokio_postgres::Config = url.parse()?;
    config.connect_timeout(Duration::from_secs(3));
    config.options(format!("-c search_path={schema}"));
    let (client, connection) = config.connect(NoTls).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

impl Store {
    pub async fn open(
        url: &str,
        schema: &str,
        size: usize,
    ) -> Result<Store, tokio_postgres::Error> {
        let mut clients = Vec::new();
        for _ in 0..size.max(1) {
            clients.push(Mutex::new(connect(url, schema).await?));
        }
        Ok(Store {
            clients,
            next: AtomicUsize::new(0),
        })
    }

    async fn client(&self) -> tokio::sync::MutexGuard<'_, Client> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        self.clients[n % self.clients.len()].lock().await
    }

    // ANCHOR: send
    /// Stores a message and returns its sequence number. A retry (the same
    /// sender and client id) returns the first sequence, stores nothing.
    pub async fn send(
        &self,
        conv: i64,
        sender: &str,
        client_id: &str,
        body: &str,
    ) -> Result<Stored, StoreError> {
        let mut db = self.client().await;
        if let Some(seq) = find(&db, conv, sender, client_id).await? {
            return Ok(Stored {
                seq,
                duplicate: true,
            });
        }
        let tx = db.transaction().await?;
        // The row lock taken here orders every sender of this
        // conversation until the commit: no two get the same number.
        let bump = "UPDATE conversations SET last_seq = last_seq + 1 \
            WHERE id = $1 AND EXISTS (SELECT 1 FROM members \
            WHERE conversation_id = $1 AND user_id = $2) RETURNING last_seq";
        let Some(row) = tx.query_opt(bump, &[&conv, &sender]).await? else {
            return Err(StoreError::NotMember);
        };
        let seq: i64 = row.get(0);
        let insert = "INSERT INTO messages \
            (conversation_id, seq, sender, client_msg_id, body) \
            VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING seq";
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 5] =
            [&conv, &seq, &sender, &client_id, &body];
        if tx.query_opt(insert, &params).await?.is_some() {
            tx.commit().await?;
            return Ok(Stored {
                seq,
                duplicate: false,
            });
        }
        // The same send, committed by a concurrent retry while we waited
        // for the lock: undo our bump (no gap) and answer with its number.
        tx.rollback().await?;
        let seq = find(&db, conv, sender, client_id).await?;
        Ok(Stored {
            seq: seq.ok_or(StoreError::NotMember)?,
            duplicate: true,
        })
    }
    // ANCHOR_END: send

    // ANCHOR: history
    /// The messages after `after`, oldest first, at most `limit`.
    pub async fn history(
        &self,
        conv: i64,
        after: i64,
        limit: i64,
    ) -> Result<Vec<Stamped>, StoreError> {
        let db = self.client().await;
        let rows = db
            .query(
                "SELECT seq, sender, client_msg_id, body FROM messages \
                 WHERE conversation_id = $1 AND seq > $2 \
                 ORDER BY seq LIMIT $3",
                &[&conv, &after, &limit],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| Stamped {
                conv,
                seq: r.get(0),
                from: r.get(1),
                id: r.get(2),
                body: r.get(3),
            })
            .collect())
    }
    // ANCHOR_END: history

    pub async fn conversations_of(
        &self,
        user: &str,
    ) -> Result<Vec<i64>, StoreError> {
        let db = self.client().await;
        let rows = db
            .query(
                "SELECT conversation_id FROM members WHERE user_id = $1 \
                 ORDER BY 1",
                &[&user],
            )
            .await?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }
}

async fn find(
    db: &Client,
    conv: i64,
    sender: &str,
    client_id: &str,
) -> Result<Option<i64>, tokio_postgres::Error> {
    let row = db
        .query_opt(
            "SELECT seq FROM messages WHERE conversation_id = $1 \
             AND sender = $2 AND client_msg_id = $3",
            &[&conv, &sender, &client_id],
        )
        .await?;
    Ok(row.map(|r| r.get(0)))
}

/// Creates the tables in `schema` (made if missing) and a conversation
/// with its members; running it again changes nothing.
pub async fn prepare(
    url: &str,
    schema: &str,
    conversations: &[(i64, &[&str])],
) -> Result<(), tokio_postgres::Error> {
    let admin = connect(url, "public").await?;
    admin
        .batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
        .await?;
    let db = connect(url, schema).await?;
    db.batch_execute(SCHEMA).await?;
    for (id, users) in conversations {
        db.execute(
            "INSERT INTO conversations (id) VALUES ($1) \
             ON CONFLICT DO NOTHING",
            &[id],
        )
        .await?;
        for user in *users {
            db.execute(
                "INSERT INTO members VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[id, user],
            )
            .await?;
        }
    }
    Ok(())
}

pub async fn drop_schema(
    url: &str,
    schema: &str,
) -> Result<(), tokio_postgres::Error> {
    let admin = connect(url, "public").await?;
    admin
        .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .await
}
