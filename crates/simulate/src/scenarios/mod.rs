//! Planted incidents: one module per scenario, each the same form — a [`Scenario`] with a
//! `kind` (the name detectors and `truth.json` use), a frequency, and `plan`, which picks the
//! people involved from the organisation and the day's census and returns the incident's
//! audited actions with its ground truth.
//!
//! Scenarios never write anything themselves: their actions are emitted by the same
//! [`crate::audit::AuditWriter`] as normal work, so an incident differs from normal behaviour
//! only in the relationships its events reveal (a user reading their own record, a neighbour's,
//! a patient with no encounter), never in format. A scenario must pick only patients that
//! normal behaviour leaves alone that day (no held encounter), so the truth stays true.
//! Adding a scenario: a module here with a unit struct implementing [`Scenario`], listed in
//! [`all`].

mod after_hours;
mod bec;
mod break_glass;
mod brute_force;
mod bulk_sweep;
mod co_worker;
mod deceased;
mod family_member;
mod guest_wifi_ehr;
mod hl7_egress;
mod impossible_travel;
mod link_click;
mod mass_export;
mod mfa_fatigue;
mod neighbour;
mod outside_department;
mod password_spray;
mod phi_personal;
mod phishing;
mod pump_external;
mod ransomware;
mod rogue_device;
mod segmentation;
mod self_access;
mod terminated;
mod terminated_vpn;
mod vendor_hours;
mod vip;
mod volume;
mod weak_tls;

pub(crate) use brute_force::BRUTE_FORCE_NET;
pub(crate) use password_spray::SPRAY_NET;

use crate::audit::{Access, Data, Purpose, What};
use crate::behaviour::access;
use crate::clinical::Census;
use crate::context::{is_clinical, login_name, patient_id};
use crate::directory::Directory;
use crate::infra::Infra;
use crate::org::{DAY, Duty, Employment, MINUTE, Org, Staff};
use crate::rng::Rng;
use crate::signal::{Body, Proto, Signal};
use std::fmt::Write as _;

/// A kind of incident the simulator can plant.
pub trait Scenario: Sync {
    /// The incident kind in `truth.json` (`self_access`, `mass_export` …).
    fn kind(&self) -> &'static str;
    /// How many a week the simulation plants (at least one per run).
    fn per_week(&self) -> f64;
    /// Picks who and when on the day of `ctx`; `None` when the organisation offers no
    /// suitable people that day.
    fn plan(&self, ctx: &PlanCtx, rng: &mut Rng) -> Option<Planted>;
}

/// Every scenario, in the order incidents are planned each day.
pub fn all() -> &'static [&'static dyn Scenario] {
    &[
        &self_access::SelfAccess,
        &family_member::FamilyMember,
        &co_worker::CoWorker,
        &vip::Vip,
        &deceased::Deceased,
        &neighbour::Neighbour,
        &bulk_sweep::BulkSweep,
        &terminated::TerminatedAccess,
        &mass_export::MassExport,
        &break_glass::BreakGlassWithoutFollowUp,
        &password_spray::PasswordSpray,
        &brute_force::BruteForceThenSuccess,
        &terminated_vpn::TerminatedVpnLogin,
        &vendor_hours::VendorOutsideContract,
        &ransomware::RansomwarePrecursors,
        &pump_external::PumpToUnseenHost,
        &guest_wifi_ehr::GuestWifiToEhrDatabase,
        &hl7_egress::CleartextHl7Egress,
        &weak_tls::WeakTlsOnPhiService,
        &phishing::LookalikePhishing,
        &bec::BankDetailsChange,
        &phi_personal::PhiToPersonalMailbox,
        &mfa_fatigue::MfaFatigue,
        &impossible_travel::ImpossibleTravel,
        &segmentation::DeviceToAdmin,
        &segmentation::VendorVpnToDatabase,
        &segmentation::WorkstationToDeviceTelnet,
        &rogue_device::RogueDevice,
        // Baseline incidents come last so that adding them left every earlier scenario's
        // random stream (keyed by its place in this list) as it was.
        &after_hours::AfterHours,
        &volume::VolumeAboveBaseline,
        &outside_department::OutsideDepartment,
        // After every other, so that adding it changed no earlier scenario's random stream.
        &link_click::NewDomainLinkClicked,
    ]
}

/// The day of the run on which the `i`-th of `count` incidents of a kind happens: spread
/// evenly over the run.
pub fn day_of_incident(i: u32, count: u32, days: u32) -> u32 {
    ((2 * i as u64 + 1) * days as u64 / (2 * count as u64)) as u32
}

