//! The `condition` language: `and`, `or`, `not`, parentheses, `1 of X*`, `all of X*`,
//! `1 of them`, `all of them`, parsed into an [`Expr`] over search indices. Names are resolved
//! here, once, so evaluation never looks a name up. Precedence: `not` over `and` over `or`.

/// A condition over the rule's searches, by index.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    Search(usize),
    Not(Box<Expr>),
    And(Vec<Expr>),
    Or(Vec<Expr>),
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Open,
    Close,
    And,
    Or,
    Not,
    OneOf,
    AllOf,
    Name(String),
}

/// Deepest nesting of parentheses and `not` accepted. Real conditions nest a few levels; the
/// parser recurses per level, so without a bound a hostile condition overflows the stack.
const MAX_DEPTH: usize = 64;

/// Parses `text` against the search `names`; the error is the reason.
pub(crate) fn parse(text: &str, names: &[&str]) -> Result<Expr, String> {
    if text.contains('|') {
        return Err("aggregations after `|` (Sigma 1 count/near) are not supported".into());
    }
    let tokens = tokenize(text)?;
    let mut parser = Parser {
        tokens,
        at: 0,
        names,
        depth: 0,
    };
    let expr = parser.or()?;
    match parser.tokens.get(parser.at) {
        None => Ok(expr),
        Some(t) => Err(format!("unexpected {t:?} after a complete condition")),
    }
}

fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let spaced = text.replace('(', " ( ").replace(')', " ) ");
    let words: Vec<&str> = spaced.split_whitespace().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let word = words[i];
        let next_is_of = words
            .get(i + 1)
            .is_some_and(|w| w.eq_ignore_ascii_case("of"));
        let token = match word {
            "(" => Token::Open,
            ")" => Token::Close,
            w if w.eq_ignore_ascii_case("and") => Token::And,
            w if w.eq_ignore_ascii_case("or") => Token::Or,
            w if w.eq_ignore_ascii_case("not") => Token::Not,
            "1" if next_is_of => {
                i += 1;
                Token::OneOf
            }
            w if w.eq_ignore_ascii_case("all") && next_is_of => {
                i += 1;
                Token::AllOf
            }
            w if w.chars().all(|c| c.is_ascii_digit()) && next_is_of => {
                return Err(format!("`{w} of` is not Sigma: use `1 of` or `all of`"));
            }
            w => Token::Name(w.to_string()),
        };
        tokens.push(token);
        i += 1;
    }
    Ok(tokens)
}

struct Parser<'a> {
    tokens: Vec<Token>,
    at: usize,
    names: &'a [&'a str],
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut items = vec![self.and()?];
        while self.peek() == Some(&Token::Or) {
            self.at += 1;
            items.push(self.and()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Expr::Or(items)
        })
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut items = vec![self.not()?];
        while self.peek() == Some(&Token::And) {
            self.at += 1;
            items.push(self.not()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Expr::And(items)
        })
    }

    fn descend(&mut self) -> Result<(), String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(format!(
                "nested deeper than {MAX_DEPTH} levels of parentheses and `not`"
            ));
        }
        Ok(())
    }

    fn not(&mut self) -> Result<Expr, String> {
        if self.peek() == Some(&Token::Not) {
            self.at += 1;
            self.descend()?;
            let inner = self.not()?;
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(inner)));
        }
        self.atom()
    }

    fn atom(&mut self) -> Result<Expr, String> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        match token {
            Some(Token::Open) => {
                self.descend()?;
                let inner = self.or()?;
                self.depth -= 1;
                if self.peek() != Some(&Token::Close) {
                    return Err("missing `)`".into());
                }
                self.at += 1;
                Ok(inner)
            }
            Some(Token::OneOf) => Ok(Expr::Or(self.group()?)),
            Some(Token::AllOf) => Ok(Expr::And(self.group()?)),
            Some(Token::Name(name)) => self
                .names
                .iter()
                .position(|n| *n == name)
                .map(Expr::Search)
                .ok_or_else(|| format!("no search named `{name}`")),
            Some(t) => Err(format!("unexpected {t:?}")),
            None => Err("ends where a search was expected".into()),
        }
    }

    /// The searches named by the word after `1 of` / `all of`: `them` (every search not
    /// starting with `_`, as pySigma) or a name with `*` wildcards.
    fn group(&mut self) -> Result<Vec<Expr>, String> {
        let Some(Token::Name(pattern)) = self.tokens.get(self.at).cloned() else {
            return Err("`of` must be followed by a name pattern or `them`".into());
        };
        self.at += 1;
        let chosen: Vec<Expr> = self
            .names
            .iter()
            .enumerate()
            .filter(|(_, n)| {
                if pattern == "them" {
                    !n.starts_with('_')
                } else {
                    glob(&pattern, n)
                }
            })
            .map(|(i, _)| Expr::Search(i))
            .collect();
        if chosen.is_empty() {
            return Err(format!("`{pattern}` names no search"));
        }
        Ok(chosen)
    }
}

