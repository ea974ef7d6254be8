//! A dataset file as text: UTF-8 decoding with a located error, and byte offset → line lookup.

use std::path::Path;

use super::records::DatasetError;

/// Decodes `bytes` as UTF-8, dropping a leading byte-order mark.
///
/// The BOM is three bytes on line 1, so line numbers computed on the result are the file's.
pub(super) fn decode<'b>(path: &Path, bytes: &'b [u8]) -> Result<&'b str, DatasetError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    std::str::from_utf8(bytes).map_err(|err| {
        let valid = &bytes[..err.valid_up_to()];
        let line_start = valid.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
        DatasetError::NotUtf8 {
            path: path.to_owned(),
            line: line_count(valid) + 1,
            column: (valid.len() - line_start) as u64 + 1,
        }
    })
}

fn line_count(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| b == b'\n').count() as u64
}

/// Maps byte offsets in a text to 1-based line numbers.
#[derive(Debug)]
pub(super) struct LineIndex {
    /// Byte offset of every `\n`, ascending.
    newlines: Vec<usize>,
}

impl LineIndex {
    pub(super) fn new(text: &str) -> LineIndex {
        LineIndex {
            newlines: text
                .bytes()
                .enumerate()
                .filter_map(|(i, b)| (b == b'\n').then_some(i))
                .collect(),
        }
    }

    /// The 1-based line holding byte `offset`.
    pub(super) fn line_of(&self, offset: usize) -> u64 {
        self.newlines.partition_point(|&p| p < offset) as u64 + 1
    }
}

/// Byte offset of `part` inside `whole`, when `part` is a slice of it.
///
/// Readers that borrow sub-slices (serde_json's `RawValue`) use this to locate them.
pub(super) fn offset_in(whole: &str, part: &str) -> Option<usize> {
    let start = (part.as_ptr() as usize).checked_sub(whole.as_ptr() as usize)?;
    (start + part.len() <= whole.len()).then_some(start)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_of_counts_newlines_before_the_offset() {
        let text = "ab\ncd\n\nef";
        let index = LineIndex::new(text);
        assert_eq!(index.line_of(0), 1);
        assert_eq!(index.line_of(2), 1, "the newline belongs to its own line");
        assert_eq!(index.line_of(3), 2);
        assert_eq!(index.line_of(6), 3);
        assert_eq!(index.line_of(7), 4);
    }

    #[test]
    fn decode_strips_a_bom_and_locates_invalid_bytes() {
        let path = Path::new("x.csv");
        assert_eq!(decode(path, b"\xEF\xBB\xBFa,b\n").unwrap(), "a,b\n");
        let err = decode(path, b"a,b\nc,\xFFd\n").unwrap_err();
        match err {
            DatasetError::NotUtf8 { line, column, .. } => assert_eq!((line, column), (2, 3)),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn offset_in_finds_sub_slices_only() {
        let whole = "hello world";
        assert_eq!(offset_in(whole, &whole[6..]), Some(6));
        let elsewhere = String::from("world");
        assert_eq!(offset_in(whole, &elsewhere), None);
    }
}