/// How many incidents of a scenario a run of `days` plants.
pub fn count_for(scenario: &dyn Scenario, days: u32) -> u32 {
    ((scenario.per_week() * days as f64 / 7.0).round() as u32).max(1)
}

/// A planned incident: the truth and the actions that carry it out. Incidents in the EHR audit
/// trail name `user`, `patients` and `ws` and carry `actions`; incidents in the other
/// telemetry carry `signals` and name what an alert must name in `entities` instead.
#[derive(Default)]
pub struct Planted {
    /// A variant of the scenario (`household`, `contact` …), written as `kind/variant`.
    pub variant: &'static str,
    pub user: u32,
    pub patients: Vec<u32>,
    pub ws: u32,
    pub description: String,
    /// In time order.
    pub actions: Vec<Access>,
    pub expected_alert_min: u32,
    /// Records of the other telemetry files (auth.log, Windows, Zeek).
    pub signals: Vec<Signal>,
    /// `(key, value)`: `user`, `src_ip`, `dst_ip`, `host`, `device`, `sender`, `recipient`,
    /// `reply_to`, `domain`, `country`, `prior_ip`, as plain strings.
    pub entities: Vec<(&'static str, String)>,
}

/// What a scenario may look at when planning.
pub struct PlanCtx<'a> {
    pub org: &'a Org,
    pub infra: &'a Infra,
    pub census: &'a Census,
    /// Mailbox addresses (also the Entra ID user principal names).
    pub directory: &'a Directory,
    pub day: u32,
}

impl PlanCtx<'_> {
    pub fn day_start(&self) -> i64 {
        self.org.start + self.day as i64 * DAY
    }

    /// A user at work today for whom `suits` holds, with their duty.
    pub fn user_on_duty(
        &self,
        rng: &mut Rng,
        suits: impl Fn(u32, &Staff) -> bool,
    ) -> Option<(u32, Duty)> {
        let candidates: Vec<(u32, Duty)> = (0..self.org.staff.len() as u32)
            .filter(|&s| suits(s, &self.org.staff[s as usize]))
            .filter_map(|s| self.org.duty(s, self.day).map(|d| (s, d)))
            .collect();
        (!candidates.is_empty()).then(|| *rng.pick(&candidates))
    }

    /// A moment inside the duty, leaving `room` before its end and half an hour after login.
    pub fn moment(&self, rng: &mut Rng, duty: Duty, room: i64) -> i64 {
        let from = duty.start + 30 * MINUTE;
        rng.range(from, (duty.end - 30 * MINUTE - room).max(from + 1))
    }

    /// Whether no normal access will explain a read of this patient today.
    pub fn unexplained(&self, patient: u32) -> bool {
        !self.census.busy(patient)
    }

    /// A random patient, alive and unexplained, not linked to `staff`, for whom `suits` holds.
    pub fn stranger(&self, rng: &mut Rng, staff: u32, suits: impl Fn(u32) -> bool) -> Option<u32> {
        let n = self.org.patients.len() as u64;
        (0..4096).map(|_| rng.below(n) as u32).find(|&p| {
            self.org.patients[p as usize].deceased.is_none()
                && self.unexplained(p)
                && !self.org.personally_linked(staff, p)
                && self.org.patients[p as usize].staff.is_none()
                && suits(p)
        })
    }
}

/// Whether a staff member works with patients at a workstation in a clinical department.
pub fn clinical_user(org: &Org, staff: &Staff) -> bool {
    is_clinical(org.depts[staff.dept as usize].kind) && staff.employment == Employment::Active
}

/// A curious look at a chart: the patient's demographics, then a result or a note or two,
/// nothing written. The same shape as the first half of a clinician's normal chart work.
pub fn look(
    rng: &mut Rng,
    user: u32,
    ws: u32,
    patient: u32,
    mut t: i64,
    purpose: Purpose,
) -> Vec<Access> {
    let mut out = vec![access(
        t,
        What::Read(Data::Patient),
        user,
        ws,
        Some(patient),
        purpose,
        rng.next_u64() as u32,
    )];
    let more = 1 + rng.below(3);
    for _ in 0..more {
        t += rng.range(4_000, 40_000);
        let what = match rng.below(3) {
            0 => What::Search(Data::Observation),
            1 => What::Read(Data::DocumentReference),
            _ => What::Read(Data::DiagnosticReport),
        };
        out.push(access(
            t,
            what,
            user,
            ws,
            Some(patient),
            purpose,
            rng.next_u64() as u32,
        ));
    }
    out
}

