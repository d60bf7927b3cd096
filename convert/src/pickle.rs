//! A small reader for PyTorch's zip checkpoints that tolerates any Python object in them.
//!
//! candle's own reader refuses files holding dict subclasses (Lightning's `AttributeDict`
//! hyper-parameters, OmegaConf configs), which every published Matcha-TTS checkpoint has. This one
//! runs the pickle opcodes `torch.save` emits, treats unknown classes as opaque objects (keeping the
//! items a dict subclass receives), and turns `torch._utils._rebuild_tensor_v2` calls into tensors
//! read from the archive's storages.
//!
//! It trusts nothing in the file: a global outside [`ALLOWED_GLOBALS`] (`posix.system`, `eval`,
//! any class of an unknown package) is refused by name; the pickle and each storage are read
//! only up to the size the tensors need (a zip entry claiming gigabytes is not inflated); a
//! tensor must lie inside its storage before anything is allocated for it; nesting and cycles
//! are taken apart without recursion.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use std::rc::Rc;

use anyhow::{anyhow, bail, Context, Result};
use candle_core::{DType, Device, Tensor};

// Scalar payloads are only shown in error messages (Debug).
#[allow(dead_code)]
#[derive(Clone, Debug)]
enum Value {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    Tuple(Rc<Vec<Value>>),
    List(Rc<RefCell<Vec<Value>>>),
    Dict(Rc<RefCell<Vec<(Value, Value)>>>),
    Global(Rc<(String, String)>),
    /// An instance of a class this reader does not know; dict subclasses keep their items.
    Object(Rc<RefCell<Vec<(Value, Value)>>>),
    Storage(Rc<StorageRef>),
    Tensor(Rc<TensorRef>),
    Mark,
}

#[derive(Debug)]
struct StorageRef {
    key: String,
    dtype: DType,
    /// Elements the storage holds, as its persistent id declares.
    elements: usize,
}

/// Largest `data.pkl` read (the pickles of published checkpoints are well under 1 MiB).
pub const MAX_PICKLE_BYTES: u64 = 64 << 20;
/// Deepest nesting of plain data turned into JSON (hyper-parameters); deeper parts become null.
const MAX_JSON_DEPTH: usize = 64;

