//! Notifications in `ward serve`: alerts the detectors stored reach the channels of
//! `[notify]` (docs/notify.md). The engine keeps an outbox of stored alerts; a task drains it
//! every few seconds, routes and queues them durably, then delivers what is due, retries what
//! failed and escalates what nobody acknowledged.

use anyhow::{Context, Result};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use ward_detect::Engine;
use ward_model::Timestamp;
use ward_notify::{Notifier, NotifyConfig};
use ward_store::Store;

/// How often queued deliveries are attempted and the outbox drained.
const PUMP_EVERY: Duration = Duration::from_secs(5);
/// Unacknowledged alerts this recent are picked up again for escalation after a restart.
const RESUME_HOURS: u32 = 24;

/// Builds the notifier and turns on the engine's outbox; `None` without `[notify]`.
pub fn start(
    config: Option<&NotifyConfig>,
    store: Arc<dyn Store>,
    engine: &Mutex<Engine>,
    pseudonym_key: [u8; 32],
) -> Result<Option<Arc<Notifier>>> {
    let Some(config) = config else {
        return Ok(None);
    };
    let notifier =
        Notifier::new(config.clone(), store, pseudonym_key).context("invalid [notify] settings")?;
    engine
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .enable_outbox();
    Ok(Some(Arc::new(notifier)))
}

/// Runs until `shutdown`: drains the outbox into the queue, then pumps deliveries.
pub async fn run(
    notifier: Arc<Notifier>,
    engine: Arc<Mutex<Engine>>,
    store: Arc<dyn Store>,
    mut shutdown: ward_listen::Shutdown,
) {
    let resumed = {
        let n = notifier.clone();
        tokio::task::spawn_blocking(move || n.resume(Timestamp::now(), RESUME_HOURS)).await
    };
    if let Ok(Err(e)) = resumed {
        tracing::warn!(error = %e, "notifications could not resume escalations");
    }
    let mut tick = tokio::time::interval(PUMP_EVERY);
    let mut dropped_seen = 0;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.wait() => break,
        }
        let now = Timestamp::now();
        let (alerts, dropped) = engine
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain_outbox();
        if dropped > dropped_seen {
            tracing::warn!(
                dropped = dropped - dropped_seen,
                "alerts stored faster than notifications could queue them; their notices were dropped"
            );
            dropped_seen = dropped;
        }
        if !alerts.is_empty() {
            let n = notifier.clone();
            match tokio::task::spawn_blocking(move || n.alerts(&alerts, now)).await {
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "alerts could not be queued for notification")
                }
                Err(e) => tracing::warn!(error = %e, "the notification queue task failed"),
                Ok(Ok(_)) => {}
            }
        }
        match notifier.pump(now).await {
            Ok(report) if !report.alerts.is_empty() => {
                // A channel failing for long is itself an alert: stored, then announced.
                let (n, s) = (notifier.clone(), store.clone());
                let stored = tokio::task::spawn_blocking(move || -> Result<()> {
                    for alert in &report.alerts {
                        s.upsert_alert(alert, &[])?;
                    }
                    n.alerts(&report.alerts, now)?;
                    Ok(())
                })
                .await;
                if let Ok(Err(e)) = stored {
                    tracing::warn!(error = %e, "a channel-failure alert could not be stored");
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "notification pump failed"),
        }
    }
}
