//! Baselines: what is usual for each user and for their peers, learned from the stream. Two
//! flags rest on them. *After hours* compares the hour a stretch of work begins with the hours
//! of the day the same user worked on earlier days (never a hospital-wide clock: a night nurse
//! at 03:00 is at work). *Volume* compares the distinct patients a user opens in a clock hour
//! with that user's own past hours of work and with the hours of their peer group (same role
//! and department).
//!
//! Nothing is judged before there is history: a user needs `baseline_min_days` completed days
//! and `baseline_min_hours` hours of work on record. State is bounded: a fixed-size record per
//! user seen (24 hour-of-day counters, a ring of past hourly counts, the current hour's distinct
//! patients up to a cap) and a ring of hourly counts per peer group.

use super::PrivacyOptions;
use super::explain::Access;
use super::memory::{Names, Resolved, Saved, SavedPeer, SavedUser};
use super::relations::{DeptId, PatientId, Relations, StaffId};
use std::collections::HashMap;
use ward_model::EventId;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 86_400_000;
/// Past hours of work kept per user, and per peer group.
const OWN_HISTORY: usize = 64;
const PEER_HISTORY: usize = 1_024;

/// A peer group: the user's first role and first department.
type PeerKey = (String, Option<DeptId>);

#[derive(Debug, Clone)]
struct UserBaseline {
    peers: PeerKey,
    /// Completed days on which the user was active in each hour of the day (UTC).
    hours_seen: [u16; 24],
    days: u16,
    /// The day being recorded and the hours of it the user was active in (bit per hour).
    today: i64,
    today_mask: u32,
    /// The latest activity, and whether the stretch of work it belongs to began outside the
    /// user's hours (with the time it began).
    last_seen: i64,
    stretch_start: i64,
    stretch_off_pattern: bool,
    /// The clock hour being counted: distinct patients (with the first event of each) and how
    /// many of those accesses a template explained.
    hour: i64,
    patients: Vec<(PatientId, EventId)>,
    explained: u32,
    /// Distinct patients in past hours of work, newest last (a ring).
    history: Vec<u16>,
    next: usize,
    volume_flagged_day: i64,
}

impl UserBaseline {
    fn new(peers: PeerKey) -> Self {
        UserBaseline {
            peers,
            hours_seen: [0; 24],
            days: 0,
            today: i64::MIN,
            today_mask: 0,
            last_seen: i64::MIN,
            stretch_start: i64::MIN,
            stretch_off_pattern: false,
            hour: i64::MIN,
            patients: Vec::new(),
            explained: 0,
            history: Vec::new(),
            next: 0,
            volume_flagged_day: i64::MIN,
        }
    }

    fn active_hours(&self) -> u32 {
        self.hours_seen.iter().map(|&n| u32::from(n)).sum()
    }

    fn has_pattern(&self, opts: &PrivacyOptions) -> bool {
        u32::from(self.days) >= opts.baseline_min_days
            && self.active_hours() as usize >= opts.baseline_min_hours
    }

    /// Whether hour-of-day `h` is at least `margin` hours away from every hour the user
    /// worked on earlier days.
    fn off_pattern(&self, h: usize, margin: u32) -> bool {
        let margin = margin.min(11) as i64;
        (-margin..=margin).all(|d| self.hours_seen[(h as i64 + d).rem_euclid(24) as usize] == 0)
    }
}

/// A stretch of work that began outside the user's usual hours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AfterHours {
    /// When the stretch began.
    pub began: i64,
    /// The user's usual hours, as text (`07:00–16:00`).
    pub usual: String,
    /// Completed days and hours of work the pattern rests on.
    pub days: u32,
    pub hours: u32,
}

