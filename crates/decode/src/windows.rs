//! Windows event logs exported as JSON lines: Winlogbeat (`winlog.event_data.*`), NXLog's flat
//! objects, and the flat Sigma-style shape of the OTRF datasets (`EventID`, `Channel`,
//! `Hostname`, `CommandLine` …). Detection rules written for Windows (Sigma) name fields as
//! Windows does, so every source field stays reachable under that name: `unmapped.EventID`,
//! `unmapped.CommandLine`. Winlogbeat's nesting is undone to the same names
//! (`winlog.event_data.X` → `X`, `winlog.event_id` → `EventID`, `winlog.channel` → `Channel`,
//! `winlog.computer_name` → `Hostname` and `Computer`), so one rule matches every export.
//!
//! On top of that the security events that matter are normalised (logon, logoff, special
//! privileges, process creation, account and group changes); the table is in
//! `docs/formats.md`. Binary EVTX files are not read here: they need the `evtx` crate and a
//! decoder of their own.
//!
//! The object is parsed once and its map moved into `unmapped`, never copied. This decoder
//! never panics, does no IO, and bounds how far it flattens nesting.

use crate::json;
use crate::{DecodeError, Decoded, Decoder, Framing, Sniff};
use serde_json::{Map, Value};
use std::sync::LazyLock;
use ward_model::event::{auth_activity, class};
use ward_model::unmapped::{Key, KnownNames};
use ward_model::{Endpoint, Event, Severity, Status, Timestamp, Unmapped};

const PRODUCT: &str = "windows";

/// Keys that may carry the time, in order of preference (OTRF and Sigma-style exports write
/// `TimeCreated`, Winlogbeat `@timestamp`, NXLog `EventTime`).
const TIME_KEYS: [&str; 6] = [
    "TimeCreated",
    "@timestamp",
    "EventTime",
    "SystemTime",
    "timestamp",
    "EventReceivedTime",
];

/// Nested objects other than Winlogbeat's `winlog` are flattened to dotted paths only this
/// deep, so a hostile line cannot multiply its size through long repeated key prefixes.
const MAX_FLATTEN_DEPTH: usize = 4;
const MAX_FLATTEN_PATH: usize = 128;

/// Windows `Keywords` bits for the audit outcome.
const AUDIT_SUCCESS: u64 = 0x8020_0000_0000_0000;
const AUDIT_FAILURE: u64 = 0x8010_0000_0000_0000;

/// The Windows event log (JSON export) decoder.
pub struct WindowsEvent;

impl Decoder for WindowsEvent {
    fn name(&self) -> &'static str {
        PRODUCT
    }

    fn description(&self) -> &'static str {
        "Windows event logs as JSON lines (Winlogbeat, NXLog, Sigma-style flat); not EVTX"
    }

    fn framing(&self) -> Framing {
        Framing::Lines
    }

    fn sniff(&self, record: &[u8]) -> Sniff {
        let body = json::body(record);
        if body.first() != Some(&b'{') {
            return Sniff::No;
        }
        let window = body.get(..body.len().min(SNIFF_WINDOW)).unwrap_or(body);
        let has = |finder: &memchr::memmem::Finder<'_>| finder.find(window).is_some();
        let flat = has(&KEY_EVENT_ID) && (has(&KEY_CHANNEL) || has(&KEY_WINLOG));
        let beat = has(&KEY_WINLOG) && has(&KEY_BEAT_EVENT_ID);
        if flat || beat { Sniff::Yes } else { Sniff::No }
    }

    fn decode(&self, record: &[u8], out: &mut Vec<Decoded>) {
        let body = json::body(record);
        if body.first() != Some(&b'{') {
            return out.push(Err(DecodeError::record(json::not_a_container(
                body,
                "one Windows event as a JSON object a line",
            ))));
        }
        // A whole file of pretty-printed events back to back (`evtx_dump -o json`) arrives as
        // one record spanning lines: one event per JSON object, each its own entry.
        if memchr::memchr(b'\n', body).is_some() {
            let documents = split_documents(body);
            if documents.len() > 1 {
                for (index, document) in documents.into_iter().enumerate() {
                    out.push(decode_object(document, document).map_err(|reason| {
                        DecodeError::entry(index as u64, reason, document.to_vec())
                    }));
                }
                return;
            }
        }
        out.push(decode_object(body, record).map_err(DecodeError::record));
    }
}

/// The JSON values of a body holding several back to back; what follows the last complete one
/// (damage) is returned as one more piece, so it is reported rather than dropped.
fn split_documents(body: &[u8]) -> Vec<&[u8]> {
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut stream =
        serde_json::Deserializer::from_slice(body).into_iter::<serde::de::IgnoredAny>();
    loop {
        match stream.next() {
            Some(Ok(_)) => {
                let end = stream.byte_offset();
                pieces.push(body[start..end].trim_ascii());
                start = end;
            }
            Some(Err(_)) => {
                pieces.push(body[start..].trim_ascii());
                break;
            }
            None => break,
        }
    }
    pieces
}

const SNIFF_WINDOW: usize = 64 * 1024;

static KEY_EVENT_ID: LazyLock<memchr::memmem::Finder<'static>> =
    LazyLock::new(|| memchr::memmem::Finder::new(b"\"EventID\""));
static KEY_CHANNEL: LazyLock<memchr::memmem::Finder<'static>> =
    LazyLock::new(|| memchr::memmem::Finder::new(b"\"Channel\""));
