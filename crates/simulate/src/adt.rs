//! `telemetry/adt.hl7`: the EHR's HL7 v2.5 ADT feed to the interface engine for every encounter
//! of the census: A01 admit (inpatients) or A04 register (clinic and emergency visits) at the
//! start, sometimes an A08 update during the stay, A03 discharge at the end when it falls
//! inside the run. Inpatients lie in a room and bed of their unit (PV1-3); one stay in five
//! longer than a day moves to another bed of the same unit (A02, the prior bed in PV1-6). The
//! census does not move inpatients between units: the department serving an encounter stays
//! the one its care team and context name.
//!
//! One message a line, segments separated by `\r` (the line ends in `\n`), as the `hl7`
//! decoder frames them; messages in time order. Pending messages wait in a queue ordered by
//! time and are written a day at a time, so memory follows the census, never the days. It
//! draws only from its own random streams, so the other files do not change because of it.

use crate::clinical::{Census, Class, Encounter, Function};
use crate::context::{Lines, practitioner_id};
use crate::org::{MRN_SYSTEM, Org};
use crate::rng::Rng;
use chrono::DateTime;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io;
use std::path::{Path, PathBuf};

/// The sending facility (MSH-4) and the MRN's assigning authority namespace.
pub const FACILITY: &str = "WGH";

/// What an ADT message says about an encounter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Trigger {
    Admit,
    Register,
    Update,
    Transfer,
    Discharge,
}

impl Trigger {
    fn codes(self) -> (&'static str, &'static str) {
        match self {
            Trigger::Admit => ("A01", "ADT_A01"),
            Trigger::Register => ("A04", "ADT_A01"),
            Trigger::Update => ("A08", "ADT_A01"),
            Trigger::Transfer => ("A02", "ADT_A02"),
            Trigger::Discharge => ("A03", "ADT_A03"),
        }
    }
}

/// What a message needs of its encounter, kept until its last message is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Visit {
    pub id: u32,
    pub patient: u32,
    pub dept: u16,
    pub class: u8,
    pub start: i64,
    pub end: i64,
    pub attending: Option<u32>,
    /// Room and bed (`312`, `B`) of an inpatient when the message is sent.
    pub bed: Option<(u16, u8)>,
    /// The bed before a transfer (A02's PV1-6).
    pub prior_bed: Option<(u16, u8)>,
}

impl Visit {
    fn of(e: &Encounter) -> Self {
        Visit {
            id: e.id,
            patient: e.patient,
            dept: e.dept,
            class: match e.class {
                Class::Inpatient => 0,
                Class::Ambulatory => 1,
                Class::Emergency => 2,
            },
            start: e.start,
            end: e.end,
            attending: e
                .team
                .iter()
                .find(|(_, f)| *f == Function::Attending)
                .map(|&(s, _)| s),
            bed: None,
            prior_bed: None,
        }
    }
}

/// A bed of the unit: rooms 101–140 on the unit's floor, beds A and B.
fn bed(rng: &mut Rng, dept: u16) -> (u16, u8) {
    let floor = 1 + dept % 6;
    (
        floor * 100 + 1 + rng.range(0, 40) as u16,
        b'A' + rng.range(0, 2) as u8,
    )
}

/// The ADT feed being written.
pub struct AdtFeed {
    lines: Lines,
    pending: BinaryHeap<Reverse<(i64, u32, Trigger, Visit)>>,
    /// Encounters with an id at or above this have not been scheduled yet.
    next_encounter: u32,
    run_end: i64,
    control: u64,
    line: String,
}

impl AdtFeed {
    pub fn create(dir: &Path, run_end: i64) -> io::Result<Self> {
        Ok(AdtFeed {
            lines: Lines::create(dir.join("adt.hl7"))?,
            pending: BinaryHeap::new(),
            next_encounter: 1,
            run_end,
            control: 0,
            line: String::with_capacity(1024),
        })
    }