/// One incident of `truth.json`, as a JSON object on one line.
pub fn truth_json(id: u32, kind: &str, org: &Org, p: &Planted) -> String {
    if !p.entities.is_empty() {
        return telemetry_truth_json(id, kind, p);
    }
    let start = p.actions.first().map_or(0, |a| a.time);
    let end = p.actions.last().map_or(0, |a| a.time);
    let mut s = String::with_capacity(256 + 12 * p.patients.len());
    let _ = write!(
        s,
        r#"{{"id":"inc-{id:04}","kind":"{kind}","scenario":"{kind}/{}","start":"{}","end":"{}","entities":{{"user":"{}","patient":["#,
        p.variant,
        ward_model::Timestamp(start),
        ward_model::Timestamp(end),
        login_name(p.user)
    );
    for (i, &patient) in p.patients.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(s, r#""{}""#, patient_id(patient));
    }
    let _ = write!(
        s,
        r#"],"workstation":"{}"}},"description":"{}","expected_alert_min":{}}}"#,
        org.assets[p.ws as usize].ip, p.description, p.expected_alert_min
    );
    s
}

/// An incident of the other telemetry: its window spans its signals, its entities are named.
fn telemetry_truth_json(id: u32, kind: &str, p: &Planted) -> String {
    let start = p.signals.iter().map(|s| s.time).min().unwrap_or(0);
    let end = p.signals.iter().map(|s| s.time).max().unwrap_or(0);
    let mut s = String::with_capacity(512);
    let _ = write!(
        s,
        r#"{{"id":"inc-{id:04}","kind":"{kind}","scenario":"{kind}/{}","start":"{}","end":"{}","entities":{{"#,
        p.variant,
        ward_model::Timestamp(start),
        ward_model::Timestamp(end),
    );
    for (i, (key, value)) in p.entities.iter().enumerate() {
        let comma = if i > 0 { "," } else { "" };
        let _ = write!(s, r#"{comma}"{key}":"{value}""#);
    }
    s.push('}');
    flows_json(&mut s, p);
    let _ = write!(
        s,
        r#","description":"{}","expected_alert_min":{}}}"#,
        p.description, p.expected_alert_min
    );
    s
}

/// `,"flows":[…]`: the incident's connections, one entry per source, destination, protocol
/// and port, with the zones they cross and whether the segmentation policy allows them.
/// Nothing when the incident made no connection.
fn flows_json(s: &mut String, p: &Planted) {
    struct Flow {
        src: u32,
        dst: u32,
        proto: Proto,
        port: u16,
        first: i64,
        last: i64,
        connections: u32,
        established: u32,
    }
    let mut flows: Vec<Flow> = Vec::new();
    for signal in &p.signals {
        let Body::Conn(c) = signal.body else { continue };
        let established = u32::from(c.state != "S0" && c.state != "REJ");
        match flows
            .iter_mut()
            .find(|f| (f.src, f.dst, f.proto, f.port) == (c.orig, c.resp, c.proto, c.resp_p))
        {
            Some(f) => {
                f.first = f.first.min(signal.time);
                f.last = f.last.max(signal.time);
                f.connections += 1;
                f.established += established;
            }
            None => flows.push(Flow {
                src: c.orig,
                dst: c.resp,
                proto: c.proto,
                port: c.resp_p,
                first: signal.time,
                last: signal.time,
                connections: 1,
                established,
            }),
        }
    }
    if flows.is_empty() {
        return;
    }
    s.push_str(r#","flows":["#);
    for (i, f) in flows.iter().enumerate() {
        let proto = match f.proto {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        };
        let _ = write!(
            s,
            r#"{}{{"src_ip":"{}","dst_ip":"{}","proto":"{proto}","dst_port":{},"src_zone":"{}","dst_zone":"{}","policy":"{}","connections":{},"established":{},"first":"{}","last":"{}"}}"#,
            if i > 0 { "," } else { "" },
            crate::signal::ip_text(f.src),
            crate::signal::ip_text(f.dst),
            f.port,
            crate::policy::place(f.src).name(),
            crate::policy::place(f.dst).name(),
            if crate::policy::allows(f.src, f.dst, f.proto, f.port) {
                "allowed"
            } else {
                "denied"
            },
            f.connections,
            f.established,
            ward_model::Timestamp(f.first),
            ward_model::Timestamp(f.last),
        );
    }
    s.push(']');
}

/// "Given Family", for descriptions.
pub fn staff_name(org: &Org, staff: u32) -> String {
    let s = &org.staff[staff as usize];
    format!("{} {} ({})", s.given, s.family, login_name(staff))
}