static KEY_WINLOG: LazyLock<memchr::memmem::Finder<'static>> =
    LazyLock::new(|| memchr::memmem::Finder::new(b"\"winlog\""));
static KEY_BEAT_EVENT_ID: LazyLock<memchr::memmem::Finder<'static>> =
    LazyLock::new(|| memchr::memmem::Finder::new(b"\"event_id\""));

/// The field names Windows and Sysmon events carry as exported (Security, Sysmon, PowerShell,
/// Windows Filtering Platform, services and tasks, as NXLog and Winlogbeat write them): a
/// record's names are taken from here rather than copied, so most cost no allocation. A name
/// not listed is kept as well, as a copy. Looked up by length, first and last byte, then
/// compared.
fn known_name(name: &str) -> Option<&'static str> {
    let bytes = name.as_bytes();
    let (&first, &last) = (bytes.first()?, bytes.last()?);
    let candidates: &[&'static str] = match (bytes.len(), first, last) {
        (4, b'F', b'N') => &["FQDN"],
        (4, b'H', b'h') => &["Hash"],
        (4, b'P', b'h') => &["Path"],
        (4, b'P', b't') => &["Port"],
        (4, b'T', b'e') => &["Type"],
        (4, b'T', b'k') => &["Task"],
        (4, b'U', b'r') => &["User"],
        (5, b'F', b's') => &["Flags"],
        (5, b'I', b'e') => &["Image"],
        (5, b'L', b'l') => &["Level"],
        (5, b'N', b'd') => &["NewSd"],
        (5, b'O', b'd') => &["OldSd"],
        (6, b'A', b'e') => &["Active"],
        (6, b'A', b'n') => &["Action"],
        (6, b'D', b'e') => &["Device"],
        (6, b'D', b'n') => &["Domain"],
        (6, b'H', b's') => &["Hashes"],
        (6, b'I', b't') => &["IpPort"],
        (6, b'O', b'e') => &["Opcode"],
        (6, b'O', b'n') => &["Origin"],
        (6, b'R', b'd') => &["RuleId"],
        (6, b'S', b'd') => &["Signed"],
        (6, b'S', b's') => &["Status"],
        (6, b'U', b'D') => &["UserID"],
        (6, b'W', b't') => &["Weight"],
        (7, b'A', b's') => &["Address"],
        (7, b'C', b'd') => &["ClassId"],
        (7, b'C', b'l') => &["Channel"],
        (7, b'C', b'y') => &["Company"],
        (7, b'D', b's') => &["Details"],
        (7, b'E', b'D') => &["EventID"],
        (7, b'K', b'e') => &["KeyName", "KeyType"],
        (7, b'L', b'D') => &["LogonID"],
        (7, b'L', b'd') => &["LayerId", "LogonId"],
        (7, b'M', b'e') => &["Message"],
        (7, b'P', b'd') => &["Payload"],
        (7, b'P', b't') => &["Product"],
        (7, b'S', b'e') => &["Service"],
        (7, b'U', b'd') => &["UserSid"],
        (7, b'U', b'e') => &["UtcTime"],
        (7, b'V', b'n') => &["Version"],
        (8, b'A', b'd') => &["Archived"],
        (8, b'C', b'r') => &["Computer"],
        (8, b'C', b's') => &["Contents"],
        (8, b'C', b'y') => &["Category"],
        (8, b'D', b'd') => &["DeviceId"],
        (8, b'D', b't') => &["DestPort"],
        (8, b'E', b'x') => &["EventIdx"],
        (8, b'F', b'd') => &["FilterId"],
        (8, b'H', b'd') => &["HandleId"],
        (8, b'H', b'e') => &["Hostname"],
        (8, b'K', b's') => &["Keywords"],
        (8, b'L', b'y') => &["LayerKey"],
        (8, b'N', b'e') => &["NewState", "NewValue"],
        (8, b'O', b'N') => &["ObjectDN"],
        (8, b'O', b'e') => &["OldValue"],
        (8, b'P', b'e') => &["PipeName"],
        (8, b'P', b'l') => &["Protocol"],
        (8, b'P', b's') => &["Profiles"],
        (8, b'P', b'y') => &["Priority"],
        (8, b'R', b'e') => &["RuleName"],
        (8, b'R', b'r') => &["RuleAttr"],
        (8, b'S', b'p') => &["SourceIp"],
        (8, b'S', b'y') => &["Severity"],
        (8, b'T', b'D') => &["ThreadID"],
        (8, b'T', b'd') => &["ThreadId"],
        (8, b'T', b'e') => &["TaskName"],
        (8, b'U', b'a') => &["UserData"],
        (8, b'U', b'e') => &["UserName"],
        (9, b'C', b'd') => &["CalloutId"],
        (9, b'C', b'e') => &["CallTrace", "ClassName"],
        (9, b'D', b'n') => &["Direction"],
        (9, b'E', b'e') => &["EventTime", "EventType"],
        (9, b'F', b'y') => &["FilterKey"],
        (9, b'I', b'd') => &["Initiated"],
        (9, b'I', b'n') => &["IPVersion"],
        (9, b'I', b's') => &["IpAddress"],
        (9, b'K', b'h') => &["KeyLength"],
        (9, b'L', b'D') => &["LayerRTID"],
        (9, b'L', b'd') => &["LogonGuid"],
        (9, b'L', b'e') => &["LayerName", "LogonType"],
        (9, b'M', b'd') => &["MemberSid"],
        (9, b'O', b'n') => &["Operation"],
        (9, b'P', b'D') => &["ProcessID"],
        (9, b'P', b'd') => &["ProcessId"],
        (9, b'Q', b'e') => &["QueryName"],
        (9, b'S', b'd') => &["SessionId"],
        (9, b'S', b'e') => &["ShareName", "Signature", "StartType"],
        (9, b'S', b's') => &["SubStatus"],
        (9, b'T', b'd') => &["TargetSid"],
        (9, b'V', b's') => &["VendorIds"],
        (10, b'@', b'p') => &["@timestamp"],
        (10, b'A', b'D') => &["ActivityID"],
        (10, b'A', b'k') => &["AccessMask"],
        (10, b'A', b't') => &["AccessList"],
        (10, b'C', b'd') => &["CategoryId"],
        (10, b'C', b'e') => &["ChangeType", "ClientName"],
        (10, b'C', b's') => &["Conditions"],
        (10, b'C', b'y') => &["CalloutKey"],
        (10, b'F', b'D') => &["FilterRTID"],
        (10, b'F', b'e') => &["FilterName", "FilterType"],
        (10, b'I', b'd') => &["InstanceId"],
        (10, b'M', b'e') => &["MemberName"],
        (10, b'O', b'e') => &["ObjectName", "ObjectType"],
        (10, b'P', b'r') => &["ParentUser"],
        (10, b'P', b's') => &["Properties"],
        (10, b'R', b'd') => &["RunspaceId"],
        (10, b'R', b'e') => &["ReasonCode", "ReturnCode"],
        (10, b'R', b's') => &["RuleStatus"],
        (10, b'S', b'd') => &["ServiceSid"],
        (10, b'S', b'e') => &["SourceName"],
        (10, b'S', b'r') => &["SourceUser"],
        (10, b'S', b't') => &["SourcePort"],
        (10, b'T', b'e') => &["TargetName"],
        (10, b'T', b'r') => &["TargetUser"],
        (10, b'V', b'd') => &["VolumeGuid"],
        (10, b'V', b'e') => &["VolumeName"],
        (11, b'A', b'e') => &["AccountName", "AccountType"],
        (11, b'A', b'n') => &["Application"],
        (11, b'C', b'e') => &["CalloutName", "CalloutType", "CommandLine"],
        (11, b'C', b'o') => &["ContextInfo"],
        (11, b'D', b'e') => &["DisplayName"],
        (11, b'D', b'n') => &["Description"],
        (11, b'D', b's') => &["DestAddress"],
        (11, b'F', b'n') => &["FileVersion"],
        (11, b'I', b'd') => &["ImageLoaded"],
        (11, b'K', b'h') => &["KeyFilePath"],
        (11, b'N', b'd') => &["NewThreadId"],
        (11, b'O', b'e') => &["OpcodeValue"],
        (11, b'O', b's') => &["ObjectClass"],
        (11, b'P', b'd') => &["ProcessGuid", "ProfileUsed"],
        (11, b'P', b'e') => &["PackageName", "ParentImage", "PreAuthType", "ProcessName"],
        (11, b'P', b'y') => &["ProviderKey"],
        (11, b'Q', b's') => &["QueryStatus"],
        (11, b'S', b'e') => &[
            "ServiceName",
            "ServiceType",
            "SessionName",
            "SourceImage",
            "StartModule",
        ],
        (11, b'S', b'y') => &["SubLayerKey"],
        (11, b'T', b'd') => &["TimeCreated"],
        (11, b'T', b'e') => &["TargetImage"],
        (11, b'W', b'n') => &["Workstation"],
        (12, b'A', b'n') => &["AccessReason"],
        (12, b'F', b'n') => &["FilterOrigin"],
        (12, b'I', b'e') => &["IsExecutable"],
        (12, b'M', b'e') => &["MiniportName"],
        (12, b'M', b'l') => &["MessageTotal"],
        (12, b'M', b's') => &["MaxRunspaces", "MinRunspaces"],
        (12, b'N', b'd') => &["NewProcessId"],
        (12, b'N', b'e') => &["NewValueType"],
        (12, b'O', b'e') => &["OldValueType"],
        (12, b'O', b'r') => &["ObjectServer"],
        (12, b'P', b'd') => &["ProviderGuid"],
        (12, b'P', b'e') => &["ProviderName"],
        (12, b'Q', b's') => &["QueryResults"],
        (12, b'R', b'D') => &["RemoteUserID"],
        (12, b'R', b'r') => &["RecordNumber"],
        (12, b'S', b'6') => &["SourceIsIpv6"],
        (12, b'S', b'e') => &["SubLayerName", "SubLayerType"],
        (12, b'S', b's') => &["StartAddress"],
        (12, b'T', b't') => &["TargetObject"],
        (13, b'A', b'e') => &["AlgorithmName"],
        (13, b'A', b'h') => &["AddressLength"],
        (13, b'A', b'n') => &["AccountDomain"],
        (13, b'C', b's') => &["ClientAddress", "CompatibleIds"],
        (13, b'D', b'p') => &["DestinationIp"],
        (13, b'E', b'D') => &["EventRecordID"],
        (13, b'E', b'l') => &["EdgeTraversal"],
        (13, b'E', b'n') => &["ElevatedToken"],
        (13, b'F', b'n') => &["FailureReason"],
        (13, b'G', b's') => &["GrantedAccess"],
        (13, b'H', b'y') => &["HomeDirectory"],
        (13, b'L', b'e') => &["LmPackageName"],
        (13, b'M', b'r') => &["MessageNumber", "ModifyingUser"],
        (13, b'O', b'e') => &["OperationType"],
        (13, b'P', b'e') => &["Provider_Name"],
        (13, b'P', b't') => &["PrivilegeList"],
        (13, b'R', b'n') => &["ReadOperation"],
        (13, b'S', b'd') => &["ScriptBlockId", "SubcategoryId"],
        (13, b'S', b'e') => &["SeverityValue"],
        (13, b'S', b'n') => &["SchemaVersion", "StartFunction"],
        (13, b'S', b's') => &["SourceAddress"],
        (13, b'T', b'd') => &["TargetLogonId", "TargetUserSid", "TransactionId"],
        (13, b'T', b's') => &["TicketOptions"],
        (14, b'A', b'e') => &["AttributeValue"],
        (14, b'A', b'o') => &["AdditionalInfo"],
        (14, b'A', b's') => &["AccountExpires"],
        (14, b'C', b'e') => &["CertIssuerName"],
        (14, b'C', b't') => &["CertThumbprint"],
        (14, b'I', b'l') => &["IntegrityLevel"],
        (14, b'I', b'x') => &["InterfaceIndex"],
        (14, b'L', b's') => &["LocalAddresses"],
        (14, b'M', b'l') => &["MandatoryLabel"],
        (14, b'N', b'e') => &["NewProcessName"],
        (14, b'P', b'd') => &["ProfileChanged"],
        (14, b'S', b'd') => &[
            "SourceHandleId",
            "SourceThreadId",
            "SubjectLogonId",
            "SubjectUserSid",
        ],
        (14, b'S', b'e') => &["SamAccountName", "SourceHostname", "SourcePortName"],
        (14, b'S', b'h') => &["ShareLocalPath"],
        (14, b'S', b'n') => &["ShutdownReason"],
        (14, b'S', b't') => &["ServiceAccount"],
        (14, b'T', b'd') => &["TargetHandleId"],
        (14, b'T', b'e') => &["TargetFilename", "TargetUserName"],
        (14, b'T', b'w') => &["TaskContentNew"],
        (14, b'V', b't') => &["VirtualAccount"],
        (15, b'A', b'2') => &["AdditionalInfo2"],
        (15, b'A', b'h') => &["ApplicationPath"],
        (15, b'C', b'd') => &["CallerProcessId", "ClientProcessId"],
        (15, b'C', b'e') => &["CreationUtcTime"],
        (15, b'D', b't') => &["DestinationPort"],
        (15, b'E', b'l') => &["EventCountTotal"],
        (15, b'E', b't') => &["EmbeddedContext"],
        (15, b'G', b'p') => &["GroupMembership"],
        (15, b'L', b'd') => &["LocalOnlyMapped"],
        (15, b'M', b'n') => &["MiniportNameLen"],
        (15, b'O', b'e') => &["ObjectValueName"],
        (15, b'P', b'd') => &["ParentProcessId"],
        (15, b'P', b't') => &["PasswordLastSet"],
        (15, b'R', b'D') => &["RemoteMachineID"],
        (15, b'R', b'r') => &["ResourceManager"],
        (15, b'R', b's') => &["RemoteAddresses"],
        (15, b'S', b'd') => &["SourceProcessId", "SubcategoryGuid"],
        (15, b'S', b'e') => &["ServiceFileName", "SubjectUserName"],
        (15, b'S', b's') => &["SecurityOptions", "SignatureStatus"],
        (15, b'S', b't') => &["ScriptBlockText"],
        (15, b'T', b'd') => &["TargetProcessId"],
        (15, b'W', b'e') => &["WorkstationName"],
        (16, b'C', b'r') => &["CertSerialNumber"],
        (16, b'C', b'y') => &["CurrentDirectory"],
        (16, b'E', b'l') => &["EventTypeOrignal"],
        (16, b'L', b'e') => &["LogonProcessName"],
        (16, b'O', b'e') => &["OriginalFileName"],
        (16, b'S', b'e') => &["ServiceStartType", "SourceModuleName", "SourceModuleType"],
        (16, b'T', b'e') => &["TargetDomainName"],
        (16, b'V', b'h') => &["VolumeNameLength"],
        (17, b'C', b'e') => &["CallerProcessName"],
        (17, b'D', b'6') => &["DestinationIsIpv6"],
        (17, b'D', b'n') => &["DeviceDescription"],
        (17, b'E', b'D') => &["ExecutionThreadID"],
        (17, b'E', b'e') => &["EventReceivedTime"],
        (17, b'L', b'd') => &["LooseSourceMapped"],
        (17, b'P', b'd') => &["ParentProcessGuid"],
        (17, b'P', b'e') => &["ParentCommandLine", "ParentProcessName"],
        (17, b'S', b'D') => &["SourceProcessGUID"],
        (17, b'S', b'd') => &["SourceProcessGuid"],
        (17, b'S', b'e') => &["ShutdownEventCode", "SubjectDomainName"],
        (17, b'T', b'D') => &["TargetProcessGUID"],
        (17, b'T', b'd') => &["TargetProcessGuid", "TerminalSessionId"],
        (17, b'U', b'e') => &["UserPrincipalName"],
        (18, b'A', b's') => &["AuditPolicyChanges"],
        (18, b'C', b'e') => &["ClientCreationTime"],
        (18, b'E', b'D') => &["ExecutionProcessID"],
        (18, b'I', b'l') => &["ImpersonationLevel"],
        (18, b'R', b'e') => &["RelativeTargetName"],
        (18, b'R', b's') => &["ResourceAttributes"],
        (18, b'R', b't') => &["RestrictedSidCount"],
        (18, b'S', b'e') => &["ShutdownActionType"],
        (18, b'T', b'e') => &["TokenElevationType"],
        (19, b'D', b'e') => &["DestinationHostname", "DestinationPortName"],
        (19, b'L', b'n') => &["LocationInformation"],
        (19, b'P', b'e') => &["ProcessCreationTime"],
        (19, b'R', b'e') => &["RestrictedAdminMode"],
        (19, b'T', b'd') => &["TargetLinkedLogonId"],
        (19, b'T', b's') => &["TransmittedServices"],
        (20, b'E', b't') => &["EnabledPrivilegeList"],
        (20, b'M', b'n') => &["ModifyingApplication"],
        (20, b'T', b'e') => &["TicketEncryptionType"],
        (21, b'C', b'y') => &["ClientProcessStartKey"],
        (21, b'D', b't') => &["DisabledPrivilegeList"],
        (21, b'R', b'y') => &["RpcCallClientLocality"],
        (22, b'T', b'e') => &["TargetOutboundUserName"],
        (23, b'P', b'e') => &["PreviousCreationUtcTime"],
        (24, b'A', b'e') => &["AttributeLDAPDisplayName"],
        (24, b'T', b'e') => &["TargetOutboundDomainName"],
        (25, b'A', b'e') => &["AuthenticationPackageName"],
        (26, b'C', b'd') => &["CountOfCredentialsReturned"],
        (27, b'S', b'e') => &["ServiceTicketEncryptionType"],
        _ => return None,
    };
    candidates.iter().copied().find(|known| *known == name)
}

