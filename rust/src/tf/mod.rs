//! The TensorFlow C API, through the `tensorflow` crate. libtensorflow is
//! loaded by the JVM before this library (see `NativeLoader`), so the
//! dynamic loader resolves our DT_NEEDED entries to those copies.

use crate::errors::{Result, SparkdlError};

/// The version string of the libtensorflow this process runs with.
pub fn version() -> Result<String> {
    tensorflow::version()
        .map_err(|e| SparkdlError::TensorFlow(format!("TF_Version() returned non-UTF-8 text: {e}")))
}

#[cfg(test)]
mod tests {
    #[test]
    fn version_is_a_2x_release() {
        let v = super::version().unwrap();
        assert!(v.starts_with("2."), "unexpected TensorFlow version {v}");
    }
}
