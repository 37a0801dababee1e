//! The breach notification clock of 45 CFR 164.404–164.412: from the day a breach of unsecured
//! PHI was discovered, which notices are due and by which calendar date.
//!
//! - Individuals: without unreasonable delay and no later than 60 calendar days after discovery
//!   (164.404(b)).
//! - Media: when more than 500 residents of one State or jurisdiction are affected, prominent
//!   media outlets serving it, within the same 60 days (164.406(a), (b)). The threshold is per
//!   State: 400 in each of two States is no media notice.
//! - The Secretary (HHS): 500 or more affected in total, contemporaneously with the notice to
//!   individuals, so by the same date (164.408(b)); fewer than 500, logged and submitted no
//!   later than 60 days after the end of the calendar year of discovery (164.408(c)), which is
//!   1 March, or 29 February in a leap year.
//! - A business associate: to the covered entity, no later than 60 calendar days after its own
//!   discovery (164.410(b)); the covered entity's own notices then run from its discovery.
//! - Substitute notice (164.404(d)(2)): when the contact information of affected individuals
//!   is insufficient or out of date, notice reaches them another way within the same 60 days:
//!   for 10 or more, a conspicuous posting on the home page of the web site for 90 days or
//!   notice in major print or broadcast media where they likely live, with a toll-free number
//!   active for at least 90 days (164.404(d)(2)(ii)); for fewer than 10, an alternative form of
//!   written notice, telephone or other means (164.404(d)(2)(i)).
//! - Law enforcement (164.412): a written statement that notice would impede an investigation
//!   delays it for the period the statement specifies; an oral one, once documented, for no
//!   longer than 30 days from the statement, unless a written statement arrives within those 30
//!   days. Ward treats a delay as pausing the clock: days inside it do not count toward the 60.
//!
//! "No later than" is an outer limit: the rule requires notice without unreasonable delay, and
//! a date here is the day beyond which any delay is unlawful, not a target.
//!
//! Day arithmetic: the day of discovery is day 0 and the 60th calendar day after it is the last
//! day for notice. A written statement's period is taken to include the end date it names; an
//! oral statement pauses the statement day and the 29 days after it. Pure: dates come in, no
//! clock is read.

use chrono::{Datelike, Days, NaiveDate};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use ward_store::incidents::DeadlineRecord;

/// Calendar days every notice period runs.
pub const NOTICE_DAYS: u64 = 60;
/// HHS is notified contemporaneously (not in the annual log) from this many affected.
pub const HHS_IMMEDIATE_THRESHOLD: u64 = 500;
/// Media notice is due when affected residents of one State exceed this.
pub const MEDIA_THRESHOLD: u64 = 500;
/// From this many individuals with insufficient or out-of-date contact information, substitute
/// notice is by web posting or major media with a toll-free number (164.404(d)(2)(ii)).
pub const SUBSTITUTE_NOTICE_THRESHOLD: u64 = 10;
/// How long a substitute notice stays posted and its toll-free number stays active.
pub const SUBSTITUTE_POSTING_DAYS: u64 = 90;
/// The longest an oral law-enforcement statement delays notice.
pub const ORAL_DELAY_DAYS: u64 = 30;

/// Whose obligations the clock computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The hospital itself: individuals, media and HHS.
    CoveredEntity,
    /// Ward run by a business associate: its notice to the covered entity.
    BusinessAssociate,
}

/// How many individuals a breach affects, in total and by State of residence. Individuals
/// whose State is unknown count toward the total (and so toward HHS's 500) but toward no
/// State's media threshold: the overview shows them so someone finds their addresses.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Affected {
    pub total: u64,
    /// USPS codes (`MA`) or the jurisdiction's name, as `states::state_code` normalises them.
    pub by_state: BTreeMap<String, u64>,
    /// Individuals whose contact information is insufficient or out of date (no usable postal
    /// address in the patient context): they are reached by substitute notice (164.404(d)(2)).
    #[serde(default)]
    pub unreachable: u64,
}

impl Affected {
    /// Individuals with no known State.
    pub fn unknown_state(&self) -> u64 {
        self.total
            .saturating_sub(self.by_state.values().copied().sum::<u64>())
    }
}

/// The form of a law-enforcement statement under 164.412.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "form", rename_all = "snake_case")]
pub enum StatementForm {
    /// In writing, specifying the time for which a delay is required: through `until`.
    Written { until: NaiveDate },
    /// Made orally and documented (with the official's identity): at most 30 days.
    Oral,
}

