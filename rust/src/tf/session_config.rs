//! Session settings from the JVM (JSON) and their `ConfigProto` encoding for
//! `SessionOptions::set_config`. Only these fields of
//! `tensorflow/core/protobuf/config.proto` are written, by hand:
//!
//! | field | number | written when |
//! |---|---|---|
//! | `device_count` (map<string,int32>) | 1 | `{"GPU": 0}` when no GPU is requested |
//! | `intra_op_parallelism_threads` | 2 | non-zero (0: TensorFlow picks) |
//! | `inter_op_parallelism_threads` | 5 | non-zero (0: TensorFlow picks) |
//! | `gpu_options` {`allow_growth`=4, `visible_device_list`=5} | 6 | either is set |
//! | `allow_soft_placement` | 7 | always (graphs pinned to `/device:GPU:0` still run on CPU) |
//! | `graph_options` {`optimizer_options` (3) {`global_jit_level` (5) = ON_1}} | 10 | `xlaJit` |
//! | `graph_options` {`rewrite_options` (10) {`auto_mixed_precision_onednn_bfloat16` (31) = ON}} | 10 | `precision` is `bf16` |
//! | `experimental` {`disable_thread_spinning` (9)} | 16 | `threadSpinning` is false |
//!
//! `bf16` is Grappler's oneDNN auto-mixed-precision rewrite: the graph's
//! convolutions, matrix products and the element-wise ops between them run in
//! bfloat16 (inputs, outputs and the rest stay float32). It pays on CPUs with
//! native bf16 arithmetic (AVX512_BF16 or AMX: Intel Cooper Lake, Sapphire
//! Rapids and later, AMD Zen 4 and later); elsewhere oneDNN emulates it and it
//! is slower. docs/PERFORMANCE.md has the measured speed and accuracy.
//!
//! GPUs: TensorFlow sizes its GPU devices once per process, from the first
//! session, and refuses a later session whose `visible_device_list` differs.
//! So the list is the executor's (the same for every session of the process,
//! chosen by the JVM), and each task's work goes to its own GPU through
//! `device`: the default device of every node when a GraphDef is imported
//! (`ImportGraphDefOptions::set_default_device`). `device` is not part of the
//! `ConfigProto`, only of the cache key: one session per model and GPU.

use serde::{Deserialize, Serialize};
use tensorflow::SessionOptions;

use crate::errors::{Result, SparkdlError};
use crate::tf::wire::{put_bytes_field, put_varint_field};

/// JSON: `{"intraOpThreads":4,"interOpThreads":1,"gpuVisibleDevices":"0,1","allowGrowth":true,
/// "precision":"bf16","xlaJit":false,"threadSpinning":true}`, every field optional.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SessionConfig {
    /// Threads of one op's kernel (0: TensorFlow's default, all cores).
    #[serde(default)]
    pub intra_op_threads: i32,
    /// Ops run concurrently per session (0: TensorFlow's default; negative: in
    /// the caller's thread).
    #[serde(default)]
    pub inter_op_threads: i32,
    /// `None`: CPU only (no GPU is initialised). `Some("")`: every GPU.
    /// `Some("0,2")`: those GPUs (TensorFlow's `visible_device_list`).
    #[serde(default)]
    pub gpu_visible_devices: Option<String>,
    /// Let GPU memory grow instead of taking it all up front, so several
    /// executors can share a GPU.
    #[serde(default = "yes")]
    pub allow_growth: bool,
    /// Where a GraphDef's nodes go when they name no device, e.g.
    /// `/device:GPU:1` (an index into the process's visible GPUs); `None`:
    /// TensorFlow's placement.
    #[serde(default)]
    pub device: Option<String>,
    /// "float32" (the graph as it is) or "bf16" (oneDNN's bfloat16
    /// auto-mixed-precision rewrite).
    #[serde(default)]
    pub precision: Precision,
    /// Compile clusters of the graph with XLA (`global_jit_level` ON_1).
    #[serde(default)]
    pub xla_jit: bool,
    /// Let idle pool threads spin before they sleep (TensorFlow's default).
    #[serde(default = "yes")]
    pub thread_spinning: bool,
}

/// The arithmetic a session runs the graph's heavy ops in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum Precision {
    #[default]
    #[serde(rename = "float32")]
    Float32,
    #[serde(rename = "bf16")]
    Bf16,
}

fn yes() -> bool {
    true
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            intra_op_threads: 0,
            inter_op_threads: 0,
            gpu_visible_devices: None,
            allow_growth: true,
            precision: Precision::Float32,
            xla_jit: false,
            thread_spinning: true,
            device: None,
        }
    }
}