pub(crate) fn decode_object(body: &[u8], raw: &[u8]) -> Result<Event, String> {
    let mut fields = json::object_or_reason(
        body,
        "one Windows event a line",
        |body| json::parse_seed(body, KnownNames(known_name)),
        Unmapped::from,
    )?;
    if fields.values().any(Value::is_object) {
        fields = flatten_nested(fields);
    }
    let time = event_time(&fields)?;
    let event_id = match fields.get("EventID") {
        Some(value) => Some(event_id_of(value).ok_or_else(|| {
            format!(
                "EventID {} is not an event number",
                json::clip(&value.to_string())
            )
        })?),
        None => None,
    };
    // One spelling for every export, so `EventID: 4624` matches whatever wrote it.
    if let Some(id) = event_id {
        fields.insert("EventID", Value::from(id));
    }

    let mut event = Event::from_record(PRODUCT, time, raw.to_vec());
    event.metadata.event_code = event_id.map(|id| id.to_string());
    event.metadata.uid = ["EventRecordID", "RecordNumber", "record_id"]
        .iter()
        .find_map(|k| match fields.get(k)? {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        });
    event.device.hostname = scalar(&fields, "Hostname")
        .or_else(|| scalar(&fields, "Computer"))
        .map(str::to_string);
    event.severity = Severity::Informational;
    event.status = audit_outcome(&fields);
    normalise(&mut event, event_id, &fields);
    if event.status == Status::Failure {
        event.severity = Severity::Medium;
    }
    event.unmapped = fields;
    Ok(event)
}

