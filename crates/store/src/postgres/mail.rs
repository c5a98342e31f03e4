//! The mail queue in PostgreSQL.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use async_trait::async_trait;
use convene_domain::{
    ClaimedMail, ClaimedRecipient, DeliveryId, MailAttemptRecord, MailMessage, MailRecipient,
    MailState, MessageId, OutgoingMessage,
};
use jiff::Timestamp;
use sqlx::Row;
use sqlx::postgres::PgConnection;
use uuid::Uuid;

use super::{
    CONCURRENT_WRITES, PostgresStore, attempt_from_row, lock_order, parse_id, retry_aborted, uuid,
};
use crate::codec::{corrupt_count, count, micros, settled_state, sql_limit, timestamp};
use crate::repository::repeated_recipients;
use crate::{ClaimRequest, MailStore, StoreError};

#[async_trait]
impl MailStore for PostgresStore {
    fn concurrent_writes(&self) -> usize {
        CONCURRENT_WRITES
    }

    async fn enqueue_mail(
        &self,
        messages: &[OutgoingMessage],
    ) -> Result<Vec<Vec<bool>>, StoreError> {
        retry_aborted(|| async move {
            let mut tx = self.begin().await?;
            let mut pending = lock_deliveries(&mut tx, messages).await?;
            let mut results = Vec::with_capacity(messages.len());
            for message in messages {
                results.push(enqueue_one(&mut tx, message, &mut pending).await?);
            }
            tx.commit().await?;
            Ok(results)
        })
        .await
    }

    async fn claim_due_mail(
        &self,
        request: ClaimRequest<'_>,
    ) -> Result<Vec<ClaimedMail>, StoreError> {
        let now = micros(request.now);
        let until = micros(request.lease_until()?);
        // As in claim_due_deliveries, the subquery skips the rows that other claims hold,
        // and a row claimed since this statement began is left out once locked.
        let rows = sqlx::query(
            "UPDATE mail_recipients SET lease_owner = $1, lease_until_us = $2 \
             WHERE (message_id, position) IN ( \
                 SELECT message_id, position FROM mail_recipients \
                 WHERE state = 'queued' AND not_before_us <= $3 \
                   AND (lease_until_us IS NULL OR lease_until_us <= $3) \
                 ORDER BY not_before_us, message_id, position LIMIT $4 \
                 FOR UPDATE SKIP LOCKED \
             ) \
             RETURNING message_id, position, address, attempts, delivery_id",
        )
        .bind(request.owner)
        .bind(until)
        .bind(now)
        .bind(sql_limit(request.limit))
        .fetch_all(&self.pool)
        .await?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }

