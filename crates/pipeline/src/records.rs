//! Ingest of records that arrive one by one over the network (syslog, HL7 over MLLP, FHIR over
//! HTTP): the listener hands over a few records, they are decoded, stored or quarantined in one
//! transaction, and only then does the listener acknowledge them, so a sender that retries after
//! a crash loses nothing and (ids being content hashes) duplicates nothing.

use crate::error::IngestError;
use crate::ingest::push_decoded;
use std::sync::Mutex;
use ward_decode::Decoder;
use ward_detect::Engine;
use ward_model::{EventId, NewQuarantined, Position, Timestamp};
use ward_store::{Batch, Checkpoint, Store};

/// One record as a listener received it.
#[derive(Debug, Clone, Copy)]
pub struct NetRecord<'a> {
    pub bytes: &'a [u8],
    /// Where it sat in its connection or datagram stream: `line` is the record's 1-based number
    /// within the connection, `offset` its first byte's offset in the stream.
    pub position: Position,
}

/// What became of one record, in the order the records were given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordOutcome {
    /// Decoded and durably stored (new or already present): the ids of its events.
    Stored { ids: Vec<EventId> },
    /// Durably quarantined with this reason (the sender should be told it was not accepted).
    Quarantined { reason: String },
}

/// What one call stored, once it has returned: everything in it is durable.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordsReceipt {
    pub outcomes: Vec<RecordOutcome>,
    pub inserted: u64,
    pub duplicates: u64,
    pub quarantined: u64,
    /// Alerts written (new or updated) by the detectors, when an engine ran.
    pub alerts: u64,
}