/// Success or failure from the audit keywords: `Keywords` as hex text (Windows, OTRF), as a
/// signed 64-bit number (NXLog) or as names (Winlogbeat), or NXLog's `EventType`.
fn audit_outcome(fields: &Unmapped) -> Status {
    let keywords = match fields.get("Keywords") {
        Some(Value::String(s)) => s
            .strip_prefix("0x")
            .and_then(|hex| u64::from_str_radix(hex, 16).ok()),
        Some(Value::Number(n)) => n.as_i64().map(|i| i as u64).or_else(|| n.as_u64()),
        // Winlogbeat names the keywords: `["Audit Success"]`.
        Some(Value::Array(names)) => names.iter().find_map(|n| match n.as_str()? {
            "Audit Success" => Some(AUDIT_SUCCESS),
            "Audit Failure" => Some(AUDIT_FAILURE),
            _ => None,
        }),
        _ => None,
    };
    match (keywords, scalar(fields, "EventType")) {
        (Some(k), _) if k & AUDIT_FAILURE == AUDIT_FAILURE => Status::Failure,
        (Some(k), _) if k & AUDIT_SUCCESS == AUDIT_SUCCESS => Status::Success,
        (_, Some("AUDIT_FAILURE")) => Status::Failure,
        (_, Some("AUDIT_SUCCESS")) => Status::Success,
        _ => Status::Unknown,
    }
}

