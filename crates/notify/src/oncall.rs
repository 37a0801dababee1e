//! Who is on call at an instant, and in what order to escalate. One rotation: the people in
//! order, each on for `rotation_days` from the handoff time (local, at the configured fixed
//! UTC offset), starting with `people[0]` on `start`; an override puts someone else first for
//! a while. Escalation goes from whoever is first down the rotation order, each person once.

use crate::config::{OnCallConfig, Person, UtcOffset};
use ward_model::Timestamp;

const DAY_MS: i64 = 86_400_000;

pub struct Schedule<'a> {
    config: &'a OnCallConfig,
    offset: UtcOffset,
}

impl<'a> Schedule<'a> {
    pub fn new(config: &'a OnCallConfig, offset: UtcOffset) -> Self {
        Schedule { config, offset }
    }

    /// The instant the first shift began (its handoff, converted from local time to UTC).
    fn epoch(&self) -> i64 {
        let local = self.config.start.and_time(self.config.handoff.0).and_utc();
        local.timestamp_millis() - self.offset.seconds() * 1000
    }

    /// The index in `people` of whoever the rotation puts on call at `now`.
    pub fn rotation_index(&self, now: Timestamp) -> usize {
        let shift_ms = i64::from(self.config.rotation_days) * DAY_MS;
        let shift = (now.millis() - self.epoch()).div_euclid(shift_ms);
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
        let s = Schedule::new(c.oncall.as_ref().unwrap(), c.utc_offset);
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
    fn overrides_go_first_and_escalation_follows_the_rotation() {
        let c = config();
        let s = Schedule::new(c.oncall.as_ref().unwrap(), c.utc_offset);
        let during = Timestamp::parse("2026-01-07T12:00:00Z").unwrap();
        assert_eq!(names(s.order(during)), ["carol", "alice", "bob"]);
        let after = Timestamp::parse("2026-01-08T00:00:00Z").unwrap();
        assert_eq!(names(s.order(after)), ["alice", "bob", "carol"]);
    }
}