/// The globals (module, name) a tensor checkpoint needs: tensor and storage rebuilding, plain
/// containers, and the configuration classes of Lightning, OmegaConf and NumPy scalars that
/// training frameworks save beside the weights. The reader calls none of them; anything else
/// may run code when the file is loaded by Python, so it is refused.
pub const ALLOWED_GLOBALS: &[(&str, &str)] = &[
    ("torch._utils", "_rebuild_tensor"),
    ("torch._utils", "_rebuild_tensor_v2"),
    ("torch._utils", "_rebuild_parameter"),
    ("torch._utils", "_rebuild_parameter_with_state"),
    ("torch", "FloatStorage"),
    ("torch", "HalfStorage"),
    ("torch", "BFloat16Storage"),
    ("torch", "DoubleStorage"),
    ("torch", "LongStorage"),
    ("torch", "IntStorage"),
    ("torch", "ByteStorage"),
    ("torch", "BoolStorage"),
    ("torch", "Size"),
    ("torch", "device"),
    ("torch.torch_version", "TorchVersion"),
    ("collections", "OrderedDict"),
    ("collections", "defaultdict"),
    ("builtins", "dict"),
    ("builtins", "list"),
    ("builtins", "set"),
    ("builtins", "frozenset"),
    ("builtins", "tuple"),
    ("builtins", "int"),
    ("builtins", "float"),
    ("builtins", "bool"),
    ("builtins", "str"),
    ("builtins", "bytes"),
    ("_codecs", "encode"),
    ("pathlib", "PosixPath"),
    ("pathlib", "WindowsPath"),
    ("lightning.fabric.utilities.data", "AttributeDict"),
    ("lightning.pytorch.utilities.parsing", "AttributeDict"),
    ("pytorch_lightning.utilities.parsing", "AttributeDict"),
    ("omegaconf.dictconfig", "DictConfig"),
    ("omegaconf.listconfig", "ListConfig"),
    ("omegaconf.base", "ContainerMetadata"),
    ("omegaconf.base", "Metadata"),
    ("omegaconf.nodes", "AnyNode"),
    ("omegaconf.nodes", "StringNode"),
    ("omegaconf.nodes", "IntegerNode"),
    ("omegaconf.nodes", "FloatNode"),
    ("omegaconf.nodes", "BooleanNode"),
    ("typing", "Any"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
];

/// A pickle referred to a global outside [`ALLOWED_GLOBALS`].
#[derive(Debug, thiserror::Error)]
#[error("the checkpoint refers to `{0}`, which a file of weights never needs (loading it in Python could run code): refused")]
pub struct RefusedGlobal(pub String);

fn check_global(module: &str, name: &str) -> Result<()> {
    if ALLOWED_GLOBALS.contains(&(module, name)) {
        Ok(())
    } else {
        Err(RefusedGlobal(format!("{module}.{name}")).into())
    }
}

/// A one-word description of a value for messages (never its contents: they may nest or cycle).
fn describe(v: &Value) -> &'static str {
    match v {
        Value::None => "None",
        Value::Bool(_) => "a bool",
        Value::Int(_) => "an int",
        Value::Float(_) => "a float",
        Value::Str(_) => "a string",
        Value::Bytes(_) => "bytes",
        Value::Tuple(_) => "a tuple",
        Value::List(_) => "a list",
        Value::Dict(_) => "a dict",
        Value::Global(_) => "a global",
        Value::Object(_) => "an object",
        Value::Storage(_) => "a storage",
        Value::Tensor(_) => "a tensor",
        Value::Mark => "a mark",
    }
}

/// Drops values without recursion: containers are emptied into a work list (which also breaks
/// cycles), so a pickle nested a million deep cannot overflow the stack.
fn dismantle(values: impl IntoIterator<Item = Value>) {
    let mut work: Vec<Value> = values.into_iter().collect();
    while let Some(v) = work.pop() {
        match v {
            Value::List(items) => work.extend(items.borrow_mut().drain(..)),
            Value::Dict(items) | Value::Object(items) => {
                for (k, v) in items.borrow_mut().drain(..) {
                    work.push(k);
                    work.push(v);
                }
            }
            Value::Tuple(items) => {
                if let Ok(items) = Rc::try_unwrap(items) {
                    work.extend(items);
                }
            }
            _ => {}
        }
    }
}

#[derive(Debug)]
struct TensorRef {
    storage: Rc<StorageRef>,
    offset: usize,
    shape: Vec<usize>,
    stride: Vec<usize>,
}

fn storage_dtype(class: &str) -> Result<DType> {
    Ok(match class {
        "FloatStorage" => DType::F32,
        "HalfStorage" => DType::F16,
        "BFloat16Storage" => DType::BF16,
        "DoubleStorage" => DType::F64,
        "LongStorage" => DType::I64,
        "ByteStorage" | "BoolStorage" => DType::U8,
        "IntStorage" => DType::I64,
        other => bail!("unsupported tensor storage type {other}"),
    })
}

fn ints(v: &Value) -> Result<Vec<usize>> {
    match v {
        Value::Tuple(items) => items
            .iter()
            .map(|i| match i {
                Value::Int(n) if *n >= 0 => Ok(*n as usize),
                other => Err(anyhow!("expected a size, found {}", describe(other))),
            })
            .collect(),
        other => bail!("expected a tuple of sizes, found {}", describe(other)),
    }
}

struct Machine<'a> {
    data: &'a [u8],
    pos: usize,
    stack: Vec<Value>,
    memo: HashMap<u32, Value>,
}

