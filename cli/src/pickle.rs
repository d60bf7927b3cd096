//! A small reader for PyTorch's zip checkpoints that tolerates any Python object in them.
//!
//! candle's own reader refuses files holding dict subclasses (Lightning's `AttributeDict`
//! hyper-parameters, OmegaConf configs), which every published Matcha-TTS checkpoint has. This one
//! runs the pickle opcodes `torch.save` emits, treats unknown classes as opaque objects (keeping the
//! items a dict subclass receives), and turns `torch._utils._rebuild_tensor_v2` calls into tensors
//! read from the archive's storages.

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
                other => Err(anyhow!("expected a size, found {other:?}")),
            })
            .collect(),
        other => bail!("expected a tuple of sizes, found {other:?}"),
    }
}

struct Machine<'a> {
    data: &'a [u8],
    pos: usize,
    stack: Vec<Value>,
    memo: HashMap<u32, Value>,
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
                    self.stack.push(Value::Global(Rc::new((module, name))));
                }
                0x93 => {
                    let name = self.pop()?;
                    let module = self.pop()?;
                    let (Value::Str(m), Value::Str(n)) = (module, name) else {
                        bail!("STACK_GLOBAL without names")
                    };
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
                        bail!("unexpected persistent id {pid:?}")
                    };
                    let (Some(Value::Global(class)), Some(Value::Str(key))) = (t.get(1), t.get(2))
                    else {
                        bail!("unexpected storage id {pid:?}")
                    };
                    let dtype = storage_dtype(&class.1)?;
                    self.stack.push(Value::Storage(Rc::new(StorageRef {
                        key: key.clone(),
                        dtype,
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
        other => bail!("SETITEMS on {other:?}"),
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
/// tensors and opaque objects without items become null.
fn to_json(v: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        Value::Bool(b) => J::Bool(*b),
        Value::Int(i) => J::from(*i),
        Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
        Value::Str(s) => J::String(s.clone()),
        Value::Tuple(items) => J::Array(items.iter().map(to_json).collect()),
        Value::List(items) => J::Array(items.borrow().iter().map(to_json).collect()),
        Value::Dict(items) | Value::Object(items) => J::Object(
            items
                .borrow()
                .iter()
                .filter_map(|(k, v)| match k {
                    Value::Str(k) => Some((k.clone(), to_json(v))),
                    _ => None,
                })
                .collect(),
        ),
        _ => J::Null,
    }
}

/// What a checkpoint holds that conversion needs.
pub struct Checkpoint {
    pub tensors: HashMap<String, Tensor>,
    /// Lightning's `hyper_parameters`, when the file has them.
    pub hyper_parameters: Option<serde_json::Value>,
}

/// The tensors of a PyTorch zip checkpoint, from the dict under the first of `keys` that exists,
/// else from the top level, with the hyper-parameters saved beside them.
pub fn read_torch_zip(path: &Path, keys: &[&str]) -> Result<Checkpoint> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut archive = zip::ZipArchive::new(file)
        .with_context(|| format!("{} is not a PyTorch zip checkpoint", path.display()))?;
    let pkl_name = archive
        .file_names()
        .filter_map(|n| n.ok())
        .find(|n| n.ends_with("data.pkl"))
        .map(|n| n.into_owned())
        .context("the archive has no data.pkl")?;
    let prefix = pkl_name.trim_end_matches("data.pkl").to_string();
    let mut pickle = Vec::new();
    archive.by_name(&pkl_name)?.read_to_end(&mut pickle)?;
    let root = Machine {
        data: &pickle,
        pos: 0,
        stack: Vec::new(),
        memo: HashMap::new(),
    }
    .run()?;
    let hyper_parameters = lookup(&root, "hyper_parameters").map(|h| to_json(&h));
    let dict = keys.iter().find_map(|k| lookup(&root, k)).unwrap_or(root);
    let (Value::Dict(entries) | Value::Object(entries)) = &dict else {
        bail!("no dict of weights in {}", path.display())
    };
    let mut storages: HashMap<String, Vec<u8>> = HashMap::new();
    let mut out = HashMap::new();
    for (k, v) in entries.borrow().iter() {
        let (Value::Str(name), Value::Tensor(t)) = (k, v) else {
            continue;
        };
        if !storages.contains_key(&t.storage.key) {
            let mut bytes = Vec::new();
            archive
                .by_name(&format!("{prefix}data/{}", t.storage.key))
                .with_context(|| format!("storage {} of {name} is missing", t.storage.key))?
                .read_to_end(&mut bytes)?;
            storages.insert(t.storage.key.clone(), bytes);
        }
        out.insert(
            name.clone(),
            materialize(t, &storages[&t.storage.key]).with_context(|| format!("tensor {name}"))?,
        );
    }
    if out.is_empty() {
        bail!(
            "{} holds no tensors under {}",
            path.display(),
            keys.join(" or ")
        );
    }
    Ok(Checkpoint {
        tensors: out,
        hyper_parameters,
    })
}

fn materialize(t: &TensorRef, bytes: &[u8]) -> Result<Tensor> {
    let size = t.storage.dtype.size_in_bytes();
    let count: usize = t.shape.iter().product();
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
