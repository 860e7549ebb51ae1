//! Protocol buffer wire format, just enough to write a few fields by hand
//! (varints and length-delimited fields), as `ConfigProto` needs.

/// Appends `v` as a base-128 varint.
pub(crate) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A varint field (int32, int64, bool, enum). Negative int32s are written
/// sign-extended to 64 bits, as protobuf does.
pub(crate) fn put_varint_field(out: &mut Vec<u8>, field: u32, v: i64) {
    put_varint(out, u64::from(field) << 3);
    put_varint(out, v as u64);
}

/// A length-delimited field (string, bytes, embedded message).
pub(crate) fn put_bytes_field(out: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    put_varint(out, (u64::from(field) << 3) | 2);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_like_protobuf() {
        let mut out = Vec::new();
        put_varint_field(&mut out, 2, 300);
        assert_eq!(out, vec![16, 172, 2]);
        out.clear();
        put_bytes_field(&mut out, 5, b"0,1");
        assert_eq!(out, vec![42, 3, b'0', b',', b'1']);
        out.clear();
        put_varint_field(&mut out, 1, -1);
        assert_eq!(out.len(), 11);
    }
}
