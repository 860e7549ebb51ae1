//! Batch operations the JVM calls through the seam: each takes one Arrow
//! struct batch and returns one, row for row.

pub mod decode_images;
pub mod decode_pool;
pub mod preprocess;
pub mod run_model;
