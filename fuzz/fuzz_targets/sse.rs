//! SSE framing: any bytes give events without a panic, and the same events however they are
//! split (the split point is the input's first byte).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rightfit_providers::hosted::sse::SseParser;

fuzz_target!(|data: &[u8]| {
    let Some((&cut, bytes)) = data.split_first() else {
        return;
    };
    let whole = SseParser::new().feed(bytes);
    let at = usize::from(cut) % (bytes.len() + 1);
    let mut parser = SseParser::new();
    let mut split = parser.feed(&bytes[..at]);
    split.extend(parser.feed(&bytes[at..]));
    assert_eq!(split, whole);
});