impl Drop for Machine<'_> {
    fn drop(&mut self) {
        dismantle(self.stack.drain(..));
        dismantle(self.memo.drain().map(|(_, v)| v));
    }
}

impl<'a> Machine<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.data.len())
            .context("the pickle ends early")?;
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into()?))
    }
    fn line(&mut self) -> Result<String> {
        let start = self.pos;
        let len = self.data[start..]
            .iter()
            .position(|&b| b == b'\n')
            .context("unterminated line in the pickle")?;
        self.pos = start + len + 1;
        Ok(String::from_utf8_lossy(&self.data[start..start + len]).into_owned())
    }
    fn pop(&mut self) -> Result<Value> {
        self.stack.pop().context("the pickle's stack is empty")
    }
    fn pop_mark(&mut self) -> Result<Vec<Value>> {
        let at = self
            .stack
            .iter()
            .rposition(|v| matches!(v, Value::Mark))
            .context("no mark on the pickle's stack")?;
        let items = self.stack.split_off(at + 1);
        self.stack.pop();
        Ok(items)
    }

    fn reduce(&mut self, callable: Value, args: Value) -> Result<Value> {
        let Value::Global(g) = &callable else {
            return Ok(Value::Object(Rc::default()));
        };
        let Value::Tuple(a) = &args else {
            return Ok(Value::Object(Rc::default()));
        };
        match (g.0.as_str(), g.1.as_str()) {
            ("torch._utils", "_rebuild_tensor_v2") | ("torch._utils", "_rebuild_tensor") => {
                let Some(Value::Storage(storage)) = a.first() else {
                    bail!("a tensor without storage")
                };
                let offset = match a.get(1) {
                    Some(Value::Int(n)) => *n as usize,
                    _ => 0,
                };
                let shape = ints(a.get(2).context("a tensor without a shape")?)?;
                let stride = ints(a.get(3).context("a tensor without strides")?)?;
                Ok(Value::Tensor(Rc::new(TensorRef {
                    storage: storage.clone(),
                    offset,
                    shape,
                    stride,
                })))
            }
            ("torch._utils", "_rebuild_parameter")
            | ("torch._utils", "_rebuild_parameter_with_state") => {
                Ok(a.first().cloned().unwrap_or(Value::None))
            }
            ("collections", "OrderedDict") | ("builtins", "dict") => Ok(Value::Dict(Rc::default())),
            _ => Ok(Value::Object(Rc::default())),
        }
    }

    fn run(&mut self) -> Result<Value> {
        loop {
            let op = self.u8()?;
            match op {
                0x80 => {
                    self.u8()?;
                }
                0x95 => {
                    self.take(8)?;
                }
                b'.' => return self.pop(),
                b'(' => self.stack.push(Value::Mark),
                b'}' => self.stack.push(Value::Dict(Rc::default())),
                b']' => self.stack.push(Value::List(Rc::default())),
                b')' => self.stack.push(Value::Tuple(Rc::default())),
                b'N' => self.stack.push(Value::None),
                0x88 => self.stack.push(Value::Bool(true)),
                0x89 => self.stack.push(Value::Bool(false)),
                b'J' => {
                    let v = i32::from_le_bytes(self.take(4)?.try_into()?);
                    self.stack.push(Value::Int(v as i64));
                }
                b'K' => {
                    let v = self.u8()?;
                    self.stack.push(Value::Int(v as i64));
                }
                b'M' => {
                    let v = u16::from_le_bytes(self.take(2)?.try_into()?);
                    self.stack.push(Value::Int(v as i64));
                }
                0x8a => {
                    let n = self.u8()? as usize;
                    let bytes = self.take(n)?;
                    let mut v: i64 = 0;
                    for (i, b) in bytes.iter().enumerate().take(8) {
                        v |= (*b as i64) << (8 * i);
                    }
                    if n > 0 && n < 8 && bytes[n - 1] & 0x80 != 0 {
                        v -= 1i64 << (8 * n);
                    }
                    self.stack.push(Value::Int(v));
                }
                b'G' => {
                    let v = f64::from_be_bytes(self.take(8)?.try_into()?);
                    self.stack.push(Value::Float(v));
                }
                b'X' => {
                    let n = self.u32()? as usize;
                    let s = String::from_utf8_lossy(self.take(n)?).into_owned();
                    self.stack.push(Value::Str(s));
                }
                0x8c => {
                    let n = self.u8()? as usize;
                    let s = String::from_utf8_lossy(self.take(n)?).into_owned();
                    self.stack.push(Value::Str(s));
                }
                0x8d => {
                    let n = u64::from_le_bytes(self.take(8)?.try_into()?) as usize;
                    let s = String::from_utf8_lossy(self.take(n)?).into_owned();
                    self.stack.push(Value::Str(s));
                }
                b'B' => {
                    let n = self.u32()? as usize;
                    let b = self.take(n)?.to_vec();
                    self.stack.push(Value::Bytes(b));
                }
                b'C' => {
                    let n = self.u8()? as usize;
                    let b = self.take(n)?.to_vec();
                    self.stack.push(Value::Bytes(b));
                }
                b'q' => {
                    let k = self.u8()? as u32;
                    let top = self.stack.last().context("memo of an empty stack")?.clone();
                    self.memo.insert(k, top);
                }
                b'r' => {
                    let k = self.u32()?;
                    let top = self.stack.last().context("memo of an empty stack")?.clone();
                    self.memo.insert(k, top);
                }
                0x94 => {
                    let k = self.memo.len() as u32;
                    let top = self.stack.last().context("memo of an empty stack")?.clone();
                    self.memo.insert(k, top);
                }
                b'h' => {
                    let k = self.u8()? as u32;
                    self.stack
                        .push(self.memo.get(&k).context("unknown memo entry")?.clone());
                }
                b'j' => {
                    let k = self.u32()?;
                    self.stack
                        .push(self.memo.get(&k).context("unknown memo entry")?.clone());
                }
                b't' => {
                    let items = self.pop_mark()?;
                    self.stack.push(Value::Tuple(Rc::new(items)));
                }
                0x85..=0x87 => {
                    let n = (op - 0x84) as usize;
                    let at = self
                        .stack
                        .len()
                        .checked_sub(n)
                        .context("short stack for a tuple")?;
                    let items = self.stack.split_off(at);
                    self.stack.push(Value::Tuple(Rc::new(items)));
                }
                b'c' => {
                    let module = self.line()?;
                    let name = self.line()?;
                    check_global(&module, &name)?;
                    self.stack.push(Value::Global(Rc::new((module, name))));
                }
                0x93 => {
                    let name = self.pop()?;
                    let module = self.pop()?;
                    let (Value::Str(m), Value::Str(n)) = (module, name) else {
                        bail!("STACK_GLOBAL without names")
                    };
                    check_global(&m, &n)?;
                    self.stack.push(Value::Global(Rc::new((m, n))));
                }
                b'R' => {
                    let args = self.pop()?;
                    let callable = self.pop()?;
                    let v = self.reduce(callable, args)?;
                    self.stack.push(v);
                }
                0x81 => {
                    let args = self.pop()?;
                    let class = self.pop()?;
                    let v = self.reduce(class, args)?;
                    self.stack.push(v);
                }
                0x92 => {
                    let _kwargs = self.pop()?;
                    let args = self.pop()?;
                    let class = self.pop()?;
                    let v = self.reduce(class, args)?;
                    self.stack.push(v);
                }
                b'b' => {
                    // Object state (`__setstate__`/`__dict__`): not needed for weights.
                    self.pop()?;
                }
                b'Q' => {
                    let pid = self.pop()?;
                    let Value::Tuple(t) = &pid else {
                        bail!("unexpected persistent id ({})", describe(&pid))
                    };
                    let (Some(Value::Global(class)), Some(Value::Str(key)), Some(Value::Int(n))) =
                        (t.get(1), t.get(2), t.get(4))
                    else {
                        bail!("unexpected storage id: expected (\"storage\", class, key, device, elements)")
                    };
                    let dtype = storage_dtype(&class.1)?;
                    let elements = usize::try_from(*n)
                        .ok()
                        .filter(|n| n.checked_mul(dtype.size_in_bytes()).is_some())
                        .context("a storage with an impossible element count")?;
                    self.stack.push(Value::Storage(Rc::new(StorageRef {
                        key: key.clone(),
                        dtype,
                        elements,
                    })));
                }
                b's' => {
                    let v = self.pop()?;
                    let k = self.pop()?;
                    set_items(
                        self.stack.last().context("SETITEM on an empty stack")?,
                        vec![(k, v)],
                    )?;
                }
                b'u' => {
                    let items = self.pop_mark()?;
                    let pairs = key_value_pairs(items);
                    set_items(
                        self.stack.last().context("SETITEMS on an empty stack")?,
                        pairs,
                    )?;
                }
                b'a' => {
                    let v = self.pop()?;
                    if let Some(Value::List(l)) = self.stack.last() {
                        l.borrow_mut().push(v);
                    }
                }
                b'e' => {
                    let items = self.pop_mark()?;
                    if let Some(Value::List(l)) = self.stack.last() {
                        l.borrow_mut().extend(items);
                    }
                }
                b'd' => {
                    let items = self.pop_mark()?;
                    let pairs = key_value_pairs(items);
                    self.stack.push(Value::Dict(Rc::new(RefCell::new(pairs))));
                }
                b'l' => {
                    let items = self.pop_mark()?;
                    self.stack.push(Value::List(Rc::new(RefCell::new(items))));
                }
                other => bail!(
                    "unsupported pickle opcode 0x{other:02x} at byte {}",
                    self.pos - 1
                ),
            }
        }
    }
}