/// `*` matches any run of characters in a search name pattern. Iterative, going back only to
/// the last `*`, so the time is bounded by pattern length × name length however many `*` the
/// pattern holds (the `sigma` fuzz target found the recursive form exponential).
fn glob(pattern: &str, name: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let name: Vec<char> = name.chars().collect();
    let (mut p, mut n) = (0, 0);
    // After the last `*` seen: where the pattern goes on, and where in the name that `*`'s
    // match ends so far.
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        if pattern.get(p) == Some(&'*') {
            p += 1;
            star = Some((p, n));
        } else if pattern.get(p) == Some(&name[n]) {
            p += 1;
            n += 1;
        } else if let Some((after, end)) = star {
            p = after;
            n = end + 1;
            star = Some((after, end + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAMES: &[&str] = &["selection", "filter_a", "filter_b", "_private"];

    #[test]
    fn not_binds_tighter_than_and_tighter_than_or() {
        let e = parse("selection or not filter_a and filter_b", NAMES).unwrap();
        assert_eq!(
            e,
            Expr::Or(vec![
                Expr::Search(0),
                Expr::And(vec![Expr::Not(Box::new(Expr::Search(1))), Expr::Search(2)]),
            ])
        );
    }

    #[test]
    fn one_of_pattern_and_them_expand_to_names() {
        assert_eq!(
            parse("selection and not 1 of filter_*", NAMES).unwrap(),
            Expr::And(vec![
                Expr::Search(0),
                Expr::Not(Box::new(Expr::Or(vec![Expr::Search(1), Expr::Search(2)]))),
            ])
        );
        assert_eq!(
            parse("all of them", NAMES).unwrap(),
            Expr::And(vec![Expr::Search(0), Expr::Search(1), Expr::Search(2)])
        );
    }

    #[test]
    fn unknown_names_and_aggregations_are_refused() {
        assert!(parse("nope", NAMES).is_err());
        assert!(parse("selection | count() > 5", NAMES).is_err());
        assert!(parse("(selection", NAMES).is_err());
        assert!(parse("1 of x*", NAMES).is_err());
    }

    /// Found by the `sigma` fuzz target: `1 of sel****…*ection_ip_*` took minutes.
    #[test]
    fn name_patterns_with_many_stars_match_in_linear_time() {
        let many = format!("sel{}ection_ip_*", "*".repeat(70));
        let names = ["selection_ip_1", "selection_cmd", "filter_main"];
        let started = std::time::Instant::now();
        assert!(glob(&many, names[0]));
        assert!(!glob(&many, names[1]));
        assert!(!glob(&format!("{}x", "*".repeat(70)), &"a".repeat(200)));
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        assert!(glob("filter_*", "filter_main") && glob("*", "") && glob("a*b*c", "aXbYc"));
        assert!(!glob("a*b", "ab_") && !glob("selection", "selection_ip_1"));
        let condition = format!("1 of {many}");
        assert_eq!(
            parse(&condition, &names),
            Ok(Expr::Or(vec![Expr::Search(0)]))
        );
    }

    /// Found by the `sigma` fuzz target: 100,000 nested parentheses overflowed the stack.
    #[test]
    fn conditions_nested_past_the_limit_are_refused_not_a_stack_overflow() {
        let nested = |n: usize| format!("{}selection{}", "(".repeat(n), ")".repeat(n));
        assert_eq!(parse(&nested(MAX_DEPTH), NAMES), Ok(Expr::Search(0)));
        let err = parse(&nested(100_000), NAMES).unwrap_err();
        assert!(err.contains("nested deeper"), "{err}");
        assert!(parse(&format!("{}selection", "not ".repeat(100_000)), NAMES).is_err());
    }
}
