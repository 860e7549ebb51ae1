//! The whole JNI surface: the `native` methods of `org.sparkdl.jni.NativeLib`.
//! Plain values in and out (strings, addresses of Arrow C structs, row
//! counts); each body runs under `try_or_throw`, so failures arrive in Java as
//! exceptions with the reason.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, StructArray};
use jni::objects::{JByteArray, JClass, JString};
use jni::sys::{jbyteArray, jlong, jstring};
use jni::JNIEnv;
use serde::Deserialize;

use crate::arrow_io::{export_struct, import_struct};
use crate::errors::{install_panic_hook, try_or_throw, Result, SparkdlError};
use crate::models;
use crate::ops::decode_images::{decode_batch, DecodeConfig};
use crate::ops::run_model::{run_batch, RunSpec};
use crate::tf::cache;
use crate::tf::freeze::freeze_loaded;
use crate::tf::model::LoadedModel;
use crate::tf::session_config::SessionConfig;
use crate::{logging, tf};

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct InitConfig {
    #[serde(default)]
    log_level: Option<String>,
    /// How long an unused TensorFlow session stays open (default 60).
    #[serde(default)]
    session_idle_seconds: Option<f64>,
}

fn read_string(env: &mut JNIEnv, s: &JString) -> Result<String> {
    if s.is_null() {
        return Ok(String::new());
    }
    Ok(env.get_string(s)?.into())
}

fn new_string(env: &mut JNIEnv, s: &str) -> Result<jstring> {
    Ok(env.new_string(s)?.into_raw())
}

/// One batch operation: imports the input first (from then on Rust owns it and
/// releases it on every path, errors included), runs `op`, exports the result
/// and returns its row count.
///
/// # Safety
/// The four addresses must be the JVM's ArrowArray/ArrowSchema structs for
/// this call (see `arrow_io`).
unsafe fn batch_call(
    in_array: jlong,
    in_schema: jlong,
    out_array: jlong,
    out_schema: jlong,
    op: impl FnOnce(&StructArray) -> Result<StructArray>,
) -> Result<jlong> {
    let input = import_struct(in_array, in_schema)?;
    let output = op(&input)?;
    drop(input);
    export_struct(&output, out_array, out_schema)?;
    Ok(output.len() as jlong)
}

/// `static native String init(String confJson)`: installs the logger and the
/// panic hook; returns a JSON description of the native library.
#[no_mangle]
pub extern "system" fn Java_org_sparkdl_jni_NativeLib_init(
    mut env: JNIEnv,
    _class: JClass,
    conf_json: JString,
) -> jstring {
    try_or_throw(&mut env, std::ptr::null_mut(), |env| {
        let json = read_string(env, &conf_json)?;
        let conf: InitConfig =
            if json.trim().is_empty() { InitConfig::default() } else { serde_json::from_str(&json)? };
        logging::init(conf.log_level.as_deref().unwrap_or("warn"));
        install_panic_hook();
        if let Some(s) = conf.session_idle_seconds {
            if !(s.is_finite() && s >= 0.0) {
                return Err(SparkdlError::InvalidArgument(format!(
                    "spark.sparkdl.tensorflow.sessionIdleSeconds must be a number of seconds >= 0, got {s}"
                )));
            }
            cache::set_ttl(std::time::Duration::from_secs_f64(s));
        }
        cache::start_reaper();
        let info = serde_json::json!({
            "native": env!("CARGO_PKG_VERSION"),
            "tensorflow": tf::version()?,
        });
        new_string(env, &info.to_string())
    })
}

/// `static native String tensorflowVersion()`.
#[no_mangle]
pub extern "system" fn Java_org_sparkdl_jni_NativeLib_tensorflowVersion(mut env: JNIEnv, _class: JClass) -> jstring {
    try_or_throw(&mut env, std::ptr::null_mut(), |env| {
        let v = tf::version()?;
        new_string(env, &v)
    })
}

