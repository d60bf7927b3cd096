//! Reading a mel from `.npy` bytes without trusting the header: the shape it claims must match
//! the bytes that follow before anything is allocated (a 3 kB file claiming 10^12 frames is an
//! error, not an abort).

use crate::error::{Error, Result};

/// A 2-D array of f32 read from `.npy` bytes, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct NpyMatrix {
    pub rows: usize,
    pub columns: usize,
    pub values: Vec<f32>,
}

/// Parses a `.npy` file holding a `[rows, columns]` or `[1, rows, columns]` array of little-endian
/// f32, f64 or f16, in C or Fortran order.
///
/// ```
/// let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
/// let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2), }";
/// let header = format!("{header:<117}\n");
/// bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
/// bytes.extend_from_slice(header.as_bytes());
/// bytes.extend(1.5f32.to_le_bytes().iter().chain(&2.5f32.to_le_bytes()));
/// let m = mellow_engine::audio::npy::parse_matrix(&bytes).unwrap();
/// assert_eq!((m.rows, m.columns, m.values), (1, 2, vec![1.5, 2.5]));
/// ```
pub fn parse_matrix(bytes: &[u8]) -> Result<NpyMatrix> {
    let bad = |what: &str| Error::input(format!("not a valid .npy file: {what}"));
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(bad("it does not start with the .npy magic"));
    }
    let (header_len, header_start): (usize, usize) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        v => return Err(bad(&format!("unknown format version {v}"))),
    };
    let data_start = header_start
        .checked_add(header_len)
        .filter(|&end| end <= bytes.len())
        .ok_or_else(|| bad("the header runs past the end of the file"))?;
    let header = std::str::from_utf8(&bytes[header_start..data_start])
        .map_err(|_| bad("the header is not text"))?;
    let descr = field(header, "descr").ok_or_else(|| bad("the header has no 'descr'"))?;
    let descr = descr.trim_matches(|c| c == '\'' || c == '"');
    let width = match descr {
        "<f4" | "=f4" | "f4" => 4,
        "<f8" | "=f8" | "f8" => 8,
        "<f2" | "=f2" | "f2" => 2,
        other => {
            return Err(Error::input(format!(
                "the .npy array holds `{other}`; a mel must be little-endian float (f2, f4 or f8)"
            )))
        }
    };
    let fortran = match field(header, "fortran_order") {
        Some("True") => true,
        Some("False") => false,
        _ => return Err(bad("the header has no 'fortran_order'")),
    };
    let shape = shape(header).ok_or_else(|| bad("the header's 'shape' is not a tuple of sizes"))?;
    let (rows, columns) = match shape.as_slice() {
        [r, c] | [1, r, c] => (*r, *c),
        other => {
            return Err(Error::input(format!(
                "the mel has shape {other:?}; expected [n_mels, frames]"
            )))
        }
    };
    let data = &bytes[data_start..];
    let expected = rows
        .checked_mul(columns)
        .and_then(|n| n.checked_mul(width))
        .filter(|&n| n == data.len())
        .ok_or_else(|| {
            Error::input(format!(
                "the .npy header claims shape ({rows}, {columns}) of {width}-byte values, but the file holds {} bytes of data: truncated or corrupt",
                data.len()
            ))
        })?;
    let mut values = Vec::with_capacity(expected / width);
    for chunk in data.chunks_exact(width) {
        values.push(match width {
            4 => f32::from_le_bytes(chunk.try_into().expect("4 bytes")),
            8 => f64::from_le_bytes(chunk.try_into().expect("8 bytes")) as f32,
            _ => half_to_f32(u16::from_le_bytes([chunk[0], chunk[1]])),
        });
    }
    if fortran {
        // Column-major on disk: transpose into row-major.
        let mut row_major = vec![0f32; values.len()];
        for c in 0..columns {
            for r in 0..rows {
                row_major[r * columns + c] = values[c * rows + r];
            }
        }
        values = row_major;
    }
    Ok(NpyMatrix {
        rows,
        columns,
        values,
    })
}

/// The text after `'key':` up to the next comma outside parentheses.
fn field<'h>(header: &'h str, key: &str) -> Option<&'h str> {
    let at = header.find(&format!("'{key}'"))? + key.len() + 2;
    let rest = header[at..].trim_start().strip_prefix(':')?.trim_start();
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    Some(rest[..end].trim())
}

fn shape(header: &str) -> Option<Vec<usize>> {
    let at = header.find("'shape'")? + "'shape'".len();
    let rest = header[at..].trim_start().strip_prefix(':')?.trim_start();
    let inner = rest.strip_prefix('(')?;
    let inner = &inner[..inner.find(')')?];
    inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.trim_end_matches('L').parse().ok())
        .collect()
}

/// IEEE half precision to f32.
fn half_to_f32(h: u16) -> f32 {
    let sign = if h & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exponent = (h >> 10) & 0x1f;
    let mantissa = (h & 0x3ff) as f32;
    sign * match exponent {
        0 => mantissa * 2f32.powi(-24),
        31 if mantissa == 0.0 => f32::INFINITY,
        31 => f32::NAN,
        e => (1.0 + mantissa / 1024.0) * 2f32.powi(e as i32 - 15),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn npy(descr: &str, fortran: bool, shape: &str, data: &[u8]) -> Vec<u8> {
        let header = format!(
            "{{'descr': '{descr}', 'fortran_order': {}, 'shape': {shape}, }}",
            if fortran { "True" } else { "False" }
        );
        let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
        bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
        bytes.extend_from_slice(header.as_bytes());
        bytes.extend_from_slice(data);
        bytes
    }

    fn f32s(v: &[f32]) -> Vec<u8> {
        v.iter().flat_map(|f| f.to_le_bytes()).collect()
    }

    #[test]
    fn reads_c_and_fortran_order_and_a_leading_batch() {
        let data = f32s(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let c = parse_matrix(&npy("<f4", false, "(2, 3)", &data)).unwrap();
        assert_eq!(c.values, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let f = parse_matrix(&npy("<f4", true, "(2, 3)", &data)).unwrap();
        assert_eq!(f.values, vec![1.0, 3.0, 5.0, 2.0, 4.0, 6.0]);
        let b = parse_matrix(&npy("<f4", false, "(1, 2, 3)", &data)).unwrap();
        assert_eq!((b.rows, b.columns), (2, 3));
        let h = parse_matrix(&npy("<f2", false, "(1, 2)", &[0x00, 0x3c, 0x00, 0xc0])).unwrap();
        assert_eq!(h.values, vec![1.0, -2.0]);
    }

    #[test]
    fn a_shape_the_file_cannot_hold_is_refused_before_allocating() {
        let err = parse_matrix(&npy("<f4", false, "(80, 1000000000000)", &[0; 3000])).unwrap_err();
        assert!(err.to_string().contains("holds 3000 bytes"), "{err}");
        let err = parse_matrix(&npy("<f4", false, "(18446744073709551615, 2)", &[])).unwrap_err();
        assert!(err.to_string().contains("truncated or corrupt"), "{err}");
    }

    #[test]
    fn other_arrays_are_named() {
        let err = parse_matrix(&npy(">f4", false, "(1, 1)", &[0; 4])).unwrap_err();
        assert!(err.to_string().contains(">f4"), "{err}");
        let err = parse_matrix(&npy("<f4", false, "(2, 2, 2)", &[0; 32])).unwrap_err();
        assert!(err.to_string().contains("[2, 2, 2]"), "{err}");
        assert!(parse_matrix(b"\x93NUMPY\x01\x00\xff\xff").is_err());
        assert!(parse_matrix(b"hello").is_err());
    }
}
