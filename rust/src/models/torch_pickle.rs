//! Reading PyTorch state dicts saved in the *legacy* `torch.save` format
//! (PyTorch < 1.6, and torchvision's published ImageNet weights such as
//! `mobilenet_v2-b0353104.pth`) without Python and without running code.
//!
//! Python's `pickle` is a small stack machine whose `GLOBAL` + `REDUCE`
//! opcodes call arbitrary functions, so loading a `.pth` file with
//! `torch.load` trusts the file completely. This module implements only the
//! opcodes such a file uses, over plain values, and accepts exactly three kinds
//! of global: `collections.OrderedDict`, `torch._utils._rebuild_tensor_v2`
//! and the `torch.<Type>Storage` classes. Any other global (say `os.system`)
//! is refused by name before anything is "called"; nothing is ever executed.
//!
//! A legacy file is a sequence of pickles followed by raw data:
//!
//! 1. the magic number `0x1950a86a20f9469cfc6c`;
//! 2. the protocol version, 1001;
//! 3. `sys_info`, a dict (we check `little_endian`);
//! 4. the object itself: here an `OrderedDict` of name -> tensor, each tensor a
//!    `_rebuild_tensor_v2(storage, storage_offset, size, stride, ...)` call
//!    whose storage is a persistent id
//!    `('storage', torch.FloatStorage, key, location, numel, view_metadata)`;
//! 5. the list of storage keys, in the order their data follows;
//! 6. for each key: its element count (8 bytes, little-endian) and then the
//!    elements (little-endian; 4 bytes each for `FloatStorage`, 8 for
//!    `LongStorage`, ...).
//!
//! Every length and offset in the file is checked against the bytes that are
//! actually there before anything is allocated, so a corrupt or hostile file
//! gives an error, never a panic or a huge allocation.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::rc::Rc;

use crate::errors::{Result, SparkdlError};

/// The elements of a [`TorchTensor`], in row-major (C) order.
#[derive(Debug, Clone, PartialEq)]
pub enum TensorData {
    /// From a `torch.FloatStorage` (float32).
    F32(Vec<f32>),
    /// From a `torch.LongStorage` (int64), e.g. BatchNorm's `num_batches_tracked`.
    I64(Vec<i64>),
}

impl TensorData {
    pub fn len(&self) -> usize {
        match self {
            TensorData::F32(v) => v.len(),
            TensorData::I64(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// "float32" or "int64".
    pub fn dtype_name(&self) -> &'static str {
        match self {
            TensorData::F32(_) => "float32",
            TensorData::I64(_) => "int64",
        }
    }
}

/// One tensor of a state dict: its shape (empty for a scalar) and its
/// elements, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct TorchTensor {
    pub shape: Vec<usize>,
    pub data: TensorData,
}

impl TorchTensor {
    /// The float32 elements, or `None` for an int64 tensor.
    pub fn as_f32(&self) -> Option<&[f32]> {
        match &self.data {
            TensorData::F32(v) => Some(v),
            TensorData::I64(_) => None,
        }
    }
}

/// Reads the state dict (parameter name -> tensor) of a legacy-format
/// `torch.save` file, such as torchvision's `mobilenet_v2-b0353104.pth`.
/// Zip-format checkpoints (the default since PyTorch 1.6) are refused with an
/// error that says so.
pub fn read_legacy_state_dict(path: &Path) -> Result<BTreeMap<String, TorchTensor>> {
    let bytes = std::fs::read(path).map_err(|e| {
        SparkdlError::InvalidArgument(format!("cannot read the PyTorch weights file '{}': {e}", path.display()))
    })?;
    parse_legacy_state_dict(&bytes).map_err(|e| {
        SparkdlError::InvalidArgument(format!(
            "cannot read '{}' as a legacy torch.save state dict: {e}",
            path.display()
        ))
    })
}

/// [`read_legacy_state_dict`] on the bytes of a file; the error text says what
/// was unexpected and at which byte offset.
pub fn parse_legacy_state_dict(bytes: &[u8]) -> std::result::Result<BTreeMap<String, TorchTensor>, String> {
    if bytes.starts_with(b"PK\x03\x04") {
        return Err("it is a zip archive, the torch.save format of PyTorch >= 1.6; only the legacy format is \
                    supported (re-save it with torch.save(obj, f, _use_new_zipfile_serialization=False))"
            .into());
    }
    let mut r = Reader { bytes, pos: 0 };
    let mut storages = HashMap::new();

    match load_pickle(&mut r, &mut storages)? {
        Value::Int(MAGIC) => {}
        other => return Err(format!("the file does not start with torch's magic number (found {})", other.describe())),
    }
    match load_pickle(&mut r, &mut storages)? {
        Value::Int(PROTOCOL_VERSION) => {}
        other => return Err(format!("unsupported torch.save protocol version {} (expected 1001)", other.describe())),
    }
    let sys_info = load_pickle(&mut r, &mut storages)?;
    check_sys_info(&sys_info)?;
    let root = load_pickle(&mut r, &mut storages)?;
    let keys = load_pickle(&mut r, &mut storages)?;
    let data = read_storage_data(&mut r, &keys, &storages)?;
    if r.pos != bytes.len() {
        return Err(format!("{} unexpected bytes after the last storage (at offset {})", bytes.len() - r.pos, r.pos));
    }

    let Value::Dict(entries) = root else {
        return Err(format!("the saved object is a {}, not a state dict (an OrderedDict of tensors)", root.describe()));
    };
    let mut out = BTreeMap::new();
    for (key, value) in entries.borrow().iter() {
        let Value::Str(name) = key else {
            return Err(format!("the state dict has a {} key; only string keys are supported", key.describe()));
        };
        let Value::Tensor(t) = value else {
            return Err(format!("state dict entry '{name}' is a {}, not a tensor", value.describe()));
        };
        out.insert(name.clone(), materialize(name, t, &data)?);
    }
    Ok(out)
}

/// `0x1950a86a20f9469cfc6c`, torch's legacy magic number.
const MAGIC: i128 = 0x1950a86a20f9469cfc6c;
/// The only legacy protocol version there is.
const PROTOCOL_VERSION: i128 = 1001;

fn check_sys_info(sys_info: &Value) -> std::result::Result<(), String> {
    let Value::Dict(entries) = sys_info else {
        return Err(format!("the sys_info record is a {}, not a dict", sys_info.describe()));
    };
    for (k, v) in entries.borrow().iter() {
        if matches!(k, Value::Str(s) if s == "little_endian") && !matches!(v, Value::Bool(true)) {
            return Err("the file was written on a big-endian machine; only little-endian files are supported".into());
        }
    }
    Ok(())
}

// ---- Storages ---------------------------------------------------------------

/// The `torch.<Type>Storage` classes, with their element sizes in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StorageKind {
    Float,
    Double,
    Half,
    BFloat16,
    Long,
    Int,
    Short,
    Char,
    Byte,
    Bool,
}

