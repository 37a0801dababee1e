//! What the privacy detector remembers between runs: who opened whom (and whether with an
//! explanation), the templates learned from the data, each user's usual hours and volume and
//! their peers', and the first-ever looks outside the user's department still inside their
//! window. Without it every `ward ingest` of a daily export would start from nothing: a
//! return to a patient would look first-ever, consult patterns would be learned again each
//! day, and nobody would have usual hours on the first day of a file.
//!
//! Users, patients and departments are saved by name (login, the patient's FHIR id, the
//! department's reference), never by the detector's internal numbers, which depend on the
//! order context arrives in. State is restored before the context is loaded, so it is held
//! as read and applied at the first event, when names can be resolved; entries naming
//! someone the context no longer knows are left out and counted.
//!
//! Accesses held for judgement are not saved: the end of every run concludes them
//! ([`super::PrivacyDetector`]'s `conclude`), so none is judged twice.

use super::relations::{DeptId, PatientId, Relations, StaffId};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

pub(super) const VERSION: u32 = 1;

/// Size of one packed who-opened-whom record: user (u32), patient (u32), last access (i64),
/// explained (u8), little-endian.
const SEEN_RECORD: usize = 17;

/// The saved state, as written (JSON; the who-opened-whom table packed, base64).
#[derive(Debug, Default, Serialize, Deserialize)]
pub(super) struct Saved {
    pub version: u32,
    /// Names the numbers below stand for.
    pub users: Vec<String>,
    pub patients: Vec<String>,
    pub departments: Vec<String>,
    /// Packed (user, patient, last access, explained) records, oldest first.
    pub seen: String,
    pub learned: Vec<SavedPair>,
    pub documented: Vec<(u32, u32, Vec<u32>)>,
    pub users_usual: Vec<SavedUser>,
    pub peers: Vec<SavedPeer>,
    /// Per user: first-ever unexplained looks outside their department (time, patient, event
    /// id in hex) and the start of their open alert on them.
    pub outside: Vec<(u32, Looks)>,
    pub outside_alerted: Vec<(u32, i64)>,
}

/// One user's first-ever looks outside their department: (time, patient, event id in hex).
pub(super) type Looks = Vec<(i64, u32, String)>;

/// A department-to-department pair learned from the data, with its support.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct SavedPair {
    pub from: u32,
    pub to: u32,
    pub users: Vec<u32>,
    pub patients: Vec<u32>,
    pub active: bool,
}

/// One user's usual hours and volume.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct SavedUser {
    pub user: u32,
    pub role: String,
    pub department: Option<u32>,
    pub hours_seen: Vec<u16>,
    pub days: u16,
    pub today: i64,
    pub today_mask: u32,
    pub last_seen: i64,
    pub stretch_start: i64,
    pub stretch_off_pattern: bool,
    pub history: Vec<u16>,
    pub next: usize,
    pub volume_flagged_day: i64,
}

/// A peer group's ring of hourly counts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct SavedPeer {
    pub role: String,
    pub department: Option<u32>,
    pub hours: Vec<(u16, u32)>,
    pub next: usize,
}

/// Gives each user, patient and department a number in the saved state, by name.
pub(super) struct Names<'r> {
    rel: &'r Relations,
    pub saved: Saved,
    users: HashMap<StaffId, u32>,
    patients: HashMap<PatientId, u32>,
    departments: HashMap<DeptId, u32>,
}

impl<'r> Names<'r> {
    pub fn new(rel: &'r Relations) -> Self {
        Names {
            rel,
            saved: Saved {
                version: VERSION,
                ..Saved::default()
            },
            users: HashMap::new(),
            patients: HashMap::new(),
            departments: HashMap::new(),
        }
    }

    pub fn user(&mut self, s: StaffId) -> Option<u32> {
        let name = self.rel.staff.get(s as usize)?.login();
        Some(intern(&mut self.users, &mut self.saved.users, s, name))
    }