    /// Schedules the messages of the encounters the census created since the last call.
    pub fn schedule(&mut self, org: &Org, census: &Census) {
        for e in census
            .encounters
            .iter()
            .filter(|e| e.id >= self.next_encounter)
        {
            let mut visit = Visit::of(e);
            let first = if e.class == Class::Inpatient {
                Trigger::Admit
            } else {
                Trigger::Register
            };
            // Beds and transfers draw from their own stream, so the rest of the feed does
            // not change with them.
            let mut beds = Rng::stream(org.seed, &[0xAD2, e.id as u64]);
            let mut moved = None;
            if e.class == Class::Inpatient {
                visit.bed = Some(bed(&mut beds, e.dept));
                if e.end - e.start > 86_400_000 && beds.chance(0.2) {
                    let at = e.start + beds.range(3_600_000, e.end - e.start - 3_600_000);
                    let mut to = bed(&mut beds, e.dept);
                    if Some(to) == visit.bed {
                        to.1 = if to.1 == b'A' { b'B' } else { b'A' };
                    }
                    moved = Some((at, to));
                }
            }
            // The visit as a message at `at` sees it: in its new bed once moved.
            let at_time = |at: i64| -> Visit {
                match moved {
                    Some((when, to)) if at >= when => Visit {
                        bed: Some(to),
                        prior_bed: visit.bed,
                        ..visit
                    },
                    _ => visit,
                }
            };
            self.pending.push(Reverse((e.start, e.id, first, visit)));
            let mut rng = Rng::stream(org.seed, &[0xAD7, e.id as u64]);
            if rng.chance(0.15) {
                // Demographics or insurance corrected during the stay.
                let at = e.start + rng.range(1, (e.end - e.start).max(2));
                if at < self.run_end {
                    self.pending
                        .push(Reverse((at, e.id, Trigger::Update, at_time(at))));
                }
            }
            if let Some((at, _)) = moved
                && at < self.run_end
            {
                self.pending
                    .push(Reverse((at, e.id, Trigger::Transfer, at_time(at))));
            }
            if e.end <= self.run_end {
                self.pending
                    .push(Reverse((e.end, e.id, Trigger::Discharge, at_time(e.end))));
            }
        }
        if let Some(last) = census.encounters.iter().map(|e| e.id).max() {
            self.next_encounter = self.next_encounter.max(last + 1);
        }
    }

    /// Writes every message before `limit`; `admitted` is told of each A01 and A04.
    pub fn flush_before(
        &mut self,
        limit: i64,
        org: &Org,
        mut admitted: impl FnMut(i64, &Visit),
    ) -> io::Result<()> {
        while let Some(&Reverse((at, _, trigger, visit))) = self.pending.peek() {
            if at >= limit {
                break;
            }
            self.pending.pop();
            self.control += 1;
            message(&mut self.line, org, at, self.control, trigger, &visit);
            self.lines.line(&self.line, true)?;
            if matches!(trigger, Trigger::Admit | Trigger::Register) {
                admitted(at, &visit);
            }
        }
        Ok(())
    }

    pub fn finish(self) -> io::Result<(PathBuf, u64)> {
        self.lines.finish()
    }
}

/// HL7 v2 DTM to the second, UTC: `20261102070102+0000`.
pub fn dtm(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y%m%d%H%M%S+0000").to_string())
        .unwrap_or_default()
}

/// Text with HL7's delimiters escaped (`\F\ \S\ \T\ \R\ \E\`).
fn escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '|' => out.push_str("\\F\\"),
            '^' => out.push_str("\\S\\"),
            '&' => out.push_str("\\T\\"),
            '~' => out.push_str("\\R\\"),
            '\\' => out.push_str("\\E\\"),
            '\r' | '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// PID-3 as the MR identifier of the Patient resource: `MRN1000123^^^WGH&2.16…&ISO^MR`.
pub fn mrn_cx(patient: u32) -> String {
    let oid = MRN_SYSTEM.trim_start_matches("urn:oid:");
    format!("MRN{:07}^^^{FACILITY}&{oid}&ISO^MR", 1_000_000 + patient)
}

