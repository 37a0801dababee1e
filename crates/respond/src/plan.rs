//! Response plans: versioned documents that say who does what when something happens.
//!
//! A plan has roles (incident commander, privacy officer, IT lead, communications, legal,
//! executive sponsor), each with the person who holds it and a deputy; routes from alert rules
//! to incident types; and one playbook per incident type, whose tasks are ordered by response
//! phase. Ward ships a starting plan (`plans/*.toml`, embedded in the binary) that an
//! organisation copies, names its people in, and edits; [`Plan::parse`] reads an edited copy
//! and refuses one that would leave a task without a role or an incident type without a
//! playbook.
//!
//! Phases follow NIST SP 800-61 Rev. 2 (detection and analysis; containment, eradication and
//! recovery; post-incident activity), split where a hospital assigns the work to different
//! people: evidence is preserved before eradication rebuilds what held it, and communication
//! carries the HIPAA notices of 45 CFR 164.404–410.

use serde::{Deserialize, Serialize};
use std::fmt;
use ward_model::{Alert, Severity};
use ward_store::incidents::NewTask;

/// The starting plan Ward ships.
const SHIPPED_PLAN: &str = include_str!("../plans/plan.toml");
/// The shipped playbooks, one per incident type.
const SHIPPED_PLAYBOOKS: [&str; 7] = [
    include_str!("../plans/playbooks/ransomware.toml"),
    include_str!("../plans/playbooks/compromised_account.toml"),
    include_str!("../plans/playbooks/insider_snooping.toml"),
    include_str!("../plans/playbooks/lost_or_stolen_device.toml"),
    include_str!("../plans/playbooks/misdirected_phi.toml"),
    include_str!("../plans/playbooks/vendor_breach.toml"),
    include_str!("../plans/playbooks/phishing.toml"),
];

/// The kinds of incident a plan has playbooks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentType {
    Ransomware,
    CompromisedAccount,
    InsiderSnooping,
    LostOrStolenDevice,
    MisdirectedPhi,
    VendorBreach,
    Phishing,
}

impl IncidentType {
    pub const ALL: [IncidentType; 7] = [
        IncidentType::Ransomware,
        IncidentType::CompromisedAccount,
        IncidentType::InsiderSnooping,
        IncidentType::LostOrStolenDevice,
        IncidentType::MisdirectedPhi,
        IncidentType::VendorBreach,
        IncidentType::Phishing,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            IncidentType::Ransomware => "ransomware",
            IncidentType::CompromisedAccount => "compromised_account",
            IncidentType::InsiderSnooping => "insider_snooping",
            IncidentType::LostOrStolenDevice => "lost_or_stolen_device",
            IncidentType::MisdirectedPhi => "misdirected_phi",
            IncidentType::VendorBreach => "vendor_breach",
            IncidentType::Phishing => "phishing",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == text)
    }
}

/// The phases of a response, in the order their tasks are listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// NIST SP 800-61r2 3.2: detection and analysis.
    Identification,
    /// 3.3.1: stop the damage spreading.
    Containment,
    /// 3.3.2: evidence gathered and handled with a chain of custody, before eradication.
    Evidence,
    /// 3.3.4: remove the cause.
    Eradication,
    /// 3.3.4: restore operations and watch for recurrence.
    Recovery,
    /// 3.2.7 and 45 CFR 164.404–410: who is told what, and by when.
    Communication,
}

impl Phase {
    pub const ALL: [Phase; 6] = [
        Phase::Identification,
        Phase::Containment,
        Phase::Evidence,
        Phase::Eradication,
        Phase::Recovery,
        Phase::Communication,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Identification => "identification",
            Phase::Containment => "containment",
            Phase::Evidence => "evidence",
            Phase::Eradication => "eradication",
            Phase::Recovery => "recovery",
            Phase::Communication => "communication",
        }
    }
}

/// A role in the response team.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Role {
    /// `incident_commander`, `privacy_officer`, `it_lead`, `communications`, `legal`,
    /// `executive_sponsor`, or a role the organisation adds.
    pub id: String,
    pub title: String,
    pub duties: String,
    /// Who holds the role (a console user name), once the organisation names them.
    #[serde(default)]
    pub person: Option<String>,
    #[serde(default)]
    pub deputy: Option<String>,
}

/// The roles every plan must define.
pub const REQUIRED_ROLES: [&str; 6] = [
    "incident_commander",
    "privacy_officer",
    "it_lead",
    "communications",
    "legal",
    "executive_sponsor",
];

