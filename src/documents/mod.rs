//! Documents people upload: recognised from their content, stored (on disk or in the
//! database), their text extracted and cut into chunks, embedded by Ollama, and found again by
//! a hybrid of keyword and vector search.

pub mod chunk;
pub mod detect;
pub mod extract;
pub mod grounding;
pub mod isolate;
pub mod search;
pub mod service;
pub mod storage;
pub mod upload;

pub use crate::model::{RefusedFile, UploadOutcome};
pub use service::{Documents, Received};
