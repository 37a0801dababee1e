//! `telemetry/atna.log`: IHE ATNA audit messages (DICOM / RFC 3881 AuditMessage XML) sent as
//! RFC 5424 syslog, one a line, from the PACS (`pacs01`) and the HL7 interface engine
//! (`hl7-engine01`): radiology staff on duty querying the PACS for a current patient's studies
//! (DICOM 110112 Query) and opening them (110103 DICOM Instances Accessed), the PACS's nightly
//! restart (110100 Application Activity, 110121 stop / 110120 start), and the engine's patient
//! record event (110110, create) for every admission and registration of the ADT feed.
//!
//! Radiology reads only patients with a current encounter who are not personally linked to
//! the reader, so no normal line looks like a privacy incident. Lines wait in a time-ordered
//! queue and are written a day at a time; the writer draws only from its own random streams.

use crate::adt::{Visit, mrn_cx};
use crate::clinical::Census;
use crate::context::{Lines, login_name};
use crate::org::{DAY, HOUR, MINUTE, Org, Role};
use crate::rng::Rng;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fmt::Write;
use std::io;
use std::path::{Path, PathBuf};
use ward_model::Timestamp;

const PACS_HOST: &str = "pacs01.wgh.example.org";
const PACS_IP: &str = "10.20.0.40";
const ENGINE_HOST: &str = "hl7-engine01.wgh.example.org";
const ENGINE_IP: &str = "10.20.0.30";
const EHR_IP: &str = "10.20.0.10";
const SECOND: i64 = 1_000;

/// The audit log being written.
pub struct AtnaLog {
    lines: Lines,
    pending: BinaryHeap<Reverse<(i64, u64, String)>>,
    seq: u64,
}

impl AtnaLog {
    pub fn create(dir: &Path) -> io::Result<Self> {
        Ok(AtnaLog {
            lines: Lines::create(dir.join("atna.log"))?,
            pending: BinaryHeap::new(),
            seq: 0,
        })
    }

    fn push(&mut self, at: i64, line: String) {
        self.seq += 1;
        self.pending.push(Reverse((at, self.seq, line)));
    }

    /// Plans day `day` of the PACS: its restart and the radiology staff's reads.
    pub fn day(&mut self, org: &Org, census: &Census, day: u32) {
        let day_start = org.start + day as i64 * DAY;
        let mut rng = Rng::stream(org.seed, &[0xA7A, day as u64]);
        let stop = day_start + 3 * HOUR + rng.range(0, 10 * MINUTE);
        self.push(stop, application(stop, "110121", "Application Stop"));
        let start = stop + rng.range(30 * SECOND, 3 * MINUTE);
        self.push(start, application(start, "110120", "Application Start"));

        for (staff, st) in org.staff.iter().enumerate() {
            if st.role != Role::Radiology {
                continue;
            }
            let Some(duty) = org.duty(staff as u32, day) else {
                continue;
            };
            let mut rng = Rng::stream(org.seed, &[0xA7B, staff as u64, day as u64]);
            let mut t = duty.start + rng.range(5 * MINUTE, 30 * MINUTE);
            let mut query = 0u32;
            while t < duty.end - 10 * MINUTE {
                if let Some(patient) = current_patient(org, census, &mut rng, staff as u32, t) {
                    query += 1;
                    let query_id = format!("q-{}-{day}-{query}", login_name(staff as u32));
                    self.push(t, pacs_query(org, t, staff as u32, patient, &query_id));
                    let opened = t + rng.range(10 * SECOND, 2 * MINUTE);
                    self.push(opened, pacs_access(org, opened, staff as u32, patient));
                }
                t += (rng.exp(25.0) * MINUTE as f64) as i64 + MINUTE;
            }
        }
    }

    /// The engine's record of an admission or registration it passed on.
    pub fn admitted(&mut self, org: &Org, at: i64, visit: &Visit) {
        self.push(at + SECOND, engine_record(org, at + SECOND, visit));
    }

    /// Writes every line before `limit`.
    pub fn flush_before(&mut self, limit: i64) -> io::Result<()> {
        while let Some(Reverse((at, _, _))) = self.pending.peek() {
            if *at >= limit {
                break;
            }
            if let Some(Reverse((_, _, line))) = self.pending.pop() {
                self.lines.line(&line, true)?;
            }
        }
        Ok(())
    }

