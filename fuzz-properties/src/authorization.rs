//! `pyoci_basic_auth::parse_authorization` on raw header bytes and on well-formed Basic and
//! Bearer values built from arbitrary credentials.
//!
//! Properties: it never panics; any (username without `:`, password) encoded as Basic, with
//! or without padding, any scheme case and surrounding whitespace, parses back to the same
//! credentials; a Bearer token of visible ASCII parses back to itself.

use arbitrary::Arbitrary;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use base64::Engine as _;
use pyoci_basic_auth::{parse_authorization, Credentials, Secret};

#[derive(Arbitrary, Debug)]
pub struct Input<'a> {
    pub raw: &'a [u8],
    pub username: String,
    pub password: String,
    pub token: &'a [u8],
    pub padded: bool,
    /// Which letters of the scheme are uppercase.
    pub scheme_case: u8,
    pub leading: Whitespace,
    pub between: Whitespace,
    pub trailing: Whitespace,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Whitespace {
    None,
    Space,
    Tab,
    Mixed,
}

impl Whitespace {
    fn text(self, at_least_one: bool) -> &'static str {
        match self {
            Whitespace::None if at_least_one => " ",
            Whitespace::None => "",
            Whitespace::Space => " ",
            Whitespace::Tab => "\t",
            Whitespace::Mixed => " \t  ",
        }
    }
}

/// Checks the properties above on one input; panics when one does not hold.
pub fn check(input: Input<'_>) {
    let _ = parse_authorization(input.raw);

    let username: String = input.username.chars().filter(|&c| c != ':').collect();
    let plain = format!("{username}:{}", input.password);
    let encoded = if input.padded {
        STANDARD.encode(plain)
    } else {
        STANDARD_NO_PAD.encode(plain)
    };
    let header = wrap(&input, "Basic", &encoded);
    assert_eq!(
        parse_authorization(header.as_bytes()),
        Ok(Credentials::Basic {
            username,
            password: Secret::new(input.password.as_str()),
        }),
        "Basic header {header:?} did not parse back"
    );

    let token: String = input
        .token
        .iter()
        .filter(|b| b.is_ascii_graphic())
        .map(|&b| char::from(b))
        .collect();
    if !token.is_empty() {
        let header = wrap(&input, "Bearer", &token);
        assert_eq!(
            parse_authorization(header.as_bytes()),
            Ok(Credentials::Bearer(Secret::new(token.as_str()))),
            "Bearer header {header:?} did not parse back"
        );
    }
}

fn wrap(input: &Input<'_>, scheme: &str, value: &str) -> String {
    let scheme: String = scheme
        .chars()
        .enumerate()
        .map(|(i, c)| {
            if input.scheme_case & (1 << (i % 8)) != 0 {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect();
    format!(
        "{}{scheme}{}{value}{}",
        input.leading.text(false),
        input.between.text(true),
        input.trailing.text(false)
    )
}
