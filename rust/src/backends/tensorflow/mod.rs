//! The TensorFlow backend: frozen GraphDefs and SavedModels through the C
//! API (crate `tensorflow`), with libtensorflow loaded at run time when a
//! TensorFlow model is first used ([`library`]).
//!
//! - [`library`]: finding and loading libtensorflow, once per process.
//! - [`model`]: loading a frozen GraphDef or a SavedModel into a session.
//! - [`info`]: the graph described for the driver.
//! - [`run`]: running a loaded model, with every feed and fetch checked before
//!   `TF_SessionRun` (a C++ CHECK failure there would abort the JVM).
//! - [`tensor`]: engine tensors to and from TensorFlow's, and its batch tensor.
//! - [`dtype`]: TensorFlow's types and the engine's.
//! - [`session_config`]: the engine settings as a `ConfigProto`.
//! - [`freeze`]: strip a TF1 graph to some outputs, variables made constants.
//! - [`graph_def`]: the few protobuf messages of a GraphDef we edit.
//! - [`names`]: tensor names and "did you mean" suggestions.
//! - `op_def`: output types read safely, reference types included.

pub mod dtype;
pub mod freeze;
pub mod graph_def;
pub mod info;
pub mod library;
pub mod model;
pub mod names;
mod op_def;
pub mod run;
pub mod session_config;
pub mod tensor;
mod wire;

#[cfg(test)]
pub(crate) mod test_graphs;

#[cfg(test)]
mod tests {
    #[test]
    fn version_is_a_2x_release() {
        super::test_graphs::ensure_loaded();
        let v = super::library::version().unwrap();
        assert!(v.starts_with("2."), "unexpected TensorFlow version {v}");
    }
}