/// `[k1, v1, k2, v2, ...]` as pairs.
fn key_value_pairs(items: Vec<Value>) -> Vec<(Value, Value)> {
    let mut it = items.into_iter();
    let mut pairs = Vec::new();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        pairs.push((k, v));
    }
    pairs
}

fn set_items(target: &Value, pairs: Vec<(Value, Value)>) -> Result<()> {
    match target {
        Value::Dict(d) | Value::Object(d) => {
            d.borrow_mut().extend(pairs);
            Ok(())
        }
        other => bail!("SETITEMS on {}", describe(other)),
    }
}

fn lookup(dict: &Value, key: &str) -> Option<Value> {
    match dict {
        Value::Dict(d) | Value::Object(d) => d
            .borrow()
            .iter()
            .find(|(k, _)| matches!(k, Value::Str(s) if s == key))
            .map(|(_, v)| v.clone()),
        _ => None,
    }
}

/// Plain data of a pickled value as JSON (dicts, dict subclasses, lists, numbers, strings);
/// tensors and opaque objects without items become null, and so does anything deeper than
/// [`MAX_JSON_DEPTH`] or past `budget` nodes (a pickle can nest or refer to itself).
fn to_json(v: &Value, depth: usize, budget: &mut usize) -> serde_json::Value {
    use serde_json::Value as J;
    if depth > MAX_JSON_DEPTH || *budget == 0 {
        return J::Null;
    }
    *budget -= 1;
    let mut inner = |v: &Value| to_json(v, depth + 1, budget);
    match v {
        Value::Bool(b) => J::Bool(*b),
        Value::Int(i) => J::from(*i),
        Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
        Value::Str(s) => J::String(s.clone()),
        Value::Tuple(items) => J::Array(items.iter().map(&mut inner).collect()),
        Value::List(items) => J::Array(items.borrow().iter().map(&mut inner).collect()),
        Value::Dict(items) | Value::Object(items) => J::Object(
            items
                .borrow()
                .iter()
                .filter_map(|(k, v)| match k {
                    Value::Str(k) => Some((k.clone(), inner(v))),
                    _ => None,
                })
                .collect(),
        ),
        _ => J::Null,
    }
}