/// Which incident type an alert opens. `rule` matches the alert's rule id exactly, or as a
/// prefix when it ends in `*`; `attack` matches an ATT&CK technique of the alert, or any of its
/// sub-techniques (`T1110` matches `T1110.003`). The first route that matches wins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    #[serde(default)]
    pub rule: Option<String>,
    #[serde(default)]
    pub attack: Option<String>,
    pub incident_type: IncidentType,
}

impl Route {
    fn matches(&self, alert: &Alert) -> bool {
        if let Some(rule) = &self.rule {
            let hit = match rule.strip_suffix('*') {
                Some(prefix) => alert.rule_id.starts_with(prefix),
                None => alert.rule_id == *rule,
            };
            if hit {
                return true;
            }
        }
        if let Some(technique) = &self.attack {
            return alert.attack.iter().any(|t| {
                t.eq_ignore_ascii_case(technique)
                    || t.len() > technique.len()
                        && t[..technique.len()].eq_ignore_ascii_case(technique)
                        && t.as_bytes()[technique.len()] == b'.'
            });
        }
        false
    }
}

/// One step of a playbook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Task {
    pub phase: Phase,
    /// The role responsible.
    pub role: String,
    pub title: String,
    #[serde(default)]
    pub detail: String,
    /// Where the step comes from (`NIST SP 800-61r2 3.3.2`, `45 CFR 164.404`).
    #[serde(default)]
    pub reference: Option<String>,
}

/// What to do for one incident type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Playbook {
    pub incident_type: IncidentType,
    pub title: String,
    pub summary: String,
    /// The severity of an incident of this type opened by hand.
    pub severity: String,
    pub tasks: Vec<Task>,
}

/// A response plan. See the module documentation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub name: String,
    /// The plan's version, recorded on every incident that follows it.
    pub version: String,
    /// When this version took effect (`YYYY-MM-DD`).
    pub effective: String,
    /// When the plan was last tested (a tabletop exercise), `YYYY-MM-DD`.
    #[serde(default)]
    pub last_tested: Option<String>,
    pub roles: Vec<Role>,
    #[serde(default)]
    pub routes: Vec<Route>,
    #[serde(skip)]
    pub playbooks: Vec<Playbook>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PlanFile {
    name: String,
    version: String,
    effective: String,
    #[serde(default)]
    last_tested: Option<String>,
    roles: Vec<Role>,
    #[serde(default)]
    routes: Vec<Route>,
}

/// A plan that cannot be used as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlanError {
    /// The TOML does not parse or has an unknown key; names the file and the line.
    Syntax {
        file: String,
        line: Option<usize>,
        reason: String,
    },
    /// A playbook file whose content the plan cannot use; names the file and, where the
    /// mistake is on one line, the line.
    InPlaybook {
        file: String,
        line: Option<usize>,
        error: Box<PlanError>,
    },
    MissingRole(String),
    DuplicateRole(String),
    /// A task names a role the plan does not define.
    UnknownRole {
        playbook: IncidentType,
        task: String,
        role: String,
    },
    MissingPlaybook(IncidentType),
    DuplicatePlaybook(IncidentType),
    /// A playbook's tasks are not in phase order, or it has none.
    Tasks {
        playbook: IncidentType,
        reason: String,
    },
    BadSeverity {
        playbook: IncidentType,
    },
    /// A route with neither `rule` nor `attack`.
    EmptyRoute(usize),
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlanError::Syntax {
                file,
                line: Some(line),
                reason,
            } => write!(f, "{file}, line {line}: {reason}"),
            PlanError::Syntax {
                file,
                line: None,
                reason,
            } => write!(f, "{file}: {reason}"),
            PlanError::InPlaybook {
                file,
                line: Some(line),
                error,
            } => write!(f, "{file}, line {line}: {error}"),
            PlanError::InPlaybook {
                file,
                line: None,
                error,
            } => write!(f, "{file}: {error}"),
            PlanError::MissingRole(role) => write!(f, "the plan defines no role `{role}`; add it"),
            PlanError::DuplicateRole(role) => write!(f, "the role `{role}` is defined twice"),
            PlanError::UnknownRole {
                playbook,
                task,
                role,
            } => write!(
                f,
                "playbook {}: task \u{201c}{task}\u{201d} names the role `{role}`, which the plan does not define",
                playbook.as_str()
            ),
            PlanError::MissingPlaybook(t) => write!(f, "no playbook for {}; add one", t.as_str()),
            PlanError::DuplicatePlaybook(t) => {
                write!(f, "two playbooks for {}; keep one", t.as_str())
            }
            PlanError::Tasks { playbook, reason } => {
                write!(f, "playbook {}: {reason}", playbook.as_str())
            }
            PlanError::BadSeverity { playbook } => write!(
                f,
                "playbook {}: severity must be low, medium, high or critical",
                playbook.as_str()
            ),
            PlanError::EmptyRoute(i) => {
                write!(
                    f,
                    "route {} names neither a rule nor an ATT&CK technique",
                    i + 1
                )
            }
        }
    }
}

