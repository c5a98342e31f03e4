//! Enqueueing, and the poll loop that delivers queued mail.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use convene_domain::{
    ClaimedMail, DeliveryAttempt, DeliveryId, DeliveryOutcome, MailAttemptRecord, MailMessage,
    MessageId, OutgoingMessage, OutgoingRecipient,
};
use convene_mail::dkim::SignError;
use convene_mail::{Address, DeliveryStatus, Mailer, RecipientResult};
use convene_store::{ClaimRequest, MailStore, StoreError};
use convene_worker::backoff::retry_at;
use convene_worker::{
    BatchWrite, Claimer, CombineError, Combiner, Drained, Held, PollSettings, drain_reports,
    store_until_accepted,
};
use jiff::{SignedDuration, Timestamp};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::OutboxConfig;

/// One recipient of one message.
type RecipientKey = (MessageId, u32);

/// Most messages queued in one transaction. Reminder messages are a few
/// kilobytes each, so a full batch stays well under a megabyte.
const MAX_ENQUEUE_BATCH: usize = 200;

/// Most attempt results recorded in one transaction.
const MAX_RECORD_BATCH: usize = 500;

/// The durable mail queue: stores messages, then delivers them through the
/// Mail Broker until every recipient has a final result.
#[derive(Clone)]
pub struct Outbox {
    store: Arc<dyn MailStore>,
    mailer: Mailer,
    config: Arc<OutboxConfig>,
    /// Recipients claimed by this process whose results are not stored yet.
    held: Held<RecipientKey>,
    /// Queues the messages of concurrent callers in one transaction.
    enqueuer: Combiner<Enqueue>,
    /// Records the results of concurrent deliveries in one transaction.
    recorder: Combiner<RecordAttempts>,
}

impl Outbox {
    pub fn new(store: Arc<dyn MailStore>, mailer: Mailer, config: OutboxConfig) -> Outbox {
        Outbox {
            enqueuer: Combiner::new(
                Enqueue(Arc::clone(&store)),
                MAX_ENQUEUE_BATCH,
                store.concurrent_writes(),
            ),
            recorder: Combiner::new(
                RecordAttempts(Arc::clone(&store)),
                MAX_RECORD_BATCH,
                store.concurrent_writes(),
            ),
            store,
            mailer,
            config: Arc::new(config),
            held: Held::default(),
        }
    }

    /// Closes the Mail Broker's idle connections with QUIT, at shutdown.
    pub async fn close(&self) {
        self.mailer.close().await;
    }

    /// Returns a queued message and each recipient's status.
    pub async fn status(&self, id: MessageId) -> Result<Option<MailMessage>, StoreError> {
        self.store.mail_message(id, Timestamp::now()).await
    }

    /// Prepares a message for [`Outbox::enqueue`]: a new identifier, created
    /// now, expiring after the configured expiry or at `deadline`, whichever
    /// comes first. With a signer configured, `data` is signed with DKIM
    /// here, and the signed bytes are what the queue stores and sends.
    ///
    /// # Errors
    ///
    /// Returns an error when signing fails: `data` does not have exactly
    /// one `From` field or a header line is malformed, which the messages
    /// that [`convene_mail::Message`] builds never are, or the signature
    /// primitive fails.
    pub fn prepare(
        &self,
        sender: &Address,
        data: Vec<u8>,
        recipients: Vec<OutgoingRecipient>,
        deadline: Option<Timestamp>,
    ) -> Result<OutgoingMessage, SignError> {
        let data = match &self.config.signer {
            Some(signer) => signer.sign(&data)?,
            None => data,
        };
        let created_at = Timestamp::now();
        let expiry = SignedDuration::try_from(self.config.expiry).unwrap_or(SignedDuration::MAX);
        let mut expires_at = created_at.checked_add(expiry).unwrap_or(Timestamp::MAX);
        if let Some(deadline) = deadline {
            expires_at = expires_at.min(deadline);
        }
        Ok(OutgoingMessage {
            id: MessageId::generate(),
            sender: sender.as_str().to_owned(),
            data,
            created_at,
            expires_at,
            recipients,
        })
    }

