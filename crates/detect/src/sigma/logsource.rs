//! Which events a rule's `logsource` selects, and where a Sigma field name is read from.
//!
//! The routing table, for Windows events (`metadata.product == "windows"`, whether decoded from
//! JSON or EVTX):
//!
//! | logsource | events |
//! | --- | --- |
//! | `product: windows` | every Windows event |
//! | `service: X` | `unmapped.Channel` equal to the channel in [`SERVICES`] |
//! | `category: process_creation` | Sysmon EventID 1, or Security EventID 4688 |
//! | other `category` | the channel and EventIDs in [`CATEGORIES`] (Sysmon's numbering) |
//!
//! Ward's own sources (the healthcare pack's logsources) are routed by the decoder that read
//! the event (`metadata.product`), optionally narrowed by `category` to OCSF classes and by
//! `service` to a sub-source:
//!
//! | logsource | events |
//! | --- | --- |
//! | `product: P` for P in [`PRODUCTS`] | events whose decoder is the one named there |
//! | `category: C` for C in [`WARD_CATEGORIES`] | those of the OCSF classes listed (`audit`: all) |
//! | `service: S` (zeek, authlog, aws only) | zeek: the log (`metadata.event_code`: conn, dns, ssl …); authlog: the program (`actor.app_name`: sshd, sudo); aws: `cloudtrail` |
//!
//! Any other product, service or category routes to nothing: the rule loads but matches no
//! event, and [`Route::Nothing`] says why, for `ward rules validate` to report. Field names are
//! not renamed between Sysmon and Security (4688 writes `NewProcessName`, Sysmon `Image`); a
//! field mapping per source is still to come.

use super::LogSource;
use ward_model::{Event, FIELDS, FieldValue};

const SYSMON: &str = "Microsoft-Windows-Sysmon/Operational";
const POWERSHELL: &str = "Microsoft-Windows-PowerShell/Operational";
const POWERSHELL_CLASSIC: &str = "Windows PowerShell";

/// `service` → Windows channel.
pub const SERVICES: &[(&str, &str)] = &[
    ("security", "Security"),
    ("system", "System"),
    ("application", "Application"),
    ("sysmon", SYSMON),
    ("powershell", POWERSHELL),
    ("powershell-classic", POWERSHELL_CLASSIC),
    (
        "taskscheduler",
        "Microsoft-Windows-TaskScheduler/Operational",
    ),
    ("wmi", "Microsoft-Windows-WMI-Activity/Operational"),
    (
        "windefend",
        "Microsoft-Windows-Windows Defender/Operational",
    ),
    ("bits-client", "Microsoft-Windows-Bits-Client/Operational"),
    (
        "codeintegrity-operational",
        "Microsoft-Windows-CodeIntegrity/Operational",
    ),
    (
        "firewall-as",
        "Microsoft-Windows-Windows Firewall With Advanced Security/Firewall",
    ),
    ("dns-server", "DNS Server"),
    (
        "driver-framework",
        "Microsoft-Windows-DriverFrameworks-UserMode/Operational",
    ),
    ("ntlm", "Microsoft-Windows-NTLM/Operational"),
    ("applocker", "Microsoft-Windows-AppLocker/EXE and DLL"),
    ("msexchange-management", "MSExchange Management"),
    ("printservice-admin", "Microsoft-Windows-PrintService/Admin"),
    (
        "printservice-operational",
        "Microsoft-Windows-PrintService/Operational",
    ),
    (
        "terminalservices-localsessionmanager",
        "Microsoft-Windows-TerminalServices-LocalSessionManager/Operational",
    ),
    ("smbclient-security", "Microsoft-Windows-SmbClient/Security"),
    (
        "appxdeployment-server",
        "Microsoft-Windows-AppXDeploymentServer/Operational",
    ),
    ("dhcp", "Microsoft-Windows-DHCP-Server/Operational"),
    ("capi2", "Microsoft-Windows-CAPI2/Operational"),
    (
        "certificateservicesclient-lifecycle-system",
        "Microsoft-Windows-CertificateServicesClient-Lifecycle-System/Operational",
    ),
    ("openssh", "OpenSSH/Operational"),
    (
        "diagnosis-scripted",
        "Microsoft-Windows-Diagnosis-Scripted/Operational",
    ),
    ("shell-core", "Microsoft-Windows-Shell-Core/Operational"),
    ("ldap", "Microsoft-Windows-LDAP-Client/Debug"),
    (
        "security-mitigations",
        "Microsoft-Windows-Security-Mitigations/Kernel Mode",
    ),
    ("lsa-server", "Microsoft-Windows-LSA/Operational"),
    ("vhdmp", "Microsoft-Windows-VHDMP/Operational"),
    (
        "appmodel-runtime",
        "Microsoft-Windows-AppModel-Runtime/Admin",
    ),
    ("hyper-v-worker", "Microsoft-Windows-Hyper-V-Worker"),
    (
        "kernel-shimengine",
        "Microsoft-Windows-Kernel-ShimEngine/Operational",
    ),
];