        let mut recipients: BTreeMap<Uuid, Vec<ClaimedRecipient>> = BTreeMap::new();
        for row in &rows {
            let attempts: i64 = row.try_get("attempts")?;
            recipients
                .entry(row.try_get("message_id")?)
                .or_default()
                .push(ClaimedRecipient {
                    position: count(row.try_get("position")?)?,
                    address: row.try_get("address")?,
                    attempts: count(attempts)?,
                    delivery: row
                        .try_get::<Option<Uuid>, _>("delivery_id")?
                        .map(parse_id)
                        .transpose()?,
                });
        }
        let ids: Vec<Uuid> = recipients.keys().copied().collect();
        let messages = sqlx::query(
            "SELECT id, sender, data, created_us, expires_us FROM mail_messages \
             WHERE id = ANY($1)",
        )
        .bind(ids)
        .fetch_all(&self.pool)
        .await?;
        let mut claimed = Vec::with_capacity(messages.len());
        for row in &messages {
            let id: Uuid = row.try_get("id")?;
            let mut recipients = recipients.remove(&id).unwrap_or_default();
            recipients.sort_by_key(|recipient| recipient.position);
            let data: Vec<u8> = row.try_get("data")?;
            claimed.push(ClaimedMail {
                message: parse_id(id)?,
                sender: row.try_get("sender")?,
                data: Arc::from(data),
                created_at: timestamp(row.try_get("created_us")?)?,
                expires_at: timestamp(row.try_get("expires_us")?)?,
                recipients,
            });
        }
        claimed.sort_by_key(|mail| mail.message);
        Ok(claimed)
    }

    async fn record_mail_attempts(
        &self,
        records: &[MailAttemptRecord],
    ) -> Result<Vec<bool>, StoreError> {
        retry_aborted(|| async move {
            let mut tx = self.begin().await?;
            let mut applied = vec![false; records.len()];
            for index in lock_order(records, |record| (record.message, record.position)) {
                applied[index] = record_mail_attempt(&mut tx, &records[index]).await?;
            }
            tx.commit().await?;
            Ok(applied)
        })
        .await
    }

    async fn report_failures(
        &self,
        failures: &[DeliveryId],
        notice: Option<&OutgoingMessage>,
    ) -> Result<bool, StoreError> {
        retry_aborted(|| async move {
            let mut tx = self.begin().await?;
            let reported = insert_notice(&mut tx, failures, notice).await?;
            if reported {
                tx.commit().await?;
            }
            Ok(reported)
        })
        .await
    }

    async fn mail_message(
        &self,
        id: MessageId,
        now: Timestamp,
    ) -> Result<Option<MailMessage>, StoreError> {
        let Some(row) = sqlx::query(
            "SELECT sender, octet_length(data)::BIGINT AS size, created_us, expires_us \
             FROM mail_messages WHERE id = $1",
        )
        .bind(uuid(id))
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        let size: i64 = row.try_get("size")?;
        let mut message = MailMessage {
            id,
            sender: row.try_get("sender")?,
            size: u64::try_from(size).map_err(|_| corrupt_count(size))?,
            created_at: timestamp(row.try_get("created_us")?)?,
            expires_at: timestamp(row.try_get("expires_us")?)?,
            recipients: Vec::new(),
        };

        let rows = sqlx::query(
            "SELECT address, state, not_before_us, lease_until_us, delivery_id \
             FROM mail_recipients WHERE message_id = $1 ORDER BY position",
        )
        .bind(uuid(id))
        .fetch_all(&self.pool)
        .await?;
        for row in &rows {
            let state: String = row.try_get("state")?;
            let lease_until: Option<i64> = row.try_get("lease_until_us")?;
            let state = match state.as_str() {
                "queued" if lease_until.is_some_and(|until| until > micros(now)) => {
                    MailState::Sending
                }
                "queued" => MailState::Queued,
                "delivered" => MailState::Delivered,
                "failed" => MailState::Failed,
                other => {
                    return Err(StoreError::Corrupt(format!(
                        "unknown mail recipient state {other:?}"
                    )));
                }
            };
            let delivery: Option<Uuid> = row.try_get("delivery_id")?;
            message.recipients.push(MailRecipient {
                address: row.try_get("address")?,
                next_attempt_at: match state {
                    MailState::Queued => Some(timestamp(row.try_get("not_before_us")?)?),
                    _ => None,
                },
                state,
                delivery: delivery.map(parse_id).transpose()?,
                attempts: Vec::new(),
            });
        }

        let attempts = sqlx::query(
            "SELECT position, at_us, outcome, destination, tls, tls_version, tls_cipher, \
                    reply_code, reply_text \
             FROM mail_attempts WHERE message_id = $1 ORDER BY position, attempt",
        )
        .bind(uuid(id))
        .fetch_all(&self.pool)
        .await?;
        for row in &attempts {
            let position: i64 = row.try_get("position")?;
            let recipient = usize::try_from(position)
                .ok()
                .and_then(|position| message.recipients.get_mut(position))
                .ok_or_else(|| {
                    StoreError::Corrupt(format!("attempt for missing recipient {position}"))
                })?;
            recipient.attempts.push(attempt_from_row(row)?);
        }
        Ok(Some(message))
    }
}

/// Locks the deliveries that `messages` carry, in id order so that concurrent batches
/// never wait for each other in a cycle, and returns those still waiting to be queued.
async fn lock_deliveries(
    tx: &mut PgConnection,
    messages: &[OutgoingMessage],
) -> Result<HashSet<Uuid>, StoreError> {
    let carried: Vec<Uuid> = messages
        .iter()
        .flat_map(|message| &message.recipients)
        .filter_map(|recipient| recipient.delivery.map(uuid))
        .collect();
    if carried.is_empty() {
        return Ok(HashSet::new());
    }
    // FOR UPDATE returns the row as the transaction that held the lock left it.
    let rows = sqlx::query(
        "SELECT id, state = 'pending' AND message_id IS NULL AS waiting FROM deliveries \
         WHERE id = ANY($1) ORDER BY id FOR UPDATE",
    )
    .bind(carried)
    .fetch_all(&mut *tx)
    .await?;
    let mut pending = HashSet::new();
    for row in rows {
        if row.try_get::<bool, _>("waiting")? {
            pending.insert(row.try_get::<Uuid, _>("id")?);
        }
    }
    Ok(pending)
}

/// Stores one message unless none of its recipients can be queued. A delivery in
/// `pending` is taken by the first recipient that carries it.
async fn enqueue_one(
    tx: &mut PgConnection,
    message: &OutgoingMessage,
    pending: &mut HashSet<Uuid>,
) -> Result<Vec<bool>, StoreError> {
    let repeated = repeated_recipients(message);
    let queued: Vec<bool> = message
        .recipients
        .iter()
        .zip(repeated)
        .map(|(recipient, repeated)| match recipient.delivery {
            _ if repeated => false,
            None => true,
            Some(delivery) => pending.remove(&uuid(delivery)),
        })
        .collect();
    if queued.contains(&true) {
        insert_message(tx, message, &queued).await?;
    }
    Ok(queued)
}