/// `static native long decodeImages(long inArray, long inSchema, long outArray,
/// long outSchema, String optionsJson)`: decodes a batch of (origin, content)
/// rows into Spark image structs; returns the number of rows written.
#[no_mangle]
pub extern "system" fn Java_org_sparkdl_jni_NativeLib_decodeImages(
    mut env: JNIEnv,
    _class: JClass,
    in_array: jlong,
    in_schema: jlong,
    out_array: jlong,
    out_schema: jlong,
    options_json: JString,
) -> jlong {
    try_or_throw(&mut env, -1, |env| {
        let options = read_string(env, &options_json)?;
        // SAFETY: the addresses come from ArrowArray/ArrowSchema structs the
        // JVM allocated and exported for this call (NativeBatchRunner).
        unsafe {
            batch_call(in_array, in_schema, out_array, out_schema, |input| {
                decode_batch(input, &DecodeConfig::from_json(&options)?)
            })
        }
    })
}

/// `static native void failForTest(String kind)`: makes the native side fail
/// on purpose ("error" or "panic") so tests can prove the exception path.
#[no_mangle]
pub extern "system" fn Java_org_sparkdl_jni_NativeLib_failForTest(mut env: JNIEnv, _class: JClass, kind: JString) {
    try_or_throw(&mut env, (), |env| {
        let kind = read_string(env, &kind)?;
        match kind.as_str() {
            "panic" => panic!("deliberate panic requested by failForTest"),
            "error" => Err(SparkdlError::InvalidArgument("deliberate error requested by failForTest".into())),
            other => Err(SparkdlError::InvalidArgument(format!(
                "failForTest: unknown kind '{other}' (use \"error\" or \"panic\")"
            ))),
        }
    })
}

// ---- TensorFlow models -------------------------------------------------
//
// A model handle is `Box<Arc<LoadedModel>>` turned into a jlong: one user of a
// session shared through `tf::cache`. The JVM gives each handle back exactly
// once with `releaseModel` (ModelHandles / RunModelFn own that).

fn model_of<'a>(handle: jlong) -> Result<&'a Arc<LoadedModel>> {
    if handle == 0 {
        return Err(SparkdlError::InvalidArgument("model handle is 0 (released or never loaded)".into()));
    }
    // SAFETY: non-zero handles come from `into_handle` and stay valid until
    // `releaseModel`, which the JVM calls once, after its last use.
    Ok(unsafe { &*(handle as *const Arc<LoadedModel>) })
}

fn into_handle(model: Arc<LoadedModel>) -> jlong {
    Box::into_raw(Box::new(model)) as jlong
}

/// `static native long loadGraphDef(String key, byte[] graphDef, String sessionConfigJson)`.
#[no_mangle]
pub extern "system" fn Java_org_sparkdl_jni_NativeLib_loadGraphDef(
    mut env: JNIEnv,
    _class: JClass,
    key: JString,
    graph_def: JByteArray,
    config_json: JString,
) -> jlong {
    try_or_throw(&mut env, 0, |env| {
        let key = read_string(env, &key)?;
        let cfg = SessionConfig::from_json(&read_string(env, &config_json)?)?;
        if graph_def.is_null() {
            return Err(SparkdlError::InvalidArgument("graph: the GraphDef bytes are null".into()));
        }
        let model = cache::acquire(&key, &cfg, || {
            let bytes = env.convert_byte_array(&graph_def)?;
            LoadedModel::from_graph_def(&bytes, &cfg)
        })?;
        Ok(into_handle(model))
    })
}

/// `static native long loadSavedModel(String key, String dir, String tags, String sessionConfigJson)`.
#[no_mangle]
pub extern "system" fn Java_org_sparkdl_jni_NativeLib_loadSavedModel(
    mut env: JNIEnv,
    _class: JClass,
    key: JString,
    dir: JString,
    tags: JString,
    config_json: JString,
) -> jlong {
    try_or_throw(&mut env, 0, |env| {
        let key = read_string(env, &key)?;
        let dir = read_string(env, &dir)?;
        let tags: Vec<String> =
            read_string(env, &tags)?.split(',').map(str::trim).filter(|t| !t.is_empty()).map(String::from).collect();
        let cfg = SessionConfig::from_json(&read_string(env, &config_json)?)?;
        let model = cache::acquire(&key, &cfg, || LoadedModel::from_saved_model(&dir, &tags, &cfg))?;
        Ok(into_handle(model))
    })
}