/// Events of one channel with one of these EventIDs.
pub type ChannelEvents = (&'static str, &'static [i64]);

/// `category` → the [`ChannelEvents`] alternatives it selects.
pub const CATEGORIES: &[(&str, &[ChannelEvents])] = &[
    ("process_creation", &[(SYSMON, &[1]), ("Security", &[4688])]),
    ("network_connection", &[(SYSMON, &[3])]),
    ("sysmon_status", &[(SYSMON, &[4, 16])]),
    ("process_termination", &[(SYSMON, &[5])]),
    ("driver_load", &[(SYSMON, &[6])]),
    ("image_load", &[(SYSMON, &[7])]),
    ("create_remote_thread", &[(SYSMON, &[8])]),
    ("raw_access_thread", &[(SYSMON, &[9])]),
    ("raw_access_read", &[(SYSMON, &[9])]),
    ("process_access", &[(SYSMON, &[10])]),
    ("file_event", &[(SYSMON, &[11])]),
    ("registry_add", &[(SYSMON, &[12])]),
    ("registry_delete", &[(SYSMON, &[12])]),
    ("registry_set", &[(SYSMON, &[13])]),
    ("registry_rename", &[(SYSMON, &[14])]),
    ("registry_event", &[(SYSMON, &[12, 13, 14])]),
    ("create_stream_hash", &[(SYSMON, &[15])]),
    ("pipe_created", &[(SYSMON, &[17, 18])]),
    ("wmi_event", &[(SYSMON, &[19, 20, 21])]),
    ("dns_query", &[(SYSMON, &[22])]),
    ("file_delete", &[(SYSMON, &[23, 26])]),
    ("clipboard_capture", &[(SYSMON, &[24])]),
    ("process_tampering", &[(SYSMON, &[25])]),
    ("file_block_executable", &[(SYSMON, &[27])]),
    ("file_block_shredding", &[(SYSMON, &[28])]),
    ("file_executable_detected", &[(SYSMON, &[29])]),
    ("sysmon_error", &[(SYSMON, &[255])]),
    ("ps_module", &[(POWERSHELL, &[4103])]),
    ("ps_script", &[(POWERSHELL, &[4104])]),
    ("ps_classic_start", &[(POWERSHELL_CLASSIC, &[400])]),
    ("ps_classic_provider_start", &[(POWERSHELL_CLASSIC, &[600])]),
    ("ps_classic_script", &[(POWERSHELL_CLASSIC, &[800])]),
];

/// Sigma `product` → the name of the Ward decoder whose events it selects.
pub const PRODUCTS: &[(&str, &str)] = &[
    ("fhir", "fhir"),
    ("atna", "atna"),
    ("hl7", "hl7"),
    ("authlog", "authlog"),
    ("zeek", "zeek"),
    ("entra", "entra"),
    ("okta", "okta"),
    ("m365", "m365-trace"),
    ("email", "email"),
    ("postfix", "postfix"),
    ("syslog", "syslog"),
    ("cef", "cef"),
    ("leef", "leef"),
    ("aws", "cloudtrail"),
];

/// `category` of a Ward product → the OCSF classes it selects (none listed: every event).
pub const WARD_CATEGORIES: &[(&str, &[u32])] = &[
    ("audit", &[]),
    ("authentication", &[3002]),
    ("account_change", &[3001]),
    ("process_creation", &[1007]),
    ("network_connection", &[4001]),
    ("http", &[4002]),
    ("dns", &[4003]),
    ("email", &[4009]),
    ("api_activity", &[6003]),
];

