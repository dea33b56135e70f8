//! okta responder (in progress).