/// What a checkpoint holds that conversion needs.
#[derive(Debug)]
pub struct Checkpoint {
    pub tensors: HashMap<String, Tensor>,
    /// Lightning's `hyper_parameters`, when the file has them.
    pub hyper_parameters: Option<serde_json::Value>,
    /// The plain settings of [`SETTINGS`] the file keeps beside its weights.
    pub settings: HashMap<String, serde_json::Value>,
}

/// Settings a trainer keeps beside the weights at the top of its checkpoint (train_pitched.py:
/// the pitch statistics, the harmonic comb's settings, the step).
pub const SETTINGS: [&str; 3] = ["pitch", "comb", "step"];

/// The tensors of a PyTorch zip checkpoint, from the dict under the first of `keys` that exists,
/// else from the top level, with the hyper-parameters saved beside them.
pub fn read_torch_zip(path: &Path, keys: &[&str]) -> Result<Checkpoint> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    read_torch_zip_from(file, keys).with_context(|| format!("{}", path.display()))
}

/// [`read_torch_zip`] on any seekable reader (a file, or bytes in memory).
///
/// ```
/// let err = mellow_convert::pickle::read_torch_zip_from(std::io::Cursor::new(b"not a zip"), &[]);
/// assert!(err.is_err());
/// ```
pub fn read_torch_zip_from(reader: impl Read + std::io::Seek, keys: &[&str]) -> Result<Checkpoint> {
    let mut archive = zip::ZipArchive::new(reader).context("not a PyTorch zip checkpoint")?;
    let pkl_name = archive
        .file_names()
        .filter_map(std::result::Result::ok)
        .find(|n| n.ends_with("data.pkl"))
        .map(std::borrow::Cow::into_owned)
        .context("the archive has no data.pkl")?;
    let prefix = pkl_name.trim_end_matches("data.pkl").to_string();
    let pickle = read_entry(&mut archive, &pkl_name, MAX_PICKLE_BYTES)?;
    let mut machine = Machine {
        data: &pickle,
        pos: 0,
        stack: Vec::new(),
        memo: HashMap::new(),
    };
    let root = machine.run()?;
    let result = collect_tensors(&mut archive, &prefix, &root, keys);
    // Taken apart only now: the memo shares the containers the tensors were found in.
    dismantle([root]);
    drop(machine);
    result
}

