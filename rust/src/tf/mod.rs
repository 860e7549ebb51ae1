//! The TensorFlow C API, through the `tensorflow` crate. libtensorflow is
//! loaded by the JVM before this library (see `NativeLoader`), so the
//! dynamic loader resolves our DT_NEEDED entries to those copies.
//!
//! - [`model`]: loading a frozen GraphDef or a SavedModel into a session.
//! - [`info`]: what a loaded model holds ([`info::ModelInfo`], JSON for the driver).
//! - [`run`]: running a loaded model, with every feed and fetch checked before
//!   `TF_SessionRun` (a C++ CHECK failure there would abort the JVM).
//! - [`tensor`]: [`tensor::TensorValue`], plain tensors in and out.
//! - [`dtype`]: the element types sparkdl feeds and reads.
//! - [`session_config`]: session settings, encoded as a `ConfigProto`.
//! - [`cache`]: one session per model and settings, shared by a JVM's tasks.
//! - [`freeze`]: strip a TF1 graph to some outputs, variables made constants.
//! - [`graph_def`]: the few protobuf messages of a GraphDef we edit.
//! - [`names`]: tensor names and "did you mean" suggestions.
//! - `op_def`: output types read safely, reference types included.

use crate::errors::{Result, SparkdlError};

pub mod cache;
pub mod dtype;
pub mod freeze;
pub mod graph_def;
pub mod info;
pub mod model;
pub mod names;
mod op_def;
pub mod run;
pub mod session_config;
pub mod tensor;
mod wire;

#[cfg(test)]
pub(crate) mod test_graphs;

/// The version string of the libtensorflow this process runs with.
pub fn version() -> Result<String> {
    tensorflow::version().map_err(|e| SparkdlError::TensorFlow(format!("TF_Version() returned non-UTF-8 text: {e}")))
}

#[cfg(test)]
mod tests {
    #[test]
    fn version_is_a_2x_release() {
        let v = super::version().unwrap();
        assert!(v.starts_with("2."), "unexpected TensorFlow version {v}");
    }
}
