//! Errors the gateway answers with.
