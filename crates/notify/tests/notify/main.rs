//! End-to-end tests of notifications against real receivers on loopback: an HTTP receiver
//! that verifies webhook signatures, aiosmtpd with STARTTLS, a TLS syslog collector whose
//! CEF is parsed back by Ward's own CEF decoder. Scheduling (retries, escalation, quiet hours,
//! digests) is driven by the instant handed to `pump`, never by sleeping.

mod delivery;
mod escalation;
mod masking;
mod smtp;
mod support;
mod syslog;
mod webhook;