impl SessionConfig {
    /// Parses and checks the JVM's JSON; empty text is the default.
    pub fn from_json(json: &str) -> Result<SessionConfig> {
        let cfg: SessionConfig =
            if json.trim().is_empty() { SessionConfig::default() } else { serde_json::from_str(json)? };
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn validate(&self) -> Result<()> {
        if self.intra_op_threads < 0 {
            return Err(SparkdlError::InvalidArgument(format!(
                "session config: intraOpThreads must be 0 (TensorFlow's default) or positive, got {}",
                self.intra_op_threads
            )));
        }
        if let Some(list) = &self.gpu_visible_devices {
            let ok = list.is_empty() || list.split(',').all(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()));
            if !ok {
                return Err(SparkdlError::InvalidArgument(format!(
                    "session config: gpuVisibleDevices must be GPU ids separated by commas, like \"0,1\", got '{list}'"
                )));
            }
        }
        if let Some(device) = &self.device {
            let ok = device.strip_prefix("/device:").and_then(|d| d.split_once(':')).is_some_and(|(kind, n)| {
                matches!(kind, "CPU" | "GPU") && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())
            });
            if !ok {
                return Err(SparkdlError::InvalidArgument(format!(
                    "session config: device must look like \"/device:GPU:1\" or \"/device:CPU:0\", got '{device}'"
                )));
            }
        }
        Ok(())
    }

    /// The serialised `ConfigProto`.
    pub fn to_config_proto(&self) -> Vec<u8> {
        let mut out = Vec::new();
        if self.gpu_visible_devices.is_none() {
            let mut entry = Vec::new();
            put_bytes_field(&mut entry, 1, b"GPU");
            put_varint_field(&mut entry, 2, 0);
            put_bytes_field(&mut out, 1, &entry);
        }
        if self.intra_op_threads != 0 {
            put_varint_field(&mut out, 2, i64::from(self.intra_op_threads));
        }
        if self.inter_op_threads != 0 {
            put_varint_field(&mut out, 5, i64::from(self.inter_op_threads));
        }
        let mut gpu = Vec::new();
        if self.allow_growth {
            put_varint_field(&mut gpu, 4, 1);
        }
        if let Some(list) = self.gpu_visible_devices.as_deref().filter(|l| !l.is_empty()) {
            put_bytes_field(&mut gpu, 5, list.as_bytes());
        }
        if !gpu.is_empty() {
            put_bytes_field(&mut out, 6, &gpu);
        }
        put_varint_field(&mut out, 7, 1);
        let mut graph = Vec::new();
        if self.xla_jit {
            let mut optimizer = Vec::new();
            put_varint_field(&mut optimizer, 5, 1);
            put_bytes_field(&mut graph, 3, &optimizer);
        }
        if self.precision == Precision::Bf16 {
            let mut rewrite = Vec::new();
            put_varint_field(&mut rewrite, 31, 1);
            put_bytes_field(&mut graph, 10, &rewrite);
        }
        if !graph.is_empty() {
            put_bytes_field(&mut out, 10, &graph);
        }
        if !self.thread_spinning {
            let mut experimental = Vec::new();
            put_varint_field(&mut experimental, 9, 1);
            put_bytes_field(&mut out, 16, &experimental);
        }
        out
    }

    /// Session options carrying this config.
    pub fn session_options(&self) -> Result<SessionOptions> {
        self.validate()?;
        let mut opts = SessionOptions::new();
        opts.set_config(&self.to_config_proto())
            .map_err(|e| SparkdlError::TensorFlow(format!("TensorFlow rejected the session config {self:?}: {e}")))?;
        Ok(opts)
    }

    /// A short text identifying these settings (part of a cache key): the
    /// `ConfigProto` and the device.
    pub fn fingerprint(&self) -> String {
        let proto: String = self.to_config_proto().iter().map(|b| format!("{b:02x}")).collect();
        match &self.device {
            Some(d) => format!("{proto}@{d}"),
            None => proto,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected bytes: computed once with TensorFlow 2.21 in the project's venv,
    // `list(tf.compat.v1.ConfigProto(...).SerializeToString())`, with
    // C = tf.compat.v1.ConfigProto, G = tf.compat.v1.GPUOptions:
    // default_cpu: C(device_count={"GPU":0}, allow_soft_placement=True, gpu_options=G(allow_growth=True))
    // gpu_pinned:  C(intra_op_parallelism_threads=4, inter_op_parallelism_threads=1,
    //                allow_soft_placement=True, gpu_options=G(allow_growth=True, visible_device_list="0,1"))
    // cpu_threads: C(device_count={"GPU":0}, intra_op_parallelism_threads=2,
    //                inter_op_parallelism_threads=3, allow_soft_placement=True)
    // all_gpus:    C(intra_op_parallelism_threads=300, allow_soft_placement=True)
    const DEFAULT_CPU: &[u8] = &[10, 7, 10, 3, 71, 80, 85, 16, 0, 50, 2, 32, 1, 56, 1];
    const GPU_PINNED: &[u8] = &[16, 4, 40, 1, 50, 7, 32, 1, 42, 3, 48, 44, 49, 56, 1];
    const CPU_THREADS: &[u8] = &[10, 7, 10, 3, 71, 80, 85, 16, 0, 16, 2, 40, 3, 56, 1];
    const ALL_GPUS: &[u8] = &[16, 172, 2, 56, 1];
    // The default_cpu config plus, each alone:
    // c.graph_options.rewrite_options.auto_mixed_precision_onednn_bfloat16 = RewriterConfig.ON
    // c.graph_options.optimizer_options.global_jit_level = OptimizerOptions.ON_1
    // c.experimental.disable_thread_spinning = True
    const BF16: &[u8] = &[10, 7, 10, 3, 71, 80, 85, 16, 0, 50, 2, 32, 1, 56, 1, 82, 5, 82, 3, 248, 1, 1];
    const XLA: &[u8] = &[10, 7, 10, 3, 71, 80, 85, 16, 0, 50, 2, 32, 1, 56, 1, 82, 4, 26, 2, 40, 1];
    const NO_SPIN: &[u8] = &[10, 7, 10, 3, 71, 80, 85, 16, 0, 50, 2, 32, 1, 56, 1, 130, 1, 2, 72, 1];

    #[test]
    fn bytes_match_python_config_proto() {
        assert_eq!(SessionConfig::default().to_config_proto(), DEFAULT_CPU);
        let pinned = SessionConfig::from_json(
            r#"{"intraOpThreads":4,"interOpThreads":1,"allowGrowth":true,"gpuVisibleDevices":"0,1"}"#,
        )
        .unwrap();
        assert_eq!(pinned.to_config_proto(), GPU_PINNED);
        let cpu = SessionConfig { intra_op_threads: 2, inter_op_threads: 3, allow_growth: false, ..Default::default() };
        assert_eq!(cpu.to_config_proto(), CPU_THREADS);
        let all =
            SessionConfig::from_json(r#"{"intraOpThreads":300,"gpuVisibleDevices":"","allowGrowth":false}"#).unwrap();
        assert_eq!(all.to_config_proto(), ALL_GPUS);
    }

    #[test]
    fn precision_jit_and_spinning_bytes_match_python_config_proto() {
        assert_eq!(SessionConfig::from_json(r#"{"precision":"bf16"}"#).unwrap().to_config_proto(), BF16);
        assert_eq!(SessionConfig::from_json(r#"{"xlaJit":true}"#).unwrap().to_config_proto(), XLA);
        assert_eq!(SessionConfig::from_json(r#"{"threadSpinning":false}"#).unwrap().to_config_proto(), NO_SPIN);
        assert_eq!(
            SessionConfig::from_json(r#"{"precision":"float32","xlaJit":false}"#).unwrap().to_config_proto(),
            DEFAULT_CPU
        );
        // Each setting is part of the session cache key.
        let bf16 = SessionConfig { precision: Precision::Bf16, ..Default::default() };
        assert_ne!(bf16.fingerprint(), SessionConfig::default().fingerprint());
        let err = SessionConfig::from_json(r#"{"precision":"fp16"}"#).unwrap_err();
        assert!(err.to_string().contains("fp16"), "{err}");
    }

    #[test]
    fn tasks_on_different_gpus_share_the_process_wide_config_proto() {
        // What the JVM sends for two tasks of one executor with GPUs 0 and 1.
        let task = |d: u8| {
            SessionConfig::from_json(&format!(
                r#"{{"intraOpThreads":4,"interOpThreads":1,"allowGrowth":true,"gpuVisibleDevices":"0,1","device":"/device:GPU:{d}"}}"#
            ))
            .unwrap()
        };
        let (a, b) = (task(0), task(1));
        assert_eq!(a.to_config_proto(), GPU_PINNED, "the device is not part of the ConfigProto");
        assert_eq!(a.to_config_proto(), b.to_config_proto(), "TensorFlow needs one visible_device_list per process");
        assert_ne!(a.fingerprint(), b.fingerprint(), "one session per GPU");
        let err = SessionConfig::from_json(r#"{"device":"gpu1"}"#).unwrap_err();
        assert!(err.to_string().contains("/device:GPU:1"), "{err}");
    }

    #[test]
    fn tensorflow_accepts_the_config() {
        for cfg in [
            SessionConfig::default(),
            SessionConfig { intra_op_threads: 2, inter_op_threads: 1, ..Default::default() },
            SessionConfig { precision: Precision::Bf16, xla_jit: true, thread_spinning: false, ..Default::default() },
        ] {
            cfg.session_options().unwrap();
        }
    }

    #[test]
    fn bad_settings_are_explained() {
        let err = SessionConfig::from_json(r#"{"intraOpThreads":-2}"#).unwrap_err();
        assert!(err.to_string().contains("intraOpThreads must be"), "{err}");
        let err = SessionConfig::from_json(r#"{"gpuVisibleDevices":"gpu0"}"#).unwrap_err();
        assert!(err.to_string().contains("\"0,1\""), "{err}");
        let err = SessionConfig::from_json(r#"{"intraThreads":2}"#).unwrap_err();
        assert!(err.to_string().contains("intraThreads"), "{err}");
        assert_eq!(SessionConfig::from_json(" ").unwrap(), SessionConfig::default());
    }
}