/// A clock hour whose distinct patients are far above the user's own and their peers' usual.
#[derive(Debug, Clone, PartialEq)]
pub struct VolumeAbove {
    pub hour_start: i64,
    pub patients: usize,
    /// Accesses of the hour's distinct patients that a template explained.
    pub explained: u32,
    /// The user's own usual hour (95th percentile of past hours) and how many hours it rests on.
    pub own: u16,
    pub own_hours: usize,
    /// The peer group's usual hour, its size in hours and colleagues; `None` when there are
    /// too few colleagues with history to compare with.
    pub peer: Option<(u16, usize, usize)>,
    pub threshold: usize,
    /// The role and department the peer group is.
    pub role: String,
    pub department: Option<DeptId>,
    /// First event of each distinct patient of the hour (evidence).
    pub events: Vec<EventId>,
}

#[derive(Debug, Default)]
struct PeerSample {
    /// (distinct patients in an hour, user), a ring.
    hours: Vec<(u16, StaffId)>,
    next: usize,
}

/// Per-user and per-peer-group baselines.
#[derive(Debug, Default)]
pub struct Baselines {
    users: HashMap<StaffId, UserBaseline>,
    peers: HashMap<PeerKey, PeerSample>,
}

impl Baselines {
    /// Records any activity of a known user (a login as much as a chart access) and says
    /// whether the stretch of work it belongs to began outside the user's usual hours.
    pub fn activity(
        &mut self,
        rel: &Relations,
        opts: &PrivacyOptions,
        user: StaffId,
        t: i64,
    ) -> Option<AfterHours> {
        let base = self.user(rel, user);
        let day = t.div_euclid(DAY_MS);
        if day > base.today {
            if base.today_mask != 0 {
                for (h, seen) in base.hours_seen.iter_mut().enumerate() {
                    if base.today_mask & (1 << h) != 0 {
                        *seen = seen.saturating_add(1);
                    }
                }
                base.days = base.days.saturating_add(1);
            }
            base.today = day;
            base.today_mask = 0;
        }
        let gap = super::ms(opts.activity_gap);
        if base.last_seen == i64::MIN || t.saturating_sub(base.last_seen) >= gap {
            let h = (t.rem_euclid(DAY_MS) / HOUR_MS) as usize;
            base.stretch_start = t;
            base.stretch_off_pattern =
                base.has_pattern(opts) && base.off_pattern(h, opts.after_hours_margin);
        }
        base.last_seen = base.last_seen.max(t);
        if day == base.today {
            base.today_mask |= 1 << (t.rem_euclid(DAY_MS) / HOUR_MS);
        }
        base.stretch_off_pattern.then(|| AfterHours {
            began: base.stretch_start,
            usual: usual_hours(&base.hours_seen),
            days: u32::from(base.days),
            hours: base.active_hours(),
        })
    }