/// Products whose `service` names a sub-source, and the event field that holds it.
pub const SERVICE_FIELDS: &[(&str, &str)] = &[
    ("zeek", "metadata.event_code"),
    ("authlog", "actor.app_name"),
    // `product: aws, service: cloudtrail`: the one AWS service Ward reads.
    ("cloudtrail", "metadata.product"),
];

/// The events a logsource selects, resolved once per rule.
#[derive(Debug, Clone, PartialEq)]
pub enum Route {
    /// Windows events, optionally narrowed to a channel and to channel/EventID alternatives.
    Windows {
        channel: Option<&'static str>,
        kinds: &'static [ChannelEvents],
    },
    /// Events of one of Ward's decoders, optionally narrowed to OCSF classes and a service.
    Product {
        decoder: &'static str,
        classes: &'static [u32],
        /// The field naming the sub-source and the value it must have (case-insensitive).
        service: Option<(&'static str, String)>,
    },
    /// No decoder produces these events yet; the reason names the logsource.
    Nothing(String),
}

impl Route {
    pub fn of(source: &LogSource) -> Route {
        let nothing = |what: String| Route::Nothing(format!("no events for {what}"));
        match source.product.as_deref() {
            Some("windows") => {}
            Some(other) => match PRODUCTS.iter().find(|(name, _)| *name == other) {
                Some((name, decoder)) => return Route::ward_product(name, decoder, source),
                None => return nothing(format!("product `{other}`")),
            },
            None => return nothing("a logsource without product".into()),
        }
        let channel = match source.service.as_deref() {
            None => None,
            Some(s) => match SERVICES.iter().find(|(name, _)| *name == s) {
                Some((_, c)) => Some(*c),
                None => return nothing(format!("service `{s}`")),
            },
        };
        let kinds: &'static [ChannelEvents] = match source.category.as_deref() {
            None => &[],
            Some(c) => match CATEGORIES.iter().find(|(name, _)| *name == c) {
                Some((_, kinds)) => kinds,
                None => return nothing(format!("category `{c}`")),
            },
        };
        Route::Windows { channel, kinds }
    }

    fn ward_product(product: &str, decoder: &'static str, source: &LogSource) -> Route {
        let classes: &'static [u32] = match source.category.as_deref() {
            None => &[],
            Some(c) => match WARD_CATEGORIES.iter().find(|(name, _)| *name == c) {
                Some((_, classes)) => classes,
                None => {
                    return Route::Nothing(format!(
                        "no events for category `{c}` of product `{product}`"
                    ));
                }
            },
        };
        let service = match source.service.as_deref() {
            None => None,
            Some(s) => match SERVICE_FIELDS.iter().find(|(p, _)| *p == decoder) {
                Some((_, field)) => Some((*field, s.to_string())),
                None => {
                    return Route::Nothing(format!(
                        "no events for service `{s}` of product `{product}`"
                    ));
                }
            },
        };
        Route::Product {
            decoder,
            classes,
            service,
        }
    }

    pub fn selects(&self, event: &Event) -> bool {
        if let Route::Product {
            decoder,
            classes,
            service,
        } = self
        {
            return event.metadata.product == *decoder
                && (classes.is_empty() || classes.contains(&event.class_uid))
                && service.as_ref().is_none_or(|(field, value)| {
                    event
                        .field(field)
                        .is_some_and(|v| v.to_text().eq_ignore_ascii_case(value))
                });
        }
        let Route::Windows { channel, kinds } = self else {
            return false;
        };
        if event.metadata.product != "windows" {
            return false;
        }
        let event_channel = match event.unmapped.get("Channel") {
            Some(serde_json::Value::String(c)) => c.as_str(),
            _ => "",
        };
        if channel.is_some_and(|c| !c.eq_ignore_ascii_case(event_channel)) {
            return false;
        }
        if kinds.is_empty() {
            return true;
        }
        let Some(FieldValue::Int(id)) = event.field("unmapped.EventID") else {
            return false;
        };
        kinds
            .iter()
            .any(|(c, ids)| c.eq_ignore_ascii_case(event_channel) && ids.contains(&id))
    }
}

/// The event path a Sigma field name is read from: a documented field path as is, any other
/// name (Windows' `Image`, `CommandLine`, `EventID`) under `unmapped.`.
pub fn field_path(sigma_name: &str) -> String {
    if FIELDS.iter().any(|f| f.path == sigma_name) {
        sigma_name.to_string()
    } else {
        format!("unmapped.{sigma_name}")
    }
}