/// A law-enforcement official's statement that notice would impede a criminal investigation
/// or damage national security.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LawEnforcementDelay {
    pub stated_on: NaiveDate,
    #[serde(flatten)]
    pub form: StatementForm,
}

/// What the clock needs to know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockInput {
    pub role: Role,
    /// The first day the breach was known, or by reasonable diligence would have been
    /// (164.404(a)(2)); for a business associate, its own discovery (164.410(a)(2)).
    pub discovered_on: NaiveDate,
    pub affected: Affected,
    #[serde(default)]
    pub delays: Vec<LawEnforcementDelay>,
}

/// Which notice a deadline is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    Individuals,
    Media,
    /// HHS, contemporaneously with individuals (500 or more).
    Hhs,
    /// HHS through the annual log (fewer than 500).
    HhsAnnualLog,
    /// A business associate's notice to the covered entity.
    CoveredEntity,
    /// Substitute notice by web posting or major media with a toll-free number, for 10 or
    /// more individuals who cannot be reached (164.404(d)(2)(ii)).
    SubstituteNotice,
    /// Alternative written notice, telephone or other means, for fewer than 10 who cannot be
    /// reached by the written notice (164.404(d)(2)(i)).
    AlternativeNotice,
}

impl NoticeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::Individuals => "individuals",
            NoticeKind::Media => "media",
            NoticeKind::Hhs => "hhs",
            NoticeKind::HhsAnnualLog => "hhs_annual_log",
            NoticeKind::CoveredEntity => "covered_entity",
            NoticeKind::SubstituteNotice => "substitute_notice",
            NoticeKind::AlternativeNotice => "alternative_notice",
        }
    }

    /// Every kind, in the order the rules name them.
    pub const ALL: [NoticeKind; 7] = [
        NoticeKind::Individuals,
        NoticeKind::Media,
        NoticeKind::Hhs,
        NoticeKind::HhsAnnualLog,
        NoticeKind::CoveredEntity,
        NoticeKind::SubstituteNotice,
        NoticeKind::AlternativeNotice,
    ];

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == text)
    }

    /// The paragraph that sets this deadline.
    pub fn citation(self) -> &'static str {
        match self {
            NoticeKind::Individuals => "45 CFR 164.404(b)",
            NoticeKind::Media => "45 CFR 164.406(b)",
            NoticeKind::Hhs => "45 CFR 164.408(b)",
            NoticeKind::HhsAnnualLog => "45 CFR 164.408(c)",
            NoticeKind::CoveredEntity => "45 CFR 164.410(b)",
            NoticeKind::SubstituteNotice => "45 CFR 164.404(d)(2)(ii)",
            NoticeKind::AlternativeNotice => "45 CFR 164.404(d)(2)(i)",
        }
    }

    /// A notice that, once given, must stay available for a period: the substitute notice's
    /// web posting and toll-free number, [`SUBSTITUTE_POSTING_DAYS`] days.
    pub fn posting_days(self) -> Option<u64> {
        match self {
            NoticeKind::SubstituteNotice => Some(SUBSTITUTE_POSTING_DAYS),
            _ => None,
        }
    }
}

/// One notice that is due, by when, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deadline {
    pub kind: NoticeKind,
    /// The State for a media notice.
    pub jurisdiction: Option<String>,
    /// The last day notice may be given.
    pub due_on: NaiveDate,
    /// What the last day would be without any law-enforcement delay.
    pub undelayed_due_on: NaiveDate,
    pub citation: &'static str,
    pub explanation: String,
}

impl Deadline {
    /// Where the deadline stands on `today`, given when (if) the notice was given.
    pub fn status(&self, today: NaiveDate, notified_on: Option<NaiveDate>) -> DeadlineStatus {
        status_of(self.due_on, today, notified_on)
    }

    /// The record the store keeps.
    pub fn to_record(&self) -> DeadlineRecord {
        DeadlineRecord {
            kind: self.kind.as_str().to_string(),
            jurisdiction: self.jurisdiction.clone().unwrap_or_default(),
            due_on: self.due_on,
            citation: self.citation.to_string(),
            explanation: self.explanation.clone(),
            notified_on: None,
            notified_by: None,
        }
    }
}

