//! Server-sent events, read incrementally as bytes arrive.
//!
//! Follows the WHATWG event-stream rules: lines end in LF, CRLF or CR (a CR at the end of one read
//! may be followed by the LF at the start of the next); `field: value` with one optional space
//! after the colon; several `data:` lines join with `\n`; a line starting with `:` is a comment
//! (keep-alive); a blank line dispatches the event; an event with no `data` is not dispatched.
//! Events may be split anywhere across reads, including inside a UTF-8 character.

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    /// The `event:` field (`None` means the default type, `message`).
    pub event: Option<String>,
    /// The `data:` lines joined with `\n`.
    pub data: String,
    /// The `id:` field, when set on this event.
    pub id: Option<String>,
}

/// Incremental parser: feed it bytes, take events.
#[derive(Debug, Default)]
pub struct SseParser {
    /// Bytes of an unfinished line.
    line: Vec<u8>,
    /// The previous read ended in CR: a leading LF in the next one belongs to it.
    after_cr: bool,
    event: Option<String>,
    data: Vec<String>,
    id: Option<String>,
    /// Whether the first line has been seen (a leading BOM is dropped).
    started: bool,
}

impl SseParser {
    /// A parser at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads more bytes; returns the events they complete.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<SseEvent> {
        let mut out = Vec::new();
        for &b in bytes {
            if self.after_cr {
                self.after_cr = false;
                if b == b'\n' {
                    continue;
                }
            }
            match b {
                b'\n' => self.end_line(&mut out),
                b'\r' => {
                    self.end_line(&mut out);
                    self.after_cr = true;
                }
                _ => self.line.push(b),
            }
        }
        out
    }

    /// Whether bytes of an unfinished event are buffered (a stream that ends now was cut).
    pub fn has_partial(&self) -> bool {
        !self.line.is_empty() || !self.data.is_empty() || self.event.is_some()
    }

    fn end_line(&mut self, out: &mut Vec<SseEvent>) {
        let mut line = std::mem::take(&mut self.line);
        if !self.started {
            self.started = true;
            if line.starts_with("\u{feff}".as_bytes()) {
                line.drain(..3);
            }
        }
        if line.is_empty() {
            if !self.data.is_empty() {
                out.push(SseEvent {
                    event: self.event.take(),
                    data: std::mem::take(&mut self.data).join("\n"),
                    id: self.id.take(),
                });
            } else {
                self.event = None;
                self.id = None;
            }
            return;
        }
        if line[0] == b':' {
            return;
        }
        let text = String::from_utf8_lossy(&line);
        let (field, value) = match text.find(':') {
            Some(i) => {
                let v = &text[i + 1..];
                (&text[..i], v.strip_prefix(' ').unwrap_or(v))
            }
            None => (text.as_ref(), ""),
        };
        match field {
            "event" => self.event = Some(value.to_owned()),
            "data" => self.data.push(value.to_owned()),
            "id" if !value.contains('\0') => self.id = Some(value.to_owned()),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(chunks: &[&[u8]]) -> Vec<SseEvent> {
        let mut p = SseParser::new();
        chunks.iter().flat_map(|c| p.feed(c)).collect()
    }

    fn data(events: &[SseEvent]) -> Vec<&str> {
        events.iter().map(|e| e.data.as_str()).collect()
    }

    #[test]
    fn events_with_types_and_multi_line_data() {
        let ev = all(&[b"event: ping\ndata: {}\n\ndata: a\ndata:b\n\n"]);
        assert_eq!(ev.len(), 2);
        assert_eq!(ev[0].event.as_deref(), Some("ping"));
        assert_eq!(ev[1].event, None);
        assert_eq!(ev[1].data, "a\nb");
    }

    #[test]
    fn every_split_point_gives_the_same_events() {
        let stream =
            "event: x\r\ndata: héllo wörld\r\n\r\n: keep-alive\r\n\r\ndata: [DONE]\r\n\r\n"
                .as_bytes();
        let whole = all(&[stream]);
        assert_eq!(data(&whole), vec!["héllo wörld", "[DONE]"]);
        for i in 0..stream.len() {
            let (a, b) = stream.split_at(i);
            assert_eq!(all(&[a, b]), whole, "split at {i}");
        }
        let bytes: Vec<&[u8]> = stream.chunks(1).collect();
        assert_eq!(all(&bytes), whole);
    }

    #[test]
    fn cr_only_and_crlf_split_across_reads() {
        assert_eq!(data(&all(&[b"data: a\r", b"\ndata: b\r\r"])), vec!["a\nb"]);
        assert_eq!(data(&all(&[b"data: a\r\r"])), vec!["a"]);
    }

    #[test]
    fn comments_and_blank_events_are_ignored() {
        let ev = all(&[b": ping\n\n\n\nevent: only-type\n\ndata: x\n\n"]);
        assert_eq!(data(&ev), vec!["x"]);
        assert_eq!(
            ev[0].event, None,
            "a type without data does not leak into the next"
        );
    }

    #[test]
    fn field_without_colon_and_without_space() {
        let ev = all(&[b"data\ndata:x\n\n"]);
        assert_eq!(ev[0].data, "\nx");
    }

    #[test]
    fn partial_event_is_reported() {
        let mut p = SseParser::new();
        assert!(p.feed(b"data: {\"a\":").is_empty());
        assert!(p.has_partial());
        let mut q = SseParser::new();
        assert_eq!(q.feed(b"data: 1\n\n").len(), 1);
        assert!(!q.has_partial());
    }

    #[test]
    fn leading_bom_is_dropped() {
        let ev = all(&["\u{feff}data: x\n\n".as_bytes()]);
        assert_eq!(data(&ev), vec!["x"]);
    }
}
