//! endpoint responder (in progress).
