//! The HR roster: a CSV export with one row per staff member, the organisation's record of who
//! is employed, in which department and role, and who has left or is on leave. The EHR keeps
//! accounts; HR knows whether their owners still work here, so privacy analytics read
//! termination and leave from here, joined to audit events by the EHR login.
//!
//! The first line names the columns (in any order, matched case-insensitively, with the usual
//! synonyms): `login` (required; also `user`, `username`, `user_id`, `account`), `name` (or
//! `given`/`family`, `first_name`/`last_name`), `department`, `role`, `hire_date`,
//! `termination_date`, `status` (`active`, `terminated`, `on-leave` …), `leave_start`,
//! `leave_end`. Fields follow RFC 4180 (quotes, doubled quotes, commas inside quotes) within
//! one line. Each row becomes a [`ContextResource`] whose summary is
//! [`ContextSummary::Employment`], id `roster-<login>`.
//!
//! Like every parser here it does no IO, never panics, and never puts a field's value in an
//! error (a roster row is personal data): errors name the line and the column.

use crate::DecodeError;
use ward_model::context::{EmploymentStatus, PersonName};
use ward_model::{ContextKind, ContextResource, ContextSummary, Timestamp};

/// The kind roster rows are filed under (see [`ContextSummary::Employment`]).
pub const ROSTER_KIND: ContextKind = ContextKind::Employment;

/// The prefix of roster resources' ids, which keeps them apart from FHIR PractitionerRoles.
pub const ROSTER_ID_PREFIX: &str = "roster-";

/// Which column holds what, read from the header line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RosterColumns {
    login: usize,
    name: Option<usize>,
    given: Option<usize>,
    family: Option<usize>,
    department: Option<usize>,
    role: Option<usize>,
    hired: Option<usize>,
    terminated: Option<usize>,
    status: Option<usize>,
    leave_start: Option<usize>,
    leave_end: Option<usize>,
}

impl RosterColumns {
    /// The columns of a roster whose header line is `line`; `None` when the line is not a
    /// roster header: it must name a login column and at least one of status or
    /// termination date, which is what separates a roster from any other CSV.
    pub fn from_header(line: &[u8]) -> Option<Self> {
        let text = std::str::from_utf8(strip_bom(line)).ok()?;
        let names: Vec<String> = split_fields(text.trim_end_matches(['\r', '\n']))
            .ok()?
            .into_iter()
            .map(|f| f.trim().to_ascii_lowercase().replace([' ', '-'], "_"))
            .collect();
        let find = |aliases: &[&str]| names.iter().position(|n| aliases.contains(&n.as_str()));
        let columns = RosterColumns {
            login: find(&["login", "user", "username", "user_id", "userid", "account"])?,
            name: find(&["name", "full_name", "employee_name"]),
            given: find(&["given", "given_name", "first_name", "firstname"]),
            family: find(&["family", "family_name", "last_name", "lastname", "surname"]),
            department: find(&["department", "dept", "department_code", "unit"]),
            role: find(&["role", "job", "job_title", "title", "position"]),
            hired: find(&["hire_date", "hired", "start_date"]),
            terminated: find(&[
                "termination_date",
                "terminated",
                "term_date",
                "end_date",
                "separation_date",
            ]),
            status: find(&["status", "employment_status"]),
            leave_start: find(&["leave_start", "leave_from"]),
            leave_end: find(&["leave_end", "leave_until", "leave_to"]),
        };
        (columns.status.is_some() || columns.terminated.is_some()).then_some(columns)
    }

    /// One data row (without its line ending) into a resource, or why it cannot be read.
    /// Blank lines give nothing.
    pub fn parse_row(&self, line: &[u8], out: &mut Vec<Result<ContextResource, DecodeError>>) {
        let trimmed = trim_line(line);
        if trimmed.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        out.push(self.row(trimmed).map_err(DecodeError::record));
    }

