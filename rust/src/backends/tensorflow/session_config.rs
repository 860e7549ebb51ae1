//! The engine settings ([`EngineConfig`]) as TensorFlow's `ConfigProto`, for
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
//! [`device`]: the default device of every node when a GraphDef is imported
//! (`ImportGraphDefOptions::set_default_device`). The task's GPU is not part
//! of the `ConfigProto`, only of the cache key: one session per model and GPU.

use tensorflow::SessionOptions;

use crate::backends::tensorflow::wire::{put_bytes_field, put_varint_field};
use crate::engine::config::{EngineConfig, Precision};
use crate::errors::{Result, SparkdlError};

/// The serialised `ConfigProto` of `cfg`.
pub fn config_proto(cfg: &EngineConfig) -> Vec<u8> {
    let mut out = Vec::new();
    if cfg.gpu.is_none() {
        let mut entry = Vec::new();
        put_bytes_field(&mut entry, 1, b"GPU");
        put_varint_field(&mut entry, 2, 0);
        put_bytes_field(&mut out, 1, &entry);
    }
    if cfg.intra_op_threads != 0 {
        put_varint_field(&mut out, 2, i64::from(cfg.intra_op_threads));
    }
    if cfg.inter_op_threads != 0 {
        put_varint_field(&mut out, 5, i64::from(cfg.inter_op_threads));
    }
    let mut gpu = Vec::new();
    if cfg.tensorflow.allow_growth {
        put_varint_field(&mut gpu, 4, 1);
    }
    if let Some(list) = cfg.gpu.as_ref().map(|g| g.visible_devices.as_str()).filter(|l| !l.is_empty()) {
        put_bytes_field(&mut gpu, 5, list.as_bytes());
    }
    if !gpu.is_empty() {
        put_bytes_field(&mut out, 6, &gpu);
    }
    put_varint_field(&mut out, 7, 1);
    let mut graph = Vec::new();
    if cfg.tensorflow.xla_jit {
        let mut optimizer = Vec::new();
        put_varint_field(&mut optimizer, 5, 1);
        put_bytes_field(&mut graph, 3, &optimizer);
    }
    if cfg.precision == Precision::Bf16 {
        let mut rewrite = Vec::new();
        put_varint_field(&mut rewrite, 31, 1);
        put_bytes_field(&mut graph, 10, &rewrite);
    }
    if !graph.is_empty() {
        put_bytes_field(&mut out, 10, &graph);
    }
    if !cfg.thread_spinning {
        let mut experimental = Vec::new();
        put_varint_field(&mut experimental, 9, 1);
        put_bytes_field(&mut out, 16, &experimental);
    }
    out
}

/// Session options carrying `cfg`'s `ConfigProto`.
pub fn session_options(cfg: &EngineConfig) -> Result<SessionOptions> {
    cfg.validate()?;
    let mut opts = SessionOptions::new();
    opts.set_config(&config_proto(cfg))
        .map_err(|e| SparkdlError::Backend(format!("TensorFlow rejected the session config {cfg:?}: {e}")))?;
    Ok(opts)
}

/// The default device of a GraphDef's nodes: the task's GPU as an index into
/// the process's visible GPUs; `None` lets TensorFlow place them.
pub fn device(cfg: &EngineConfig) -> Option<String> {
    cfg.gpu.as_ref().map(|g| format!("/device:GPU:{}", g.index))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::config::{GpuPlacement, TensorFlowOptions};

    fn gpus(list: &str, index: u32) -> Option<GpuPlacement> {
        Some(GpuPlacement { visible_devices: list.into(), index, ordinal: index })
    }

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
        assert_eq!(config_proto(&EngineConfig::default()), DEFAULT_CPU);
        let pinned =
            EngineConfig { intra_op_threads: 4, inter_op_threads: 1, gpu: gpus("0,1", 0), ..Default::default() };
        assert_eq!(config_proto(&pinned), GPU_PINNED);
        let no_growth = TensorFlowOptions { allow_growth: false, ..Default::default() };
        let cpu = EngineConfig {
            intra_op_threads: 2,
            inter_op_threads: 3,
            tensorflow: no_growth.clone(),
            ..Default::default()
        };
        assert_eq!(config_proto(&cpu), CPU_THREADS);
        let all = EngineConfig { intra_op_threads: 300, gpu: gpus("", 0), tensorflow: no_growth, ..Default::default() };
        assert_eq!(config_proto(&all), ALL_GPUS);
    }

    #[test]
    fn precision_jit_and_spinning_bytes_match_python_config_proto() {
        let json = |j: &str| config_proto(&EngineConfig::from_json(j).unwrap());
        assert_eq!(json(r#"{"precision":"bf16"}"#), BF16);
        assert_eq!(json(r#"{"tensorflow":{"xlaJit":true}}"#), XLA);
        assert_eq!(json(r#"{"threadSpinning":false}"#), NO_SPIN);
        assert_eq!(json(r#"{"precision":"float32","tensorflow":{"xlaJit":false}}"#), DEFAULT_CPU);
    }

    #[test]
    fn tasks_on_different_gpus_share_the_process_wide_config_proto() {
        // What the JVM sends for two tasks of one executor with GPUs 0 and 1.
        let task = |d: u32| EngineConfig {
            intra_op_threads: 4,
            inter_op_threads: 1,
            gpu: gpus("0,1", d),
            ..Default::default()
        };
        let (a, b) = (task(0), task(1));
        assert_eq!(config_proto(&a), GPU_PINNED, "the device is not part of the ConfigProto");
        assert_eq!(config_proto(&a), config_proto(&b), "TensorFlow needs one visible_device_list per process");
        assert_ne!(a.fingerprint(), b.fingerprint(), "one session per GPU");
        assert_eq!((device(&a), device(&b)), (Some("/device:GPU:0".into()), Some("/device:GPU:1".into())));
        assert_eq!(device(&EngineConfig::default()), None);
    }

    #[test]
    fn tensorflow_accepts_the_config() {
        crate::backends::tensorflow::test_graphs::ensure_loaded();
        for cfg in [
            EngineConfig::default(),
            EngineConfig { intra_op_threads: 2, inter_op_threads: 1, ..Default::default() },
            EngineConfig {
                precision: Precision::Bf16,
                thread_spinning: false,
                tensorflow: TensorFlowOptions { xla_jit: true, allow_growth: true },
                ..Default::default()
            },
        ] {
            session_options(&cfg).unwrap();
        }
    }
}