impl StorageKind {
    const ALL: [StorageKind; 10] = [
        StorageKind::Float,
        StorageKind::Double,
        StorageKind::Half,
        StorageKind::BFloat16,
        StorageKind::Long,
        StorageKind::Int,
        StorageKind::Short,
        StorageKind::Char,
        StorageKind::Byte,
        StorageKind::Bool,
    ];

    fn class_name(self) -> &'static str {
        match self {
            StorageKind::Float => "FloatStorage",
            StorageKind::Double => "DoubleStorage",
            StorageKind::Half => "HalfStorage",
            StorageKind::BFloat16 => "BFloat16Storage",
            StorageKind::Long => "LongStorage",
            StorageKind::Int => "IntStorage",
            StorageKind::Short => "ShortStorage",
            StorageKind::Char => "CharStorage",
            StorageKind::Byte => "ByteStorage",
            StorageKind::Bool => "BoolStorage",
        }
    }

    fn element_size(self) -> usize {
        match self {
            StorageKind::Double | StorageKind::Long => 8,
            StorageKind::Float | StorageKind::Int => 4,
            StorageKind::Half | StorageKind::BFloat16 | StorageKind::Short => 2,
            StorageKind::Char | StorageKind::Byte | StorageKind::Bool => 1,
        }
    }
}

/// A storage named by a persistent id: which class, its key in the data
/// section, and its element count.
#[derive(Debug)]
struct StorageRef {
    kind: StorageKind,
    key: String,
    numel: usize,
}

/// The decoded elements of one storage.
enum StorageData {
    F32(Vec<f32>),
    I64(Vec<i64>),
    /// A storage type we skip over but cannot hand out.
    Unsupported(StorageKind),
}

/// Reads the data section: for each key of the key list, an 8-byte count and
/// the elements.
fn read_storage_data(
    r: &mut Reader,
    keys: &Value,
    storages: &HashMap<String, Rc<StorageRef>>,
) -> std::result::Result<HashMap<String, StorageData>, String> {
    let Value::List(keys) = keys else {
        return Err(format!("the storage key record is a {}, not a list", keys.describe()));
    };
    let mut data = HashMap::new();
    for key in keys.borrow().iter() {
        let Value::Str(key) = key else {
            return Err(format!("the storage key list holds a {}, not a string", key.describe()));
        };
        let storage = storages
            .get(key)
            .ok_or_else(|| format!("the data section holds storage '{key}', which no tensor refers to"))?;
        let at = r.pos;
        let count = r.u64_le("a storage's element count")?;
        if count != storage.numel as u64 {
            return Err(format!(
                "storage '{key}' holds {count} elements at offset {at}, but its persistent id says {}",
                storage.numel
            ));
        }
        let size = storage.numel.checked_mul(storage.kind.element_size()).ok_or("storage size overflows")?;
        let bytes = r.take(size, "storage data")?;
        let decoded = match storage.kind {
            StorageKind::Float => {
                StorageData::F32(bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
            }
            StorageKind::Long => StorageData::I64(
                bytes
                    .chunks_exact(8)
                    .map(|c| i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
                    .collect(),
            ),
            other => StorageData::Unsupported(other),
        };
        if data.insert(key.clone(), decoded).is_some() {
            return Err(format!("the storage key list names '{key}' twice"));
        }
    }
    Ok(data)
}

/// A tensor descriptor from `_rebuild_tensor_v2`.
#[derive(Debug)]
struct TensorRef {
    storage: Rc<StorageRef>,
    offset: usize,
    size: Vec<usize>,
    stride: Vec<usize>,
}

/// Copies a tensor's elements out of its storage, checking that it is
/// contiguous and lies inside the storage.
fn materialize(
    name: &str,
    t: &TensorRef,
    data: &HashMap<String, StorageData>,
) -> std::result::Result<TorchTensor, String> {
    let numel = t
        .size
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| format!("tensor '{name}' has an overflowing size {:?}", t.size))?;
    // Row-major strides; dimensions of extent 1 may carry any stride.
    let mut expected = 1usize;
    for (dim, (&size, &stride)) in t.size.iter().zip(&t.stride).enumerate().rev() {
        if size > 1 && stride != expected && numel > 0 {
            return Err(format!(
                "tensor '{name}' (size {:?}, stride {:?}) is not contiguous in dimension {dim}; only contiguous \
                 tensors are supported (save tensor.contiguous())",
                t.size, t.stride
            ));
        }
        expected = expected.saturating_mul(size);
    }
    let end = t.offset.checked_add(numel).filter(|&end| end <= t.storage.numel).ok_or_else(|| {
        format!(
            "tensor '{name}' needs elements {}..{}+{numel} of storage '{}', which has {}",
            t.offset, t.offset, t.storage.key, t.storage.numel
        )
    })?;
    let range = t.offset..end;
    let values = match data.get(&t.storage.key) {
        Some(StorageData::F32(v)) => TensorData::F32(v[range].to_vec()),
        Some(StorageData::I64(v)) => TensorData::I64(v[range].to_vec()),
        Some(StorageData::Unsupported(kind)) => {
            return Err(format!(
                "tensor '{name}' is a torch.{}; only FloatStorage (float32) and LongStorage (int64) tensors are \
                 supported",
                kind.class_name()
            ))
        }
        None => {
            return Err(format!(
                "tensor '{name}' refers to storage '{}', which the data section does not hold",
                t.storage.key
            ))
        }
    };
    Ok(TorchTensor { shape: t.size.clone(), data: values })
}

// ---- The restricted unpickler -------------------------------------------------

/// The only callables a file may name.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Global {
    OrderedDict,
    RebuildTensorV2,
    Storage(StorageKind),
}