/// How close a deadline is, for the overview.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum DeadlineStatus {
    /// Notice was given; `late` when after the due date.
    Met {
        on: NaiveDate,
        late: bool,
    },
    /// Past the due date with no notice recorded.
    Overdue {
        days: u64,
    },
    /// Due within [`DUE_SOON_DAYS`] (0: due today).
    DueSoon {
        days_left: u64,
    },
    Upcoming {
        days_left: u64,
    },
}

/// A deadline this close is shown as due soon.
pub const DUE_SOON_DAYS: u64 = 14;

/// Where a deadline due on `due_on` stands on `today`.
pub fn status_of(
    due_on: NaiveDate,
    today: NaiveDate,
    notified_on: Option<NaiveDate>,
) -> DeadlineStatus {
    if let Some(on) = notified_on {
        return DeadlineStatus::Met {
            on,
            late: on > due_on,
        };
    }
    let left = (due_on - today).num_days();
    if left < 0 {
        DeadlineStatus::Overdue {
            days: left.unsigned_abs(),
        }
    } else if left as u64 <= DUE_SOON_DAYS {
        DeadlineStatus::DueSoon {
            days_left: left as u64,
        }
    } else {
        DeadlineStatus::Upcoming {
            days_left: left as u64,
        }
    }
}

/// Input the clock cannot count from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClockError {
    /// A written statement whose period ends before it was made.
    DelayEndsBeforeStatement { stated_on: NaiveDate },
    /// A statement dated before the discovery it would delay notice of.
    DelayBeforeDiscovery { stated_on: NaiveDate },
    /// The per-State counts add up to more than the total.
    StatesExceedTotal,
    /// More individuals without usable contact information than affected in total.
    UnreachableExceedTotal,
    /// A date beyond what the calendar arithmetic can represent.
    OutOfRange,
}

impl fmt::Display for ClockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClockError::DelayEndsBeforeStatement { stated_on } => write!(
                f,
                "the written law-enforcement statement of {stated_on} specifies a delay ending before it was made; correct its end date"
            ),
            ClockError::DelayBeforeDiscovery { stated_on } => write!(
                f,
                "a law-enforcement statement is dated {stated_on}, before the breach was discovered; correct the statement or the discovery date"
            ),
            ClockError::StatesExceedTotal => f.write_str(
                "the affected counts per State add up to more than the total; recount the affected individuals",
            ),
            ClockError::UnreachableExceedTotal => f.write_str(
                "more individuals lack usable contact information than are affected; recount the affected individuals",
            ),
            ClockError::OutOfRange => f.write_str("a date is out of the calendar's range"),
        }
    }
}

impl std::error::Error for ClockError {}

