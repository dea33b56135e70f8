//! entra responder (in progress).
