//! Detection behind the store writer: once a batch is committed, the events it newly stored
//! (never a duplicate: a file ingested twice reaches the detectors once) run through the
//! shared [`Engine`], and the alerts it concludes are upserted, after their events, so an
//! alert never names an event that is not stored.
//!
//! One engine serves every source of a process (files, listeners): it sits behind a `Mutex`,
//! held while a batch is observed. Alert state the engine no longer holds in memory is
//! resumed from the store, so counts continue across runs instead of restarting.

use std::sync::{Mutex, PoisonError};
use ward_detect::{Engine, Finding};
use ward_model::{Alert, ContextKind, Event};
use ward_store::{Batch, Receipt, Store, StoreError};

/// Context resources read per page when loading the engine.
const CONTEXT_PAGE: usize = 1_000;

/// Hands the engine every context resource stored (staff, patients, encounters …), a page at
/// a time, before it sees events. Returns how many were handed over.
pub fn load_context(store: &dyn Store, engine: &Mutex<Engine>) -> Result<u64, StoreError> {
    let mut total = 0;
    for kind in ContextKind::ALL {
        let mut after: Option<String> = None;
        loop {
            let page = store.list_context(kind, after.as_deref(), CONTEXT_PAGE)?;
            let Some(last) = page.last() else { break };
            after = Some(last.id.clone());
            total += page.len() as u64;
            lock(engine).context(&page);
            if page.len() < CONTEXT_PAGE {
                break;
            }
        }
    }
    Ok(total)
}

/// Runs the events `receipt` says were newly stored from `batch` through the engine and
/// upserts the alerts concluded. Returns how many alerts were written.
pub fn detect_committed(
    store: &dyn Store,
    engine: Option<&Mutex<Engine>>,
    batch: &Batch,
    receipt: &Receipt,
) -> Result<u64, StoreError> {
    let Some(engine) = engine else {
        return Ok(0);
    };
    if receipt.new_events.is_empty() {
        return Ok(0);
    }
    let copied: Vec<Event>;
    let events: &[Event] = if receipt.new_events.len() == batch.events.len() {
        &batch.events
    } else {
        copied = receipt
            .new_events
            .iter()
            .filter_map(|&i| batch.events.get(i).cloned())
            .collect();
        &copied
    };
    detect(store, engine, events)
}

/// Runs `events` (stored, new) through the engine and upserts the alerts concluded.
pub fn detect(
    store: &dyn Store,
    engine: &Mutex<Engine>,
    events: &[Event],
) -> Result<u64, StoreError> {
    conclude_and_store(store, engine, |engine, stored| {
        engine.observe_with(events, stored)
    })
}

/// The end of a run: what detectors that keep nothing between runs still hold is concluded
/// ([`Engine::conclude_unsaved`]) and the alerts upserted. Returns how many were written.
pub fn conclude_run(store: &dyn Store, engine: &Mutex<Engine>) -> Result<u64, StoreError> {
    conclude_and_store(store, engine, Engine::conclude_unsaved)
}

/// Lets the engine conclude (alert state it no longer holds is resumed from the store), then
/// upserts the alerts and hands them to the outbox. Returns how many alerts were written.
fn conclude_and_store(
    store: &dyn Store,
    engine: &Mutex<Engine>,
    conclude: impl FnOnce(&mut Engine, &mut dyn FnMut(&str) -> Option<Alert>) -> Vec<Finding>,
) -> Result<u64, StoreError> {
    let mut failed = None;
    let findings = conclude(&mut lock(engine), &mut |id| match store.get_alert(id) {
        Ok(alert) => alert,
        Err(e) => {
            failed.get_or_insert(e);
            None
        }
    });
    if let Some(e) = failed {
        return Err(e);
    }
    for finding in &findings {
        store.upsert_alert(&finding.alert, &finding.events)?;
    }
    let written = findings.len() as u64;
    // Stored: now they may be announced (notifications drain the engine's outbox).
    lock(engine).post(findings.into_iter().map(|f| f.alert));
    Ok(written)
}

/// Detectors never panic by contract; if one did, the engine's state is still usable.
fn lock(engine: &Mutex<Engine>) -> std::sync::MutexGuard<'_, Engine> {
    engine.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ward_detect::{Detector, Finding};
    use ward_store::sqlite::SqliteStore;

    /// Counts the context resources it is handed.
    struct Counting(std::sync::Arc<std::sync::atomic::AtomicUsize>);

    impl Detector for Counting {
        fn name(&self) -> &str {
            "counting"
        }

        fn context(&mut self, resources: &[ward_model::ContextResource]) {
            self.0
                .fetch_add(resources.len(), std::sync::atomic::Ordering::Relaxed);
        }

        fn observe(&mut self, _: &Event, _: &mut Vec<Finding>) {}
    }

    #[test]
    fn the_engine_is_handed_every_stored_context_resource_page_by_page() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        let mut resources = Vec::new();
        for i in 0..1_500 {
            let line =
                format!(r#"{{"resourceType":"Organization","id":"org{i}","name":"Ward {i}"}}"#);
            ward_decode::context::parse_context(line.as_bytes(), &mut resources);
        }
        let resources: Vec<_> = resources.into_iter().map(Result::unwrap).collect();
        store.put_context(&resources).unwrap();
        let seen = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let engine = Mutex::new(Engine::new(vec![Box::new(Counting(seen.clone()))]));
        assert_eq!(load_context(&store, &engine).unwrap(), 1_500);
        assert_eq!(seen.load(std::sync::atomic::Ordering::Relaxed), 1_500);
    }
}
