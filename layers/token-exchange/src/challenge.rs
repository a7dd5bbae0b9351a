use std::fmt;

use http::header::WWW_AUTHENTICATE;
use http::HeaderMap;

/// One authentication challenge from a `WWW-Authenticate` header (RFC 7235).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The authentication scheme as the server sent it, e.g. `Bearer`.
    pub scheme: String,
    /// The `name=value` parameters in order, names as sent, quoted values unescaped.
    pub params: Vec<(String, String)>,
    /// The token68 form (`Negotiate abc==`) some schemes use instead of parameters.
    pub token68: Option<String>,
}

impl Challenge {
    /// Whether this is a `Bearer` challenge (registry token auth).
    pub fn is_bearer(&self) -> bool {
        self.scheme.eq_ignore_ascii_case("bearer")
    }

    /// Whether this is a `Basic` challenge (htpasswd registries, AWS ECR).
    pub fn is_basic(&self) -> bool {
        self.scheme.eq_ignore_ascii_case("basic")
    }

    /// The value of the first parameter called `name`, compared case-insensitively.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(param, _)| param.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The `realm` parameter: for Bearer challenges, the URL of the token service.
    pub fn realm(&self) -> Option<&str> {
        self.param("realm")
    }

    /// The `service` parameter: the name the token service knows the registry by.
    pub fn service(&self) -> Option<&str> {
        self.param("service")
    }

    /// The `scope` parameter: the access the registry wants a token for,
    /// e.g. `repository:ns/name:pull,push` (several scopes are separated by spaces).
    pub fn scope(&self) -> Option<&str> {
        self.param("scope")
    }

    /// This challenge asking for `scope` instead of its own (the realm and service kept).
    pub(crate) fn with_scope(&self, scope: String) -> Challenge {
        let mut changed = self.clone();
        changed
            .params
            .retain(|(name, _)| !name.eq_ignore_ascii_case("scope"));
        changed.params.push(("scope".to_owned(), scope));
        changed
    }

    /// This challenge with `push` added to every repository scope that lacks it
    /// (`repository:ns/name:pull` becomes `repository:ns/name:pull,push`), to obtain with a
    /// read the token a write of the same repository will need. The token service grants no
    /// more than the user may do.
    pub(crate) fn widened_to_push(&self) -> Challenge {
        let mut widened = self.clone();
        for (name, value) in widened.params.iter_mut() {
            if !name.eq_ignore_ascii_case("scope") {
                continue;
            }
            let scopes: Vec<String> = value
                .split(' ')
                .map(|scope| match scope.rsplit_once(':') {
                    Some((resource, actions))
                        if resource.starts_with("repository:")
                            && !actions
                                .split(',')
                                .any(|action| action == "push" || action == "*") =>
                    {
                        format!("{resource}:{actions},push")
                    }
                    _ => scope.to_owned(),
                })
                .collect();
            *value = scopes.join(" ");
        }
        widened
    }
}

/// Why a `WWW-Authenticate` value could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChallengeError {
    position: usize,
    problem: &'static str,
}

impl ChallengeError {
    /// Byte offset in the header value where parsing stopped.
    pub fn position(&self) -> usize {
        self.position
    }
}

impl fmt::Display for ChallengeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the registry sent a WWW-Authenticate header that is not valid RFC 7235 \
             (at byte {}: {}); the registry's authentication cannot be answered",
            self.position, self.problem
        )
    }
}

impl std::error::Error for ChallengeError {}

/// Parses a `WWW-Authenticate` header value into its challenges.
///
/// Handles several challenges in one value, quoted strings containing commas and
/// backslash-escapes, token68 values, empty list elements and optional whitespace. Unquoted
/// parameter values are read up to the next comma or whitespace, a little more leniently than
/// RFC 7235, because some servers send URLs unquoted.
///
/// ```
/// use pyoci_token_exchange::parse_challenges;
///
/// let challenges =
///     parse_challenges(r#"Basic realm="x", Bearer realm="https://auth.test/token",scope="a,b""#)
///         .unwrap();
/// assert!(challenges[0].is_basic());
/// assert_eq!(challenges[1].realm(), Some("https://auth.test/token"));
/// assert_eq!(challenges[1].scope(), Some("a,b"));
/// ```
pub fn parse_challenges(header_value: &str) -> Result<Vec<Challenge>, ChallengeError> {
    let mut cursor = Cursor::new(header_value);
    let mut challenges = Vec::new();
    loop {
        cursor.skip_whitespace_and_commas();
        if cursor.at_end() {
            break;
        }
        challenges.push(parse_challenge(&mut cursor)?);
    }
    if challenges.is_empty() {
        return Err(cursor.error("no challenge found"));
    }
    Ok(challenges)
}

