//! Storage adapters for Cordon's ports (`cordon_core::store`): the embedded SQLite store for the
//! one-machine mode, and the conformance suite every store implementation must pass.

pub mod conformance;
pub mod emulator;
pub mod sqlite;

pub use sqlite::SqliteStore;