    /// Stores `messages` for delivery, all or none of them, and returns,
    /// for each message, whether each recipient was queued; see
    /// [`MailStore::enqueue_mail`]. Messages that concurrent callers
    /// enqueue meanwhile share one transaction.
    ///
    /// # Errors
    ///
    /// Returns the store's error, in which case none of `messages` were
    /// queued, or [`StoreError::Unanswered`] when the writing task ended
    /// without a response, in which case they may have been.
    pub async fn enqueue(
        &self,
        messages: Vec<OutgoingMessage>,
    ) -> Result<Vec<Vec<bool>>, StoreError> {
        let summary: Vec<(MessageId, usize)> = messages
            .iter()
            .map(|message| (message.id, message.data.len()))
            .collect();
        let queued = self.enqueuer.write(messages).await.map_err(store_error)?;
        for ((id, size), queued) in summary.into_iter().zip(&queued) {
            tracing::debug!(
                message.id = %id,
                recipients = queued.iter().filter(|queued| **queued).count(),
                size,
                "message queued"
            );
        }
        Ok(queued)
    }

    /// Queues `notice`, which informs an organizer of `failures`, and marks
    /// them reported; see [`MailStore::report_failures`].
    pub async fn enqueue_notice(
        &self,
        notice: Option<&OutgoingMessage>,
        failures: &[DeliveryId],
    ) -> Result<bool, StoreError> {
        self.store.report_failures(failures, notice).await
    }

    /// Delivers queued mail until `shutdown` completes; see
    /// [`convene_worker::run_polls`].
    pub async fn run(&self, shutdown: impl Future<Output = ()>) {
        let settings = PollSettings {
            name: "mail queue",
            worker_id: self.config.worker_id.clone(),
            poll_interval: self.config.poll_interval,
            batch_size: self.config.batch_size,
            lease: self.config.lease,
        };
        convene_worker::run_polls(self.clone(), &settings, shutdown).await;
    }

    /// Claims the recipients due at `now`, delivers them and records each
    /// result before returning. Returns how many recipients were claimed.
    pub async fn run_once(&self, now: Timestamp) -> Result<usize, StoreError> {
        convene_worker::run_once(self, now).await
    }

    async fn claim(&self, now: Timestamp, limit: usize) -> Result<Vec<ClaimedMail>, StoreError> {
        let claimed = self
            .store
            .claim_due_mail(ClaimRequest {
                now,
                limit: limit.min(self.config.batch_size),
                lease: self.config.lease,
                owner: &self.config.worker_id,
            })
            .await?;

        // A recipient this process still holds was claimed again because
        // its lease ran out while its transaction or its result write was
        // slow. The new claim only extends the lease; the task that holds
        // it sends and records it, so it is not sent a second time.
        Ok(claimed
            .into_iter()
            .filter_map(|mut mail| {
                mail.recipients.retain(|recipient| {
                    let fresh = self.held.hold((mail.message, recipient.position));
                    if !fresh {
                        tracing::debug!(message.id = %mail.message, position = recipient.position, "lease extended for a recipient still in progress");
                    }
                    fresh
                });
                (!mail.recipients.is_empty()).then_some(mail)
            })
            .collect())
    }