/// All challenges of all `WWW-Authenticate` headers; values that cannot be parsed are skipped,
/// since one odd header should not hide a usable challenge in another.
pub(crate) fn challenges_in(headers: &HeaderMap) -> Vec<Challenge> {
    headers
        .get_all(WWW_AUTHENTICATE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .filter_map(|value| parse_challenges(value).ok())
        .flatten()
        .collect()
}

fn parse_challenge(cursor: &mut Cursor<'_>) -> Result<Challenge, ChallengeError> {
    let scheme = cursor.take_while(is_tchar);
    if scheme.is_empty() {
        return Err(cursor.error("expected an authentication scheme"));
    }
    let mut challenge = Challenge {
        scheme: scheme.to_owned(),
        params: Vec::new(),
        token68: None,
    };
    let spaced = cursor.skip_whitespace();
    if cursor.at_end() || cursor.peek() == Some(',') {
        return Ok(challenge);
    }
    if !spaced {
        return Err(cursor.error("expected a space after the authentication scheme"));
    }
    if let Some(token68) = cursor.try_token68() {
        challenge.token68 = Some(token68.to_owned());
        return Ok(challenge);
    }
    loop {
        challenge.params.push(parse_param(cursor)?);
        cursor.skip_whitespace();
        if cursor.at_end() {
            break;
        }
        if cursor.peek() != Some(',') {
            return Err(cursor.error("expected `,` between parameters"));
        }
        // After the comma comes either another parameter or the next challenge.
        let before_comma = cursor.position;
        cursor.skip_whitespace_and_commas();
        if cursor.at_end() || !cursor.param_follows() {
            cursor.position = before_comma;
            break;
        }
    }
    Ok(challenge)
}

fn parse_param(cursor: &mut Cursor<'_>) -> Result<(String, String), ChallengeError> {
    let name = cursor.take_while(is_tchar);
    if name.is_empty() {
        return Err(cursor.error("expected a parameter name"));
    }
    cursor.skip_whitespace();
    if cursor.bump() != Some('=') {
        return Err(cursor.error("expected `=` after the parameter name"));
    }
    cursor.skip_whitespace();
    let value = if cursor.peek() == Some('"') {
        cursor.quoted_string()?
    } else {
        let value = cursor.take_while(|c| !c.is_whitespace() && c != ',' && c != '"');
        if value.is_empty() {
            return Err(cursor.error("expected a parameter value"));
        }
        value.to_owned()
    };
    Ok((name.to_owned(), value))
}

/// RFC 7230 `tchar`.
fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

/// RFC 7235 `token68` characters, before the trailing `=` padding.
fn is_token68_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~+/".contains(c)
}

/// Position in the header value; always on a `char` boundary.
struct Cursor<'a> {
    input: &'a str,
    position: usize,
}

impl<'a> Cursor<'a> {
    fn new(input: &'a str) -> Self {
        Self { input, position: 0 }
    }

    fn error(&self, problem: &'static str) -> ChallengeError {
        ChallengeError {
            position: self.position,
            problem,
        }
    }

