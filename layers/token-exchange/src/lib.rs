//! pyoci-token-exchange