    /// Delivers one claimed message to its claimed recipients and records
    /// each result as it arrives.
    async fn deliver(
        &self,
        mail: ClaimedMail,
        claimed_at: tokio::time::Instant,
    ) -> Result<(), StoreError> {
        // Whatever way this task ends, its recipients are no longer held.
        let _release = self.held.release_on_drop(
            mail.recipients
                .iter()
                .map(|recipient| (mail.message, recipient.position))
                .collect(),
        );
        let mut reported = vec![false; mail.recipients.len()];

        // A retry that fell due before the expiry but is claimed after it,
        // because the process was down or the queue backed up, is too late.
        if Timestamp::now() >= mail.expires_at {
            let reason = format!(
                "not sent: the message expired at {} before this attempt",
                mail.expires_at
            );
            return self.fail_all(&mail, &mut reported, &reason).await;
        }
        let sender = match Address::parse(&mail.sender) {
            Ok(sender) => sender,
            Err(err) => {
                let reason = format!("invalid sender address: {err}");
                return self.fail_all(&mail, &mut reported, &reason).await;
            }
        };
        let mut addresses: Vec<(usize, Address)> = Vec::with_capacity(mail.recipients.len());
        let mut invalid = Vec::new();
        for (i, recipient) in mail.recipients.iter().enumerate() {
            match Address::parse(&recipient.address) {
                Ok(address) => addresses.push((i, address)),
                Err(err) => invalid.push((
                    i,
                    local_failure(format!("invalid recipient address: {err}")),
                )),
            }
        }
        let records = self.prepare_records(&mail, &mut reported, invalid);
        self.store_records(&records).await?;
        if addresses.is_empty() {
            return Ok(());
        }

        // The transaction runs as its own task, so each result is recorded
        // as soon as it is reported while slower destinations are still in
        // progress. It also lets the send be cut off before the lease runs
        // out and another worker claims the same recipients.
        let (results, mut reports) = mpsc::unbounded_channel::<(usize, DeliveryAttempt)>();
        let mut send = JoinSet::new();
        {
            let mailer = self.mailer.clone();
            let data = mail.data.clone();
            send.spawn(async move {
                let recipients: Vec<Address> = addresses
                    .iter()
                    .map(|(_, address)| address.clone())
                    .collect();
                mailer
                    .send_each(&sender, &recipients, &data, |result| {
                        for (i, address) in &addresses {
                            if *address == result.recipient {
                                let _ = results.send((*i, attempt_from(result.clone())));
                            }
                        }
                    })
                    .await;
            });
        }
        let budget = self.send_budget();
        let drained = drain_reports(&mut reports, claimed_at + budget, |batch| {
            let records = self.prepare_records(&mail, &mut reported, batch);
            async move { self.store_records(&records).await }
        })
        .await?;
        if drained == Drained::TimedOut {
            send.abort_all();
            tracing::warn!(
                message.id = %mail.message,
                budget = ?budget,
                "a mail transaction took too long; the recipients without a result will be retried"
            );
            let late: Vec<_> = std::iter::from_fn(|| reports.try_recv().ok()).collect();
            let records = self.prepare_records(&mail, &mut reported, late);
            self.store_records(&records).await?;
        }

        let unreported: Vec<(usize, DeliveryAttempt)> = reported
            .iter()
            .enumerate()
            .filter(|(_, done)| !**done)
            .map(|(i, _)| {
                let mut attempt = local_failure(format!(
                    "no result within the send time limit of {budget:?}"
                ));
                attempt.outcome = DeliveryOutcome::TemporaryFailure;
                (i, attempt)
            })
            .collect();
        let records = self.prepare_records(&mail, &mut reported, unreported);
        self.store_records(&records).await
    }

    /// Fails every claimed recipient permanently without sending.
    async fn fail_all(
        &self,
        mail: &ClaimedMail,
        reported: &mut [bool],
        reason: &str,
    ) -> Result<(), StoreError> {
        let reports = (0..mail.recipients.len())
            .map(|i| (i, local_failure(reason.to_owned())))
            .collect();
        let records = self.prepare_records(mail, reported, reports);
        self.store_records(&records).await
    }

    /// Returns the maximum time one transaction may take: three quarters of
    /// the lease, so that its results are recorded before another worker
    /// may claim the same recipients.
    ///
    /// NOTE: the cut-off can fall after the final dot of a slow transaction,
    /// and then the retry sends the message again. It can also use up the
    /// budget on silent MX hosts before a working backup host is tried. A
    /// deadline passed down to the Mail Broker, which would never abort
    /// after the final dot and would share the time among the hosts, would
    /// fix both.
    fn send_budget(&self) -> Duration {
        self.config.lease.mul_f64(0.75)
    }

    /// Turns reports into records, skipping any recipient already reported.
    fn prepare_records(
        &self,
        mail: &ClaimedMail,
        reported: &mut [bool],
        reports: Vec<(usize, DeliveryAttempt)>,
    ) -> Vec<MailAttemptRecord> {
        reports
            .into_iter()
            .filter_map(|(i, attempt)| {
                if i >= reported.len() || std::mem::replace(&mut reported[i], true) {
                    return None;
                }
                Some(self.prepare_record(mail, i, attempt))
            })
            .collect()
    }