impl std::error::Error for PlanError {}

impl Plan {
    /// The plan Ward ships.
    pub fn shipped() -> Plan {
        let playbooks: Vec<(&str, &str)> = SHIPPED_PLAYBOOKS
            .iter()
            .map(|text| ("shipped playbook", *text))
            .collect();
        Plan::parse(("plans/plan.toml", SHIPPED_PLAN), &playbooks)
            .expect("the shipped plan is valid (tested)")
    }

    /// Reads a plan and its playbooks, each given as (file name for messages, TOML text).
    pub fn parse(plan: (&str, &str), playbooks: &[(&str, &str)]) -> Result<Plan, PlanError> {
        let syntax = |file: &str, text: &str, e: toml::de::Error| PlanError::Syntax {
            file: file.to_string(),
            line: e.span().map(|span| line_of(text, span.start)),
            reason: e.message().trim().to_string(),
        };
        let file: PlanFile = toml::from_str(plan.1).map_err(|e| syntax(plan.0, plan.1, e))?;
        let mut parsed = Vec::with_capacity(playbooks.len());
        for (name, text) in playbooks {
            parsed.push(toml::from_str::<Playbook>(text).map_err(|e| syntax(name, text, e))?);
        }
        let plan = Plan {
            name: file.name,
            version: file.version,
            effective: file.effective,
            last_tested: file.last_tested,
            roles: file.roles,
            routes: file.routes,
            playbooks: parsed,
        };
        plan.validate()
            .map_err(|error| in_playbook(error, playbooks, &plan))?;
        Ok(plan)
    }

    fn validate(&self) -> Result<(), PlanError> {
        for (i, role) in self.roles.iter().enumerate() {
            if self.roles[..i].iter().any(|r| r.id == role.id) {
                return Err(PlanError::DuplicateRole(role.id.clone()));
            }
        }
        for required in REQUIRED_ROLES {
            if self.role(required).is_none() {
                return Err(PlanError::MissingRole(required.to_string()));
            }
        }
        for (i, route) in self.routes.iter().enumerate() {
            if route.rule.is_none() && route.attack.is_none() {
                return Err(PlanError::EmptyRoute(i));
            }
        }
        for kind in IncidentType::ALL {
            match self
                .playbooks
                .iter()
                .filter(|p| p.incident_type == kind)
                .count()
            {
                0 => return Err(PlanError::MissingPlaybook(kind)),
                1 => {}
                _ => return Err(PlanError::DuplicatePlaybook(kind)),
            }
        }
        for playbook in &self.playbooks {
            let kind = playbook.incident_type;
            if playbook_severity(playbook).is_none() {
                return Err(PlanError::BadSeverity { playbook: kind });
            }
            if playbook.tasks.is_empty() {
                return Err(PlanError::Tasks {
                    playbook: kind,
                    reason: "it has no tasks".into(),
                });
            }
            for pair in playbook.tasks.windows(2) {
                if pair[1].phase < pair[0].phase {
                    return Err(PlanError::Tasks {
                        playbook: kind,
                        reason: format!(
                            "\u{201c}{}\u{201d} ({}) comes after a {} task; list tasks in phase order",
                            pair[1].title,
                            pair[1].phase.as_str(),
                            pair[0].phase.as_str()
                        ),
                    });
                }
            }
            for task in &playbook.tasks {
                if self.role(&task.role).is_none() {
                    return Err(PlanError::UnknownRole {
                        playbook: kind,
                        task: task.title.clone(),
                        role: task.role.clone(),
                    });
                }
            }
        }
        Ok(())
    }

    pub fn role(&self, id: &str) -> Option<&Role> {
        self.roles.iter().find(|r| r.id == id)
    }