/// `EventID` as a number: Winlogbeat writes it as a string, some exports as an object
/// (`{"#text": "4624", "Qualifiers": ""}`).
fn event_id_of(value: &Value) -> Option<u32> {
    match value {
        Value::Number(n) => n.as_u64().and_then(|v| u32::try_from(v).ok()),
        Value::String(s) => s.trim().parse().ok(),
        Value::Object(o) => o.get("#text").and_then(event_id_of),
        _ => None,
    }
}

/// The text of a scalar field, `None` when absent, not a string, or Windows' placeholder `-`.
fn scalar<'a>(fields: &'a Unmapped, key: &str) -> Option<&'a str> {
    match fields.get(key)? {
        Value::String(s) if !s.is_empty() && s != "-" => Some(s),
        _ => None,
    }
}

fn ip_of(fields: &Unmapped, key: &str) -> Option<String> {
    let text = scalar(fields, key)?.trim();
    let bare = text.strip_prefix("::ffff:").unwrap_or(text);
    bare.parse::<std::net::IpAddr>()
        .is_ok()
        .then(|| bare.to_string())
}

fn port_of(fields: &Unmapped, key: &str) -> Option<u16> {
    let port = match fields.get(key)? {
        Value::Number(n) => n.as_u64().and_then(|p| u16::try_from(p).ok()),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }?;
    (port != 0).then_some(port)
}

