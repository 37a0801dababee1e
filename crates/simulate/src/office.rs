//! The office side of a normal day: e-mail and cloud sign-ins. Everyone on duty signs in to
//! Microsoft 365 from their workstation soon after arriving (now and then after a mistyped
//! password); clinic physicians open the telehealth app; some physicians and HIM staff use the
//! portal or telehealth from home in the evening with an authenticator push (which they
//! sometimes miss once). Colleagues exchange memos; the laboratory sends requisitions to the
//! reference lab, billing and HIM send prior authorisations to the insurer (legitimate PHI to
//! business associates), pharmacists order from their supplier, IT and radiology deal with
//! their vendors, and partners write back (with a link to their portal, which the recipient
//! often opens: [`crate::web::follow_link`]); subscribers receive newsletters with links early
//! each morning.
//!
//! Like `infra`, it produces compact records ([`Signals`]) from its own random streams, one per
//! (staff member, day) and per (newsletter, day), so it never shifts anything else's numbers.

use crate::directory::{EHR_VENDOR, HOSPITAL_EGRESS, IMAGING, INSURER, LAB, NEWSLETTERS, PHARMACY};
use crate::entra::{App, Device, Outcome, SignIn};
use crate::infra::home_ip;
use crate::mail::{Mail, Party, Topic};
use crate::org::{DAY, DeptKind, Employment, HOUR, MINUTE, Org, Role};
use crate::rng::{Rng, mix_all};
use crate::signal::Signals;

/// Writes one day's normal mail and sign-ins into `out`.
pub fn day(org: &Org, day: u32, out: &mut Signals) {
    let day_start = org.start + day as i64 * DAY;
    for staff in 0..org.staff.len() as u32 {
        let st = &org.staff[staff as usize];
        if st.employment != Employment::Active {
            continue;
        }
        if let Some(duty) = org.duty(staff, day) {
            let mut rng = Rng::stream(org.seed, &[0x0FF1CE, staff as u64, day as u64]);
            at_work(org, staff, duty, day, &mut rng, out);
        }
        let mut rng = Rng::stream(org.seed, &[0x40E, staff as u64, day as u64]);
        from_home(org, staff, day_start, &mut rng, out);
    }
    newsletters(org, day, day_start, out);
}

#[allow(clippy::too_many_arguments)]
fn sign_in(
    out: &mut Signals,
    t: i64,
    rng: &mut Rng,
    staff: u32,
    app: App,
    ip: crate::signal::Ip,
    outcome: Outcome,
    device: Device,
) {
    out.sign_in(
        t,
        SignIn {
            id: rng.next_u64(),
            staff,
            app,
            ip,
            place: 0,
            outcome,
            device,
        },
    );
}