    pub fn patient(&mut self, p: PatientId) -> Option<u32> {
        let name = &self.rel.patients.get(p as usize)?.display;
        Some(intern(
            &mut self.patients,
            &mut self.saved.patients,
            p,
            name,
        ))
    }

    pub fn department(&mut self, d: DeptId) -> Option<u32> {
        let name = &self.rel.depts.get(d as usize)?.reference;
        Some(intern(
            &mut self.departments,
            &mut self.saved.departments,
            d,
            name,
        ))
    }

    /// Packs the who-opened-whom records, oldest first.
    pub fn pack_seen(&mut self, mut seen: Vec<(StaffId, PatientId, i64, bool)>) {
        seen.sort_by_key(|&(_, _, t, _)| t);
        let mut packed = Vec::with_capacity(seen.len() * SEEN_RECORD);
        for (s, p, t, explained) in seen {
            let (Some(user), Some(patient)) = (self.user(s), self.patient(p)) else {
                continue;
            };
            packed.extend_from_slice(&user.to_le_bytes());
            packed.extend_from_slice(&patient.to_le_bytes());
            packed.extend_from_slice(&t.to_le_bytes());
            packed.push(u8::from(explained));
        }
        self.saved.seen = base64::engine::general_purpose::STANDARD.encode(packed);
    }
}

fn intern<K: std::hash::Hash + Eq + Copy>(
    index: &mut HashMap<K, u32>,
    names: &mut Vec<String>,
    key: K,
    name: &str,
) -> u32 {
    *index.entry(key).or_insert_with(|| {
        names.push(name.to_string());
        (names.len() - 1) as u32
    })
}

/// The saved numbers resolved against the context as it is now: `None` for a name it no
/// longer knows.
pub(super) struct Resolved {
    users: Vec<Option<StaffId>>,
    patients: Vec<Option<PatientId>>,
    departments: Vec<Option<DeptId>>,
    /// Entries left out because they named someone unknown.
    pub dropped: u64,
}

impl Resolved {
    pub fn new(rel: &Relations, saved: &Saved) -> Self {
        Resolved {
            users: saved
                .users
                .iter()
                .map(|login| rel.staff_by_login(login))
                .collect(),
            patients: saved.patients.iter().map(|id| rel.patient(id)).collect(),
            departments: saved
                .departments
                .iter()
                .map(|reference| {
                    rel.depts
                        .iter()
                        .position(|d| d.reference == *reference)
                        .map(|d| d as DeptId)
                })
                .collect(),
            dropped: 0,
        }
    }

    pub fn user(&mut self, n: u32) -> Option<StaffId> {
        self.count(self.users.get(n as usize).copied().flatten())
    }

    pub fn patient(&mut self, n: u32) -> Option<PatientId> {
        self.count(self.patients.get(n as usize).copied().flatten())
    }

    pub fn department(&mut self, n: u32) -> Option<DeptId> {
        self.count(self.departments.get(n as usize).copied().flatten())
    }

    fn count<T>(&mut self, found: Option<T>) -> Option<T> {
        self.dropped += u64::from(found.is_none());
        found
    }

    /// The who-opened-whom records, oldest first; a malformed table reads as empty.
    pub fn seen(&mut self, saved: &Saved) -> Vec<(StaffId, PatientId, i64, bool)> {
        let Ok(packed) = base64::engine::general_purpose::STANDARD.decode(&saved.seen) else {
            return Vec::new();
        };
        let mut out = Vec::with_capacity(packed.len() / SEEN_RECORD);
        for record in packed.chunks_exact(SEEN_RECORD) {
            let word = |at: usize| {
                u32::from_le_bytes([record[at], record[at + 1], record[at + 2], record[at + 3]])
            };
            let mut time = [0u8; 8];
            time.copy_from_slice(&record[8..16]);
            let (Some(user), Some(patient)) = (self.user(word(0)), self.patient(word(4))) else {
                continue;
            };
            out.push((user, patient, i64::from_le_bytes(time), record[16] != 0));
        }
        out
    }
}
