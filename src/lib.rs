//! pyoci