    pub fn playbook(&self, kind: IncidentType) -> &Playbook {
        self.playbooks
            .iter()
            .find(|p| p.incident_type == kind)
            .expect("a validated plan has a playbook for every type")
    }

    /// The incident type the first matching route gives an alert, if any.
    pub fn route(&self, alert: &Alert) -> Option<IncidentType> {
        self.routes
            .iter()
            .find(|r| r.matches(alert))
            .map(|r| r.incident_type)
    }

    /// Roles no person holds yet: the plan is not ready until this is empty.
    pub fn unassigned_roles(&self) -> Vec<&str> {
        self.roles
            .iter()
            .filter(|r| r.person.as_deref().is_none_or(|p| p.trim().is_empty()))
            .map(|r| r.id.as_str())
            .collect()
    }

    /// The tasks a new incident of `kind` gets: the playbook's steps in order, each assigned
    /// to the holder of its role when the plan names one.
    pub fn tasks_for(&self, kind: IncidentType) -> Vec<NewTask> {
        self.playbook(kind)
            .tasks
            .iter()
            .enumerate()
            .map(|(i, task)| {
                let mut detail = task.detail.trim().to_string();
                if let Some(reference) = &task.reference {
                    detail.push_str(&format!(" ({reference})"));
                }
                NewTask {
                    phase: task.phase.as_str().to_string(),
                    order: i as u32 + 1,
                    title: task.title.clone(),
                    detail,
                    role: task.role.clone(),
                    assignee: self
                        .role(&task.role)
                        .and_then(|r| r.person.clone())
                        .filter(|p| !p.trim().is_empty()),
                }
            })
            .collect()
    }
}

/// The 1-based line of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset)
        .unwrap_or(text)
        .bytes()
        .filter(|b| *b == b'\n')
        .count()
        + 1
}

/// Names the playbook file (and the line, when one line holds the mistake) of an error about
/// a playbook's content.
fn in_playbook(error: PlanError, playbooks: &[(&str, &str)], plan: &Plan) -> PlanError {
    let (kind, needle) = match &error {
        PlanError::UnknownRole { playbook, role, .. } => (*playbook, Some(format!("\"{role}\""))),
        PlanError::Tasks { playbook, .. } => (*playbook, None),
        PlanError::BadSeverity { playbook } => (*playbook, Some("severity".to_string())),
        PlanError::DuplicatePlaybook(kind) => (*kind, None),
        _ => return error,
    };
    let index = plan.playbooks.iter().rposition(|p| p.incident_type == kind);
    let Some((file, text)) = index.and_then(|i| playbooks.get(i)) else {
        return error;
    };
    let line = needle.and_then(|needle| {
        text.lines()
            .position(|l| l.contains(needle.as_str()))
            .map(|i| i + 1)
    });
    PlanError::InPlaybook {
        file: file.to_string(),
        line,
        error: Box::new(error),
    }
}

