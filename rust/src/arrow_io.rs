//! Arrow across JNI through the C Data Interface.
//!
//! The JVM exports a batch (a `VectorSchemaRoot`, i.e. a struct array) into an
//! `ArrowArray`/`ArrowSchema` pair it allocated and hands us their addresses:
//! [`import_struct`] takes ownership of the buffers without copying them; they
//! are released back to Java when the imported array is dropped. Results go
//! the other way with [`export_struct`]: we move our arrays into structs the
//! JVM allocated, and Java calls our release callback when it closes them.

use arrow::array::{Array, ArrayRef, StructArray};
use arrow::datatypes::DataType;
use arrow::ffi::{from_ffi, FFI_ArrowArray, FFI_ArrowSchema};

use crate::errors::{Result, SparkdlError};

/// Imports the struct array at (`array_addr`, `schema_addr`).
///
/// # Safety
/// The addresses must point to valid, exported C Data Interface structs; the
/// JVM side (`org.sparkdl.arrow.ArrowBatches`) guarantees that.
pub unsafe fn import_struct(array_addr: i64, schema_addr: i64) -> Result<StructArray> {
    if array_addr == 0 || schema_addr == 0 {
        return Err(SparkdlError::InvalidArgument("null ArrowArray/ArrowSchema address passed to native code".into()));
    }
    let array = FFI_ArrowArray::from_raw(array_addr as *mut FFI_ArrowArray);
    let schema = FFI_ArrowSchema::from_raw(schema_addr as *mut FFI_ArrowSchema);
    let data = from_ffi(array, &schema)?;
    match data.data_type() {
        DataType::Struct(_) => Ok(StructArray::from(data)),
        other => Err(SparkdlError::InvalidArgument(format!(
            "expected a struct array (a record batch) from the JVM, got {other}"
        ))),
    }
}

/// Moves `array` into the JVM-allocated structs at the given addresses.
///
/// # Safety
/// The addresses must point to writable, empty `ArrowArray`/`ArrowSchema`
/// structs allocated by the JVM (`ArrowArray.allocateNew`).
pub unsafe fn export_struct(array: &StructArray, array_addr: i64, schema_addr: i64) -> Result<()> {
    if array_addr == 0 || schema_addr == 0 {
        return Err(SparkdlError::InvalidArgument(
            "null output ArrowArray/ArrowSchema address passed to native code".into(),
        ));
    }
    let data = array.to_data();
    let ffi_schema = FFI_ArrowSchema::try_from(data.data_type())?;
    let ffi_array = FFI_ArrowArray::new(&data);
    std::ptr::write_unaligned(array_addr as *mut FFI_ArrowArray, ffi_array);
    std::ptr::write_unaligned(schema_addr as *mut FFI_ArrowSchema, ffi_schema);
    Ok(())
}

/// The column `name` of `batch`, or an error naming the columns there are.
pub fn column<'a>(batch: &'a StructArray, name: &str) -> Result<&'a ArrayRef> {
    batch.column_by_name(name).ok_or_else(|| {
        let names: Vec<&str> = batch.column_names();
        SparkdlError::InvalidArgument(format!("input batch has no column '{name}' (it has: {})", names.join(", ")))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{BinaryArray, StringArray};
    use arrow::datatypes::{Field, Fields};
    use std::sync::Arc;

    fn sample() -> StructArray {
        let origin: ArrayRef = Arc::new(StringArray::from(vec![Some("a"), None, Some("c")]));
        let content: ArrayRef = Arc::new(BinaryArray::from(vec![Some(&b"xy"[..]), Some(&b""[..]), None]));
        StructArray::new(
            Fields::from(vec![
                Field::new("origin", DataType::Utf8, true),
                Field::new("content", DataType::Binary, true),
            ]),
            vec![origin, content],
            None,
        )
    }

    #[test]
    fn export_then_import_round_trips_without_copying_values() {
        let batch = sample();
        let mut out_array = FFI_ArrowArray::empty();
        let mut out_schema = FFI_ArrowSchema::empty();
        let a = &mut out_array as *mut FFI_ArrowArray as i64;
        let s = &mut out_schema as *mut FFI_ArrowSchema as i64;
        unsafe { export_struct(&batch, a, s).unwrap() };
        // Importing moves the structs out; the originals are left released.
        let back = unsafe { import_struct(a, s).unwrap() };
        assert_eq!(back, batch);
        let orig_values = batch.column(1).to_data().buffers()[1].as_ptr();
        let back_values = back.column(1).to_data().buffers()[1].as_ptr();
        assert_eq!(orig_values, back_values, "the value buffer must be shared, not copied");
    }

    #[test]
    fn null_addresses_are_rejected_with_a_reason() {
        let err = unsafe { import_struct(0, 0) }.unwrap_err();
        assert!(err.to_string().contains("null ArrowArray"));
    }

    #[test]
    fn missing_column_names_the_columns_present() {
        let batch = sample();
        let err = column(&batch, "image").unwrap_err();
        assert_eq!(err.to_string(), "input batch has no column 'image' (it has: origin, content)");
    }
}