fn event_time(fields: &Unmapped) -> Result<Timestamp, String> {
    let mut first_bad = None;
    for key in TIME_KEYS {
        let Some(value) = fields.get(key) else {
            continue;
        };
        let parsed = match value {
            Value::String(s) => Timestamp::parse(s),
            _ => None,
        };
        match parsed {
            Some(t) => return Ok(t),
            None => first_bad = first_bad.or(Some((key, value))),
        }
    }
    Err(match first_bad {
        Some((key, value)) => format!(
            "{key} {} is not a time: expected an ISO 8601 instant",
            json::clip(&value.to_string())
        ),
        None => "no time field: expected TimeCreated, @timestamp or EventTime".into(),
    })
}

/// Lifts Winlogbeat's `winlog` object to Windows' own names and flattens any other nesting to
/// dotted paths (`host.name`, `event.code`), within the bounds above.
fn flatten_nested(fields: Unmapped) -> Unmapped {
    let mut flat = Unmapped::with_capacity(fields.len() + 32);
    let mut winlog = None;
    for (key, value) in fields {
        match value {
            Value::Object(inner) if key == "winlog" => winlog = Some(inner),
            // The shape `evtx_dump` (and the evtx crate) renders: `Event.System` and
            // `Event.EventData` / `Event.UserData`.
            Value::Object(inner) if key == "Event" && inner.contains_key("System") => {
                lift_evtx(inner, &mut flat)
            }
            // Some exports nest `TimeCreated: {SystemTime: …}` or `EventID: {#text: …}`.
            Value::Object(mut inner)
                if key == "TimeCreated" && inner.contains_key("SystemTime") =>
            {
                if let Some(t) = inner.remove("SystemTime") {
                    flat.insert(key, t);
                }
            }
            Value::Object(inner) if key == "EventID" => {
                flat.insert(key, Value::Object(inner));
            }
            other => flatten_into(key.into_owned(), other, 0, &mut flat),
        }
    }
    if let Some(winlog) = winlog {
        lift_winlog(winlog, &mut flat);
    }
    flat
}

fn flatten_into(path: String, value: Value, depth: usize, flat: &mut Unmapped) {
    match value {
        Value::Object(inner)
            if depth < MAX_FLATTEN_DEPTH && path.len() <= MAX_FLATTEN_PATH && !inner.is_empty() =>
        {
            for (key, value) in inner {
                flatten_into(format!("{path}.{key}"), value, depth + 1, flat);
            }
        }
        other => {
            flat.insert(path, other);
        }
    }
}

/// Winlogbeat's `winlog` members under the names Windows (and Sigma) gives them. A name the
/// record already has at its top level is not overwritten: the record's own field wins.
fn lift_winlog(winlog: Map<String, Value>, flat: &mut Unmapped) {
    fn put(flat: &mut Unmapped, key: impl Into<Key> + AsRef<str>, value: Value) {
        if !flat.contains_key(key.as_ref()) {
            flat.insert(key, value);
        }
    }
    for (key, value) in winlog {
        match (key.as_str(), value) {
            ("event_data" | "user_data", Value::Object(data)) => {
                for (k, v) in data {
                    put(flat, k, v);
                }
            }
            ("event_id", v) => put(flat, "EventID", v),
            ("channel", v) => put(flat, "Channel", v),
            ("computer_name", v) => {
                put(flat, "Computer", v.clone());
                put(flat, "Hostname", v);
            }
            ("provider_name", v) => {
                put(flat, "Provider_Name", v.clone());
                put(flat, "SourceName", v);
            }
            ("provider_guid", v) => put(flat, "ProviderGuid", v),
            ("record_id", v) => put(flat, "EventRecordID", v),
            ("task", v) => put(flat, "Task", v),
            ("opcode", v) => put(flat, "Opcode", v),
            ("keywords", v) => put(flat, "Keywords", v),
            ("version", v) => put(flat, "Version", v),
            (_, v) => flatten_into(format!("winlog.{key}"), v, 1, flat),
        }
    }
}