/// Stores a message and the recipients marked in `queued`, and hands their
/// deliveries to the queue, in one statement.
async fn insert_message(
    tx: &mut PgConnection,
    message: &OutgoingMessage,
    queued: &[bool],
) -> Result<(), StoreError> {
    let (addresses, deliveries): (Vec<&str>, Vec<Option<Uuid>>) = message
        .recipients
        .iter()
        .zip(queued)
        .filter(|(_, queued)| **queued)
        .map(|(recipient, _)| (recipient.address.as_str(), recipient.delivery.map(uuid)))
        .unzip();

    sqlx::query(
        "WITH message AS ( \
             INSERT INTO mail_messages (id, sender, data, created_us, expires_us) \
             VALUES ($1, $2, $3, $4, $5) \
         ), recipient AS ( \
             INSERT INTO mail_recipients \
                 (message_id, position, address, state, not_before_us, delivery_id) \
             SELECT $1, r.position - 1, r.address, 'queued', $4, r.delivery \
             FROM unnest($6::text[], $7::uuid[]) WITH ORDINALITY AS r(address, delivery, position) \
         ) \
         UPDATE deliveries SET message_id = $1, lease_owner = NULL, lease_until_us = NULL \
         WHERE id = ANY($7)",
    )
    .bind(uuid(message.id))
    .bind(&message.sender)
    .bind(&message.data)
    .bind(micros(message.created_at))
    .bind(micros(message.expires_at))
    .bind(addresses)
    .bind(deliveries)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Records one attempt for one recipient and, when the recipient carries a reminder
/// delivery that is still pending, settles that delivery too. It is one statement, because
/// it runs once per message sent: the recipient's update, both attempt rows and the
/// delivery's update are data-modifying parts of it.
async fn record_mail_attempt(
    tx: &mut PgConnection,
    record: &MailAttemptRecord,
) -> Result<bool, StoreError> {
    let attempt = &record.attempt;
    let state = match settled_state(attempt.outcome) {
        "pending" => "queued",
        settled => settled,
    };
    let not_before = micros(record.retry_at.unwrap_or(attempt.at));

    let applied: i64 = sqlx::query_scalar(
        "WITH recipient AS ( \
             UPDATE mail_recipients SET state = $1, attempts = attempts + 1, \
                 lease_owner = NULL, lease_until_us = NULL, \
                 not_before_us = CASE WHEN $1 = 'queued' THEN $2 ELSE not_before_us END \
             WHERE message_id = $3 AND position = $4 AND state = 'queued' \
               AND ($1 <> 'queued' OR lease_owner IS NOT DISTINCT FROM $5) \
             RETURNING message_id, position, attempts, delivery_id \
         ), mail_attempt AS ( \
             INSERT INTO mail_attempts \
                 (message_id, position, attempt, at_us, outcome, destination, tls, \
                  tls_version, tls_cipher, reply_code, reply_text) \
             SELECT message_id, position, attempts, $6, $7, $8, $9, $10, $11, $12, $13 \
             FROM recipient \
         ), delivery AS ( \
             UPDATE deliveries d SET state = $14, attempts = d.attempts + 1, \
                 notice = CASE WHEN $14 = 'failed' THEN 'due' ELSE d.notice END \
             FROM recipient r WHERE d.id = r.delivery_id AND d.state = 'pending' \
             RETURNING d.id, d.attempts \
         ), delivery_attempt AS ( \
             INSERT INTO delivery_attempts \
                 (delivery_id, attempt, at_us, outcome, destination, tls, tls_version, \
                  tls_cipher, reply_code, reply_text) \
             SELECT id, attempts, $6, $7, $8, $9, $10, $11, $12, $13 FROM delivery \
         ) \
         SELECT count(*) FROM recipient",
    )
    .bind(state)
    .bind(not_before)
    .bind(uuid(record.message))
    .bind(i64::from(record.position))
    .bind(&record.owner)
    .bind(micros(attempt.at))
    .bind(attempt.outcome.as_str())
    .bind(attempt.destination.as_deref())
    .bind(attempt.tls)
    .bind(attempt.tls_version.as_deref())
    .bind(attempt.tls_cipher.as_deref())
    .bind(attempt.reply_code.map(i64::from))
    .bind(&attempt.reply_text)
    .bind(settled_state(attempt.outcome))
    .fetch_one(&mut *tx)
    .await?;
    Ok(applied > 0)
}

/// Marks failures reported and stores the notice that reports them; see
/// [`MailStore::report_failures`].
async fn insert_notice(
    tx: &mut PgConnection,
    failures: &[DeliveryId],
    notice: Option<&OutgoingMessage>,
) -> Result<bool, StoreError> {
    let mark = notice.map_or_else(|| "none".to_owned(), |notice| notice.id.to_string());
    let mut marked = 0;
    for index in lock_order(failures, |failure| *failure) {
        marked += sqlx::query("UPDATE deliveries SET notice = $1 WHERE id = $2 AND notice = 'due'")
            .bind(&mark)
            .bind(uuid(failures[index]))
            .execute(&mut *tx)
            .await?
            .rows_affected();
    }
    if marked == 0 {
        return Ok(false);
    }
    if let Some(notice) = notice {
        let queued = vec![true; notice.recipients.len()];
        insert_message(tx, notice, &queued).await?;
    }
    Ok(true)
}