impl Global {
    fn resolve(module: &str, name: &str) -> std::result::Result<Global, String> {
        match (module, name) {
            ("collections", "OrderedDict") => return Ok(Global::OrderedDict),
            ("torch._utils", "_rebuild_tensor_v2") => return Ok(Global::RebuildTensorV2),
            ("torch", _) => {
                if let Some(kind) = StorageKind::ALL.into_iter().find(|k| k.class_name() == name) {
                    return Ok(Global::Storage(kind));
                }
            }
            _ => {}
        }
        Err(format!(
            "refusing the global '{module}.{name}': only collections.OrderedDict, torch._utils._rebuild_tensor_v2 \
             and torch.<Type>Storage may appear in a weights file"
        ))
    }

    fn name(self) -> String {
        match self {
            Global::OrderedDict => "collections.OrderedDict".into(),
            Global::RebuildTensorV2 => "torch._utils._rebuild_tensor_v2".into(),
            Global::Storage(kind) => format!("torch.{}", kind.class_name()),
        }
    }
}

/// A value on the unpickler's stack. Dicts and lists are shared (`Rc`), as in
/// Python, so that a memoised dict filled later is the same dict.
#[derive(Debug, Clone)]
enum Value {
    None,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Tuple(Rc<[Value]>),
    List(Rc<RefCell<Vec<Value>>>),
    Dict(Rc<RefCell<Vec<(Value, Value)>>>),
    Global(Global),
    Storage(Rc<StorageRef>),
    Tensor(Rc<TensorRef>),
}

impl Value {
    /// A short description for error messages (never recursive: values may
    /// be cyclic).
    fn describe(&self) -> String {
        match self {
            Value::None => "None".into(),
            Value::Bool(b) => format!("bool {b}"),
            Value::Int(i) => format!("int {i}"),
            Value::Float(f) => format!("float {f}"),
            Value::Str(s) => format!("str '{s}'"),
            Value::Tuple(t) => format!("tuple of {}", t.len()),
            Value::List(_) => "list".into(),
            Value::Dict(_) => "dict".into(),
            Value::Global(g) => format!("global {}", g.name()),
            Value::Storage(s) => format!("torch.{} '{}'", s.kind.class_name(), s.key),
            Value::Tensor(_) => "tensor".into(),
        }
    }

    fn as_usize(&self, what: &str) -> std::result::Result<usize, String> {
        match self {
            Value::Int(i) => usize::try_from(*i).map_err(|_| format!("{what} is {i}, not a valid size")),
            other => Err(format!("{what} is a {}, not an int", other.describe())),
        }
    }

    fn as_usize_tuple(&self, what: &str) -> std::result::Result<Vec<usize>, String> {
        match self {
            Value::Tuple(items) => items.iter().map(|v| v.as_usize(what)).collect(),
            other => Err(format!("{what} is a {}, not a tuple", other.describe())),
        }
    }
}

/// The file's bytes and a cursor; every read is bounds-checked.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &str) -> std::result::Result<&'a [u8], String> {
        let available = self.bytes.len() - self.pos;
        if n > available {
            return Err(format!(
                "the file is truncated: {what} at offset {} needs {n} bytes, {available} remain",
                self.pos
            ));
        }
        let out = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    fn array<const N: usize>(&mut self, what: &str) -> std::result::Result<[u8; N], String> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }

    fn u8(&mut self, what: &str) -> std::result::Result<u8, String> {
        Ok(self.array::<1>(what)?[0])
    }

    fn u32_le(&mut self, what: &str) -> std::result::Result<u32, String> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    fn u64_le(&mut self, what: &str) -> std::result::Result<u64, String> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    /// A `\n`-terminated line (GLOBAL's operands), without the newline.
    fn line(&mut self, what: &str) -> std::result::Result<&'a str, String> {
        let rest = &self.bytes[self.pos..];
        let len = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or_else(|| format!("the file is truncated: {what} at offset {} has no end of line", self.pos))?;
        let text =
            std::str::from_utf8(&rest[..len]).map_err(|_| format!("{what} at offset {} is not UTF-8", self.pos))?;
        self.pos += len + 1;
        Ok(text)
    }

    fn utf8(&mut self, n: usize, what: &str) -> std::result::Result<String, String> {
        let at = self.pos;
        let bytes = self.take(n, what)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| format!("{what} at offset {at} is not UTF-8"))
    }
}