    /// Decides the retry time of one attempt, or gives up when the message
    /// would have expired, and logs the result.
    fn prepare_record(
        &self,
        mail: &ClaimedMail,
        index: usize,
        mut attempt: DeliveryAttempt,
    ) -> MailAttemptRecord {
        let recipient = &mail.recipients[index];
        let mut retry = None;
        if attempt.outcome == DeliveryOutcome::TemporaryFailure {
            let at = retry_at(
                attempt.at,
                recipient.attempts + 1,
                self.config.retry_initial,
                self.config.retry_max,
            );
            if at >= mail.expires_at {
                attempt.outcome = DeliveryOutcome::PermanentFailure;
                attempt.reply_text.push_str(&format!(
                    " (given up after {} attempts: the message expired at {})",
                    recipient.attempts + 1,
                    mail.expires_at
                ));
            } else {
                retry = Some(at);
            }
        }

        match attempt.outcome {
            DeliveryOutcome::Delivered => tracing::info!(
                message.id = %mail.message,
                recipient = %recipient.address,
                destination = attempt.destination.as_deref().unwrap_or(""),
                tls = attempt.tls,
                "mail delivered"
            ),
            DeliveryOutcome::TemporaryFailure => tracing::warn!(
                message.id = %mail.message,
                recipient = %recipient.address,
                reply = %attempt.reply_text,
                retry_at = ?retry,
                "mail delivery failed temporarily; will retry"
            ),
            DeliveryOutcome::PermanentFailure => tracing::warn!(
                message.id = %mail.message,
                recipient = %recipient.address,
                reply = %attempt.reply_text,
                "mail delivery failed permanently"
            ),
        }
        if let Some(observer) = &self.config.observer {
            observer.attempted(
                attempt.outcome,
                attempt.at.duration_since(mail.created_at),
                recipient.delivery.is_some(),
            );
        }
        MailAttemptRecord {
            message: mail.message,
            position: recipient.position,
            owner: self.config.worker_id.clone(),
            attempt,
            retry_at: retry,
        }
    }

    /// Stores results, trying again until the store accepts them: a result
    /// that is lost after the message went out would make a later claim
    /// send it again. Meanwhile the recipients stay held, so this process
    /// does not send them again either.
    async fn store_records(&self, records: &[MailAttemptRecord]) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        let applied =
            store_until_accepted("mail results", || self.recorder.write(records.to_vec())).await;
        for (record, applied) in records.iter().zip(applied) {
            if !applied && record.attempt.outcome == DeliveryOutcome::Delivered {
                tracing::warn!(
                    message.id = %record.message,
                    position = record.position,
                    "a delivered recipient was already settled elsewhere; it may have received the message twice"
                );
            }
        }
        Ok(())
    }
}

impl Claimer for Outbox {
    type Work = ClaimedMail;
    type Error = StoreError;

    async fn claim(&self, now: Timestamp, limit: usize) -> Result<Vec<ClaimedMail>, StoreError> {
        Outbox::claim(self, now, limit).await
    }

    fn units(mail: &ClaimedMail) -> usize {
        mail.recipients.len()
    }

    async fn run(
        &self,
        mail: ClaimedMail,
        claimed_at: tokio::time::Instant,
    ) -> Result<(), StoreError> {
        self.deliver(mail, claimed_at).await
    }
}

/// Queues messages in the store; see [`Outbox::enqueue`].
struct Enqueue(Arc<dyn MailStore>);

impl BatchWrite for Enqueue {
    type Item = OutgoingMessage;
    type Output = Vec<bool>;
    type Error = StoreError;

    async fn write(&self, messages: &[OutgoingMessage]) -> Result<Vec<Vec<bool>>, StoreError> {
        self.0.enqueue_mail(messages).await
    }
}

/// Records attempt results in the store; see [`Outbox::store_records`].
struct RecordAttempts(Arc<dyn MailStore>);

