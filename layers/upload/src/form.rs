//! The text fields of an upload.

use crate::memory::Reservation;

/// The text fields of an upload, in the order they were sent.
///
/// Names are kept exactly as the client sent them (`:action`, `sha256_digest`,
/// `requires_dist`, ...). A name may repeat: the legacy upload API sends multi-value metadata
/// (`classifiers`, `requires_dist`, `project_urls`, ...) as one field per value.
///
/// The bytes it holds stay reserved in the upload's [`FormMemory`](crate::FormMemory) until
/// the form (every clone of it) is dropped.
#[derive(Debug, Clone, Default)]
pub struct Form {
    fields: Vec<(String, String)>,
    reservation: Option<Reservation>,
}

impl PartialEq for Form {
    fn eq(&self, other: &Self) -> bool {
        self.fields == other.fields
    }
}

impl Eq for Form {}

impl Form {
    /// An empty form.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty form whose fields are reserved in `reservation`.
    pub(crate) fn reserved_in(reservation: Reservation) -> Self {
        Form {
            fields: Vec::new(),
            reservation: Some(reservation),
        }
    }

    /// Reserves `bytes` more in the form's budget; `false` when it has no room.
    pub(crate) fn reserve(&self, bytes: usize) -> bool {
        self.reservation
            .as_ref()
            .map_or(true, |reservation| reservation.grow(bytes))
    }

    /// Appends a field, keeping earlier values of the same name.
    pub fn push(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.fields.push((name.into(), value.into()));
    }

    /// The first value of `name`, if the field was sent.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.iter()
            .find(|(field, _)| *field == name)
            .map(|(_, value)| value)
    }

    /// Every value of `name`, in the order sent.
    pub fn get_all<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a str> + 'a {
        let name = name.to_owned();
        self.iter()
            .filter(move |(field, _)| *field == name)
            .map(|(_, value)| value)
    }

    /// Every `(name, value)` pair, in the order sent.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.fields
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
    }

    /// How many fields (counting repeats) the form holds.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// `true` when no field was read.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn twine_like() -> Form {
        let mut form = Form::new();
        form.push(":action", "file_upload");
        form.push("classifiers", "Programming Language :: Python");
        form.push("name", "demo");
        form.push("classifiers", "License :: OSI Approved :: MIT License");
        form
    }

    #[test]
    fn get_returns_the_first_value() {
        let form = twine_like();
        assert_eq!(form.get(":action"), Some("file_upload"));
        assert_eq!(
            form.get("classifiers"),
            Some("Programming Language :: Python")
        );
        assert_eq!(form.get("version"), None);
    }

    #[test]
    fn get_all_returns_repeats_in_order() {
        let form = twine_like();
        let classifiers: Vec<_> = form.get_all("classifiers").collect();
        assert_eq!(
            classifiers,
            [
                "Programming Language :: Python",
                "License :: OSI Approved :: MIT License"
            ]
        );
        assert_eq!(form.get_all("missing").count(), 0);
    }

    #[test]
    fn iter_keeps_the_sent_order() {
        let form = twine_like();
        let names: Vec<_> = form.iter().map(|(name, _)| name).collect();
        assert_eq!(names, [":action", "classifiers", "name", "classifiers"]);
        assert_eq!(twine_like().len(), 4);
        assert!(Form::new().is_empty());
    }
}