fn at_work(
    org: &Org,
    staff: u32,
    duty: crate::org::Duty,
    day: u32,
    rng: &mut Rng,
    out: &mut Signals,
) {
    let st = &org.staff[staff as usize];
    let ws = Device::Workstation(duty.ws);
    let mut t = duty.start + rng.range(MINUTE, 6 * MINUTE);
    if rng.chance(0.03) {
        sign_in(
            out,
            t,
            rng,
            staff,
            App::Outlook,
            HOSPITAL_EGRESS,
            Outcome::BadPassword,
            ws,
        );
        t += rng.range(10_000, 60_000);
    }
    sign_in(
        out,
        t,
        rng,
        staff,
        App::Outlook,
        HOSPITAL_EGRESS,
        Outcome::Success,
        ws,
    );
    if rng.chance(0.3) {
        let at = rng.range(t + MINUTE, duty.end.max(t + 2 * MINUTE));
        sign_in(
            out,
            at,
            rng,
            staff,
            App::Teams,
            HOSPITAL_EGRESS,
            Outcome::Success,
            ws,
        );
    }
    let dept = org.dept_of(staff);
    if st.role == Role::Physician && dept.kind == DeptKind::Clinic && rng.chance(0.5) {
        let at = rng.range(t + MINUTE, duty.end.max(t + 2 * MINUTE));
        sign_in(
            out,
            at,
            rng,
            staff,
            App::Telehealth,
            HOSPITAL_EGRESS,
            Outcome::Success,
            ws,
        );
    }

    let id = |k: u64| mix_all(org.seed, &[0x3A11, staff as u64, day as u64, k]);
    let during =
        |rng: &mut Rng| rng.range(t + 5 * MINUTE, (duty.end - 10 * MINUTE).max(t + 6 * MINUTE));
    // Memos to colleagues of the department.
    let colleagues: Vec<u32> = dept
        .staff
        .iter()
        .copied()
        .filter(|&c| c != staff && org.staff[c as usize].employment == Employment::Active)
        .collect();
    if !colleagues.is_empty() {
        for k in 0..rng.below(3) {
            let mut mail = Mail::new(
                id(k),
                Party::Staff(staff),
                Party::Staff(*rng.pick(&colleagues)),
                Topic::Memo,
            );
            if rng.chance(0.3) {
                let cc = *rng.pick(&colleagues);
                if Party::Staff(cc) != mail.to {
                    mail.cc[0] = Some(Party::Staff(cc));
                }
            }
            out.mail(during(rng), mail);
        }
    }
    // Business with partners.
    let contact = |partner: u8| Party::Partner(partner, partner as u32 * 16 + staff % 4);
    let mut business = |rng: &mut Rng, k: u64, partner: u8, outbound: bool, phi: u8, pdf: bool| {
        let (from, to) = if outbound {
            (Party::Staff(staff), contact(partner))
        } else {
            (contact(partner), Party::Staff(staff))
        };
        let topic = if phi > 0 {
            Topic::PartnerPhi
        } else {
            Topic::Business
        };
        let mut mail = Mail::new(id(k), from, to, topic);
        mail.patients = phi;
        mail.attachment = pdf;
        let at = during(rng);
        out.mail(at, mail);
        // Some open the portal link of a partner's message a few minutes later.
        let mut web = Rng::stream(org.seed, &[0x11C4, staff as u64, day as u64, k]);
        if !outbound && web.chance(0.6) {
            let opened = at + web.range(MINUTE, 20 * MINUTE);
            if opened < duty.end {
                let me = crate::signal::parse_ip(&org.assets[duty.ws as usize].ip);
                crate::web::follow_link(out, &mut web, opened, me, &mail);
            }
        }
    };
    let billing = matches!(dept.code, "BILL" | "REG") || st.role == Role::Him;
    match st.role {
        Role::Lab => {
            if rng.chance(0.4) {
                business(rng, 10, LAB, true, 1, false);
            }
            if rng.chance(0.3) {
                business(rng, 11, LAB, false, 0, false);
            }
        }
        Role::Pharmacist => {
            if rng.chance(0.4) {
                let pdf = rng.chance(0.5);
                business(rng, 12, PHARMACY, true, 0, pdf);
            }
            if rng.chance(0.3) {
                let pdf = rng.chance(0.5);
                business(rng, 13, PHARMACY, false, 0, pdf);
            }
        }
        Role::Radiology if rng.chance(0.15) => business(rng, 14, IMAGING, false, 0, false),
        Role::It => {
            if rng.chance(0.3) {
                business(rng, 15, EHR_VENDOR, true, 0, false);
            }
            if rng.chance(0.3) {
                business(rng, 16, EHR_VENDOR, false, 0, false);
            }
        }
        _ if billing => {
            if rng.chance(0.3) {
                let n = 1 + rng.below(2) as u8;
                business(rng, 17, INSURER, true, n, false);
            }
            if rng.chance(0.3) {
                let pdf = rng.chance(0.6);
                business(rng, 18, INSURER, false, 0, pdf);
            }
        }
        _ => {}
    }
}

/// Evening portal and telehealth use from home, with an authenticator push.
fn from_home(org: &Org, staff: u32, day_start: i64, rng: &mut Rng, out: &mut Signals) {
    let st = &org.staff[staff as usize];
    if !matches!(st.role, Role::Physician | Role::Him) || !rng.chance(0.12) {
        return;
    }
    let mut t = day_start + rng.range(18 * HOUR, 23 * HOUR);
    let home = home_ip(org, staff);
    let app = if st.role == Role::Physician && rng.chance(0.5) {
        App::Telehealth
    } else {
        App::Portal
    };
    let device = if app == App::Telehealth && rng.chance(0.4) {
        Device::Phone
    } else {
        Device::HomePc
    };
    if rng.chance(0.08) {
        sign_in(out, t, rng, staff, app, home, Outcome::PushDenied, device);
        t += rng.range(30_000, 120_000);
    }
    sign_in(out, t, rng, staff, app, home, Outcome::PushApproved, device);
}

/// Each newsletter goes to its subscribers (a quarter of active staff, fixed per person) early
/// in the morning, one message a recipient.
fn newsletters(org: &Org, day: u32, day_start: i64, out: &mut Signals) {
    for (i, _) in NEWSLETTERS.iter().enumerate() {
        let mut rng = Rng::stream(org.seed, &[0x2E75, i as u64, day as u64]);
        let mut t = day_start + 5 * HOUR + i as i64 * 40 * MINUTE + rng.range(0, 10 * MINUTE);
        for staff in 0..org.staff.len() as u32 {
            if org.staff[staff as usize].employment != Employment::Active
                || !mix_all(org.seed, &[0x5B5C, i as u64, staff as u64]).is_multiple_of(4)
            {
                continue;
            }
            t += rng.range(200, 3_000);
            let id = mix_all(org.seed, &[0x2E75, i as u64, day as u64, staff as u64]);
            out.mail(
                t,
                Mail::new(
                    id,
                    Party::Newsletter(i as u8),
                    Party::Staff(staff),
                    Topic::Newsletter,
                ),
            );
        }
    }
}