/// `static native long acquireLoaded(String key, String sessionConfigJson)`: 0 when not loaded.
#[no_mangle]
pub extern "system" fn Java_org_sparkdl_jni_NativeLib_acquireLoaded(
    mut env: JNIEnv,
    _class: JClass,
    key: JString,
    config_json: JString,
) -> jlong {
    try_or_throw(&mut env, 0, |env| {
        let key = read_string(env, &key)?;
        let cfg = SessionConfig::from_json(&read_string(env, &config_json)?)?;
        Ok(cache::acquire_loaded(&key, &cfg).map_or(0, into_handle))
    })
}

/// `static native String describeModel(long handle)`.
#[no_mangle]
pub extern "system" fn Java_org_sparkdl_jni_NativeLib_describeModel(
    mut env: JNIEnv,
    _class: JClass,
    handle: jlong,
) -> jstring {
    try_or_throw(&mut env, std::ptr::null_mut(), |env| {
        let info = model_of(handle)?.describe();
        let json = serde_json::to_string(&info)?;
        new_string(env, &json)
    })
}

/// `static native long runModel(long handle, long inArray, long inSchema, long outArray,
/// long outSchema, String runSpecJson)`.
#[no_mangle]
pub extern "system" fn Java_org_sparkdl_jni_NativeLib_runModel(
    mut env: JNIEnv,
    _class: JClass,
    handle: jlong,
    in_array: jlong,
    in_schema: jlong,
    out_array: jlong,
    out_schema: jlong,
    spec_json: JString,
) -> jlong {
    try_or_throw(&mut env, -1, |env| {
        let spec = read_string(env, &spec_json)?;
        // SAFETY: as in decodeImages.
        unsafe {
            batch_call(in_array, in_schema, out_array, out_schema, |input| {
                run_batch(model_of(handle)?, input, &RunSpec::from_json(&spec)?)
            })
        }
    })
}

/// `static native void releaseModel(long handle)`.
#[no_mangle]
pub extern "system" fn Java_org_sparkdl_jni_NativeLib_releaseModel(mut env: JNIEnv, _class: JClass, handle: jlong) {
    try_or_throw(&mut env, (), |_| {
        if handle != 0 {
            // SAFETY: see `model_of`; this is the handle's single release.
            let model = unsafe { Box::from_raw(handle as *mut Arc<LoadedModel>) };
            cache::release(*model);
        }
        Ok(())
    })
}

/// `static native byte[] freezeGraph(long handle, String outputsJson)`.
#[no_mangle]
pub extern "system" fn Java_org_sparkdl_jni_NativeLib_freezeGraph(
    mut env: JNIEnv,
    _class: JClass,
    handle: jlong,
    outputs_json: JString,
) -> jbyteArray {
    try_or_throw(&mut env, std::ptr::null_mut(), |env| {
        let outputs: Vec<String> = serde_json::from_str(&read_string(env, &outputs_json)?)?;
        let names: Vec<&str> = outputs.iter().map(String::as_str).collect();
        let frozen = freeze_loaded(model_of(handle)?, &names)?;
        Ok(env.byte_array_from_slice(&frozen)?.into_raw())
    })
}

/// `static native byte[] buildModelGraph(String name, String weightsPath)`:
/// the frozen GraphDef of pretrained model `name` (see `models::MODEL_NAMES`)
/// built from the PyTorch weights file at `weightsPath`.
#[no_mangle]
pub extern "system" fn Java_org_sparkdl_jni_NativeLib_buildModelGraph(
    mut env: JNIEnv,
    _class: JClass,
    name: JString,
    weights_path: JString,
) -> jbyteArray {
    try_or_throw(&mut env, std::ptr::null_mut(), |env| {
        let name = read_string(env, &name)?;
        let weights_path = read_string(env, &weights_path)?;
        if weights_path.is_empty() {
            return Err(SparkdlError::InvalidArgument(format!(
                "buildModelGraph: no weights file given for model '{name}'"
            )));
        }
        let graph_def = models::build_named(&name, models::BuildFormat::TensorFlowGraphDef, Path::new(&weights_path))?;
        Ok(env.byte_array_from_slice(&graph_def)?.into_raw())
    })
}