    fn row(&self, line: &[u8]) -> Result<ContextResource, String> {
        let text = std::str::from_utf8(line)
            .map_err(|_| "the roster row is not UTF-8 text".to_string())?;
        let fields = split_fields(text)?;
        let get = |i: Option<usize>| {
            i.and_then(|i| fields.get(i))
                .map(|f| f.trim())
                .filter(|f| !f.is_empty())
        };
        let login = get(Some(self.login))
            .ok_or("the roster row has no login: every row needs the EHR login of its person")?
            .to_string();
        let date = |column: &str, i: Option<usize>| -> Result<Option<Timestamp>, String> {
            match get(i) {
                None => Ok(None),
                Some(t) => Timestamp::parse(t)
                    .map(Some)
                    .ok_or_else(|| format!("{column} is not a date (expected e.g. 2024-05-01)")),
            }
        };
        let hired = date("hire_date", self.hired)?;
        let terminated = date("termination_date", self.terminated)?;
        let leave_start = date("leave_start", self.leave_start)?;
        let leave_end = date("leave_end", self.leave_end)?;
        let status = match get(self.status) {
            Some(s) => status_of(s),
            None if terminated.is_some() => EmploymentStatus::Terminated,
            None if leave_start.is_some() => EmploymentStatus::OnLeave,
            None => EmploymentStatus::Active,
        };
        let name = match (get(self.given), get(self.family)) {
            (None, None) => get(self.name).map(split_name).unwrap_or_default(),
            (given, family) => PersonName {
                family: family.map(str::to_string),
                given: given
                    .map(|g| g.split_whitespace().map(str::to_string).collect())
                    .unwrap_or_default(),
            },
        };
        Ok(ContextResource {
            kind: ROSTER_KIND,
            id: format!("{ROSTER_ID_PREFIX}{login}"),
            summary: ContextSummary::Employment {
                login,
                name,
                department: get(self.department).map(str::to_string),
                role: get(self.role).map(str::to_string),
                hired,
                terminated,
                status,
                leave_start,
                leave_end,
            },
            raw: line.to_vec(),
        })
    }
}

/// Whether `line` is the header of an HR roster.
pub fn is_roster_header(line: &[u8]) -> bool {
    RosterColumns::from_header(line).is_some()
}

/// A whole roster (header line first) into resources; each failure names its line (as the
/// entry, 1-based) and keeps the row's bytes. A text whose first non-blank line is not a
/// roster header gives one error and nothing else.
pub fn parse_roster(text: &[u8]) -> Vec<Result<ContextResource, DecodeError>> {
    let mut out = Vec::new();
    let mut lines = text
        .split(|&b| b == b'\n')
        .enumerate()
        .map(|(i, l)| (i as u64 + 1, l))
        .skip_while(|(_, l)| trim_line(l).iter().all(u8::is_ascii_whitespace));
    let Some((_, header)) = lines.next() else {
        return out;
    };
    let Some(columns) = RosterColumns::from_header(trim_line(header)) else {
        out.push(Err(DecodeError::record(
            "not an HR roster: the first line must name the columns, among them login and status or termination_date",
        )));
        return out;
    };
    let mut row = Vec::new();
    for (number, line) in lines {
        columns.parse_row(line, &mut row);
        for parsed in row.drain(..) {
            out.push(parsed.map_err(|e| {
                DecodeError::entry(
                    number,
                    format!("line {number}: {}", e.reason),
                    trim_line(line).to_vec(),
                )
            }));
        }
    }
    out
}

fn strip_bom(line: &[u8]) -> &[u8] {
    line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line)
}

fn trim_line(line: &[u8]) -> &[u8] {
    let line = strip_bom(line);
    let end = line
        .iter()
        .rposition(|&b| b != b'\r' && b != b'\n')
        .map_or(0, |i| i + 1);
    &line[..end]
}

fn status_of(text: &str) -> EmploymentStatus {
    let t = text.trim().to_ascii_lowercase().replace([' ', '_'], "-");
    match t.as_str() {
        "active" | "employed" | "current" => EmploymentStatus::Active,
        "terminated" | "term" | "separated" | "inactive" | "left" | "resigned" | "retired" => {
            EmploymentStatus::Terminated
        }
        "on-leave" | "leave" | "loa" | "leave-of-absence" | "suspended" => {
            EmploymentStatus::OnLeave
        }
        _ => EmploymentStatus::Unknown,
    }
}

/// "Given Family" or "Family, Given".
fn split_name(text: &str) -> PersonName {
    if let Some((family, given)) = text.split_once(',') {
        return PersonName {
            family: Some(family.trim().to_string()).filter(|f| !f.is_empty()),
            given: given.split_whitespace().map(str::to_string).collect(),
        };
    }
    let mut parts: Vec<&str> = text.split_whitespace().collect();
    let family = parts.pop().map(str::to_string);
    PersonName {
        family,
        given: parts.into_iter().map(str::to_string).collect(),
    }
}