    pub fn finish(mut self) -> io::Result<(PathBuf, u64)> {
        self.flush_before(i64::MAX)?;
        self.lines.finish()
    }
}

/// A patient with an encounter current at `t` whom `staff` has no personal link to.
fn current_patient(org: &Org, census: &Census, rng: &mut Rng, staff: u32, t: i64) -> Option<u32> {
    if census.encounters.is_empty() {
        return None;
    }
    (0..16).find_map(|_| {
        let e = rng.pick(&census.encounters);
        (e.start <= t && t < e.end && !org.personally_linked(staff, e.patient)).then_some(e.patient)
    })
}

/// XML attribute text.
fn attr(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn header(at: i64, host: &str, app: &str) -> String {
    format!(
        r#"<85>1 {} {host} {app} - IHE+RFC-3881 - <?xml version="1.0" encoding="UTF-8"?><AuditMessage>"#,
        Timestamp(at)
    )
}

fn identification(s: &mut String, at: i64, action: &str, id: (&str, &str), kind: (&str, &str)) {
    let _ = write!(
        s,
        r#"<EventIdentification EventActionCode="{action}" EventDateTime="{}" EventOutcomeIndicator="0"><EventID csd-code="{}" codeSystemName="DCM" originalText="{}"/><EventTypeCode csd-code="{}" codeSystemName="{}" originalText="{}"/></EventIdentification>"#,
        Timestamp(at),
        id.0,
        id.1,
        kind.0,
        if kind.0.starts_with("ITI") {
            "IHE Transactions"
        } else {
            "DCM"
        },
        kind.1
    );
}

fn source(s: &mut String, id: &str, type_code: &str, display: &str) {
    let _ = write!(
        s,
        r#"<AuditSourceIdentification AuditEnterpriseSiteID="WGH" AuditSourceID="{id}"><AuditSourceTypeCode csd-code="{type_code}" codeSystemName="DCM" originalText="{display}"/></AuditSourceIdentification>"#
    );
}

fn user(s: &mut String, org: &Org, staff: u32) {
    let st = &org.staff[staff as usize];
    let _ = write!(
        s,
        r#"<ActiveParticipant UserID="{}" UserName="{} {}" UserIsRequestor="true"/>"#,
        login_name(staff),
        attr(st.given),
        attr(st.family)
    );
}

fn pacs_destination(s: &mut String) {
    let _ = write!(
        s,
        r#"<ActiveParticipant UserID="PACS01" UserIsRequestor="false" NetworkAccessPointID="{PACS_IP}" NetworkAccessPointTypeCode="2"><RoleIDCode csd-code="110152" codeSystemName="DCM" originalText="Destination Role ID"/></ActiveParticipant>"#
    );
}

fn patient_object(s: &mut String, org: &Org, patient: u32) {
    let p = &org.patients[patient as usize];
    let _ = write!(
        s,
        r#"<ParticipantObjectIdentification ParticipantObjectID="{}" ParticipantObjectTypeCode="1" ParticipantObjectTypeCodeRole="1"><ParticipantObjectIDTypeCode csd-code="2" codeSystemName="RFC-3881" originalText="Patient Number"/><ParticipantObjectName>{}^{}</ParticipantObjectName></ParticipantObjectIdentification>"#,
        attr(&mrn_cx(patient)),
        attr(p.family),
        attr(p.given)
    );
}

/// The patient's imaging study: one a patient, a stable UID under the hospital's test root.
fn study_uid(patient: u32) -> String {
    format!("2.16.840.1.113883.19.5.9.{patient}")
}

fn pacs_query(org: &Org, at: i64, staff: u32, patient: u32, query_id: &str) -> String {
    let mut s = header(at, PACS_HOST, "PACS");
    identification(
        &mut s,
        at,
        "E",
        ("110112", "Query"),
        ("RAD-14", "Query Images"),
    );
    user(&mut s, org, staff);
    pacs_destination(&mut s);
    source(&mut s, "pacs01", "4", "Application Server Process");
    let query = base64(&format!(
        "C-FIND STUDY (0010,0020)=MRN{:07}",
        1_000_000 + patient
    ));
    let _ = write!(
        s,
        r#"<ParticipantObjectIdentification ParticipantObjectID="{query_id}" ParticipantObjectTypeCode="2" ParticipantObjectTypeCodeRole="24"><ParticipantObjectIDTypeCode csd-code="1.2.840.10008.5.1.4.1.2.2.1" codeSystemName="DCM" originalText="Study Root Query/Retrieve Information Model - FIND"/><ParticipantObjectQuery>{query}</ParticipantObjectQuery></ParticipantObjectIdentification>"#
    );
    patient_object(&mut s, org, patient);
    s.push_str("</AuditMessage>");
    s
}

fn pacs_access(org: &Org, at: i64, staff: u32, patient: u32) -> String {
    let mut s = header(at, PACS_HOST, "PACS");
    identification(
        &mut s,
        at,
        "R",
        ("110103", "DICOM Instances Accessed"),
        ("RAD-16", "Retrieve Images"),
    );
    user(&mut s, org, staff);
    pacs_destination(&mut s);
    source(&mut s, "pacs01", "4", "Application Server Process");
    patient_object(&mut s, org, patient);
    let _ = write!(
        s,
        r#"<ParticipantObjectIdentification ParticipantObjectID="{}" ParticipantObjectTypeCode="2" ParticipantObjectTypeCodeRole="3"><ParticipantObjectIDTypeCode csd-code="110180" codeSystemName="DCM" originalText="Study Instance UID"/></ParticipantObjectIdentification>"#,
        study_uid(patient)
    );
    s.push_str("</AuditMessage>");
    s
}

fn application(at: i64, code: &str, display: &str) -> String {
    let mut s = header(at, PACS_HOST, "PACS");
    identification(
        &mut s,
        at,
        "E",
        ("110100", "Application Activity"),
        (code, display),
    );
    let _ = write!(
        s,
        r#"<ActiveParticipant UserID="PACS01" UserIsRequestor="false" NetworkAccessPointID="{PACS_IP}" NetworkAccessPointTypeCode="2"><RoleIDCode csd-code="110150" codeSystemName="DCM" originalText="Application"/></ActiveParticipant><ActiveParticipant UserID="svc-pacs" UserIsRequestor="true"><RoleIDCode csd-code="110151" codeSystemName="DCM" originalText="Application Launcher"/></ActiveParticipant>"#
    );
    source(&mut s, "pacs01", "4", "Application Server Process");
    s.push_str("</AuditMessage>");
    s
}

fn engine_record(org: &Org, at: i64, visit: &Visit) -> String {
    let mut s = header(at, ENGINE_HOST, "HL7ENGINE");
    identification(
        &mut s,
        at,
        "C",
        ("110110", "Patient Record"),
        ("ITI-8", "Patient Identity Feed"),
    );
    let _ = write!(
        s,
        r#"<ActiveParticipant UserID="EPIC|WGH" UserIsRequestor="true" NetworkAccessPointID="{EHR_IP}" NetworkAccessPointTypeCode="2"><RoleIDCode csd-code="110153" codeSystemName="DCM" originalText="Source Role ID"/></ActiveParticipant><ActiveParticipant UserID="WARD|WGH" UserIsRequestor="false" NetworkAccessPointID="{ENGINE_IP}" NetworkAccessPointTypeCode="2"><RoleIDCode csd-code="110152" codeSystemName="DCM" originalText="Destination Role ID"/></ActiveParticipant>"#
    );
    source(&mut s, "hl7-engine01", "4", "Application Server Process");
    patient_object(&mut s, org, visit.patient);
    let _ = write!(
        s,
        r#"<ParticipantObjectIdentification ParticipantObjectID="enc{:07}" ParticipantObjectTypeCode="2" ParticipantObjectTypeCodeRole="3"><ParticipantObjectIDTypeCode csd-code="ITI-8" codeSystemName="IHE Transactions" originalText="Visit Number"/></ParticipantObjectIdentification>"#,
        visit.id
    );
    s.push_str("</AuditMessage>");
    s
}

fn base64(text: &str) -> String {
    let mut out = Vec::with_capacity(text.len().div_ceil(3) * 4);
    crate::audit::push_base64(&mut out, text.as_bytes());
    String::from_utf8(out).unwrap_or_default()
}