/// Pickle opcodes this reader understands (protocol 2, plus MEMOIZE).
mod op {
    pub const PROTO: u8 = 0x80;
    pub const STOP: u8 = b'.';
    pub const MARK: u8 = b'(';
    pub const NONE: u8 = b'N';
    pub const NEWTRUE: u8 = 0x88;
    pub const NEWFALSE: u8 = 0x89;
    pub const BININT: u8 = b'J';
    pub const BININT1: u8 = b'K';
    pub const BININT2: u8 = b'M';
    pub const LONG1: u8 = 0x8a;
    pub const BINFLOAT: u8 = b'G';
    pub const BINUNICODE: u8 = b'X';
    pub const SHORT_BINUNICODE: u8 = 0x8c;
    pub const BINSTRING: u8 = b'T';
    pub const SHORT_BINSTRING: u8 = b'U';
    pub const EMPTY_TUPLE: u8 = b')';
    pub const TUPLE: u8 = b't';
    pub const TUPLE1: u8 = 0x85;
    pub const TUPLE2: u8 = 0x86;
    pub const TUPLE3: u8 = 0x87;
    pub const EMPTY_LIST: u8 = b']';
    pub const APPEND: u8 = b'a';
    pub const APPENDS: u8 = b'e';
    pub const EMPTY_DICT: u8 = b'}';
    pub const SETITEM: u8 = b's';
    pub const SETITEMS: u8 = b'u';
    pub const BINPUT: u8 = b'q';
    pub const LONG_BINPUT: u8 = b'r';
    pub const MEMOIZE: u8 = 0x94;
    pub const BINGET: u8 = b'h';
    pub const LONG_BINGET: u8 = b'j';
    pub const GLOBAL: u8 = b'c';
    pub const REDUCE: u8 = b'R';
    pub const BUILD: u8 = b'b';
    pub const BINPERSID: u8 = b'Q';
}

/// The state of one pickle being loaded.
struct Machine<'s> {
    stack: Vec<Value>,
    marks: Vec<usize>,
    memo: HashMap<u32, Value>,
    /// Storages seen in persistent ids, shared by all pickles of the file.
    storages: &'s mut HashMap<String, Rc<StorageRef>>,
}