fn collect_tensors<R: Read + std::io::Seek>(
    archive: &mut zip::ZipArchive<R>,
    prefix: &str,
    root: &Value,
    keys: &[&str],
) -> Result<Checkpoint> {
    let hyper_parameters = lookup(root, "hyper_parameters").map(|h| to_json(&h, 0, &mut 100_000));
    let settings = SETTINGS
        .iter()
        .filter_map(|k| Some((k.to_string(), to_json(&lookup(root, k)?, 0, &mut 10_000))))
        .collect();
    let dict = keys
        .iter()
        .find_map(|k| lookup(root, k))
        .unwrap_or_else(|| root.clone());
    let (Value::Dict(entries) | Value::Object(entries)) = &dict else {
        bail!("no dict of weights")
    };
    let mut storages: HashMap<String, Vec<u8>> = HashMap::new();
    let mut out = HashMap::new();
    for (k, v) in entries.borrow().iter() {
        let (Value::Str(name), Value::Tensor(t)) = (k, v) else {
            continue;
        };
        if !storages.contains_key(&t.storage.key) {
            // Exactly the bytes the storage declares: a larger entry is refused unread.
            let expected = (t.storage.elements * t.storage.dtype.size_in_bytes()) as u64;
            let entry = format!("{prefix}data/{}", t.storage.key);
            let bytes = read_entry(archive, &entry, expected)
                .with_context(|| format!("storage {} of {name}", t.storage.key))?;
            storages.insert(t.storage.key.clone(), bytes);
        }
        out.insert(
            name.clone(),
            materialize(t, &storages[&t.storage.key]).with_context(|| format!("tensor {name}"))?,
        );
    }
    if out.is_empty() {
        bail!("no tensors under {}", keys.join(" or "));
    }
    Ok(Checkpoint {
        tensors: out,
        hyper_parameters,
        settings,
    })
}