/// The severity a playbook gives an incident opened by hand.
pub fn playbook_severity(playbook: &Playbook) -> Option<Severity> {
    match Severity::parse(&playbook.severity)? {
        s @ (Severity::Low | Severity::Medium | Severity::High | Severity::Critical) => Some(s),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ward_model::{AlertEntities, AlertStatus, Timestamp};

    fn alert(rule: &str, attack: &[&str]) -> Alert {
        Alert {
            id: "a".into(),
            rule_id: rule.into(),
            title: "t".into(),
            severity: Severity::High,
            first_seen: Timestamp(0),
            last_seen: Timestamp(0),
            count: 1,
            entities: AlertEntities::default(),
            attack: attack.iter().map(|s| s.to_string()).collect(),
            hipaa: vec![],
            status: AlertStatus::Open,
            author: None,
            license: None,
            references: vec![],
            description: None,
        }
    }

    #[test]
    fn the_shipped_plan_is_valid_and_covers_every_incident_type_and_role() {
        let plan = Plan::shipped();
        for kind in IncidentType::ALL {
            let book = plan.playbook(kind);
            let phases: Vec<Phase> = book.tasks.iter().map(|t| t.phase).collect();
            for phase in Phase::ALL {
                assert!(phases.contains(&phase), "{kind:?} has no {phase:?} task");
            }
        }
        // Shipped without people: the organisation names them.
        assert_eq!(plan.unassigned_roles().len(), REQUIRED_ROLES.len());
    }

    #[test]
    fn alerts_route_to_incident_types_by_rule_then_by_technique() {
        let plan = Plan::shipped();
        let cases = [
            (
                "privacy.family_member",
                &[][..],
                Some(IncidentType::InsiderSnooping),
            ),
            (
                "privacy.mass_export",
                &[],
                Some(IncidentType::InsiderSnooping),
            ),
            (
                "threat.credential.impossible_travel",
                &[],
                Some(IncidentType::CompromisedAccount),
            ),
            (
                "threat.credential.vendor_outside_contract",
                &[],
                Some(IncidentType::VendorBreach),
            ),
            (
                "threat.mail.lookalike_domain",
                &[],
                Some(IncidentType::Phishing),
            ),
            (
                "threat.mail.phi_to_personal",
                &[],
                Some(IncidentType::MisdirectedPhi),
            ),
            // The shipped Sigma pack's rules carry UUIDs; their techniques route them.
            (
                "219db25f-a191-422b-8b09-8956997d0f53",
                &["T1490"],
                Some(IncidentType::Ransomware),
            ),
            (
                "20561395-02ca-4c6a-927b-b68c614bd058",
                &["T1110.001", "T1078"],
                Some(IncidentType::CompromisedAccount),
            ),
            (
                "somebody.elses.rule",
                &["T1566.002"],
                Some(IncidentType::Phishing),
            ),
            ("somebody.elses.rule", &["T11100"], None),
            ("threat.network.unknown_device", &[], None),
        ];
        for (rule, attack, expected) in cases {
            assert_eq!(
                plan.route(&alert(rule, attack)),
                expected,
                "{rule} {attack:?}"
            );
        }
    }

    #[test]
    fn tasks_follow_the_playbook_order_and_go_to_the_role_holder() {
        let mut plan = Plan::shipped();
        plan.roles
            .iter_mut()
            .find(|r| r.id == "privacy_officer")
            .unwrap()
            .person = Some("pat.privacy".into());
        let tasks = plan.tasks_for(IncidentType::InsiderSnooping);
        assert_eq!(tasks[0].order, 1);
        assert_eq!(tasks[0].phase, "identification");
        assert!(tasks.windows(2).all(|w| w[0].order < w[1].order));
        for t in &tasks {
            let expected = (t.role == "privacy_officer").then(|| "pat.privacy".to_string());
            assert_eq!(t.assignee, expected, "{}", t.title);
        }
    }

    #[test]
    fn an_edited_plan_with_a_mistake_is_refused_naming_it() {
        let plan_text = SHIPPED_PLAN.replace("id = \"legal\"", "id = \"counsel\"");
        let books: Vec<(&str, &str)> = SHIPPED_PLAYBOOKS.iter().map(|t| ("p", *t)).collect();
        let err = Plan::parse(("plan.toml", &plan_text), &books).unwrap_err();
        assert_eq!(err, PlanError::MissingRole("legal".into()));

        let err = Plan::parse(("plan.toml", SHIPPED_PLAN), &books[1..]).unwrap_err();
        assert_eq!(err, PlanError::MissingPlaybook(IncidentType::Ransomware));

        let bad = SHIPPED_PLAYBOOKS[0].replacen("role = \"it_lead\"", "role = \"janitor\"", 1);
        let mut edited = books.clone();
        edited[0] = ("ransomware.toml", &bad);
        let err = Plan::parse(("plan.toml", SHIPPED_PLAN), &edited).unwrap_err();
        let janitor_line = bad.lines().position(|l| l.contains("janitor")).unwrap() + 1;
        assert!(
            matches!(
                &err,
                PlanError::InPlaybook { file, line: Some(line), error }
                    if file == "ransomware.toml"
                        && *line == janitor_line
                        && matches!(error.as_ref(), PlanError::UnknownRole { role, .. } if role == "janitor")
            ),
            "{err:?}"
        );
        assert!(
            err.to_string()
                .starts_with(&format!("ransomware.toml, line {janitor_line}: ")),
            "{err}"
        );

        let typo = format!("{SHIPPED_PLAN}\ncolour = \"blue\"\n");
        let typo_line = typo.lines().count();
        let err = Plan::parse(("plan.toml", &typo), &books).unwrap_err();
        assert!(
            matches!(
                &err,
                PlanError::Syntax { file, line: Some(line), .. } if file == "plan.toml" && *line == typo_line
            ),
            "{err:?}"
        );
        assert!(
            err.to_string()
                .contains(&format!("plan.toml, line {typo_line}")),
            "{err}"
        );
    }
}
