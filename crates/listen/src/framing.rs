//! Cutting a byte stream into messages: syslog over TCP (RFC 6587 octet counting `LEN SP MSG`
//! or newline-delimited, recognised from a connection's first bytes) and MLLP (`0x0B … 0x1C
//! 0x0D`). Pure and bounded: a framer holds at most one message of the configured maximum;
//! a longer message is skipped while its first bytes are kept, and comes out as an oversize
//! [`Frame`] carrying its true length, to be quarantined.

use ward_model::{MAX_QUARANTINED_BYTES, Position};

/// One message cut from a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The message, or its first bytes when it is oversize.
    pub bytes: Vec<u8>,
    pub position: Position,
    /// The message's real length.
    pub true_len: u64,
    pub oversize: bool,
}

impl Frame {
    pub fn is_oversize(&self) -> bool {
        self.oversize
    }
}

/// The stream cannot be framed any further: the connection is closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FramingError(pub &'static str);

pub trait Framer: Send {
    /// Appends bytes read from the stream.
    fn push(&mut self, data: &[u8]);
    /// The next complete message, if one is buffered.
    fn next_frame(&mut self) -> Result<Option<Frame>, FramingError>;
    /// True while a message has started but not ended.
    fn has_partial(&self) -> bool;
    /// At the end of the stream: what was left unterminated, as a message if the framing
    /// allows it.
    fn finish(&mut self) -> Option<Frame>;
}

/// A message being skipped because it is too long.
#[derive(Debug)]
struct Skipping {
    prefix: Vec<u8>,
    len: u64,
    offset: u64,
    /// Bytes still to skip (octet counting); `None`: until the terminator.
    remaining: Option<u64>,
}

impl Skipping {
    fn take(&mut self, data: &[u8]) {
        let room = MAX_QUARANTINED_BYTES.saturating_sub(self.prefix.len());
        self.prefix.extend_from_slice(&data[..data.len().min(room)]);
        self.len += data.len() as u64;
    }
}

/// Shared bookkeeping: the buffer, where it starts in the stream, the message count.
#[derive(Debug, Default)]
struct Buffer {
    buf: Vec<u8>,
    /// Stream offset of `buf[0]`.
    offset: u64,
    messages: u64,
}

impl Buffer {
    fn consume(&mut self, n: usize) {
        self.buf.drain(..n);
        self.offset += n as u64;
    }

    fn position(&mut self, offset: u64) -> Position {
        self.messages += 1;
        Position {
            line: self.messages,
            offset,
            entry: None,
        }
    }

    fn frame(&mut self, start: usize, end: usize, next: usize) -> Frame {
        let bytes = self.buf[start..end].to_vec();
        let offset = self.offset + start as u64;
        let position = self.position(offset);
        self.consume(next);
        Frame {
            true_len: bytes.len() as u64,
            bytes,
            position,
            oversize: false,
        }
    }

