//! Breach-notification deadlines in `ward serve`: every few minutes (`[respond]
//! deadline_check_seconds`, default 300) the deadlines of open incidents whose affected counts
//! changed are recomputed (`Responder::refresh_deadlines`), then the notices due soon or
//! overdue become alerts (`ward_respond::watch`), stored and handed to the engine's outbox, so
//! they reach people by the same channels and escalation as any alert.

use std::sync::{Arc, PoisonError};
use std::time::Duration;
use ward_model::Timestamp;
use ward_respond::deadlines::DUE_SOON_DAYS;
use ward_respond::{Plan, Responder};
use ward_store::Store;

/// How often the deadlines are checked unless configured.
pub const CHECK_EVERY: Duration = Duration::from_secs(300);

/// Who the timeline names for recomputations the server makes.
const ACTOR: &str = "ward:deadline-check";

pub async fn run(
    store: Arc<dyn Store>,
    engine: ward_listen::SharedEngine,
    plan: Arc<Plan>,
    every: Duration,
    mut shutdown: ward_listen::Shutdown,
) {
    let mut tick = tokio::time::interval(every.max(Duration::from_secs(1)));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.wait() => break,
        }
        let (store, engine, plan) = (store.clone(), engine.clone(), plan.clone());
        let checked = tokio::task::spawn_blocking(move || -> anyhow::Result<usize> {
            let responder = Responder::new(store.as_ref(), &plan);
            let now = Timestamp::now();
            let refreshed = responder.refresh_deadlines(ACTOR, now)?;
            if !refreshed.is_empty() {
                tracing::info!(
                    incidents = refreshed.len(),
                    "affected counts changed: deadlines recomputed"
                );
            }
            let today = ward_respond::incident::utc_date(now);
            let board = responder.deadline_board(today, DUE_SOON_DAYS)?;
            let mut new = Vec::new();
            for alert in ward_respond::watch::deadline_alerts(&board) {
                if store.get_alert(&alert.id)?.is_none() {
                    store.upsert_alert(&alert, &[])?;
                    new.push(alert);
                }
            }
            let raised = new.len();
            engine
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .post(new);
            Ok(raised)
        })
        .await;
        match checked {
            Ok(Ok(0)) => {}
            Ok(Ok(raised)) => {
                tracing::warn!(notices = raised, "breach notices due soon or overdue")
            }
            Ok(Err(e)) => tracing::warn!(error = %e, "the breach-deadline check failed"),
            Err(e) => tracing::warn!(error = %e, "the breach-deadline task failed"),
        }
    }
}
