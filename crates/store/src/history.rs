//! Reading stored history oldest first, for work that needs event order (correlations,
//! hunting, testing a rule, a privacy scan): the store answers queries newest first, so this
//! reads an hour at a time and splits an hour holding more than a page until it fits.

use crate::{EventQuery, Store, StoreError};
use ward_model::{Event, Timestamp};

/// Events read per query; an hour holding more is split in halves until each fits.
pub const PAGE: usize = 100_000;

const HOUR: i64 = 3_600_000;

/// Hands every stored event from `since` (inclusive) to `until` (exclusive) to `on_event`,
/// oldest first. `on_event` returns `false` to stop early. Returns how many events it was
/// given. In the rare millisecond holding more than [`PAGE`] events, only the first page
/// of that millisecond is read, and `truncated` is called with its time.
pub fn in_order(
    store: &dyn Store,
    since: Timestamp,
    until: Timestamp,
    truncated: &mut dyn FnMut(Timestamp),
    on_event: &mut dyn FnMut(Event) -> bool,
) -> Result<u64, StoreError> {
    let mut windows = Vec::new();
    let mut start = since.millis();
    while start < until.millis() {
        let end = start.saturating_add(HOUR).min(until.millis());
        windows.push((start, end));
        start = end;
    }
    windows.reverse();
    let mut given = 0u64;
    while let Some((start, end)) = windows.pop() {
        let query = EventQuery {
            since: Some(Timestamp(start)),
            until: Some(Timestamp(end)),
            limit: Some(PAGE),
            ..Default::default()
        };
        let mut found = store.query_events(&query)?;
        if found.len() >= PAGE && end - start > 1 {
            // Too many for one page: the later half waits its turn after the earlier one.
            let middle = start + (end - start) / 2;
            windows.push((middle, end));
            windows.push((start, middle));
            continue;
        }
        if found.len() >= PAGE {
            truncated(Timestamp(start));
        }
        found.reverse();
        for event in found {
            given += 1;
            if !on_event(event) {
                return Ok(given);
            }
        }
    }
    Ok(given)
}