/// The deadlines that run, in the order individuals, media (by State), HHS, covered entity.
pub fn deadlines(input: &ClockInput) -> Result<Vec<Deadline>, ClockError> {
    let affected = &input.affected;
    if affected.by_state.values().copied().sum::<u64>() > affected.total {
        return Err(ClockError::StatesExceedTotal);
    }
    if affected.unreachable > affected.total {
        return Err(ClockError::UnreachableExceedTotal);
    }
    let paused = paused_intervals(input.discovered_on, &input.delays)?;
    let discovered = input.discovered_on;
    let sixty = |kind: NoticeKind, jurisdiction: Option<String>, why: String| {
        let undelayed = add_days(discovered, NOTICE_DAYS)?;
        let (due_on, paused_days) = toll(discovered, NOTICE_DAYS, &paused)?;
        Ok(Deadline {
            kind,
            jurisdiction,
            due_on,
            undelayed_due_on: undelayed,
            citation: kind.citation(),
            explanation: with_delay(why, paused_days, due_on),
        })
    };
    let mut out = Vec::new();
    match input.role {
        Role::BusinessAssociate => {
            out.push(sixty(
                NoticeKind::CoveredEntity,
                None,
                format!(
                    "a business associate notifies the covered entity no later than 60 calendar days after discovering the breach ({discovered})"
                ),
            )?);
        }
        Role::CoveredEntity => {
            out.push(sixty(
                NoticeKind::Individuals,
                None,
                format!(
                    "each affected individual ({}) is notified without unreasonable delay and no later than 60 calendar days after discovery ({discovered})",
                    affected.total
                ),
            )?);
            match affected.unreachable {
                0 => {}
                n if n >= SUBSTITUTE_NOTICE_THRESHOLD => out.push(sixty(
                    NoticeKind::SubstituteNotice,
                    None,
                    format!(
                        "{n} individuals have insufficient or out-of-date contact information, {SUBSTITUTE_NOTICE_THRESHOLD} or more: substitute notice within the same 60 days, either a conspicuous posting on the home page of the web site for {SUBSTITUTE_POSTING_DAYS} days or notice in major print or broadcast media where they likely live, with a toll-free number active for at least {SUBSTITUTE_POSTING_DAYS} days"
                    ),
                )?),
                n => out.push(sixty(
                    NoticeKind::AlternativeNotice,
                    None,
                    format!(
                        "{n} individual{} insufficient or out-of-date contact information, fewer than {SUBSTITUTE_NOTICE_THRESHOLD}: substitute notice within the same 60 days by an alternative form of written notice, telephone or other means",
                        if n == 1 { " has" } else { "s have" }
                    ),
                )?),
            }
            for (state, &count) in &affected.by_state {
                if count > MEDIA_THRESHOLD {
                    out.push(sixty(
                        NoticeKind::Media,
                        Some(state.clone()),
                        format!(
                            "{count} residents of {state} are affected, more than {MEDIA_THRESHOLD}: prominent media outlets serving {state} are notified within the same 60 days"
                        ),
                    )?);
                }
            }
            if affected.total >= HHS_IMMEDIATE_THRESHOLD {
                out.push(sixty(
                    NoticeKind::Hhs,
                    None,
                    format!(
                        "{} individuals are affected, {HHS_IMMEDIATE_THRESHOLD} or more: the Secretary is notified contemporaneously with the individuals",
                        affected.total
                    ),
                )?);
            } else {
                let year_end = NaiveDate::from_ymd_opt(discovered.year(), 12, 31)
                    .ok_or(ClockError::OutOfRange)?;
                let undelayed = add_days(year_end, NOTICE_DAYS)?;
                let (due_on, paused_days) = toll(year_end, NOTICE_DAYS, &paused)?;
                out.push(Deadline {
                    kind: NoticeKind::HhsAnnualLog,
                    jurisdiction: None,
                    due_on,
                    undelayed_due_on: undelayed,
                    citation: NoticeKind::HhsAnnualLog.citation(),
                    explanation: with_delay(
                        format!(
                            "{} individuals are affected, fewer than {HHS_IMMEDIATE_THRESHOLD}: the breach is logged and submitted to the Secretary no later than 60 days after the end of {}",
                            affected.total,
                            discovered.year()
                        ),
                        paused_days,
                        due_on,
                    ),
                });
            }
        }
    }
    Ok(out)
}

/// The days a substitute notice posted on `posted_on` must stay up (and its toll-free number
/// stay active): the posting day is day 0, as on the notice clock, through day 90.
pub fn posting_window(kind: NoticeKind, posted_on: NaiveDate) -> Option<(NaiveDate, NaiveDate)> {
    let days = kind.posting_days()?;
    Some((posted_on, posted_on.checked_add_days(Days::new(days))?))
}

fn with_delay(mut why: String, paused_days: u64, due_on: NaiveDate) -> String {
    if paused_days > 0 {
        why.push_str(&format!(
            "; law-enforcement delay paused the clock for {paused_days} days (45 CFR 164.412), moving the last day to {due_on}"
        ));
    }
    why
}

fn add_days(date: NaiveDate, days: u64) -> Result<NaiveDate, ClockError> {
    date.checked_add_days(Days::new(days))
        .ok_or(ClockError::OutOfRange)
}