    /// Counts an access to a patient towards the user's hour and says whether the hour's
    /// distinct patients just went far above the user's and the peers' usual (once per user
    /// and day).
    pub fn access(
        &mut self,
        rel: &Relations,
        opts: &PrivacyOptions,
        access: Access,
        event: EventId,
        explained: bool,
    ) -> Option<VolumeAbove> {
        let Access {
            user,
            patient,
            time: t,
        } = access;
        let hour = t.div_euclid(HOUR_MS);
        let cap = opts.max_tracked_per_user.max(1);
        let base = self.user(rel, user);
        if hour != base.hour {
            let done = base.patients.len().min(usize::from(u16::MAX)) as u16;
            base.hour = hour;
            base.patients.clear();
            base.explained = 0;
            if done > 0 {
                push_ring(&mut base.history, &mut base.next, OWN_HISTORY, done);
                let key = base.peers.clone();
                let peers = self.peers.entry(key).or_default();
                push_ring(
                    &mut peers.hours,
                    &mut peers.next,
                    PEER_HISTORY,
                    (done, user),
                );
            }
        }
        let base = self.users.get_mut(&user)?;
        if base.patients.iter().any(|&(p, _)| p == patient) {
            return None;
        }
        if base.patients.len() >= cap {
            return None;
        }
        base.patients.push((patient, event));
        base.explained += u32::from(explained);
        let n = base.patients.len();
        let day = t.div_euclid(DAY_MS);
        if n < opts.volume_min_patients
            || base.volume_flagged_day == day
            || base.history.len() < opts.baseline_min_hours
        {
            return None;
        }
        let own = percentile95(base.history.iter().copied());
        let peer = self.peers.get(&base.peers).and_then(|sample| {
            let others: Vec<(u16, StaffId)> = sample
                .hours
                .iter()
                .copied()
                .filter(|&(_, u)| u != user)
                .collect();
            let mut colleagues: Vec<StaffId> = others.iter().map(|&(_, u)| u).collect();
            colleagues.sort_unstable();
            colleagues.dedup();
            (colleagues.len() >= opts.peer_min_users && others.len() >= opts.baseline_min_hours)
                .then(|| {
                    (
                        percentile95(others.iter().map(|&(n, _)| n)),
                        others.len(),
                        colleagues.len(),
                    )
                })
        });
        let far = |usual: u16| (f64::from(usual) * opts.volume_factor).ceil() as usize;
        let threshold = opts
            .volume_min_patients
            .max(far(own))
            .max(peer.map_or(0, |(p, _, _)| far(p)));
        if n < threshold {
            return None;
        }
        base.volume_flagged_day = day;
        Some(VolumeAbove {
            hour_start: hour * HOUR_MS,
            patients: n,
            explained: base.explained,
            own,
            own_hours: base.history.len(),
            peer,
            threshold,
            role: base.peers.0.clone(),
            department: base.peers.1,
            events: base.patients.iter().map(|&(_, e)| e).collect(),
        })
    }

    /// Users with a baseline (for tests and figures).
    pub fn users(&self) -> usize {
        self.users.len()
    }

    fn user(&mut self, rel: &Relations, user: StaffId) -> &mut UserBaseline {
        self.users.entry(user).or_insert_with(|| {
            let staff = rel.staff.get(user as usize);
            UserBaseline::new((
                staff
                    .and_then(|s| s.roles.first().cloned())
                    .unwrap_or_default(),
                staff.and_then(|s| s.departments.first().copied()),
            ))
        })
    }
}

impl Baselines {
    /// Every user's usual hours and volume and every peer group's ring, by name (the hour
    /// being counted is not kept: it is counted again from the next event).
    pub(super) fn save(&self, names: &mut Names) {
        for (&user, base) in &self.users {
            let Some(user) = names.user(user) else {
                continue;
            };
            let department = base.peers.1.and_then(|d| names.department(d));
            names.saved.users_usual.push(SavedUser {
                user,
                role: base.peers.0.clone(),
                department,
                hours_seen: base.hours_seen.to_vec(),
                days: base.days,
                today: base.today,
                today_mask: base.today_mask,
                last_seen: base.last_seen,
                stretch_start: base.stretch_start,
                stretch_off_pattern: base.stretch_off_pattern,
                history: base.history.clone(),
                next: base.next,
                volume_flagged_day: base.volume_flagged_day,
            });
        }
        for ((role, department), sample) in &self.peers {
            let department = department.and_then(|d| names.department(d));
            let hours = sample
                .hours
                .iter()
                .filter_map(|&(n, user)| Some((n, names.user(user)?)))
                .collect();
            names.saved.peers.push(SavedPeer {
                role: role.clone(),
                department,
                hours,
                next: sample.next,
            });
        }
    }

