//! pyoci-upload