/// The days during which law enforcement has delayed notice, as merged, sorted half-open
/// ranges `[first paused day, first day counted again)`.
pub fn paused_intervals(
    discovered_on: NaiveDate,
    delays: &[LawEnforcementDelay],
) -> Result<Vec<(NaiveDate, NaiveDate)>, ClockError> {
    let mut sorted = delays.to_vec();
    sorted.sort_by_key(|d| d.stated_on);
    let mut intervals = Vec::with_capacity(sorted.len());
    for (i, delay) in sorted.iter().enumerate() {
        if delay.stated_on < discovered_on {
            return Err(ClockError::DelayBeforeDiscovery {
                stated_on: delay.stated_on,
            });
        }
        match delay.form {
            StatementForm::Written { until } => {
                if until < delay.stated_on {
                    return Err(ClockError::DelayEndsBeforeStatement {
                        stated_on: delay.stated_on,
                    });
                }
                intervals.push((delay.stated_on, add_days(until, 1)?));
            }
            StatementForm::Oral => {
                let limit = add_days(delay.stated_on, ORAL_DELAY_DAYS)?;
                // A written statement within the 30 days takes over from the oral one, even
                // when it asks for less time than was left.
                let superseded = sorted[i + 1..].iter().find_map(|later| match later.form {
                    StatementForm::Written { .. } if later.stated_on < limit => {
                        Some(later.stated_on)
                    }
                    _ => None,
                });
                intervals.push((delay.stated_on, superseded.unwrap_or(limit)));
            }
        }
    }
    intervals.retain(|(start, end)| end > start);
    intervals.sort();
    let mut merged: Vec<(NaiveDate, NaiveDate)> = Vec::with_capacity(intervals.len());
    for (start, end) in intervals {
        match merged.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    Ok(merged)
}

/// The last day of a period of `days` counted from `start` (day 0), skipping the days in
/// `paused`; returns it with the number of days skipped. A pause that begins after the period
/// ended changes nothing: a delay asked for once the deadline has passed does not revive it.
pub fn toll(
    start: NaiveDate,
    days: u64,
    paused: &[(NaiveDate, NaiveDate)],
) -> Result<(NaiveDate, u64), ClockError> {
    let mut due = add_days(start, days)?;
    let mut skipped = 0u64;
    let first_counted = add_days(start, 1)?;
    for &(from, to) in paused {
        let from = from.max(first_counted);
        if to <= from {
            continue;
        }
        if from > due {
            break;
        }
        let length = (to - from).num_days().unsigned_abs();
        due = add_days(due, length)?;
        skipped += length;
    }
    Ok((due, skipped))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    fn covered(discovered: &str, total: u64, states: &[(&str, u64)]) -> ClockInput {
        ClockInput {
            role: Role::CoveredEntity,
            discovered_on: d(discovered),
            affected: Affected {
                total,
                by_state: states.iter().map(|(s, n)| (s.to_string(), *n)).collect(),
                unreachable: 0,
            },
            delays: Vec::new(),
        }
    }

    fn due(input: &ClockInput, kind: NoticeKind) -> Option<NaiveDate> {
        deadlines(input)
            .unwrap()
            .into_iter()
            .find(|x| x.kind == kind)
            .map(|x| x.due_on)
    }

    fn kinds(input: &ClockInput) -> Vec<(NoticeKind, Option<String>)> {
        deadlines(input)
            .unwrap()
            .into_iter()
            .map(|x| (x.kind, x.jurisdiction))
            .collect()
    }

    #[test]
    fn individuals_are_due_the_sixtieth_calendar_day_after_discovery() {
        let input = covered("2026-01-01", 3, &[]);
        assert_eq!(due(&input, NoticeKind::Individuals), Some(d("2026-03-02")));
        let all = deadlines(&input).unwrap();
        assert_eq!(all[0].citation, "45 CFR 164.404(b)");
        assert_eq!(all[0].undelayed_due_on, all[0].due_on);
    }

    #[test]
    fn sixty_days_cross_february_in_common_and_leap_years() {
        assert_eq!(
            due(&covered("2027-01-15", 1, &[]), NoticeKind::Individuals),
            Some(d("2027-03-16"))
        );
        assert_eq!(
            due(&covered("2028-01-15", 1, &[]), NoticeKind::Individuals),
            Some(d("2028-03-15"))
        );
    }

    #[test]
    fn sixty_days_cross_the_year_end() {
        assert_eq!(
            due(&covered("2026-11-15", 1, &[]), NoticeKind::Individuals),
            Some(d("2027-01-14"))
        );
        assert_eq!(
            due(&covered("2026-12-31", 1, &[]), NoticeKind::Individuals),
            Some(d("2027-03-01"))
        );
    }

    #[test]
    fn fewer_than_500_go_to_the_annual_log_due_sixty_days_after_year_end() {
        let input = covered("2026-06-10", 499, &[]);
        assert_eq!(due(&input, NoticeKind::Hhs), None);
        assert_eq!(due(&input, NoticeKind::HhsAnnualLog), Some(d("2027-03-01")));
        let log = deadlines(&input).unwrap().pop().unwrap();
        assert_eq!(log.citation, "45 CFR 164.408(c)");
    }

    #[test]
    fn the_annual_log_is_due_on_29_february_when_the_next_year_is_a_leap_year() {
        assert_eq!(
            due(&covered("2027-06-10", 10, &[]), NoticeKind::HhsAnnualLog),
            Some(d("2028-02-29"))
        );
        // Discovered on the first and the last day of a year: that year's log.
        assert_eq!(
            due(&covered("2027-01-01", 10, &[]), NoticeKind::HhsAnnualLog),
            Some(d("2028-02-29"))
        );
        assert_eq!(
            due(&covered("2026-12-31", 10, &[]), NoticeKind::HhsAnnualLog),
            Some(d("2027-03-01"))
        );
        // A breach of a leap year goes in a log due 1 March of the common year after.
        assert_eq!(
            due(&covered("2028-02-29", 10, &[]), NoticeKind::HhsAnnualLog),
            Some(d("2029-03-01"))
        );
    }

    #[test]
    fn hhs_is_notified_with_the_individuals_from_500_affected() {
        for (total, contemporaneous) in [(499, false), (500, true), (501, true)] {
            let input = covered("2026-01-01", total, &[]);
            assert_eq!(
                due(&input, NoticeKind::Hhs).is_some(),
                contemporaneous,
                "{total} affected"
            );
            assert_eq!(
                due(&input, NoticeKind::HhsAnnualLog).is_none(),
                contemporaneous,
                "{total} affected"
            );
        }
        assert_eq!(
            due(&covered("2026-01-01", 500, &[]), NoticeKind::Hhs),
            due(&covered("2026-01-01", 500, &[]), NoticeKind::Individuals)
        );
    }

    #[test]
    fn media_notice_needs_more_than_500_residents_of_one_state() {
        assert!(
            !kinds(&covered("2026-01-01", 500, &[("MA", 500)]))
                .iter()
                .any(|k| k.0 == NoticeKind::Media)
        );
        assert_eq!(
            kinds(&covered("2026-01-01", 501, &[("MA", 501)])),
            vec![
                (NoticeKind::Individuals, None),
                (NoticeKind::Media, Some("MA".into())),
                (NoticeKind::Hhs, None)
            ]
        );
        // 800 in total but no State above 500: HHS now, no media.
        assert_eq!(
            kinds(&covered("2026-01-01", 800, &[("MA", 400), ("NH", 400)])),
            vec![(NoticeKind::Individuals, None), (NoticeKind::Hhs, None)]
        );
        // One notice per State over the threshold, none for the State under it.
        let input = covered(
            "2026-01-01",
            1_400,
            &[("MA", 501), ("NH", 600), ("RI", 299)],
        );
        assert_eq!(
            kinds(&input),
            vec![
                (NoticeKind::Individuals, None),
                (NoticeKind::Media, Some("MA".into())),
                (NoticeKind::Media, Some("NH".into())),
                (NoticeKind::Hhs, None)
            ]
        );
        assert_eq!(due(&input, NoticeKind::Media), Some(d("2026-03-02")));
        assert_eq!(input.affected.unknown_state(), 0);
    }

    #[test]
    fn counts_by_state_cannot_exceed_the_total() {
        assert_eq!(
            deadlines(&covered("2026-01-01", 10, &[("MA", 11)])),
            Err(ClockError::StatesExceedTotal)
        );
    }

    #[test]
    fn a_business_associate_owes_the_covered_entity_notice_within_sixty_days() {
        let mut input = covered("2026-03-10", 5_000, &[("MA", 5_000)]);
        input.role = Role::BusinessAssociate;
        let all = deadlines(&input).unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].kind, NoticeKind::CoveredEntity);
        assert_eq!(all[0].due_on, d("2026-05-09"));
        assert_eq!(all[0].citation, "45 CFR 164.410(b)");
    }

    #[test]
    fn a_written_statement_pauses_the_clock_for_the_period_it_specifies() {
        let mut input = covered("2026-01-01", 600, &[("MA", 600)]);
        input.delays.push(LawEnforcementDelay {
            stated_on: d("2026-01-11"),
            form: StatementForm::Written {
                until: d("2026-01-20"),
            },
        });
        // Ten days paused (11th to 20th): 2 March becomes 12 March, for every notice.
        for x in deadlines(&input).unwrap() {
            assert_eq!(x.due_on, d("2026-03-12"), "{:?}", x.kind);
            assert_eq!(x.undelayed_due_on, d("2026-03-02"));
            assert!(x.explanation.contains("164.412"), "{}", x.explanation);
        }
    }

    #[test]
    fn an_oral_statement_pauses_the_clock_for_thirty_days_at_most() {
        let mut input = covered("2026-01-01", 3, &[]);
        input.delays.push(LawEnforcementDelay {
            stated_on: d("2026-02-01"),
            form: StatementForm::Oral,
        });
        assert_eq!(due(&input, NoticeKind::Individuals), Some(d("2026-04-01")));
    }

    #[test]
    fn a_written_statement_within_the_thirty_days_takes_over_from_the_oral_one() {
        // Longer: oral on 1 Feb, written on 20 Feb asking until 30 April.
        let mut input = covered("2026-01-01", 3, &[]);
        input.delays = vec![
            LawEnforcementDelay {
                stated_on: d("2026-02-01"),
                form: StatementForm::Oral,
            },
            LawEnforcementDelay {
                stated_on: d("2026-02-20"),
                form: StatementForm::Written {
                    until: d("2026-04-30"),
                },
            },
        ];
        // Paused 1 Feb – 30 Apr = 89 days; 2 March + 89 days = 30 May.
        assert_eq!(due(&input, NoticeKind::Individuals), Some(d("2026-05-30")));

        // Shorter: the written one ends the delay on 5 Feb although the oral allowed 30 days.
        input.delays[1].form = StatementForm::Written {
            until: d("2026-02-05"),
        };
        input.delays[1].stated_on = d("2026-02-03");
        // Paused 1 Feb – 5 Feb = 5 days.
        assert_eq!(due(&input, NoticeKind::Individuals), Some(d("2026-03-07")));
    }

    #[test]
    fn a_written_statement_after_the_oral_delay_lapsed_leaves_the_gap_counted() {
        let mut input = covered("2026-01-01", 3, &[]);
        input.delays = vec![
            LawEnforcementDelay {
                stated_on: d("2026-01-10"),
                form: StatementForm::Oral,
            },
            LawEnforcementDelay {
                stated_on: d("2026-02-15"),
                form: StatementForm::Written {
                    until: d("2026-02-24"),
                },
            },
        ];
        // 30 days (10 Jan – 8 Feb) + 10 days (15 – 24 Feb) = 40 days: 2 March → 11 April.
        assert_eq!(due(&input, NoticeKind::Individuals), Some(d("2026-04-11")));
    }

    #[test]
    fn a_delay_requested_after_the_deadline_passed_does_not_revive_it() {
        let mut input = covered("2026-01-01", 3, &[]);
        input.delays.push(LawEnforcementDelay {
            stated_on: d("2026-03-05"),
            form: StatementForm::Oral,
        });
        assert_eq!(due(&input, NoticeKind::Individuals), Some(d("2026-03-02")));
        // … but a delay starting on the last day pauses it.
        input.delays[0].stated_on = d("2026-03-02");
        assert_eq!(due(&input, NoticeKind::Individuals), Some(d("2026-04-01")));
    }

    #[test]
    fn a_delay_reaching_past_the_year_end_moves_the_annual_log() {
        let mut input = covered("2026-12-01", 20, &[]);
        input.delays.push(LawEnforcementDelay {
            stated_on: d("2026-12-20"),
            form: StatementForm::Written {
                until: d("2027-01-09"),
            },
        });
        // Only the 9 days after 31 December count against the log's clock.
        assert_eq!(due(&input, NoticeKind::HhsAnnualLog), Some(d("2027-03-10")));
        // The individuals' clock loses all 21 days: 30 Jan → 20 Feb.
        assert_eq!(due(&input, NoticeKind::Individuals), Some(d("2027-02-20")));
    }

    #[test]
    fn delays_that_make_no_sense_are_refused() {
        let mut input = covered("2026-01-10", 3, &[]);
        input.delays.push(LawEnforcementDelay {
            stated_on: d("2026-01-15"),
            form: StatementForm::Written {
                until: d("2026-01-14"),
            },
        });
        assert_eq!(
            deadlines(&input),
            Err(ClockError::DelayEndsBeforeStatement {
                stated_on: d("2026-01-15")
            })
        );
        input.delays[0] = LawEnforcementDelay {
            stated_on: d("2026-01-09"),
            form: StatementForm::Oral,
        };
        assert_eq!(
            deadlines(&input),
            Err(ClockError::DelayBeforeDiscovery {
                stated_on: d("2026-01-09")
            })
        );
    }

    #[test]
    fn status_says_overdue_due_soon_upcoming_or_met() {
        let due_on = d("2026-03-02");
        assert_eq!(
            status_of(due_on, d("2026-03-03"), None),
            DeadlineStatus::Overdue { days: 1 }
        );
        assert_eq!(
            status_of(due_on, d("2026-03-02"), None),
            DeadlineStatus::DueSoon { days_left: 0 }
        );
        assert_eq!(
            status_of(due_on, d("2026-02-16"), None),
            DeadlineStatus::DueSoon { days_left: 14 }
        );
        assert_eq!(
            status_of(due_on, d("2026-02-15"), None),
            DeadlineStatus::Upcoming { days_left: 15 }
        );
        assert_eq!(
            status_of(due_on, d("2026-04-01"), Some(d("2026-03-02"))),
            DeadlineStatus::Met {
                on: d("2026-03-02"),
                late: false
            }
        );
        assert_eq!(
            status_of(due_on, d("2026-04-01"), Some(d("2026-03-03"))),
            DeadlineStatus::Met {
                on: d("2026-03-03"),
                late: true
            }
        );
    }

    fn unreachable(total: u64, unreachable: u64) -> ClockInput {
        let mut input = covered("2026-11-27", total, &[]);
        input.affected.unreachable = unreachable;
        input
    }

    #[test]
    fn ten_unreachable_individuals_need_substitute_notice_by_web_or_media() {
        let input = unreachable(40, 10);
        let all = deadlines(&input).unwrap();
        let substitute = all
            .iter()
            .find(|x| x.kind == NoticeKind::SubstituteNotice)
            .expect("10 unreachable: substitute notice");
        assert_eq!(
            substitute.due_on,
            d("2027-01-26"),
            "within the same 60 days"
        );
        assert_eq!(substitute.citation, "45 CFR 164.404(d)(2)(ii)");
        assert!(substitute.explanation.contains("toll-free number"));
        assert!(substitute.explanation.contains("90 days"));
        assert!(!all.iter().any(|x| x.kind == NoticeKind::AlternativeNotice));
        // Posted on 1 December: up, with the number answered, through 1 March.
        assert_eq!(
            posting_window(NoticeKind::SubstituteNotice, d("2026-12-01")),
            Some((d("2026-12-01"), d("2027-03-01")))
        );
    }

    #[test]
    fn nine_unreachable_individuals_get_alternative_written_notice_or_a_call() {
        let all = deadlines(&unreachable(40, 9)).unwrap();
        let alternative = all
            .iter()
            .find(|x| x.kind == NoticeKind::AlternativeNotice)
            .expect("9 unreachable: alternative notice");
        assert_eq!(alternative.citation, "45 CFR 164.404(d)(2)(i)");
        assert!(alternative.explanation.contains("telephone"));
        assert!(!all.iter().any(|x| x.kind == NoticeKind::SubstituteNotice));
        assert_eq!(
            posting_window(NoticeKind::AlternativeNotice, d("2026-12-01")),
            None,
            "nothing to keep posted"
        );
        let none = kinds(&unreachable(40, 0));
        assert!(
            !none.iter().any(|(k, _)| matches!(
                k,
                NoticeKind::SubstituteNotice | NoticeKind::AlternativeNotice
            )),
            "everyone reachable: no substitute notice"
        );
        assert_eq!(
            deadlines(&unreachable(5, 6)),
            Err(ClockError::UnreachableExceedTotal)
        );
    }

    #[test]
    fn a_law_enforcement_delay_moves_the_substitute_notice_with_the_individuals() {
        let mut input = unreachable(40, 12);
        input.delays.push(LawEnforcementDelay {
            stated_on: d("2026-11-28"),
            form: StatementForm::Written {
                until: d("2026-12-07"),
            },
        });
        assert_eq!(
            due(&input, NoticeKind::SubstituteNotice),
            due(&input, NoticeKind::Individuals)
        );
        assert_eq!(
            due(&input, NoticeKind::SubstituteNotice),
            Some(d("2027-02-05"))
        );
    }
}
