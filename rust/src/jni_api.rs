//! The whole JNI surface: the `native` methods of `org.sparkdl.jni.NativeLib`.
//! Plain values in and out (strings, addresses of Arrow C structs, row
//! counts); each body runs under `try_or_throw`, so failures arrive in Java as
//! exceptions with the reason.

use arrow::array::Array;
use jni::objects::{JClass, JString};
use jni::sys::{jlong, jstring};
use jni::JNIEnv;
use serde::Deserialize;

use crate::arrow_io::{export_struct, import_struct};
use crate::errors::{install_panic_hook, try_or_throw, Result, SparkdlError};
use crate::ops::decode_images::{decode_batch, DecodeConfig};
use crate::{logging, tf};

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct InitConfig {
    #[serde(default)]
    log_level: Option<String>,
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
        let info = serde_json::json!({
            "native": env!("CARGO_PKG_VERSION"),
            "tensorflow": tf::version()?,
        });
        new_string(env, &info.to_string())
    })
}

/// `static native String tensorflowVersion()`.
#[no_mangle]
pub extern "system" fn Java_org_sparkdl_jni_NativeLib_tensorflowVersion(
    mut env: JNIEnv,
    _class: JClass,
) -> jstring {
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
        // Import first: from here on Rust owns the input and releases it on
        // every path, including the errors below.
        // SAFETY: the addresses come from ArrowArray/ArrowSchema structs the
        // JVM allocated and exported for this call (NativeBatchRunner).
        let input = unsafe { import_struct(in_array, in_schema)? };
        let options = DecodeConfig::from_json(&read_string(env, &options_json)?)?;
        let output = decode_batch(&input, &options)?;
        drop(input);
        let rows = output.len() as jlong;
        unsafe { export_struct(&output, out_array, out_schema)? };
        Ok(rows)
    })
}

/// `static native void failForTest(String kind)`: makes the native side fail
/// on purpose ("error" or "panic") so tests can prove the exception path.
#[no_mangle]
pub extern "system" fn Java_org_sparkdl_jni_NativeLib_failForTest(
    mut env: JNIEnv,
    _class: JClass,
    kind: JString,
) {
    try_or_throw(&mut env, (), |env| {
        let kind = read_string(env, &kind)?;
        match kind.as_str() {
            "panic" => panic!("deliberate panic requested by failForTest"),
            "error" => Err(SparkdlError::InvalidArgument(
                "deliberate error requested by failForTest".into(),
            )),
            other => Err(SparkdlError::InvalidArgument(format!(
                "failForTest: unknown kind '{other}' (use \"error\" or \"panic\")"
            ))),
        }
    })
}