/// RFC 4180 fields of one line: commas separate, a field may be quoted, `""` inside quotes is
/// a quote.
fn split_fields(line: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    let mut at_start = true;
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                c => field.push(c),
            }
            continue;
        }
        match c {
            '"' if at_start => {
                quoted = true;
                at_start = false;
            }
            ',' => {
                fields.push(std::mem::take(&mut field));
                at_start = true;
            }
            c => {
                field.push(c);
                if !c.is_whitespace() {
                    at_start = false;
                }
            }
        }
    }
    if quoted {
        return Err("a quoted field is not closed on its line".into());
    }
    fields.push(field);
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROSTER: &str = "login,name,department,role,hire_date,termination_date,status\n\
        u1000,Jacob Ryan,MED,physician,2019-03-21,,active\n\
        u1007,Hannah Robinson,MED,nurse,2015-03-13,2026-08-12,terminated\r\n\
        \n\
        u1019,\"Olson, Denise\",MED,physician,2012-10-13,,on-leave\n\
        u1020,Bad Date,MED,nurse,yesterday,,active\n\
        ,No Login,MED,nurse,2012-10-13,,active\n";

    fn employment(r: &ContextResource) -> (&str, EmploymentStatus, Option<Timestamp>, &PersonName) {
        match &r.summary {
            ContextSummary::Employment {
                login,
                status,
                terminated,
                name,
                ..
            } => (login, *status, *terminated, name),
            other => panic!("not an employment: {other:?}"),
        }
    }

    #[test]
    fn reads_the_simulator_roster_with_termination_and_leave() {
        let parsed = parse_roster(ROSTER.as_bytes());
        assert_eq!(parsed.len(), 5, "{parsed:?}");
        let ok: Vec<&ContextResource> = parsed.iter().filter_map(|r| r.as_ref().ok()).collect();
        assert_eq!(ok.len(), 3);
        assert_eq!(ok[0].id, "roster-u1000");
        assert_eq!(ok[0].kind, ROSTER_KIND);
        assert_eq!(ok[0].summary.kind(), ROSTER_KIND);
        let (login, status, terminated, name) = employment(ok[1]);
        assert_eq!((login, status), ("u1007", EmploymentStatus::Terminated));
        assert_eq!(terminated, Timestamp::parse("2026-08-12"));
        assert_eq!(name.family.as_deref(), Some("Robinson"));
        assert_eq!(
            ok[1].raw,
            b"u1007,Hannah Robinson,MED,nurse,2015-03-13,2026-08-12,terminated"
        );
        let (_, status, _, name) = employment(ok[2]);
        assert_eq!(status, EmploymentStatus::OnLeave);
        assert_eq!(name.family.as_deref(), Some("Olson"));
        assert_eq!(name.given, vec!["Denise".to_string()]);
    }

    #[test]
    fn errors_name_the_line_and_column_but_never_the_value() {
        let errors: Vec<DecodeError> = parse_roster(ROSTER.as_bytes())
            .into_iter()
            .filter_map(Result::err)
            .collect();
        assert_eq!(errors.len(), 2);
        assert_eq!(errors[0].entry, Some(6));
        assert!(
            errors[0].reason.contains("hire_date"),
            "{}",
            errors[0].reason
        );
        assert!(!errors[0].reason.contains("yesterday"));
        assert!(!errors[0].reason.contains("Bad Date"));
        assert!(
            errors[1].reason.contains("no login"),
            "{}",
            errors[1].reason
        );
    }

    #[test]
    fn recognises_a_roster_header_and_refuses_other_csv() {
        assert!(is_roster_header(
            b"login,name,department,role,hire_date,termination_date,status"
        ));
        assert!(is_roster_header(
            b"\xEF\xBB\xBFUser ID,Last Name,First Name,Status\r"
        ));
        assert!(!is_roster_header(
            b"hostname,ip,kind,model,zone,department,shared"
        ));
        assert!(!is_roster_header(b"login,name"));
        let refused = parse_roster(b"hostname,ip\nh1,10.0.0.1\n");
        assert_eq!(refused.len(), 1);
        assert!(refused[0].is_err());
    }

    #[test]
    fn separate_name_columns_and_status_implied_by_dates() {
        let parsed = parse_roster(
            b"username,first_name,last_name,termination_date\nu1,Ann Marie,Lee,2026-01-01\nu2,Bo,Ek,\n",
        );
        let ok: Vec<ContextResource> = parsed.into_iter().map(Result::unwrap).collect();
        let (_, status, _, name) = employment(&ok[0]);
        assert_eq!(status, EmploymentStatus::Terminated);
        assert_eq!(name.given, vec!["Ann".to_string(), "Marie".to_string()]);
        assert_eq!(employment(&ok[1]).1, EmploymentStatus::Active);
    }

    #[test]
    fn never_panics_on_damaged_rows() {
        let columns = RosterColumns::from_header(b"login,status,termination_date").unwrap();
        let mut out = Vec::new();
        for row in [
            &b"\"unclosed,active"[..],
            b"\xff\xfe,active",
            b"u1",
            b",,,,,,,,,,",
            b"\"u\"\"1\",terminated,2026-13-45",
        ] {
            columns.parse_row(row, &mut out);
        }
        assert_eq!(out.len(), 5);
        assert!(out[2].is_ok(), "a short row still has its login");
        assert!(out[4].is_err(), "month 13 is no date");
    }
}