    fn rest(&self) -> &'a str {
        self.input.get(self.position..).unwrap_or_default()
    }

    fn at_end(&self) -> bool {
        self.rest().is_empty()
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.position += c.len_utf8();
        Some(c)
    }

    fn take_while(&mut self, keep: impl Fn(char) -> bool) -> &'a str {
        let rest = self.rest();
        let len = rest.find(|c: char| !keep(c)).unwrap_or(rest.len());
        self.position += len;
        rest.get(..len).unwrap_or_default()
    }

    /// Returns whether any whitespace was skipped.
    fn skip_whitespace(&mut self) -> bool {
        !self.take_while(|c| c == ' ' || c == '\t').is_empty()
    }

    fn skip_whitespace_and_commas(&mut self) {
        self.take_while(|c| c == ' ' || c == '\t' || c == ',');
    }

    /// Consumes a token68 if one stands alone here (followed by the end or a comma).
    fn try_token68(&mut self) -> Option<&'a str> {
        let start = self.position;
        let body = self.take_while(is_token68_char);
        self.take_while(|c| c == '=');
        let end = self.position;
        self.skip_whitespace();
        if !body.is_empty() && (self.at_end() || self.peek() == Some(',')) {
            return self.input.get(start..end);
        }
        self.position = start;
        None
    }

    /// Whether `name =` comes next, which starts a parameter rather than a new challenge.
    fn param_follows(&mut self) -> bool {
        let start = self.position;
        let name = self.take_while(is_tchar);
        self.skip_whitespace();
        let follows = !name.is_empty() && self.peek() == Some('=');
        self.position = start;
        follows
    }

    /// Reads a quoted string starting at its opening quote, unescaping `\x` to `x`.
    fn quoted_string(&mut self) -> Result<String, ChallengeError> {
        self.bump();
        let mut value = String::new();
        loop {
            match self.bump() {
                None => return Err(self.error("unterminated quoted string")),
                Some('"') => return Ok(value),
                Some('\\') => match self.bump() {
                    Some(escaped) => value.push(escaped),
                    None => return Err(self.error("unterminated quoted string")),
                },
                Some(c) => value.push(c),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widened_to_push_adds_push_to_repository_scopes_only() {
        let [challenge]: [Challenge; 1] = parse_challenges(
            r#"Bearer realm="https://r/t",scope="repository:a/b:pull registry:catalog:* repository:c:pull,push repository:d:*""#,
        )
        .unwrap()
        .try_into()
        .unwrap();
        assert_eq!(
            challenge.widened_to_push().scope(),
            Some(
                "repository:a/b:pull,push registry:catalog:* repository:c:pull,push repository:d:*"
            )
        );
        assert_eq!(challenge.widened_to_push().realm(), Some("https://r/t"));
    }

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect()
    }

    #[test]
    fn docker_style_bearer_challenge() {
        let challenges = parse_challenges(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull""#,
        )
        .unwrap();
        assert_eq!(challenges.len(), 1);
        let bearer = &challenges[0];
        assert!(bearer.is_bearer() && !bearer.is_basic());
        assert_eq!(bearer.realm(), Some("https://auth.docker.io/token"));
        assert_eq!(bearer.service(), Some("registry.docker.io"));
        assert_eq!(bearer.scope(), Some("repository:library/alpine:pull"));
    }

    #[test]
    fn commas_inside_quoted_values() {
        let challenges =
            parse_challenges(r#"Bearer realm="http://r/t",scope="repository:a/b:pull,push""#)
                .unwrap();
        assert_eq!(challenges.len(), 1);
        assert_eq!(challenges[0].scope(), Some("repository:a/b:pull,push"));
    }

    #[test]
    fn backslash_escapes_are_unescaped() {
        let challenges = parse_challenges(r#"Basic realm="say \"hi\", \\ok\x""#).unwrap();
        assert_eq!(challenges[0].realm(), Some(r#"say "hi", \okx"#));
    }

    #[test]
    fn several_challenges_in_one_value() {
        let challenges = parse_challenges(
            r#"Basic realm="x", Bearer realm="y",scope="a,b", Negotiate abc+/==, NTLM"#,
        )
        .unwrap();
        assert_eq!(challenges.len(), 4);
        assert_eq!(challenges[0].scheme, "Basic");
        assert_eq!(challenges[0].params, params(&[("realm", "x")]));
        assert_eq!(challenges[1].scheme, "Bearer");
        assert_eq!(
            challenges[1].params,
            params(&[("realm", "y"), ("scope", "a,b")])
        );
        assert_eq!(challenges[2].scheme, "Negotiate");
        assert_eq!(challenges[2].token68.as_deref(), Some("abc+/=="));
        assert!(challenges[2].params.is_empty());
        assert_eq!(challenges[3].scheme, "NTLM");
        assert_eq!(challenges[3].token68, None);
    }

    #[test]
    fn case_insensitive_scheme_and_names_with_loose_whitespace() {
        let challenges =
            parse_challenges("  bEaReR   REALM = \"http://r/t\" ,\t, Service=reg ,  ").unwrap();
        assert_eq!(challenges.len(), 1);
        let bearer = &challenges[0];
        assert!(bearer.is_bearer());
        assert_eq!(bearer.scheme, "bEaReR");
        assert_eq!(bearer.realm(), Some("http://r/t"));
        assert_eq!(bearer.service(), Some("reg"));
        assert_eq!(bearer.scope(), None);
    }

    #[test]
    fn unquoted_values_and_unicode() {
        let challenges =
            parse_challenges("Bearer realm=https://r.test/token?a=b,error=insufficient_scope, Basic realm=\"Zürich ✓\"")
                .unwrap();
        assert_eq!(challenges[0].realm(), Some("https://r.test/token?a=b"));
        assert_eq!(challenges[0].param("ERROR"), Some("insufficient_scope"));
        assert_eq!(challenges[1].realm(), Some("Zürich ✓"));
    }

    #[test]
    fn scheme_without_params() {
        let challenges = parse_challenges("Basic").unwrap();
        assert_eq!(challenges[0].scheme, "Basic");
        assert!(challenges[0].params.is_empty());
        // `name=` with nothing after it is a token68 by the grammar, not an empty parameter.
        let challenges = parse_challenges("Bearer realm=").unwrap();
        assert_eq!(challenges[0].token68.as_deref(), Some("realm="));
        assert_eq!(challenges[0].realm(), None);
    }

    #[test]
    fn garbage_is_an_error() {
        for value in [
            "",
            " , ,",
            "=",
            "\"Bearer\"",
            "Bearer realm=\"unterminated",
            "Bearer realm=\"ends in escape\\",
            "Bearer realm=\"x\" scope=\"y\"",
            "Bearer\"x\"",
            "Bearer =x",
            "Basic abc, realm=x",
            "Bearer realm=\"x\",,=",
        ] {
            assert!(parse_challenges(value).is_err(), "{value:?} parsed");
        }
        let error = parse_challenges("Bearer realm=\"x").unwrap_err();
        assert_eq!(error.position(), 15);
        assert!(error.to_string().contains("unterminated quoted string"));
    }

    #[test]
    fn several_headers_are_combined_and_bad_ones_skipped() {
        let mut headers = HeaderMap::new();
        headers.append(WWW_AUTHENTICATE, "Basic realm=\"a\"".parse().unwrap());
        headers.append(WWW_AUTHENTICATE, "not valid \"".parse().unwrap());
        headers.append(WWW_AUTHENTICATE, "Bearer realm=\"b\"".parse().unwrap());
        let challenges = challenges_in(&headers);
        assert_eq!(challenges.len(), 2);
        assert!(challenges[0].is_basic());
        assert_eq!(challenges[1].realm(), Some("b"));
    }

    #[test]
    fn never_panics_on_arbitrary_input() {
        const PIECES: &[&str] = &[
            "Bearer", "Basic", " ", "\t", ",", "=", "==", "\"", "\\", "realm", "a", "/", "+", "é",
            "✓", "\u{0}", "scope", ":", "x=y",
        ];
        // A fixed linear congruential generator keeps the test deterministic.
        let mut state: u64 = 0x5eed;
        for _ in 0..20_000 {
            let mut input = String::new();
            let length = (state >> 60) as usize;
            for _ in 0..length {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                input.push_str(PIECES[(state >> 33) as usize % PIECES.len()]);
            }
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            if let Ok(challenges) = parse_challenges(&input) {
                assert!(!challenges.is_empty());
                assert!(challenges
                    .iter()
                    .all(|challenge| !challenge.scheme.is_empty()));
            }
        }
    }
}
