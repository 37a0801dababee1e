//! Reading an HTTP/1.1 response head and the Strict-Transport-Security policy in it
//! (RFC 6797). Pure parsing of untrusted bytes, no IO: the caller sends the request and hands
//! over whatever came back, truncated or not.

use crate::report::HstsPolicy;

/// HSTS max-age below this (about six months) is flagged as short; browsers' preload lists
/// ask for a year.
pub const MIN_RECOMMENDED_MAX_AGE: u64 = 15_768_000;

/// The status and headers of an HTTP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHead {
    pub status: u16,
    pub headers: Vec<(String, String)>,
}

impl ResponseHead {
    /// All values of a header, by case-insensitive name.
    pub fn values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// Where the head ends (index just past the blank line), if it is complete.
pub fn head_end(bytes: &[u8]) -> Option<usize> {
    bytes
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .map(|at| at + 4)
}

/// Parses a response head (status line and header fields, up to the blank line).
pub fn parse_response_head(bytes: &[u8]) -> Result<ResponseHead, String> {
    let head = match head_end(bytes) {
        Some(end) => bytes.get(..end).unwrap_or(bytes),
        None => return Err("the HTTP response head was incomplete".to_owned()),
    };
    let text = std::str::from_utf8(head)
        .map_err(|_| "the HTTP response head is not valid UTF-8".to_owned())?;
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") {
        return Err("the service did not answer with HTTP/1.x".to_owned());
    }
    let status = parts
        .next()
        .and_then(|code| code.parse::<u16>().ok())
        .filter(|code| (100..1000).contains(code))
        .ok_or_else(|| "the HTTP status line has no valid status code".to_owned())?;
    let mut headers = Vec::new();
    for line in lines.filter(|line| !line.is_empty()) {
        let Some((name, value)) = line.split_once(':') else {
            return Err("an HTTP header line has no colon".to_owned());
        };
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    Ok(ResponseHead { status, headers })
}

/// Parses a Strict-Transport-Security value: directives separated by `;`, `max-age`
/// required and given once, values possibly quoted, unknown directives ignored (RFC 6797 6.1).
pub fn parse_hsts(value: &str) -> Result<HstsPolicy, String> {
    let mut max_age = None;
    let mut include_subdomains = false;
    let mut preload = false;
    for directive in value
        .split(';')
        .map(str::trim)
        .filter(|directive| !directive.is_empty())
    {
        let (name, argument) = match directive.split_once('=') {
            Some((name, argument)) => (name.trim(), Some(argument.trim().trim_matches('"'))),
            None => (directive, None),
        };
        if name.eq_ignore_ascii_case("max-age") {
            if max_age.is_some() {
                return Err("max-age is given more than once".to_owned());
            }
            let seconds = argument
                .filter(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(|| format!("max-age {argument:?} is not a number of seconds"))?;
            // Absurdly long values saturate rather than fail: the intent is clear.
            max_age = Some(seconds.parse::<u64>().unwrap_or(u64::MAX));
        } else if name.eq_ignore_ascii_case("includeSubDomains") {
            include_subdomains = true;
        } else if name.eq_ignore_ascii_case("preload") {
            preload = true;
        }
    }
    let max_age = max_age.ok_or_else(|| "the required max-age directive is missing".to_owned())?;
    Ok(HstsPolicy {
        max_age,
        include_subdomains,
        preload,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_policy_with_all_directives_in_any_case_and_quoting() {
        assert_eq!(
            parse_hsts("max-age=31536000; includeSubDomains; preload"),
            Ok(HstsPolicy {
                max_age: 31_536_000,
                include_subdomains: true,
                preload: true
            })
        );
        assert_eq!(
            parse_hsts("MAX-AGE=\"600\";includesubdomains"),
            Ok(HstsPolicy {
                max_age: 600,
                include_subdomains: true,
                preload: false
            })
        );
        assert_eq!(
            parse_hsts("max-age=0"),
            Ok(HstsPolicy {
                max_age: 0,
                include_subdomains: false,
                preload: false
            })
        );
        assert_eq!(
            parse_hsts("max-age=99999999999999999999999; future-directive=1").map(|p| p.max_age),
            Ok(u64::MAX)
        );
    }

    #[test]
    fn refuses_policies_without_a_valid_single_max_age() {
        assert!(parse_hsts("includeSubDomains").is_err());
        assert!(parse_hsts("max-age=-1").is_err());
        assert!(parse_hsts("max-age=").is_err());
        assert!(parse_hsts("max-age=1; max-age=2").is_err());
        assert!(parse_hsts("").is_err());
    }

    #[test]
    fn parses_response_head_and_finds_headers_case_insensitively() {
        let head = parse_response_head(
            b"HTTP/1.1 301 Moved Permanently\r\nLocation: /x\r\nstrict-transport-security: max-age=5\r\n\r\nbody",
        )
        .unwrap();
        assert_eq!(head.status, 301);
        assert_eq!(
            head.values("Strict-Transport-Security").collect::<Vec<_>>(),
            ["max-age=5"]
        );
        assert!(
            parse_response_head(b"HTTP/1.1 200 OK\r\nX: y\r\n").is_err(),
            "incomplete"
        );
        assert!(parse_response_head(b"SSH-2.0-x\r\n\r\n").is_err());
        assert!(parse_response_head(b"HTTP/1.1 abc\r\n\r\n").is_err());
        assert!(parse_response_head(b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n").is_err());
    }
}
