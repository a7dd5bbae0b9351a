//! `pyoci_token_exchange::parse_challenges` on raw header values and on challenges built from
//! arbitrary realm, service and scope strings.
//!
//! Properties: it never panics, and what it returns has at least one challenge, each with a
//! scheme; a Bearer challenge whose quoted values escape `"` and `\` parses back to the same
//! values, also after another challenge and with loose whitespace around the separators.

use arbitrary::Arbitrary;
use pyoci_token_exchange::parse_challenges;

#[derive(Arbitrary, Debug)]
pub struct Input<'a> {
    pub raw: &'a str,
    pub realm: String,
    pub service: String,
    pub scope: String,
    pub scheme: Scheme,
    pub spaced: bool,
    pub basic_first: bool,
    pub unquoted_service: bool,
}

#[derive(Arbitrary, Debug)]
pub enum Scheme {
    Bearer,
    BearerLower,
    Basic,
}

/// Checks the properties above on one input; panics when one does not hold.
pub fn check(input: Input<'_>) {
    if let Ok(challenges) = parse_challenges(input.raw) {
        assert!(
            !challenges.is_empty(),
            "Ok with no challenge for {:?}",
            input.raw
        );
        assert!(challenges.iter().all(|c| !c.scheme.is_empty()));
    }

    let scheme = match input.scheme {
        Scheme::Bearer => "Bearer",
        Scheme::BearerLower => "bearer",
        Scheme::Basic => "Basic",
    };
    let separator = if input.spaced { " ,\t " } else { "," };
    let equals = if input.spaced { " = " } else { "=" };
    // Unquoted values stop at whitespace, commas and quotes: only use that form when it fits.
    let service_fits_unquoted = !input.service.is_empty()
        && !input
            .service
            .contains(|c: char| c.is_whitespace() || c == ',' || c == '"');
    let service = if input.unquoted_service && service_fits_unquoted {
        input.service.clone()
    } else {
        quote(&input.service)
    };
    let mut header = String::new();
    if input.basic_first {
        header.push_str("Basic realm=\"registry\", ");
    }
    header.push_str(&format!(
        "{scheme} realm{equals}{}{separator}service{equals}{service}{separator}scope{equals}{}",
        quote(&input.realm),
        quote(&input.scope)
    ));

    let challenges = match parse_challenges(&header) {
        Ok(challenges) => challenges,
        Err(error) => panic!("{header:?} does not parse: {error}"),
    };
    let expected_count = if input.basic_first { 2 } else { 1 };
    assert_eq!(
        challenges.len(),
        expected_count,
        "{header:?} -> {challenges:?}"
    );
    let Some(challenge) = challenges.last() else {
        return;
    };
    assert_eq!(challenge.scheme, scheme);
    assert_eq!(challenge.realm(), Some(input.realm.as_str()), "{header:?}");
    assert_eq!(
        challenge.service(),
        Some(input.service.as_str()),
        "{header:?}"
    );
    assert_eq!(challenge.scope(), Some(input.scope.as_str()), "{header:?}");
    assert_eq!(challenge.params.len(), 3, "{header:?}");
    assert_eq!(challenge.token68, None, "{header:?}");
}

fn quote(value: &str) -> String {
    let mut quoted = String::with_capacity(value.len() + 2);
    quoted.push('"');
    for c in value.chars() {
        if c == '"' || c == '\\' {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    quoted.push('"');
    quoted
}