impl BatchWrite for RecordAttempts {
    type Item = MailAttemptRecord;
    type Output = bool;
    type Error = StoreError;

    async fn write(&self, records: &[MailAttemptRecord]) -> Result<Vec<bool>, StoreError> {
        self.0.record_mail_attempts(records).await
    }
}

fn store_error(err: CombineError<StoreError>) -> StoreError {
    match err {
        CombineError::Write(err) => err,
        CombineError::Abandoned => StoreError::Unanswered,
    }
}

/// Converts the Mail Broker's result for one recipient.
pub fn attempt_from(result: RecipientResult) -> DeliveryAttempt {
    DeliveryAttempt {
        at: Timestamp::now(),
        outcome: match result.status {
            DeliveryStatus::Delivered => DeliveryOutcome::Delivered,
            DeliveryStatus::TemporaryFailure => DeliveryOutcome::TemporaryFailure,
            DeliveryStatus::PermanentFailure => DeliveryOutcome::PermanentFailure,
        },
        destination: result.mx_host,
        tls: result.tls,
        tls_version: result.tls_version,
        tls_cipher: result.tls_cipher_suite,
        reply_code: result.reply_code,
        reply_text: result.reply_text,
    }
}

/// Builds a permanent failure found before anything was sent.
fn local_failure(reason: String) -> DeliveryAttempt {
    DeliveryAttempt::local(DeliveryOutcome::PermanentFailure, reason)
}

#[cfg(test)]
mod tests {
    use convene_mail::MailerConfig;
    use convene_mail::dkim::{Algorithm, PrivateKey, Signer, SignerConfig, generate};
    use convene_store::MemoryStore;

    use super::*;

    fn outbox(signer: Option<Arc<Signer>>) -> Outbox {
        // DNS goes to a closed loopback port; these tests send nothing.
        let mailer = Mailer::new(MailerConfig {
            dns_server: Some("127.0.0.1:9".parse().unwrap()),
            ..MailerConfig::default()
        })
        .unwrap();
        let config = OutboxConfig {
            signer,
            ..OutboxConfig::default()
        };
        Outbox::new(Arc::new(MemoryStore::new()), mailer, config)
    }

    fn signer() -> Arc<Signer> {
        let generated = generate(Algorithm::Ed25519Sha256, 256, "s1", "convene.test").unwrap();
        let key = PrivateKey::from_pem(generated.private_pem.as_bytes()).unwrap();
        Arc::new(Signer::new(SignerConfig::new("convene.test", "s1"), key).unwrap())
    }

    fn message() -> Vec<u8> {
        b"From: convene@convene.test\r\nTo: ada@alpha.test\r\nSubject: Hi\r\n\r\nHello.\r\n"
            .to_vec()
    }

    #[test]
    fn prepare_signs_with_configured_signer() {
        let sender = Address::parse("convene@convene.test").unwrap();

        let prepared = outbox(Some(signer()))
            .prepare(&sender, message(), Vec::new(), None)
            .unwrap();
        assert!(
            prepared
                .data
                .starts_with(b"DKIM-Signature: v=1; a=ed25519-sha256;"),
            "{}",
            String::from_utf8_lossy(&prepared.data)
        );
        assert!(prepared.data.ends_with(&message()));
        assert_eq!(
            prepared
                .data
                .windows(15)
                .filter(|w| w == b"DKIM-Signature:")
                .count(),
            1
        );
    }

    #[test]
    fn prepare_without_signer_keeps_bytes() {
        let sender = Address::parse("convene@convene.test").unwrap();
        let prepared = outbox(None)
            .prepare(&sender, message(), Vec::new(), None)
            .unwrap();
        assert_eq!(prepared.data, message());
    }

    #[test]
    fn prepare_rejects_unsignable_message() {
        let sender = Address::parse("convene@convene.test").unwrap();

        let error = outbox(Some(signer()))
            .prepare(
                &sender,
                b"Subject: no sender\r\n\r\nHi\r\n".to_vec(),
                Vec::new(),
                None,
            )
            .unwrap_err();
        assert_eq!(error, SignError::FromCount { count: 0 });
    }
}