impl Machine<'_> {
    fn pop(&mut self, opcode: &str) -> std::result::Result<Value, String> {
        if self.marks.last().is_some_and(|&m| m >= self.stack.len()) {
            return Err(format!("{opcode} found only a MARK on the stack"));
        }
        self.stack.pop().ok_or_else(|| format!("{opcode} on an empty stack"))
    }

    fn top(&mut self, opcode: &str) -> std::result::Result<&mut Value, String> {
        if self.marks.last().is_some_and(|&m| m >= self.stack.len()) {
            return Err(format!("{opcode} found only a MARK on the stack"));
        }
        self.stack.last_mut().ok_or_else(|| format!("{opcode} on an empty stack"))
    }

    /// The values pushed since the last MARK, which is removed.
    fn pop_to_mark(&mut self, opcode: &str) -> std::result::Result<Vec<Value>, String> {
        let mark = self.marks.pop().ok_or_else(|| format!("{opcode} without a MARK"))?;
        Ok(self.stack.split_off(mark))
    }

    fn tuple_of_last(&mut self, n: usize, opcode: &str) -> std::result::Result<(), String> {
        let mut items = Vec::with_capacity(n);
        for _ in 0..n {
            items.push(self.pop(opcode)?);
        }
        items.reverse();
        self.stack.push(Value::Tuple(items.into()));
        Ok(())
    }

    fn set_items(&mut self, pairs: Vec<Value>, opcode: &str) -> std::result::Result<(), String> {
        if !pairs.len().is_multiple_of(2) {
            return Err(format!("{opcode} with an odd number of keys and values"));
        }
        let dict = match self.top(opcode)? {
            Value::Dict(dict) => dict.clone(),
            other => return Err(format!("{opcode} on a {}, not a dict", other.describe())),
        };
        let mut dict = dict.borrow_mut();
        let mut it = pairs.into_iter();
        while let (Some(k), Some(v)) = (it.next(), it.next()) {
            dict.push((k, v));
        }
        Ok(())
    }

    fn append(&mut self, items: Vec<Value>, opcode: &str) -> std::result::Result<(), String> {
        match self.top(opcode)? {
            Value::List(list) => list.borrow_mut().extend(items),
            other => return Err(format!("{opcode} on a {}, not a list", other.describe())),
        }
        Ok(())
    }

    fn memo_put(&mut self, index: u32, opcode: &str) -> std::result::Result<(), String> {
        let value = self.top(opcode)?.clone();
        self.memo.insert(index, value);
        Ok(())
    }

    fn memo_get(&mut self, index: u32, opcode: &str) -> std::result::Result<(), String> {
        let value = self.memo.get(&index).ok_or_else(|| format!("{opcode} of memo entry {index}, never stored"))?;
        self.stack.push(value.clone());
        Ok(())
    }

    /// REDUCE: "calls" an allow-listed global.
    fn reduce(&mut self) -> std::result::Result<Value, String> {
        let args = self.pop("REDUCE")?;
        let callable = self.pop("REDUCE")?;
        let Value::Global(global) = callable else {
            return Err(format!("REDUCE of a {}, not a global", callable.describe()));
        };
        let Value::Tuple(args) = args else {
            return Err(format!("REDUCE of {} with a {}, not an argument tuple", global.name(), args.describe()));
        };
        match global {
            Global::OrderedDict if args.is_empty() => Ok(Value::Dict(Rc::default())),
            Global::OrderedDict => Err("collections.OrderedDict called with arguments; expected none".into()),
            Global::RebuildTensorV2 => rebuild_tensor(&args),
            Global::Storage(_) => {
                Err(format!("{} may only appear in a storage's persistent id, not be called", global.name()))
            }
        }
    }

    /// BINPERSID: `('storage', torch.<Type>Storage, key, location, numel, view_metadata)`.
    fn persistent_load(&mut self, pid: Value) -> std::result::Result<Value, String> {
        let Value::Tuple(pid) = pid else {
            return Err(format!("a persistent id is a {}, not a tuple", pid.describe()));
        };
        let [Value::Str(tag), Value::Global(Global::Storage(kind)), Value::Str(key), Value::Str(_), numel, view] =
            &pid[..]
        else {
            return Err(format!(
                "unexpected persistent id ({}); expected ('storage', torch.<Type>Storage, key, location, numel, \
                 None)",
                pid.iter().map(Value::describe).collect::<Vec<_>>().join(", ")
            ));
        };
        if tag != "storage" {
            return Err(format!("unexpected persistent id kind '{tag}' (expected 'storage')"));
        }
        if !matches!(view, Value::None) {
            return Err(format!("storage '{key}' is a view of another storage, which is not supported"));
        }
        let numel = numel.as_usize("a storage's element count")?;
        let storage = match self.storages.get(key) {
            Some(known) if known.kind != *kind || known.numel != numel => {
                return Err(format!("storage '{key}' is declared twice with different types or sizes"))
            }
            Some(known) => known.clone(),
            None => {
                let s = Rc::new(StorageRef { kind: *kind, key: key.clone(), numel });
                self.storages.insert(key.clone(), s.clone());
                s
            }
        };
        Ok(Value::Storage(storage))
    }
}

/// `_rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad,
/// backward_hooks[, metadata])`: only the first four matter for the values.
fn rebuild_tensor(args: &[Value]) -> std::result::Result<Value, String> {
    if !(6..=7).contains(&args.len()) {
        return Err(format!("_rebuild_tensor_v2 called with {} arguments; expected 6 or 7", args.len()));
    }
    let Value::Storage(storage) = &args[0] else {
        return Err(format!("_rebuild_tensor_v2's storage is a {}", args[0].describe()));
    };
    let offset = args[1].as_usize("a tensor's storage offset")?;
    let size = args[2].as_usize_tuple("a tensor's size")?;
    let stride = args[3].as_usize_tuple("a tensor's stride")?;
    if size.len() != stride.len() {
        return Err(format!("a tensor has size {size:?} but stride {stride:?}"));
    }
    Ok(Value::Tensor(Rc::new(TensorRef { storage: storage.clone(), offset, size, stride })))
}

/// Runs one pickle, from its first opcode to STOP, and returns its value.
fn load_pickle(r: &mut Reader, storages: &mut HashMap<String, Rc<StorageRef>>) -> std::result::Result<Value, String> {
    let mut m = Machine { stack: Vec::new(), marks: Vec::new(), memo: HashMap::new(), storages };
    loop {
        let at = r.pos;
        let code = r.u8("an opcode")?;
        match m.step(code, r) {
            Ok(false) => {}
            Ok(true) => {
                if !m.marks.is_empty() || m.stack.len() != 1 {
                    return Err(format!(
                        "STOP at offset {at} with {} values and {} marks on the stack (expected one value)",
                        m.stack.len(),
                        m.marks.len()
                    ));
                }
                return m.stack.pop().ok_or_else(|| "empty stack at STOP".to_string());
            }
            Err(e) => return Err(format!("{e} (pickle opcode at offset {at})")),
        }
    }
}

