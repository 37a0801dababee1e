//! Who is on call at an instant, and in what order to escalate. One rotation: the people in
//! order, each on for `rotation_days` from the handoff time (local wall-clock time in the
//! site's zone, so a shift that spans a daylight saving change still hands off at its hour),
//! starting with `people[0]` on `start`; an override puts someone else first for a while.
//! Escalation goes from whoever is first down the rotation order, each person once.

use crate::config::{OnCallConfig, Person, Zone};
use ward_model::Timestamp;

pub struct Schedule<'a> {
    config: &'a OnCallConfig,
    zone: Zone,
}

impl<'a> Schedule<'a> {
    pub fn new(config: &'a OnCallConfig, zone: Zone) -> Self {
        Schedule { config, zone }
    }

    /// The index in `people` of whoever the rotation puts on call at `now`: local handoffs
    /// passed since the first, divided into shifts.
    pub fn rotation_index(&self, now: Timestamp) -> usize {
        let local = self.zone.local(now);
        let mut days = (local.date() - self.config.start).num_days();
        if local.time() < self.config.handoff.0 {
            days -= 1;
        }
        let shift = days.div_euclid(i64::from(self.config.rotation_days.max(1)));
        let n = self.config.people.len().max(1) as i64;
        shift.rem_euclid(n) as usize
    }

    /// Who to page at `now`, first to last: the override's person if one is in force, then
    /// the rotation from its current person on, each person once.
    pub fn order(&self, now: Timestamp) -> Vec<&'a Person> {
        let people = &self.config.people;
        let mut order: Vec<&'a Person> = Vec::with_capacity(people.len());
        if let Some(o) = self
            .config
            .overrides
            .iter()
            .find(|o| o.from <= now && now < o.until)
            && let Some(p) = people.iter().find(|p| p.name == o.person)
        {
            order.push(p);
        }
        let first = self.rotation_index(now);
        for i in 0..people.len() {
            let p = &people[(first + i) % people.len()];
            if !order.iter().any(|q| q.name == p.name) {
                order.push(p);
            }
        }
        order
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::NotifyConfig;

    fn config() -> NotifyConfig {
        NotifyConfig::from_toml(
            r#"
            utc_offset = "-05:00"
            [channels.mail]
            kind = "email"
            server = "smtp.example"
            from = "ward@example.org"
            [oncall]
            start = "2026-01-05"
            handoff = "08:00"
            people = [
                { name = "alice", channel = "mail", address = "alice@example.org" },
                { name = "bob", channel = "mail", address = "bob@example.org" },
                { name = "carol", channel = "mail", address = "carol@example.org" },
            ]
            overrides = [
                { person = "carol", from = "2026-01-07T00:00:00Z", until = "2026-01-08T00:00:00Z" },
            ]
            "#,
        )
        .unwrap()
    }

    fn names(order: Vec<&Person>) -> Vec<&str> {
        order.into_iter().map(|p| p.name.as_str()).collect()
    }

    #[test]
    fn weekly_handoff_happens_at_local_time() {
        let c = config();
        let s = Schedule::new(c.oncall.as_ref().unwrap(), c.zone());
        // 08:00 at -05:00 is 13:00 UTC.
        let handoff = Timestamp::parse("2026-01-12T13:00:00Z").unwrap();
        assert_eq!(s.rotation_index(Timestamp(handoff.0 - 1)), 0);
        assert_eq!(s.rotation_index(handoff), 1);
        assert_eq!(
            s.rotation_index(Timestamp::parse("2026-01-19T13:00:00Z").unwrap()),
            2
        );
        assert_eq!(
            s.rotation_index(Timestamp::parse("2026-01-26T13:00:00Z").unwrap()),
            0
        );
        // Before the first shift the rotation runs backwards consistently.
        assert_eq!(
            s.rotation_index(Timestamp::parse("2026-01-05T12:59:59Z").unwrap()),
            2
        );
    }

    #[test]
    fn handoffs_follow_daylight_saving_time_in_a_named_zone() {
        let mut c = config();
        c.time_zone = Some(crate::config::TimeZone("America/New_York".parse().unwrap()));
        // Daily shifts starting 2026-03-06. The clocks go forward on Sunday 2026-03-08:
        // 08:00 is 13:00 UTC (EST) on the Saturday and 12:00 UTC (EDT) on the Sunday.
        let mut oncall = c.oncall.clone().unwrap();
        oncall.start = chrono::NaiveDate::from_ymd_opt(2026, 3, 6).unwrap();
        oncall.rotation_days = 1;
        let s = Schedule::new(&oncall, c.zone());
        let at = |t: &str| s.rotation_index(Timestamp::parse(t).unwrap());
        assert_eq!(at("2026-03-07T12:59:59Z"), 0);
        assert_eq!(at("2026-03-07T13:00:00Z"), 1);
        assert_eq!(at("2026-03-08T11:59:59Z"), 1);
        assert_eq!(
            at("2026-03-08T12:00:00Z"),
            2,
            "08:00 EDT, an hour earlier in UTC"
        );
        // A fixed offset would have kept handing off at 13:00 UTC.
        let fixed = Schedule::new(&oncall, c_fixed());
        assert_eq!(
            fixed.rotation_index(Timestamp::parse("2026-03-08T12:00:00Z").unwrap()),
            1
        );
    }

    fn c_fixed() -> crate::config::Zone {
        config().zone()
    }

    #[test]
    fn overrides_go_first_and_escalation_follows_the_rotation() {
        let c = config();
        let s = Schedule::new(c.oncall.as_ref().unwrap(), c.zone());
        let during = Timestamp::parse("2026-01-07T12:00:00Z").unwrap();
        assert_eq!(names(s.order(during)), ["carol", "alice", "bob"]);
        let after = Timestamp::parse("2026-01-08T00:00:00Z").unwrap();
        assert_eq!(names(s.order(after)), ["alice", "bob", "carol"]);
    }
}