/// An EVTX record rendered as JSON (`{"Event": {"System": …, "EventData": …}}`) under the names
/// Windows and Sigma use: `System` members by name (attributes lifted: `Provider_Name`,
/// `TimeCreated`, `Computer` also as `Hostname` …), `EventData` members at the top level.
fn lift_evtx(event: Map<String, Value>, flat: &mut Unmapped) {
    fn attribute(value: &Value, name: &str) -> Option<Value> {
        value.get("#attributes")?.get(name).cloned()
    }
    for (key, value) in event {
        match key.as_str() {
            "System" => {
                let Value::Object(system) = value else {
                    continue;
                };
                for (k, v) in system {
                    match k.as_str() {
                        "Provider" => {
                            if let Some(name) = attribute(&v, "Name") {
                                flat.insert("Provider_Name", name.clone());
                                flat.insert("SourceName", name);
                            }
                            if let Some(guid) = attribute(&v, "Guid") {
                                flat.insert("ProviderGuid", guid);
                            }
                        }
                        "TimeCreated" => {
                            if let Some(t) = attribute(&v, "SystemTime") {
                                flat.insert("TimeCreated", t);
                            }
                        }
                        "EventID" => {
                            let id = v.get("#text").cloned().unwrap_or(v);
                            flat.insert("EventID", id);
                        }
                        "Computer" => {
                            flat.insert("Hostname", v.clone());
                            flat.insert("Computer", v);
                        }
                        "Execution" => {
                            for (attr, out) in [
                                ("ProcessID", "ExecutionProcessID"),
                                ("ThreadID", "ExecutionThreadID"),
                            ] {
                                if let Some(a) = attribute(&v, attr) {
                                    flat.insert(out, a);
                                }
                            }
                        }
                        "Security" => {
                            if let Some(user) = attribute(&v, "UserID") {
                                flat.insert("UserID", user);
                            }
                        }
                        _ => flatten_into(k, v, 1, flat),
                    }
                }
            }
            "EventData" | "UserData" => match value {
                Value::Object(data) => {
                    for (k, v) in data {
                        // UserData wraps its fields in one element named for the event.
                        match v {
                            Value::Object(inner) if key == "UserData" => {
                                for (ik, iv) in inner {
                                    if ik != "#attributes" && !flat.contains_key(&ik) {
                                        flat.insert(ik, iv);
                                    }
                                }
                            }
                            other if k != "#attributes" && !flat.contains_key(&k) => {
                                flat.insert(k, other);
                            }
                            _ => {}
                        }
                    }
                }
                Value::Null => {}
                other => flatten_into(key, other, 1, flat),
            },
            _ => flatten_into(key, value, 1, flat),
        }
    }
}

/// OCSF Account Change (3001) activities.
mod account_activity {
    pub const CREATE: u8 = 1;
    pub const ENABLE: u8 = 2;
    pub const DISABLE: u8 = 5;
    pub const DELETE: u8 = 6;
    pub const OTHER: u8 = 99;
}

/// OCSF Process Activity (1007) `launch`, Authorize Session (3003) and User Access Management
/// (3005) `assign privileges`.
const PROCESS_LAUNCH: u8 = 1;
const ASSIGN_PRIVILEGES: u8 = 1;

fn is_sysmon(fields: &Unmapped) -> bool {
    let mentions = |key| scalar(fields, key).is_some_and(|s| s.contains("Sysmon"));
    mentions("Channel") || mentions("SourceName") || mentions("Provider_Name")
}

/// Class, activity, actor and endpoints of the events that matter; every other event is a
/// Base Event whose actor is the subject account when it names one.
fn normalise(event: &mut Event, event_id: Option<u32>, f: &Unmapped) {
    let set_user = |event: &mut Event, name: &str, domain: &str, sid: &str| {
        let user = &mut event.actor.user;
        user.name = scalar(f, name).map(str::to_string);
        user.domain = scalar(f, domain).map(str::to_string);
        user.uid = scalar(f, sid).map(str::to_string);
    };
    let subject = |event: &mut Event| {
        set_user(
            event,
            "SubjectUserName",
            "SubjectDomainName",
            "SubjectUserSid",
        )
    };
    let target =
        |event: &mut Event| set_user(event, "TargetUserName", "TargetDomainName", "TargetUserSid");
    let (class_uid, activity, name) = match (event_id, is_sysmon(f)) {
        (Some(4624), _) => (class::AUTHENTICATION, auth_activity::LOGON, "logon"),
        (Some(4625), _) => (class::AUTHENTICATION, auth_activity::LOGON, "logon failed"),
        (Some(4648), _) => (
            class::AUTHENTICATION,
            auth_activity::LOGON,
            "logon with explicit credentials",
        ),
        (Some(4634), _) => (class::AUTHENTICATION, auth_activity::LOGOFF, "logoff"),
        (Some(4647), _) => (
            class::AUTHENTICATION,
            auth_activity::LOGOFF,
            "user initiated logoff",
        ),
        (Some(4672), _) => (
            class::AUTHORIZE_SESSION,
            ASSIGN_PRIVILEGES,
            "special privileges assigned",
        ),
        (Some(4688), _) => (class::PROCESS_ACTIVITY, PROCESS_LAUNCH, "process created"),
        (Some(1), true) => (class::PROCESS_ACTIVITY, PROCESS_LAUNCH, "process created"),
        (Some(4720), _) => (
            class::ACCOUNT_CHANGE,
            account_activity::CREATE,
            "account created",
        ),
        (Some(4722), _) => (
            class::ACCOUNT_CHANGE,
            account_activity::ENABLE,
            "account enabled",
        ),
        (Some(4725), _) => (
            class::ACCOUNT_CHANGE,
            account_activity::DISABLE,
            "account disabled",
        ),
        (Some(4726), _) => (
            class::ACCOUNT_CHANGE,
            account_activity::DELETE,
            "account deleted",
        ),
        (Some(4738), _) => (
            class::ACCOUNT_CHANGE,
            account_activity::OTHER,
            "account changed",
        ),
        (Some(4728), _) => (
            class::USER_ACCESS_MANAGEMENT,
            ASSIGN_PRIVILEGES,
            "member added to global group",
        ),
        (Some(4732), _) => (
            class::USER_ACCESS_MANAGEMENT,
            ASSIGN_PRIVILEGES,
            "member added to local group",
        ),
        (Some(4756), _) => (
            class::USER_ACCESS_MANAGEMENT,
            ASSIGN_PRIVILEGES,
            "member added to universal group",
        ),
        _ => (class::BASE_EVENT, 0, ""),
    };
    event.class_uid = class_uid;
    event.activity_id = activity;
    if !name.is_empty() {
        event.activity_name = Some(name.to_string());
    }
    match event_id {
        Some(4624 | 4625 | 4648) => {
            target(event);
            event.src_endpoint = Endpoint {
                ip: ip_of(f, "IpAddress"),
                hostname: scalar(f, "WorkstationName").map(str::to_string),
                port: port_of(f, "IpPort"),
            };
            if event_id == Some(4648) {
                event.dst_endpoint.hostname = scalar(f, "TargetServerName").map(str::to_string);
            }
            if event_id == Some(4625) {
                event.status = Status::Failure;
                event.status_detail = scalar(f, "SubStatus")
                    .filter(|s| *s != "0x0")
                    .or_else(|| scalar(f, "Status"))
                    .or_else(|| scalar(f, "FailureReason"))
                    .map(str::to_string);
            } else if event.status == Status::Unknown {
                event.status = Status::Success;
            }
        }
        Some(4634 | 4647) => target(event),
        Some(4720 | 4722 | 4725 | 4726 | 4738) => {
            subject(event);
            event.resource.r#type = Some("User".into());
            event.resource.id = scalar(f, "TargetUserName").map(str::to_string);
        }
        Some(4728 | 4732 | 4756) => {
            subject(event);
            event.resource.r#type = Some("Group".into());
            event.resource.id = scalar(f, "TargetUserName").map(str::to_string);
        }
        _ if class_uid == class::PROCESS_ACTIVITY && event_id == Some(1) => sysmon_user(event, f),
        _ => {
            subject(event);
            if event.actor.user.name.is_none() {
                sysmon_user(event, f);
            }
        }
    }
}

