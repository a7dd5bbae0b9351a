//! pyoci-oci
