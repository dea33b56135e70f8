//! aws-iam responder (in progress).