/// Sysmon names the account as `DOMAIN\name` in `User`.
fn sysmon_user(event: &mut Event, f: &Unmapped) {
    let Some(user) = scalar(f, "User") else {
        return;
    };
    let (domain, name) = match user.split_once('\\') {
        Some((domain, name)) => (Some(domain), name),
        None => (None, user),
    };
    event.actor.user.name = Some(name.to_string());
    event.actor.user.domain = domain.map(str::to_string);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_names_are_known_or_copied_and_always_kept() {
        for name in [
            "EventID",
            "Channel",
            "TargetUserName",
            "CommandLine",
            "@timestamp",
            "Hashes",
        ] {
            assert_eq!(known_name(name), Some(name), "{name}");
        }
        for name in [
            "",
            "E",
            "EventId",
            "eventid",
            "TargetUserNam",
            "MyCustomField",
        ] {
            assert_eq!(known_name(name), None, "{name}");
        }
        let line = br#"{"EventID":4624,"Channel":"Security","TimeCreated":"2024-01-01T00:00:00Z","MyCustomField":"kept","TargetUserName":"bob"}"#;
        let event = decode_object(line, line).unwrap();
        assert_eq!(event.unmapped["MyCustomField"], "kept");
        assert_eq!(event.actor.user.name.as_deref(), Some("bob"));
    }

    fn decode(line: &str) -> Event {
        let mut out = Vec::new();
        WindowsEvent.decode(line.as_bytes(), &mut out);
        match out.pop() {
            Some(Ok(event)) => event,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn winlogbeat_event_data_is_lifted_to_windows_names() {
        let e = decode(
            r#"{"@timestamp":"2024-05-01T10:00:00Z","winlog":{"event_id":"4624","channel":"Security","computer_name":"DC01","event_data":{"TargetUserName":"jsmith","LogonType":"3","IpAddress":"10.0.0.5"}},"host":{"name":"dc01"}}"#,
        );
        assert_eq!(e.field("unmapped.EventID").unwrap().to_text(), "4624");
        assert_eq!(e.field("unmapped.Channel").unwrap().to_text(), "Security");
        assert_eq!(e.field("unmapped.Computer").unwrap().to_text(), "DC01");
        assert_eq!(e.field("unmapped.LogonType").unwrap().to_text(), "3");
        assert_eq!(e.field("unmapped.host.name").unwrap().to_text(), "dc01");
        assert_eq!(e.actor.user.name.as_deref(), Some("jsmith"));
        assert_eq!(e.src_endpoint.ip.as_deref(), Some("10.0.0.5"));
        assert_eq!(e.device.hostname.as_deref(), Some("DC01"));
        assert_eq!(
            e.id,
            ward_model::EventId::of_record(PRODUCT, e.time, &e.raw)
        );
    }

    #[test]
    fn dash_ip_address_is_no_source() {
        let e = decode(
            r#"{"EventID":4624,"Channel":"Security","TimeCreated":"2024-05-01T10:00:00Z","TargetUserName":"SYSTEM","IpAddress":"-","IpPort":"-"}"#,
        );
        assert!(e.src_endpoint.is_empty());
        assert_eq!(e.status, Status::Success);
    }
}
