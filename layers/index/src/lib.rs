//! pyoci-index