fn message(s: &mut String, org: &Org, at: i64, control: u64, trigger: Trigger, v: &Visit) {
    use std::fmt::Write;
    let (event, structure) = trigger.codes();
    let ts = dtm(at);
    let p = &org.patients[v.patient as usize];
    let dept = &org.depts[v.dept as usize];
    s.clear();
    let _ = write!(
        s,
        "MSH|^~\\&|EPIC|{FACILITY}|WARD|{FACILITY}|{ts}||ADT^{event}^{structure}|{FACILITY}{control:09}|P|2.5\r"
    );
    let _ = write!(s, "EVN|{event}|{ts}\r");

    let h = &org.households[p.household as usize];
    let st = &org.streets[h.street as usize];
    let mut pid = vec![String::new(); 31];
    pid[0] = "PID".into();
    pid[1] = "1".into();
    pid[3] = mrn_cx(v.patient);
    pid[5] = format!("{}^{}^^^^^L", escaped(p.family), escaped(p.given));
    pid[7] = crate::context::date(p.birth).replace('-', "");
    pid[8] = if p.female { "F" } else { "M" }.into();
    pid[11] = format!(
        "{} {} {}^^{}^{}^{}^US^H",
        h.number,
        escaped(st.name),
        escaped(st.suffix),
        escaped(st.city),
        escaped(st.state),
        escaped(&st.postal)
    );
    if let Some(died) = p.deceased {
        pid[29] = dtm(died);
        pid[30] = "Y".into();
    } else {
        pid.truncate(12);
    }
    s.push_str(&pid.join("|"));
    s.push('\r');

    if let Some(c) = &p.contact
        && !c.given.is_empty()
    {
        let (code, display) = c.kin.code();
        let _ = write!(
            s,
            "NK1|1|{}^{}|{code}^{display}^v3-RoleCode\r",
            escaped(c.family),
            escaped(c.given)
        );
    }

    let mut pv1 = vec![String::new(); 46];
    pv1[0] = "PV1".into();
    pv1[1] = "1".into();
    pv1[2] = ["I", "O", "E"][v.class as usize].into();
    let location = |bed: Option<(u16, u8)>| match bed {
        Some((room, b)) => format!(
            "{}^{room}^{}^{FACILITY}^^^^^{}",
            dept.code,
            b as char,
            escaped(dept.name)
        ),
        None => format!("{}^^^{FACILITY}^^^^^{}", dept.code, escaped(dept.name)),
    };
    pv1[3] = location(v.bed);
    if trigger == Trigger::Transfer {
        pv1[6] = location(v.prior_bed);
    }
    if let Some(a) = v.attending {
        let st = &org.staff[a as usize];
        pv1[7] = format!(
            "{}^{}^{}",
            practitioner_id(a),
            escaped(st.family),
            escaped(st.given)
        );
    }
    // The department's Organization id, so the context names the same serviceProvider as
    // encounters.ndjson.
    pv1[10] = dept.org_id();
    pv1[19] = format!("enc{:07}^^^{FACILITY}^VN", v.id);
    pv1[44] = dtm(v.start);
    if trigger == Trigger::Discharge {
        pv1[45] = dtm(v.end);
    } else {
        pv1.truncate(45);
    }
    s.push_str(&pv1.join("|"));
}

#[cfg(test)]
mod tests {
    use super::*;
    use ward_model::ContextSummary;

    /// The census admits only the living, so the generated feed never shows PID-29/30: this
    /// proves a deceased patient's message still reads back with the death and next of kin.
    #[test]
    fn deceased_patient_with_contact_reads_back_with_death_time_and_next_of_kin() {
        let org = Org::generate(3, 1_793_577_600_000, 300, 5_000);
        let patient = org
            .patients
            .iter()
            .position(|p| {
                p.deceased.is_some() && p.contact.as_ref().is_some_and(|c| !c.given.is_empty())
            })
            .expect("a deceased patient with a contact") as u32;
        let visit = Visit {
            id: 42,
            patient,
            dept: 0,
            class: 0,
            start: org.start - 3_600_000,
            end: org.start,
            attending: None,
            bed: Some((312, b'B')),
            prior_bed: None,
        };
        let mut line = String::new();
        message(&mut line, &org, org.start, 1, Trigger::Discharge, &visit);
        let mut out = Vec::new();
        ward_decode::hl7::adt_context(line.as_bytes(), &mut out);
        let resources: Vec<_> = out.into_iter().map(Result::unwrap).collect();
        let ContextSummary::Patient {
            deceased,
            deceased_at,
            contact_names,
            ..
        } = &resources[0].summary
        else {
            panic!("not a Patient: {resources:?}");
        };
        assert!(*deceased);
        let died = org.patients[patient as usize].deceased.unwrap();
        assert_eq!(deceased_at.map(|t| t.millis() / 1000), Some(died / 1000));
        assert_eq!(contact_names.len(), 1);
        assert_eq!(resources[0].id, format!("MRN{:07}", 1_000_000 + patient));
        assert_eq!(resources[1].id, "enc0000042");
    }

    #[test]
    fn delimiters_in_text_are_escaped() {
        assert_eq!(escaped(r"a|b^c&d~e\f"), r"a\F\b\S\c\T\d\R\e\E\f");
    }
}
