//! Roles and what each may do. Least privilege: each role gets the permissions its work needs
//! and nothing else, and only the privacy officer sees patient identities (names and ids) by
//! default. This table and [`crate::routes::ROUTES`] are the whole access policy.
//!
//! Privacy cases (snooping alerts grouped per workforce member) are the privacy officer's work
//! list; the admin sees them because the admin answers for the whole deployment, and the
//! compliance auditor because checking that snooping is followed up is what an audit of
//! 164.308(a)(1)(ii)(D) asks; both see patients masked, and none of them changes an alert
//! from that page. The security analyst and the SOC partner work on threats, not on who read
//! which chart, so they do not get the list (they still see single alerts in the alert list,
//! masked, as before). The rule list is for every in-house role that judges alerts (what can
//! fire, from which detector, with which mappings); the outside SOC partner gets alerts only.
//!
//! Incidents: the privacy officer and the admin open them and record the breach assessment,
//! law-enforcement delays and deadlines; the security analyst also works their tasks and
//! evidence; the compliance auditor reads them; the SOC partner does not see them. Letters and
//! evidence content name patients, so only the privacy officer (the one role with PHI) gets
//! them; everyone else sees linked patients masked.
//!
//! The inventory (assets, findings, exposure, network map, encryption coverage) holds no PHI.
//! The admin and the security analyst read it and review unknown devices (accepting one adds
//! an asset); the compliance auditor reads it, because the inventory and network map are what
//! an audit of the Security Rule asks to see. The privacy officer reads it too: whether a lost
//! or breached system was encrypted decides whether its PHI was "unsecured" (45 CFR 164.402),
//! the first question of the breach assessment that role records. The SOC partner works
//! alerts only and does not get the organisation's map of weak spots.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Runs Ward: users, tokens, settings; sees alerts and events with PHI masked.
    Admin,
    /// Triages alerts and investigates; PHI masked.
    SecurityAnalyst,
    /// Investigates snooping (privacy cases): the one role that sees patient identities, and the
    /// audit trail.
    PrivacyOfficer,
    /// Read-only view for audits: alerts, privacy cases, rules, events, sources, quarantine; no
    /// PHI, no changes.
    ComplianceAuditor,
    /// An outside SOC/MDR: alerts only, PHI masked.
    SocPartner,
}

/// What a route needs. Checked once, by the route middleware, against the caller's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// Anyone, signed in or not (sign-in, setup, static files, the OpenAPI document).
    Public,
    /// A session whose password was accepted and whose TOTP code is due.
    MfaStep,
    /// Enrolling one's own MFA: a session that must enrol, or a full one.
    EnrolMfa,
    /// Any session, at any stage of sign-in (sign out).
    AnySession,
    /// Any fully signed-in user (the landing redirect).
    SignedIn,
    ViewOverview,
    ViewAlerts,
    ChangeAlerts,
    Investigate,
    ViewSources,
    ViewQuarantine,
    ViewAudit,
    ManageUsers,
    ManageTokens,
    /// The privacy officer's work list: privacy alerts grouped per user.
    ViewPrivacyCases,
    /// The detection rules that run, with their open alerts.
    ViewRules,
    /// Switching a rule off (with a reason) and back on.
    ManageRules,
    /// Notification deliveries: channel, alert, state, errors; never their contents.
    ViewDeliveries,
    /// Incidents, their tasks, deadlines and evidence list (docs/incidents.md).
    ViewIncidents,
    /// Working an incident's tasks and evidence: completing tasks, adding and verifying evidence.
    WorkIncidents,
    /// Opening incidents, the breach assessment and law-enforcement delays.
    ManageIncidents,
    /// Notification letters and evidence content: they name patients.
    ViewIncidentPhi,
    /// The inventory: assets, findings, exposure, the network map, encryption coverage and
    /// the unknown devices (no PHI: it says which systems hold PHI, not what they hold).
    ViewInventory,
    /// Reviewing unknown devices: accepting them into the inventory or dismissing them.
    ManageInventory,
    /// The effective configuration, secrets redacted: admins, and auditors checking the
    /// safeguards' settings (automatic logoff, encryption, lock-out).
    ViewSettings,
    /// Running a draft Sigma rule over stored events (a search: admins, analysts and the
    /// privacy officer, who writes rules over the EHR audit trail).
    TestRules,
    /// Not a route permission: whether patient names and ids are shown unmasked.
    ViewPhi,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Admin,
        Role::SecurityAnalyst,
        Role::PrivacyOfficer,
        Role::ComplianceAuditor,
        Role::SocPartner,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::SecurityAnalyst => "security_analyst",
            Role::PrivacyOfficer => "privacy_officer",
            Role::ComplianceAuditor => "compliance_auditor",
            Role::SocPartner => "soc_partner",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == text)
    }

    /// How the role is named on screen.
    pub fn label(self) -> &'static str {
        match self {
            Role::Admin => "Admin",
            Role::SecurityAnalyst => "Security analyst",
            Role::PrivacyOfficer => "Privacy officer",
            Role::ComplianceAuditor => "Compliance auditor",
            Role::SocPartner => "SOC partner",
        }
    }

    /// Admins must use MFA; other roles may.
    pub fn requires_mfa(self) -> bool {
        self == Role::Admin
    }

    /// The role's permissions beyond [`Permission::Public`] and the sign-in steps.
    fn grants(self) -> &'static [Permission] {
        use Permission::*;
        match self {
            Role::Admin => &[
                SignedIn,
                ViewOverview,
                ViewAlerts,
                ChangeAlerts,
                Investigate,
                ViewSources,
                ViewQuarantine,
                ViewAudit,
                ManageUsers,
                ManageTokens,
                ViewPrivacyCases,
                ViewRules,
                ManageRules,
                ViewIncidents,
                WorkIncidents,
                ManageIncidents,
                ViewDeliveries,
                ViewInventory,
                ManageInventory,
                ViewSettings,
                TestRules,
            ],
            Role::SecurityAnalyst => &[
                SignedIn,
                ViewOverview,
                ViewAlerts,
                ChangeAlerts,
                Investigate,
                ViewSources,
                ViewQuarantine,
                ViewRules,
                ManageRules,
                ViewIncidents,
                WorkIncidents,
                ViewDeliveries,
                ViewInventory,
                ManageInventory,
                TestRules,
            ],
            Role::PrivacyOfficer => &[
                SignedIn,
                ViewOverview,
                ViewAlerts,
                ChangeAlerts,
                Investigate,
                ViewSources,
                ViewAudit,
                ViewPrivacyCases,
                ViewRules,
                ViewIncidents,
                WorkIncidents,
                ManageIncidents,
                ViewIncidentPhi,
                ViewPhi,
                ViewInventory,
                TestRules,
            ],
            Role::ComplianceAuditor => &[
                SignedIn,
                ViewOverview,
                ViewAlerts,
                Investigate,
                ViewSources,
                ViewQuarantine,
                ViewPrivacyCases,
                ViewRules,
                ViewIncidents,
                ViewInventory,
                ViewSettings,
            ],
            Role::SocPartner => &[SignedIn, ViewAlerts, ChangeAlerts],
        }
    }

    /// Whether a fully signed-in user of this role holds `permission`.
    pub fn allows(self, permission: Permission) -> bool {
        match permission {
            Permission::Public
            | Permission::MfaStep
            | Permission::EnrolMfa
            | Permission::AnySession => true,
            p => self.grants().contains(&p),
        }
    }

    pub fn sees_phi(self) -> bool {
        self.allows(Permission::ViewPhi)
    }
}