    /// Takes back what [`Baselines::save`] gave; users already seen in this run keep what
    /// this run learned. Returns how many users' baselines were taken back.
    pub(super) fn restore(&mut self, saved: &Saved, resolved: &mut Resolved) -> usize {
        let mut taken = 0;
        for u in &saved.users_usual {
            let Some(user) = resolved.user(u.user) else {
                continue;
            };
            if self.users.contains_key(&user) || u.hours_seen.len() != 24 {
                continue;
            }
            let department = match u.department {
                Some(d) => resolved.department(d),
                None => None,
            };
            let mut base = UserBaseline::new((u.role.clone(), department));
            for (slot, &n) in base.hours_seen.iter_mut().zip(&u.hours_seen) {
                *slot = n;
            }
            base.days = u.days;
            base.today = u.today;
            base.today_mask = u.today_mask;
            base.last_seen = u.last_seen;
            base.stretch_start = u.stretch_start;
            base.stretch_off_pattern = u.stretch_off_pattern;
            base.history = u.history.iter().copied().take(OWN_HISTORY).collect();
            base.next = u.next % OWN_HISTORY;
            base.volume_flagged_day = u.volume_flagged_day;
            self.users.insert(user, base);
            taken += 1;
        }
        for peer in &saved.peers {
            let department = match peer.department {
                Some(d) => resolved.department(d),
                None => None,
            };
            let key = (peer.role.clone(), department);
            if self.peers.contains_key(&key) {
                continue;
            }
            let hours: Vec<(u16, StaffId)> = peer
                .hours
                .iter()
                .filter_map(|&(n, user)| Some((n, resolved.user(user)?)))
                .take(PEER_HISTORY)
                .collect();
            self.peers.insert(
                key,
                PeerSample {
                    hours,
                    next: peer.next % PEER_HISTORY,
                },
            );
        }
        taken
    }
}

fn push_ring<T>(ring: &mut Vec<T>, next: &mut usize, cap: usize, item: T) {
    if ring.len() < cap {
        ring.push(item);
    } else if let Some(slot) = ring.get_mut(*next % cap) {
        *slot = item;
    }
    *next = (*next + 1) % cap;
}

/// The 95th percentile (nearest rank) of hourly counts; 0 for none.
fn percentile95(values: impl Iterator<Item = u16>) -> u16 {
    let mut v: Vec<u16> = values.collect();
    if v.is_empty() {
        return 0;
    }
    v.sort_unstable();
    let rank = (v.len() * 95).div_ceil(100).max(1);
    v[rank - 1]
}

/// The hours of the day a user worked, as ranges (`07:00–16:00, 23:00–01:00`).
pub fn usual_hours(seen: &[u16; 24]) -> String {
    let on = |h: usize| seen[h % 24] > 0;
    if (0..24).all(on) {
        return "at every hour of the day".into();
    }
    let mut ranges = Vec::new();
    // Start at an hour that is off, so that a range across midnight is one range.
    let Some(first_off) = (0..24).find(|&h| !on(h)) else {
        return String::new();
    };
    let mut start = None;
    for h in first_off..=first_off + 24 {
        match (on(h), start) {
            (true, None) => start = Some(h % 24),
            (false, Some(s)) => {
                ranges.push(format!("{s:02}:00–{:02}:00", h % 24));
                start = None;
            }
            _ => {}
        }
    }
    if ranges.is_empty() {
        "no hours on record".into()
    } else {
        ranges.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usual_hours_joins_ranges_across_midnight() {
        let mut seen = [0u16; 24];
        seen[7..=15].fill(2);
        assert_eq!(usual_hours(&seen), "07:00–16:00");
        let mut night = [0u16; 24];
        for h in [23, 0, 1, 2, 3, 4, 5, 6] {
            night[h] = 1;
        }
        assert_eq!(usual_hours(&night), "23:00–07:00");
        assert_eq!(usual_hours(&[0; 24]), "no hours on record");
    }

    #[test]
    fn percentile_is_the_nearest_rank() {
        assert_eq!(percentile95([].into_iter()), 0);
        assert_eq!(percentile95([5].into_iter()), 5);
        let hours: Vec<u16> = (1..=20).collect();
        assert_eq!(percentile95(hours.into_iter()), 19);
    }

    #[test]
    fn rings_keep_the_newest() {
        let (mut ring, mut next) = (Vec::new(), 0);
        for i in 0..10u16 {
            push_ring(&mut ring, &mut next, 4, i);
        }
        let mut kept = ring.clone();
        kept.sort_unstable();
        assert_eq!(kept, vec![6, 7, 8, 9]);
    }
}
