//! Errors at the JNI boundary. Every `Java_*` entry point runs its body through
//! [`try_or_throw`], so a Rust error *or panic* becomes a pending Java exception
//! carrying the reason, and the function returns a harmless default. Nothing
//! unwinds into the JVM.

use std::any::Any;
use std::cell::RefCell;
use std::panic::{self, AssertUnwindSafe};

use jni::JNIEnv;

/// Java class thrown for native failures that are not the caller's fault.
pub const NATIVE_EXCEPTION: &str = "org/sparkdl/jni/NativeException";
/// Java class thrown for bad arguments (options, Arrow layout, handles).
pub const ILLEGAL_ARGUMENT: &str = "java/lang/IllegalArgumentException";

#[derive(Debug, thiserror::Error)]
pub enum SparkdlError {
    /// The caller passed something unusable; the message says what and how to fix it.
    #[error("{0}")]
    InvalidArgument(String),
    #[error("invalid options JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("Arrow: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    /// A backend (TensorFlow, ONNX Runtime) failed outside a run; the message
    /// starts with the backend's name.
    #[error("{0}")]
    Backend(String),
    /// A model's run failed; the message starts with the backend's name.
    /// `about_rows` when the backend's code says the fed values were the
    /// problem (TensorFlow: INVALID_ARGUMENT, OUT_OF_RANGE; ONNX Runtime:
    /// INVALID_ARGUMENT): the rows are then retried one by one; any other
    /// code (out of memory, a missing kernel, an internal error) fails the
    /// whole batch, and so the task.
    #[error("{message}")]
    ModelRun { message: String, about_rows: bool },
    #[error("JNI: {0}")]
    Jni(#[from] jni::errors::Error),
    #[error("{0}")]
    Internal(String),
}

impl SparkdlError {
    pub fn java_class(&self) -> &'static str {
        match self {
            SparkdlError::InvalidArgument(_) | SparkdlError::Json(_) => ILLEGAL_ARGUMENT,
            _ => NATIVE_EXCEPTION,
        }
    }
}

pub type Result<T> = std::result::Result<T, SparkdlError>;

thread_local! {
    /// Where the last panic on this thread happened, recorded by the panic hook
    /// so the Java exception can say it.
    static LAST_PANIC_LOCATION: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Installs a panic hook that records the location instead of printing to
/// stderr: the message reaches the user as a Java exception instead.
pub fn install_panic_hook() {
    panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_else(|| "unknown location".to_string());
        log::error!("sparkdl native panic at {location}: {}", payload_text(info.payload()));
        LAST_PANIC_LOCATION.with(|cell| *cell.borrow_mut() = Some(location));
    }));
}

/// The message of a caught panic.
pub(crate) fn payload_text(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic without a message".to_string()
    }
}

/// Runs `body`; on `Err` or panic throws the matching Java exception and
/// returns `default`. Never throws over an already pending exception.
pub fn try_or_throw<T, F>(env: &mut JNIEnv, default: T, body: F) -> T
where
    F: FnOnce(&mut JNIEnv) -> Result<T>,
{
    match panic::catch_unwind(AssertUnwindSafe(|| body(env))) {
        Ok(Ok(value)) => value,
        Ok(Err(err)) => {
            throw(env, err.java_class(), &err.to_string());
            default
        }
        Err(payload) => {
            let location = LAST_PANIC_LOCATION
                .with(|cell| cell.borrow_mut().take())
                .map(|l| format!(" (at {l})"))
                .unwrap_or_default();
            let msg = format!(
                "sparkdl native code panicked: {}{location}. This is a bug in sparkdl; please report it with this message.",
                payload_text(payload.as_ref())
            );
            throw(env, NATIVE_EXCEPTION, &msg);
            default
        }
    }
}

fn throw(env: &mut JNIEnv, class: &str, msg: &str) {
    // An exception from a failed JNI call is already pending: it is the more
    // precise one, so leave it to surface in Java.
    if env.exception_check().unwrap_or(false) {
        return;
    }
    if env.throw_new(class, msg).is_err() && !env.exception_check().unwrap_or(false) {
        let _ = env.throw_new("java/lang/RuntimeException", msg);
    }
}
