//! Staff on the web from their workstations, as far as clear-text HTTP shows it to Zeek: each
//! Windows workstation probes for internet access when its user logs on (NCSI), fetches the
//! certificate trust list and asks OCSP responders about certificates, and some people type a
//! site's name and are redirected to its HTTPS address. Staff also follow the links in their
//! mail: a partner's message links to its customer portal, and some recipients open it
//! minutes later ([`follow_link`]), which the threat detectors must see as ordinary.
//!
//! Like `infra` and `office`, it produces compact records ([`Signals`]) from its own random
//! streams, one per (staff member, day) and per message followed, so it never shifts anything
//! else's numbers. Nothing here does IO.

use crate::mail::{Mail, link_of};
use crate::org::{Employment, MINUTE, Org};
use crate::rng::Rng;
use crate::signal::{DNS_SERVER, Http, Ip, Name, Signals, Site, ip, parse_ip};

/// The browser staff use (Edge on Windows 11).
pub const BROWSER: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 Edg/130.0.2849.68";
const NCSI: &str = "Microsoft NCSI";
const CRYPTO_API: &str = "Microsoft-CryptoAPI/10.0";

/// Sites people type without `https://`: the first request is clear text and is redirected.
const TYPED: [(&str, Ip); 6] = [
    ("www.cdc.gov", ip(23, 58, 226, 98)),
    ("www.fda.gov", ip(23, 47, 203, 125)),
    ("www.uptodate.com", ip(104, 18, 22, 75)),
    ("www.drugs.com", ip(104, 18, 30, 215)),
    ("www.medscape.com", ip(23, 215, 102, 40)),
    ("www.weather.gov", ip(23, 56, 13, 170)),
];

const NCSI_SITE: (&str, &str, Ip) = (
    "www.msftconnecttest.com",
    "/connecttest.txt",
    ip(13, 107, 4, 52),
);
const TRUST_LIST: (&str, &str, Ip) = (
    "ctldl.windowsupdate.com",
    "/msdownload/update/v3/static/trustedr/en/disallowedcertstl.cab",
    ip(23, 32, 238, 201),
);
const OCSP: (&str, Ip) = ("ocsp.digicert.com", ip(192, 229, 211, 108));

/// One day's background web traffic of everyone on duty.
pub fn day(org: &Org, day: u32, out: &mut Signals) {
    for staff in 0..org.staff.len() as u32 {
        if org.staff[staff as usize].employment != Employment::Active {
            continue;
        }
        let Some(duty) = org.duty(staff, day) else {
            continue;
        };
        let mut rng = Rng::stream(org.seed, &[0x3EB, staff as u64, day as u64]);
        let me = parse_ip(&org.assets[duty.ws as usize].ip);
        let t = duty.start + rng.range(5_000, 60_000);
        let (host, uri, addr) = NCSI_SITE;
        let mut probe = get(&mut rng, me, Site::Fixed { host, uri }, addr, NCSI);
        (probe.status, probe.response_len, probe.mime) = (200, 22, "text/plain");
        out.http(t, probe, rng.range(30, 400));
        if rng.chance(0.5) {
            let (host, uri, addr) = TRUST_LIST;
            let mut list = get(&mut rng, me, Site::Fixed { host, uri }, addr, CRYPTO_API);
            list.status = 304;
            out.http(t + rng.range(MINUTE, 10 * MINUTE), list, rng.range(30, 400));
        }
        for _ in 0..1 + rng.below(4) {
            let at = rng.range(t, duty.end.max(t + 1));
            let (host, addr) = OCSP;
            let mut ocsp = get(
                &mut rng,
                me,
                Site::Fixed { host, uri: "/" },
                addr,
                CRYPTO_API,
            );
            ocsp.method = "POST";
            ocsp.request_len = 83;
            ocsp.response_len = 471 + rng.below(2) as u32 * 1_298;
            ocsp.mime = "application/ocsp-response";
            out.http(at, ocsp, rng.range(20, 200));
        }
        if rng.chance(0.3) {
            for _ in 0..1 + rng.below(2) {
                let (host, addr) = *rng.pick(&TYPED);
                let at = rng.range(t, duty.end.max(t + 1));
                let mut typed = get(&mut rng, me, Site::Fixed { host, uri: "/" }, addr, BROWSER);
                typed.status = 301;
                out.http(at, typed, rng.range(30, 400));
            }
        }
    }
}

/// A `GET` from `me` answered `200` without a body; the caller sets what differs.
fn get(rng: &mut Rng, me: Ip, site: Site, resp: Ip, user_agent: &'static str) -> Http {
    Http {
        uid: rng.next_u64(),
        orig: me,
        orig_p: 49_152 + rng.below(16_000) as u16,
        resp,
        method: "GET",
        site,
        user_agent,
        request_len: 0,
        status: 200,
        response_len: 0,
        mime: "",
    }
}

/// The recipient of `mail` at workstation address `me` opens its link at `at`: the browser
/// looks the host up and fetches the page. Nothing when the message carries no link.
pub fn follow_link(out: &mut Signals, rng: &mut Rng, at: i64, me: Ip, mail: &Mail) {
    let Some((host, addr)) = link_host(mail) else {
        return;
    };
    out.lookup(
        at,
        rng.next_u64(),
        me,
        DNS_SERVER,
        Name::Fixed(host),
        Some(addr),
    );
    let site = Site::MailLink {
        from: mail.from,
        topic: mail.topic,
        mail: mail.id,
        suffix: "",
    };
    let mut page = get(rng, me, site, addr, BROWSER);
    page.response_len = 4_000 + rng.below(30_000) as u32;
    page.mime = "text/html";
    out.http(at + 150, page, rng.range(100, 2_000));
}

/// The host a message's link points to and its address.
pub fn link_host(mail: &Mail) -> Option<(&'static str, Ip)> {
    use crate::directory::{NEW_SENDERS, PARTNERS};
    use crate::mail::Party;
    link_of(mail.from, mail.topic, mail.id)?;
    match mail.from {
        Party::Partner(i, _) => {
            let p = &PARTNERS[i as usize];
            Some((p.portal, p.portal_ip))
        }
        Party::Stranger(i) => {
            let n = &NEW_SENDERS[i as usize];
            Some((n.web_host, n.web_ip))
        }
        _ => None,
    }
}