/// An archive entry of at most `limit` bytes, checked against what the entry declares before
/// inflating and against what actually comes out (a header may lie).
fn read_entry<R: Read + std::io::Seek>(
    archive: &mut zip::ZipArchive<R>,
    name: &str,
    limit: u64,
) -> Result<Vec<u8>> {
    let entry = archive
        .by_name(name)
        .with_context(|| format!("the archive has no entry {name}"))?;
    if entry.size() > limit {
        bail!(
            "the archive entry {name} claims {} bytes, more than the {limit} its tensors need: refused",
            entry.size()
        );
    }
    let mut bytes = Vec::with_capacity(entry.size() as usize);
    entry
        .take(limit + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read the archive entry {name}"))?;
    if bytes.len() as u64 > limit {
        bail!(
            "the archive entry {name} holds more than the {limit} bytes its tensors need: refused"
        );
    }
    Ok(bytes)
}

fn materialize(t: &TensorRef, bytes: &[u8]) -> Result<Tensor> {
    let size = t.storage.dtype.size_in_bytes();
    let count = t
        .shape
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .context("the tensor's shape overflows")?;
    if t.stride.len() != t.shape.len() {
        bail!(
            "the tensor has {} sizes but {} strides",
            t.shape.len(),
            t.stride.len()
        );
    }
    if count > 0 {
        // The farthest element must lie inside the storage before anything is allocated.
        let last = t
            .shape
            .iter()
            .zip(&t.stride)
            .try_fold(t.offset, |at, (&d, &s)| {
                (d - 1).checked_mul(s).and_then(|x| at.checked_add(x))
            })
            .context("the tensor reaches past its storage")?;
        let end = last.checked_add(1).and_then(|n| n.checked_mul(size));
        if end.is_none_or(|end| end > bytes.len()) {
            bail!("the tensor reaches past its storage");
        }
    }
    let mut idx = vec![0usize; t.shape.len()];
    let mut gathered = Vec::with_capacity(count * size);
    for _ in 0..count {
        let element = t.offset + idx.iter().zip(&t.stride).map(|(i, s)| i * s).sum::<usize>();
        let at = element * size;
        gathered.extend_from_slice(
            bytes
                .get(at..at + size)
                .context("the tensor reaches past its storage")?,
        );
        for d in (0..idx.len()).rev() {
            idx[d] += 1;
            if idx[d] < t.shape[d] {
                break;
            }
            idx[d] = 0;
        }
    }
    let tensor = Tensor::from_raw_buffer(&gathered, t.storage.dtype, &t.shape, &Device::Cpu)?;
    Ok(if tensor.dtype() == DType::F64 {
        tensor.to_dtype(DType::F32)?
    } else {
        tensor
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Cursor, Write};

    /// Pickle opcodes for a string.
    fn string(s: &str) -> Vec<u8> {
        let mut out = vec![b'X'];
        out.extend_from_slice(&(s.len() as u32).to_le_bytes());
        out.extend_from_slice(s.as_bytes());
        out
    }

    fn int(n: i32) -> Vec<u8> {
        let mut out = vec![b'J'];
        out.extend_from_slice(&n.to_le_bytes());
        out
    }

    /// `{"w": tensor}` over storage "0" of `elements` floats, with the given shape and strides.
    fn tensor_pickle(elements: i32, shape: &[i32], stride: &[i32]) -> Vec<u8> {
        let mut p = vec![0x80, 2, b'}'];
        p.extend(string("w"));
        p.extend_from_slice(b"ctorch._utils\n_rebuild_tensor_v2\n(");
        p.push(b'(');
        p.extend(string("storage"));
        p.extend_from_slice(b"ctorch\nFloatStorage\n");
        p.extend(string("0"));
        p.extend(string("cpu"));
        p.extend(int(elements));
        p.extend_from_slice(b"tQ");
        p.extend(int(0));
        p.push(b'(');
        shape.iter().for_each(|&d| p.extend(int(d)));
        p.extend_from_slice(b"t(");
        stride.iter().for_each(|&d| p.extend(int(d)));
        p.extend_from_slice(b"t\x89tRs.");
        p
    }

    fn archive(pickle: &[u8], storage: &[u8]) -> Vec<u8> {
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let deflated = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        zip.start_file("archive/data.pkl", deflated).unwrap();
        zip.write_all(pickle).unwrap();
        zip.start_file("archive/data/0", deflated).unwrap();
        zip.write_all(storage).unwrap();
        zip.finish().unwrap().into_inner()
    }

    fn read(bytes: Vec<u8>) -> Result<Checkpoint> {
        read_torch_zip_from(Cursor::new(bytes), &["state_dict"])
    }

    #[test]
    fn reads_a_tensor() {
        let data: Vec<u8> = [1f32, 2.0, 3.0, 4.0]
            .iter()
            .flat_map(|f| f.to_le_bytes())
            .collect();
        let ckpt = read(archive(&tensor_pickle(4, &[2, 2], &[1, 2]), &data)).unwrap();
        let w = ckpt.tensors["w"].to_vec2::<f32>().unwrap();
        // Strides (1, 2): column-major storage read back in row-major order.
        assert_eq!(w, vec![vec![1.0, 3.0], vec![2.0, 4.0]]);
    }

    #[test]
    fn a_global_outside_the_allow_list_is_refused_by_name() {
        let mut p = vec![0x80, 2];
        p.extend_from_slice(b"cposix\nsystem\n");
        p.extend(string("echo owned"));
        p.extend_from_slice(b"\x85R.");
        let err = read(archive(&p, b"")).unwrap_err();
        let refused = err.downcast_ref::<RefusedGlobal>().expect("a refusal");
        assert_eq!(refused.0, "posix.system");
        assert!(err.to_string().contains("posix.system"), "{err}");
    }

    #[test]
    fn an_entry_larger_than_its_tensors_need_is_not_inflated() {
        // Ten megabytes of zeros (deflated to a few kilobytes) behind a storage of four floats.
        let zeros = vec![0u8; 10 << 20];
        let err = read(archive(&tensor_pickle(4, &[4], &[1]), &zeros)).unwrap_err();
        assert!(
            format!("{err:#}").contains("more than the 16 its tensors need"),
            "{err:#}"
        );
    }

    #[test]
    fn a_shape_beyond_the_storage_is_refused_before_allocating() {
        let data = vec![0u8; 16];
        let err = read(archive(
            &tensor_pickle(4, &[1_000_000, 1_000_000], &[1_000_000, 1]),
            &data,
        ))
        .unwrap_err();
        assert!(
            format!("{err:#}").contains("reaches past its storage"),
            "{err:#}"
        );
    }

    #[test]
    fn deep_nesting_and_cycles_do_not_overflow_the_stack() {
        // A million nested lists, then a list that holds itself (through the memo).
        let mut p = vec![0x80, 2];
        p.extend(std::iter::repeat_n(b']', 1_000_000));
        p.extend(std::iter::repeat_n(b'a', 999_999));
        p.extend_from_slice(b"]q\x00h\x00a");
        p.extend_from_slice(b"}");
        p.extend(string("hyper_parameters"));
        p.extend_from_slice(b"h\x00s.");
        let err = read(archive(&p, b"")).unwrap_err();
        assert!(err.to_string().contains("no tensors"), "{err:#}");
    }
}