    fn oversize(&mut self, skipping: Skipping) -> Frame {
        let position = self.position(skipping.offset);
        Frame {
            bytes: skipping.prefix,
            position,
            true_len: skipping.len,
            oversize: true,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyslogFraming {
    /// Not known until the first bytes arrive.
    Unknown,
    OctetCounting,
    NonTransparent,
}

/// RFC 6587 framing, chosen from the connection's first bytes: digits then a space is octet
/// counting (a syslog message itself starts with `<`), anything else is one message a line.
#[derive(Debug)]
pub struct SyslogFramer {
    max: usize,
    mode: SyslogFraming,
    b: Buffer,
    skipping: Option<Skipping>,
}

impl SyslogFramer {
    pub fn new(max_message_bytes: usize) -> Self {
        SyslogFramer {
            max: max_message_bytes,
            mode: SyslogFraming::Unknown,
            b: Buffer::default(),
            skipping: None,
        }
    }

    pub fn mode(&self) -> SyslogFraming {
        self.mode
    }

    fn detect(&mut self) -> bool {
        let digits = self.b.buf.iter().take_while(|c| c.is_ascii_digit()).count();
        match self.b.buf.get(digits) {
            None => false,
            Some(b' ') if digits > 0 => {
                self.mode = SyslogFraming::OctetCounting;
                true
            }
            Some(_) => {
                self.mode = SyslogFraming::NonTransparent;
                true
            }
        }
    }

    fn skip_until_done(&mut self) -> Option<Frame> {
        let skipping = self.skipping.as_mut()?;
        match skipping.remaining {
            Some(remaining) => {
                let n = (remaining as usize).min(self.b.buf.len());
                skipping.take(&self.b.buf[..n]);
                skipping.remaining = Some(remaining - n as u64);
                self.b.consume(n);
                if remaining - n as u64 > 0 {
                    return None;
                }
            }
            None => match memchr(b'\n', &self.b.buf) {
                Some(i) => {
                    let end = if i > 0 && self.b.buf[i - 1] == b'\r' {
                        i - 1
                    } else {
                        i
                    };
                    skipping.take(&self.b.buf[..end]);
                    self.b.consume(i + 1);
                }
                None => {
                    let n = self.b.buf.len();
                    skipping.take(&self.b.buf[..n]);
                    self.b.consume(n);
                    return None;
                }
            },
        }
        let skipping = self.skipping.take()?;
        Some(self.b.oversize(skipping))
    }
}

fn memchr(needle: u8, haystack: &[u8]) -> Option<usize> {
    haystack.iter().position(|&c| c == needle)
}

impl Framer for SyslogFramer {
    fn push(&mut self, data: &[u8]) {
        self.b.buf.extend_from_slice(data);
    }

    fn next_frame(&mut self) -> Result<Option<Frame>, FramingError> {
        loop {
            if self.skipping.is_some() {
                return Ok(self.skip_until_done());
            }
            if self.mode == SyslogFraming::Unknown {
                let blank = self
                    .b
                    .buf
                    .iter()
                    .take_while(|c| c.is_ascii_whitespace())
                    .count();
                self.b.consume(blank);
                if !self.detect() {
                    if self.b.buf.len() > 10 {
                        self.mode = SyslogFraming::NonTransparent;
                    } else {
                        return Ok(None);
                    }
                }
            }
            match self.mode {
                SyslogFraming::OctetCounting => {
                    // Some senders end octet-counted frames with a newline as well.
                    let blank = self
                        .b
                        .buf
                        .iter()
                        .take_while(|c| c.is_ascii_whitespace())
                        .count();
                    self.b.consume(blank);
                    let digits = self.b.buf.iter().take_while(|c| c.is_ascii_digit()).count();
                    if digits == self.b.buf.len() {
                        if digits > 10 {
                            return Err(FramingError("octet count longer than 10 digits"));
                        }
                        return Ok(None);
                    }
                    if digits == 0 || self.b.buf[digits] != b' ' || digits > 10 {
                        return Err(FramingError("expected an octet count and a space"));
                    }
                    let len: u64 = std::str::from_utf8(&self.b.buf[..digits])
                        .ok()
                        .and_then(|s| s.parse().ok())
                        .ok_or(FramingError("octet count out of range"))?;
                    let start = digits + 1;
                    if len > self.max as u64 {
                        let offset = self.b.offset + start as u64;
                        self.b.consume(start);
                        self.skipping = Some(Skipping {
                            prefix: Vec::new(),
                            len: 0,
                            offset,
                            remaining: Some(len),
                        });
                        continue;
                    }
                    let end = start + len as usize;
                    if self.b.buf.len() < end {
                        return Ok(None);
                    }
                    if len == 0 {
                        self.b.consume(end);
                        continue;
                    }
                    return Ok(Some(self.b.frame(start, end, end)));
                }
                SyslogFraming::NonTransparent => match memchr(b'\n', &self.b.buf) {
                    Some(i) => {
                        let end = if i > 0 && self.b.buf[i - 1] == b'\r' {
                            i - 1
                        } else {
                            i
                        };
                        if end > self.max {
                            let offset = self.b.offset;
                            self.skipping = Some(Skipping {
                                prefix: Vec::new(),
                                len: 0,
                                offset,
                                remaining: None,
                            });
                            continue;
                        }
                        if self.b.buf[..end].iter().all(u8::is_ascii_whitespace) {
                            self.b.consume(i + 1);
                            continue;
                        }
                        return Ok(Some(self.b.frame(0, end, i + 1)));
                    }
                    None if self.b.buf.len() > self.max => {
                        let offset = self.b.offset;
                        self.skipping = Some(Skipping {
                            prefix: Vec::new(),
                            len: 0,
                            offset,
                            remaining: None,
                        });
                    }
                    None => return Ok(None),
                },
                SyslogFraming::Unknown => return Ok(None),
            }
        }
    }

    fn has_partial(&self) -> bool {
        self.skipping.is_some() || !self.b.buf.is_empty()
    }

    fn finish(&mut self) -> Option<Frame> {
        if let Some(skipping) = self.skipping.take() {
            let n = self.b.buf.len();
            let mut skipping = skipping;
            skipping.take(&self.b.buf[..n]);
            self.b.consume(n);
            return Some(self.b.oversize(skipping));
        }
        // A last line without its newline is still a message; a cut octet-counted frame is not.
        if self.mode == SyslogFraming::OctetCounting
            || self.b.buf.iter().all(u8::is_ascii_whitespace)
        {
            return None;
        }
        let end = self.b.buf.len();
        Some(self.b.frame(0, end, end))
    }
}

/// MLLP start of block, end of block, carriage return.
pub const MLLP_START: u8 = 0x0B;
pub const MLLP_END: [u8; 2] = [0x1C, 0x0D];

/// MLLP framing: `0x0B message 0x1C 0x0D`. Bytes between frames are ignored.
#[derive(Debug)]
pub struct MllpFramer {
    max: usize,
    b: Buffer,
    skipping: Option<Skipping>,
}

impl MllpFramer {
    pub fn new(max_message_bytes: usize) -> Self {
        MllpFramer {
            max: max_message_bytes,
            b: Buffer::default(),
            skipping: None,
        }
    }
}

fn find_end(buf: &[u8]) -> Option<usize> {
    buf.windows(2).position(|w| w == MLLP_END)
}

impl Framer for MllpFramer {
    fn push(&mut self, data: &[u8]) {
        self.b.buf.extend_from_slice(data);
    }

    fn next_frame(&mut self) -> Result<Option<Frame>, FramingError> {
        if let Some(skipping) = self.skipping.as_mut() {
            match find_end(&self.b.buf) {
                Some(i) => {
                    skipping.take(&self.b.buf[..i]);
                    self.b.consume(i + 2);
                    let skipping = self.skipping.take().expect("checked above");
                    return Ok(Some(self.b.oversize(skipping)));
                }
                None => {
                    // Keep a trailing 0x1C: it may be the first half of the end marker.
                    let keep = usize::from(self.b.buf.last() == Some(&MLLP_END[0]));
                    let n = self.b.buf.len() - keep;
                    skipping.take(&self.b.buf[..n]);
                    self.b.consume(n);
                    return Ok(None);
                }
            }
        }
        let Some(start) = memchr(MLLP_START, &self.b.buf) else {
            // Nothing but noise between frames: drop it.
            let n = self.b.buf.len();
            self.b.consume(n);
            return Ok(None);
        };
        self.b.consume(start);
        match find_end(&self.b.buf[1..]) {
            Some(i) if i <= self.max => Ok(Some(self.b.frame(1, 1 + i, 1 + i + 2))),
            Some(_) | None if self.b.buf.len() > self.max + 3 => {
                let offset = self.b.offset + 1;
                self.b.consume(1);
                self.skipping = Some(Skipping {
                    prefix: Vec::new(),
                    len: 0,
                    offset,
                    remaining: None,
                });
                self.next_frame()
            }
            _ => Ok(None),
        }
    }

    fn has_partial(&self) -> bool {
        self.skipping.is_some() || !self.b.buf.is_empty()
    }

    fn finish(&mut self) -> Option<Frame> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(framer: &mut dyn Framer, input: &[u8], chunk: usize) -> Vec<Frame> {
        let mut out = Vec::new();
        for part in input.chunks(chunk) {
            framer.push(part);
            while let Some(f) = framer.next_frame().unwrap() {
                out.push(f);
            }
        }
        out.extend(framer.finish());
        out
    }

    #[test]
    fn octet_counting_frames_survive_any_split() {
        let input = b"5 hello11 hello world\n3 abc";
        for chunk in 1..input.len() {
            let mut f = SyslogFramer::new(64 * 1024);
            let got = frames(&mut f, input, chunk);
            let texts: Vec<&[u8]> = got.iter().map(|f| &f.bytes[..]).collect();
            assert_eq!(
                texts,
                vec![&b"hello"[..], b"hello world", b"abc"],
                "chunk {chunk}"
            );
            assert_eq!(f.mode(), SyslogFraming::OctetCounting);
            assert_eq!(got[1].position.offset, 10);
            assert_eq!(got[2].position.line, 3);
        }
    }

    #[test]
    fn newline_framing_is_chosen_for_lines_even_when_they_start_with_a_digit() {
        let input = b"2026-11-02 first\r\n\n<13>second\nthird without newline";
        let mut f = SyslogFramer::new(64 * 1024);
        let got = frames(&mut f, input, 3);
        let texts: Vec<&[u8]> = got.iter().map(|f| &f.bytes[..]).collect();
        assert_eq!(
            texts,
            vec![
                &b"2026-11-02 first"[..],
                b"<13>second",
                b"third without newline"
            ]
        );
        assert_eq!(f.mode(), SyslogFraming::NonTransparent);
    }

    #[test]
    fn quarantines_overlong_octet_counted_message_with_true_length() {
        let mut input = b"40000 ".to_vec();
        input.extend(std::iter::repeat_n(b'x', 40_000));
        input.extend(b"2 ok");
        let mut f = SyslogFramer::new(32 * 1024);
        let got = frames(&mut f, &input, 4096);
        assert_eq!(got.len(), 2);
        assert!(got[0].oversize);
        assert_eq!(got[0].true_len, 40_000);
        assert_eq!(got[0].position.offset, 6);
        assert_eq!(got[1].bytes, b"ok");
    }

    #[test]
    fn quarantines_overlong_line_and_keeps_reading() {
        let mut input = vec![b'y'; 100_000];
        input.extend(b"\nnext\n");
        let mut f = SyslogFramer::new(32 * 1024);
        let got = frames(&mut f, &input, 1000);
        assert_eq!(got.len(), 2);
        assert!(got[0].oversize);
        assert_eq!(got[0].true_len, 100_000);
        assert_eq!(got[1].bytes, b"next");
    }

    #[test]
    fn refuses_garbage_where_an_octet_count_belongs() {
        let mut f = SyslogFramer::new(1024);
        f.push(b"3 abcxyz 1");
        assert!(f.next_frame().unwrap().is_some());
        assert!(f.next_frame().is_err());
    }

    #[test]
    fn mllp_frames_and_oversize() {
        let mut input = b"\x0bMSH|a\x1c\x0d\r\n\x0b".to_vec();
        input.extend(vec![b'z'; 5000]);
        input.extend(b"\x1c\x0d\x0bMSH|b\x1c\x0d");
        for chunk in [1, 2, 7, 4096] {
            let mut f = MllpFramer::new(1024);
            let got = frames(&mut f, &input, chunk);
            assert_eq!(got.len(), 3, "chunk {chunk}");
            assert_eq!(got[0].bytes, b"MSH|a");
            assert!(got[1].oversize);
            assert_eq!(got[1].true_len, 5000, "chunk {chunk}");
            assert_eq!(got[2].bytes, b"MSH|b");
        }
    }
}
