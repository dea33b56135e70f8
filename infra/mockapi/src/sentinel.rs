//! Mock of the sentinel API (to be filled in).

use crate::Shared;
use axum::Router;
use serde_json::Value;

#[derive(Default)]
pub struct State {}

impl State {
    pub fn from_seed(_v: &Value) -> Result<Self, String> {
        Ok(Self::default())
    }
    pub fn snapshot(&self) -> Value {
        Value::Null
    }
}

pub fn routes() -> Router<Shared> {
    Router::new()
}