impl Machine<'_> {
    /// Executes one opcode (its operands follow in `r`); true at STOP.
    fn step(&mut self, code: u8, r: &mut Reader) -> std::result::Result<bool, String> {
        match code {
            op::PROTO => {
                let v = r.u8("PROTO")?;
                if v > 4 {
                    return Err(format!("pickle protocol {v} is not supported"));
                }
            }
            op::STOP => return Ok(true),
            op::MARK => self.marks.push(self.stack.len()),
            op::NONE => self.stack.push(Value::None),
            op::NEWTRUE => self.stack.push(Value::Bool(true)),
            op::NEWFALSE => self.stack.push(Value::Bool(false)),
            op::BININT => self.stack.push(Value::Int(i32::from_le_bytes(r.array("BININT")?).into())),
            op::BININT1 => self.stack.push(Value::Int(r.u8("BININT1")?.into())),
            op::BININT2 => self.stack.push(Value::Int(u16::from_le_bytes(r.array("BININT2")?).into())),
            op::LONG1 => {
                let n = usize::from(r.u8("LONG1")?);
                if n > 16 {
                    return Err(format!("an integer of {n} bytes is too large"));
                }
                let bytes = r.take(n, "LONG1")?;
                // Little-endian two's complement, sign-extended.
                let fill = if bytes.last().is_some_and(|b| b & 0x80 != 0) { 0xff } else { 0 };
                let mut full = [fill; 16];
                full[..n].copy_from_slice(bytes);
                self.stack.push(Value::Int(i128::from_le_bytes(full)));
            }
            op::BINFLOAT => self.stack.push(Value::Float(f64::from_be_bytes(r.array("BINFLOAT")?))),
            op::BINUNICODE | op::BINSTRING => {
                let n = r.u32_le("a string length")? as usize;
                self.stack.push(Value::Str(r.utf8(n, "a string")?));
            }
            op::SHORT_BINUNICODE | op::SHORT_BINSTRING => {
                let n = usize::from(r.u8("a string length")?);
                self.stack.push(Value::Str(r.utf8(n, "a string")?));
            }
            op::EMPTY_TUPLE => self.stack.push(Value::Tuple(Rc::new([]))),
            op::TUPLE => {
                let items = self.pop_to_mark("TUPLE")?;
                self.stack.push(Value::Tuple(items.into()));
            }
            op::TUPLE1 => self.tuple_of_last(1, "TUPLE1")?,
            op::TUPLE2 => self.tuple_of_last(2, "TUPLE2")?,
            op::TUPLE3 => self.tuple_of_last(3, "TUPLE3")?,
            op::EMPTY_LIST => self.stack.push(Value::List(Rc::default())),
            op::APPEND => {
                let v = self.pop("APPEND")?;
                self.append(vec![v], "APPEND")?;
            }
            op::APPENDS => {
                let items = self.pop_to_mark("APPENDS")?;
                self.append(items, "APPENDS")?;
            }
            op::EMPTY_DICT => self.stack.push(Value::Dict(Rc::default())),
            op::SETITEM => {
                let v = self.pop("SETITEM")?;
                let k = self.pop("SETITEM")?;
                self.set_items(vec![k, v], "SETITEM")?;
            }
            op::SETITEMS => {
                let pairs = self.pop_to_mark("SETITEMS")?;
                self.set_items(pairs, "SETITEMS")?;
            }
            op::BINPUT => {
                let i = r.u8("BINPUT")?;
                self.memo_put(i.into(), "BINPUT")?;
            }
            op::LONG_BINPUT => {
                let i = r.u32_le("LONG_BINPUT")?;
                self.memo_put(i, "LONG_BINPUT")?;
            }
            op::MEMOIZE => {
                let i = u32::try_from(self.memo.len()).map_err(|_| "too many memo entries".to_string())?;
                self.memo_put(i, "MEMOIZE")?;
            }
            op::BINGET => {
                let i = r.u8("BINGET")?;
                self.memo_get(i.into(), "BINGET")?;
            }
            op::LONG_BINGET => {
                let i = r.u32_le("LONG_BINGET")?;
                self.memo_get(i, "LONG_BINGET")?;
            }
            op::GLOBAL => {
                let module = r.line("GLOBAL's module")?;
                let name = r.line("GLOBAL's name")?;
                self.stack.push(Value::Global(Global::resolve(module, name)?));
            }
            op::REDUCE => {
                let v = self.reduce()?;
                self.stack.push(v);
            }
            op::BUILD => {
                // OrderedDict's state (e.g. a state dict's `_metadata`) is
                // not needed for the weights.
                let state = self.pop("BUILD")?;
                let target = self.top("BUILD")?;
                if !matches!(target, Value::Dict(_)) {
                    return Err(format!(
                        "BUILD (setting the state of an object) on a {} with state {}; only dicts are supported",
                        target.describe(),
                        state.describe()
                    ));
                }
            }
            op::BINPERSID => {
                let pid = self.pop("BINPERSID")?;
                let v = self.persistent_load(pid)?;
                self.stack.push(v);
            }
            other => {
                let shown = if other.is_ascii_graphic() { format!(" ('{}')", other as char) } else { String::new() };
                return Err(format!("unsupported pickle opcode 0x{other:02x}{shown}"));
            }
        }
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes pickle opcodes by hand, as Python's pickler (protocol 2) does.
    #[derive(Default)]
    struct Pickle(Vec<u8>);

    impl Pickle {
        fn new() -> Pickle {
            Pickle(vec![op::PROTO, 2])
        }
        fn op(&mut self, code: u8) -> &mut Self {
            self.0.push(code);
            self
        }
        fn raw(&mut self, bytes: &[u8]) -> &mut Self {
            self.0.extend(bytes);
            self
        }
        fn int(&mut self, v: i64) -> &mut Self {
            match v {
                0..=0xff => self.0.extend([op::BININT1, v as u8]),
                0x100..=0xffff => {
                    self.0.push(op::BININT2);
                    self.0.extend((v as u16).to_le_bytes());
                }
                _ => {
                    self.0.push(op::BININT);
                    self.0.extend((v as i32).to_le_bytes());
                }
            }
            self
        }
        fn str(&mut self, s: &str) -> &mut Self {
            self.0.push(op::BINUNICODE);
            self.0.extend((s.len() as u32).to_le_bytes());
            self.0.extend(s.as_bytes());
            self
        }
        fn global(&mut self, module: &str, name: &str) -> &mut Self {
            self.0.push(op::GLOBAL);
            self.0.extend(format!("{module}\n{name}\n").as_bytes());
            self
        }
        fn put(&mut self, i: u8) -> &mut Self {
            self.0.extend([op::BINPUT, i]);
            self
        }
        fn get(&mut self, i: u8) -> &mut Self {
            self.0.extend([op::BINGET, i]);
            self
        }
        fn ints(&mut self, values: &[usize]) -> &mut Self {
            self.op(op::MARK);
            for &v in values {
                self.int(v as i64);
            }
            self.op(op::TUPLE)
        }
        fn stop(&mut self) -> Vec<u8> {
            self.0.push(op::STOP);
            std::mem::take(&mut self.0)
        }
    }

    struct FixtureTensor<'a> {
        name: &'a str,
        storage: &'a str,
        offset: usize,
        size: &'a [usize],
        stride: &'a [usize],
    }

    enum FixtureStorage<'a> {
        Float(&'a str, Vec<f32>),
        Long(&'a str, Vec<i64>),
    }

    impl FixtureStorage<'_> {
        fn key(&self) -> &str {
            match self {
                FixtureStorage::Float(k, _) | FixtureStorage::Long(k, _) => k,
            }
        }
        fn class(&self) -> &str {
            match self {
                FixtureStorage::Float(..) => "FloatStorage",
                FixtureStorage::Long(..) => "LongStorage",
            }
        }
        fn numel(&self) -> usize {
            match self {
                FixtureStorage::Float(_, v) => v.len(),
                FixtureStorage::Long(_, v) => v.len(),
            }
        }
        fn bytes(&self) -> Vec<u8> {
            match self {
                FixtureStorage::Float(_, v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
                FixtureStorage::Long(_, v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            }
        }
    }

    /// The first three records of every legacy file.
    fn header() -> Vec<u8> {
        let mut out = Pickle::new().op(op::LONG1).op(10).raw(&MAGIC.to_le_bytes()[..10]).stop();
        out.extend(Pickle::new().int(1001).stop());
        out.extend(
            Pickle::new()
                .op(op::EMPTY_DICT)
                .put(0)
                .op(op::MARK)
                .str("protocol_version")
                .int(1001)
                .str("little_endian")
                .op(op::NEWTRUE)
                .op(op::SETITEMS)
                .stop(),
        );
        out
    }

    /// A complete legacy file shaped as torch writes one: memoised globals,
    /// an OrderedDict with a `_metadata` BUILD state, sorted storage keys.
    fn legacy_file(tensors: &[FixtureTensor], storages: &[FixtureStorage]) -> Vec<u8> {
        let mut out = header();
        let mut p = Pickle::new();
        p.global("collections", "OrderedDict").put(0).op(op::EMPTY_TUPLE).op(op::REDUCE).put(1).op(op::MARK);
        for t in tensors {
            let s = storages.iter().find(|s| s.key() == t.storage).expect("fixture storage");
            p.str(t.name).global("torch._utils", "_rebuild_tensor_v2").op(op::MARK);
            p.op(op::MARK).str("storage").global("torch", s.class()).str(t.storage).str("cpu");
            p.int(s.numel() as i64).op(op::NONE).op(op::TUPLE).op(op::BINPERSID);
            p.int(t.offset as i64).ints(t.size).ints(t.stride).op(op::NEWFALSE);
            // backward_hooks: OrderedDict(), through the memo.
            p.get(0).op(op::EMPTY_TUPLE).op(op::REDUCE).op(op::TUPLE).op(op::REDUCE);
        }
        p.op(op::SETITEMS);
        // BUILD with the state {'_metadata': OrderedDict()}.
        p.op(op::EMPTY_DICT).str("_metadata").get(0).op(op::EMPTY_TUPLE).op(op::REDUCE).op(op::SETITEM);
        p.op(op::BUILD);
        out.extend(p.stop());
        let mut keys = Pickle::new();
        keys.op(op::EMPTY_LIST).put(0).op(op::MARK);
        for s in storages {
            keys.str(s.key());
        }
        keys.op(op::APPENDS);
        out.extend(keys.stop());
        for s in storages {
            out.extend((s.numel() as u64).to_le_bytes());
            out.extend(s.bytes());
        }
        out
    }

    fn small_file() -> Vec<u8> {
        legacy_file(
            &[
                FixtureTensor { name: "conv.weight", storage: "10", offset: 0, size: &[2, 3], stride: &[3, 1] },
                FixtureTensor { name: "conv.bias", storage: "11", offset: 1, size: &[2], stride: &[1] },
                FixtureTensor { name: "bn.num_batches_tracked", storage: "12", offset: 0, size: &[], stride: &[] },
                FixtureTensor { name: "column", storage: "10", offset: 4, size: &[2, 1], stride: &[1, 7] },
            ],
            &[
                FixtureStorage::Float("10", vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.5]),
                FixtureStorage::Float("11", vec![-1.0, 0.25, -0.5]),
                FixtureStorage::Long("12", vec![42]),
            ],
        )
    }

    #[test]
    fn reads_a_hand_written_legacy_file() {
        let sd = parse_legacy_state_dict(&small_file()).unwrap();
        assert_eq!(sd.len(), 4);
        let w = &sd["conv.weight"];
        assert_eq!(w.shape, vec![2, 3]);
        assert_eq!(w.data, TensorData::F32(vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.5]));
        let b = &sd["conv.bias"];
        assert_eq!((b.shape.clone(), b.data.clone()), (vec![2], TensorData::F32(vec![0.25, -0.5])));
        let n = &sd["bn.num_batches_tracked"];
        assert_eq!((n.shape.clone(), n.data.clone()), (vec![], TensorData::I64(vec![42])));
        // A view at offset 4 of a shared storage; the stride of a dimension of 1 is free.
        assert_eq!(sd["column"].data, TensorData::F32(vec![4.0, 5.5]));
        assert_eq!(sd["column"].as_f32(), Some(&[4.0f32, 5.5][..]));
    }

    #[test]
    fn refuses_a_disallowed_global_without_calling_it() {
        let mut file = header();
        file.extend(Pickle::new().global("os", "system").str("echo pwned").op(op::TUPLE1).op(op::REDUCE).stop());
        let path = std::env::temp_dir().join(format!("sparkdl-evil-{}.pth", std::process::id()));
        std::fs::write(&path, &file).unwrap();
        let err = read_legacy_state_dict(&path).unwrap_err();
        let _ = std::fs::remove_file(&path);
        assert!(matches!(err, SparkdlError::InvalidArgument(_)));
        let msg = err.to_string();
        assert!(msg.contains("refusing the global 'os.system'"), "{msg}");
        assert!(msg.contains(&path.display().to_string()), "the message names the file: {msg}");
    }

    #[test]
    fn refuses_calling_a_storage_class_and_other_torch_functions() {
        let mut file = header();
        file.extend(Pickle::new().global("torch", "load").stop());
        let err = parse_legacy_state_dict(&file).unwrap_err();
        assert!(err.contains("refusing the global 'torch.load'"), "{err}");
        let mut file = header();
        file.extend(Pickle::new().global("torch", "FloatStorage").op(op::EMPTY_TUPLE).op(op::REDUCE).stop());
        let err = parse_legacy_state_dict(&file).unwrap_err();
        assert!(err.contains("may only appear in a storage's persistent id"), "{err}");
    }

    #[test]
    fn refuses_non_contiguous_and_out_of_range_tensors() {
        let storages = [FixtureStorage::Float("1", vec![0.0; 6])];
        let transposed = legacy_file(
            &[FixtureTensor { name: "t", storage: "1", offset: 0, size: &[2, 3], stride: &[1, 2] }],
            &storages,
        );
        let err = parse_legacy_state_dict(&transposed).unwrap_err();
        assert!(err.contains("'t'") && err.contains("not contiguous"), "{err}");
        let past_end =
            legacy_file(&[FixtureTensor { name: "t", storage: "1", offset: 2, size: &[5], stride: &[1] }], &storages);
        let err = parse_legacy_state_dict(&past_end).unwrap_err();
        assert!(err.contains("'t' needs elements 2..2+5") && err.contains("which has 6"), "{err}");
    }

    #[test]
    fn truncated_and_foreign_files_are_explained() {
        let file = small_file();
        let err = parse_legacy_state_dict(&file[..file.len() - 3]).unwrap_err();
        assert!(err.contains("truncated") && err.contains("storage data"), "{err}");
        let err = parse_legacy_state_dict(&file[..200]).unwrap_err();
        assert!(err.contains("truncated"), "{err}");
        let mut longer = file.clone();
        longer.push(0);
        let err = parse_legacy_state_dict(&longer).unwrap_err();
        assert!(err.contains("1 unexpected bytes"), "{err}");
        let err = parse_legacy_state_dict(b"PK\x03\x04 zip").unwrap_err();
        assert!(err.contains("zip archive"), "{err}");
        let err = parse_legacy_state_dict(&Pickle::new().int(7).stop()).unwrap_err();
        assert!(err.contains("magic number"), "{err}");
        let err = parse_legacy_state_dict(&[op::PROTO, 2, 0xff]).unwrap_err();
        assert!(err.contains("unsupported pickle opcode 0xff") && err.contains("offset 2"), "{err}");
        let err = read_legacy_state_dict(Path::new("/nonexistent/weights.pth")).unwrap_err().to_string();
        assert!(err.contains("cannot read the PyTorch weights file '/nonexistent/weights.pth'"), "{err}");
    }

    /// torchvision's MobileNetV2 ImageNet weights, as the test environment
    /// installs them (see `crate::models::test_support`).
    #[test]
    fn reads_torchvisions_mobilenet_v2_weights() {
        let path = crate::models::test_support::mobilenet_v2_weights();
        let sd = read_legacy_state_dict(&path).unwrap();
        assert_eq!(sd.len(), 314);
        assert_eq!(sd["features.0.0.weight"].shape, vec![32, 3, 3, 3]);
        assert_eq!(sd["classifier.1.weight"].shape, vec![1000, 1280]);
        assert_eq!(sd["classifier.1.bias"].shape, vec![1000]);
        let tracked = &sd["features.18.1.num_batches_tracked"];
        assert_eq!((tracked.shape.len(), tracked.data.dtype_name()), (0, "int64"));
        assert_eq!(sd.values().filter(|t| t.data.dtype_name() == "int64").count(), 52);
        let var = sd["features.0.1.running_var"].as_f32().unwrap();
        assert!(var.iter().all(|v| v.is_finite() && *v > 0.0), "running variances are positive");
    }
}
