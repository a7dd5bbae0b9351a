//! The pull-through mirror (issue 21) — being built.

pub mod public;
