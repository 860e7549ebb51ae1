//! A minimal `log` backend writing to stderr, which Spark collects into the
//! executor logs. The level comes from the JVM side (`spark.sparkdl.native.logLevel`).

use log::{Level, LevelFilter, Log, Metadata, Record};
use once_cell::sync::OnceCell;

struct StderrLogger;

impl Log for StderrLogger {
    fn enabled(&self, metadata: &Metadata) -> bool {
        metadata.level() <= log::max_level()
    }
    fn log(&self, record: &Record) {
        if self.enabled(record.metadata()) {
            eprintln!("sparkdl-native {} {}: {}", level_name(record.level()), record.target(), record.args());
        }
    }
    fn flush(&self) {}
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::Error => "ERROR",
        Level::Warn => "WARN",
        Level::Info => "INFO",
        Level::Debug => "DEBUG",
        Level::Trace => "TRACE",
    }
}

static LOGGER: OnceCell<()> = OnceCell::new();

pub fn init(level: &str) {
    let filter = match level.to_ascii_lowercase().as_str() {
        "off" => LevelFilter::Off,
        "error" => LevelFilter::Error,
        "info" => LevelFilter::Info,
        "debug" => LevelFilter::Debug,
        "trace" => LevelFilter::Trace,
        _ => LevelFilter::Warn,
    };
    LOGGER.get_or_init(|| {
        let _ = log::set_logger(&StderrLogger);
    });
    log::set_max_level(filter);
}