/// Decodes `records` from `source` (a listener's name for the peer, e.g.
/// `syslog-tcp://10.0.0.5:51234`) with `decoder`, or with the decoder each record is recognised
/// as when `None`, and commits events and quarantined records in one transaction. Timestamps
/// without a year take the year of `received`. With an `engine`, the events newly stored run
/// through the detectors and their alerts are written before this returns.
pub fn ingest_records(
    store: &dyn Store,
    source: &str,
    decoder: Option<&'static dyn Decoder>,
    records: &[NetRecord<'_>],
    received: Timestamp,
    engine: Option<&Mutex<Engine>>,
) -> Result<RecordsReceipt, IngestError> {
    let mut batch = Batch {
        events: Vec::with_capacity(records.len()),
        quarantined: Vec::new(),
        checkpoint: records.last().map(|r| Checkpoint {
            source: source.to_string(),
            offset: r.position.offset + r.bytes.len() as u64,
        }),
    };
    let mut outcomes = Vec::with_capacity(records.len());
    let mut out = Vec::new();
    for record in records {
        let chosen = decoder.or_else(|| ward_decode::detect(&[record.bytes]));
        let Some(chosen) = chosen else {
            let reason = "not in any format Ward reads".to_string();
            batch.quarantined.push(NewQuarantined::new(
                source,
                "auto",
                record.position,
                reason.clone(),
                record.bytes,
            ));
            outcomes.push(RecordOutcome::Quarantined { reason });
            continue;
        };
        out.clear();
        chosen.decode_in_year(record.bytes, received.year(), &mut out);
        if out.is_empty() {
            let reason = "holds no event".to_string();
            batch.quarantined.push(NewQuarantined::new(
                source,
                chosen.name(),
                record.position,
                reason.clone(),
                record.bytes,
            ));
            outcomes.push(RecordOutcome::Quarantined { reason });
            continue;
        }
        let first_error = out
            .iter()
            .find_map(|d| d.as_ref().err().map(ToString::to_string));
        let ids: Vec<EventId> = out
            .iter()
            .filter_map(|d| d.as_ref().ok().map(|e| e.id))
            .collect();
        for decoded in out.drain(..) {
            push_decoded(
                &mut batch,
                decoded,
                source,
                chosen.name(),
                record.position,
                record.bytes,
            );
        }
        outcomes.push(match first_error {
            // A container with some bad entries: the good ones are stored, the bad ones
            // quarantined; the sender hears about the failure.
            Some(reason) => RecordOutcome::Quarantined { reason },
            None => RecordOutcome::Stored { ids },
        });
    }
    let receipt = store.commit(&batch)?;
    let alerts = crate::detect::detect_committed(store, engine, &batch, &receipt)?;
    Ok(RecordsReceipt {
        outcomes,
        inserted: receipt.inserted,
        duplicates: receipt.duplicates,
        quarantined: receipt.quarantined,
        alerts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ward_store::sqlite::SqliteStore;
    use ward_store::{EventQuery, QuarantineQuery};

    const LINE: &[u8] = b"<38>1 2026-11-02T08:00:00Z vpn1 sshd 4242 - - Failed password for root from 203.0.113.9 port 5 ssh2";

    #[test]
    fn stores_good_records_quarantines_bad_ones_and_says_which() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        let records = [
            NetRecord {
                bytes: LINE,
                position: Position {
                    line: 1,
                    offset: 0,
                    entry: None,
                },
            },
            NetRecord {
                bytes: b"\x00\x01 not a record",
                position: Position {
                    line: 2,
                    offset: 120,
                    entry: None,
                },
            },
        ];
        let receipt = ingest_records(
            &store,
            "syslog-tcp://203.0.113.1:1",
            None,
            &records,
            Timestamp::now(),
            None,
        )
        .unwrap();
        assert!(matches!(&receipt.outcomes[0], RecordOutcome::Stored { ids } if ids.len() == 1));
        assert!(matches!(
            receipt.outcomes[1],
            RecordOutcome::Quarantined { .. }
        ));
        assert_eq!((receipt.inserted, receipt.quarantined), (1, 1));
        assert_eq!(store.count_events(&EventQuery::default()).unwrap(), 1);
        let q = store.list_quarantine(&QuarantineQuery::default()).unwrap();
        assert_eq!(q[0].record.position.line, 2);
        assert_eq!(q[0].record.source, "syslog-tcp://203.0.113.1:1");

        let again = ingest_records(
            &store,
            "syslog-tcp://203.0.113.1:2",
            None,
            &records[..1],
            Timestamp::now(),
            None,
        )
        .unwrap();
        assert_eq!(
            (again.inserted, again.duplicates),
            (0, 1),
            "a retried record is not stored twice"
        );
    }

    #[test]
    fn alerts_follow_the_commit_and_a_retried_record_is_detected_once() {
        use ward_detect::sigma::{Collection, SigmaDetector};
        const RULE: &str = "title: root password guessed\nid: t-1\nlevel: high\n\
            logsource: {product: authlog, category: authentication}\n\
            detection: {selection: {status: failure, actor.user.name: root}, condition: selection}\n";
        let mut rules = Collection::new();
        rules.add(RULE, "test").unwrap();
        let engine = Mutex::new(Engine::new(vec![Box::new(
            SigmaDetector::new(rules).unwrap(),
        )]));
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        let record = NetRecord {
            bytes: LINE,
            position: Position {
                line: 1,
                offset: 0,
                entry: None,
            },
        };
        let received = Timestamp::parse("2026-11-02T09:00:00Z").unwrap();
        let first = ingest_records(&store, "s", None, &[record], received, Some(&engine)).unwrap();
        assert_eq!(first.alerts, 1);
        let alerts = store.list_alerts(&Default::default()).unwrap();
        assert_eq!((alerts.len(), alerts[0].count), (1, 1));
        let linked = store
            .count_events(&EventQuery {
                alert_id: Some(alerts[0].id.clone()),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(linked, 1, "the alert names its stored event");

        let again = ingest_records(&store, "s", None, &[record], received, Some(&engine)).unwrap();
        assert_eq!((again.duplicates, again.alerts), (1, 0));
        assert_eq!(store.list_alerts(&Default::default()).unwrap()[0].count, 1);
    }
}
