//! Framing: cuts a byte stream into records (lines), remembering each record's line number
//! and byte offset, and hands them out in chunks that own their bytes (one copy per chunk,
//! not per line). Lines longer than the limit are cut, marked and skipped to their end, so a
//! binary file without newlines cannot grow memory.

use std::io::{self, Read};

/// One record of a chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawRecord {
    /// Range of the record's bytes in [`Chunk::data`] (without the line ending).
    pub start: usize,
    pub end: usize,
    /// 1-based line number in the source.
    pub line: u64,
    /// Byte offset of the record's first byte in the source.
    pub offset: u64,
    /// When the line was longer than the limit: its true length (only a prefix is kept).
    pub oversized: Option<u64>,
}

/// Consecutive records of one source.
#[derive(Debug, Default)]
pub struct Chunk {
    pub seq: u64,
    pub data: Vec<u8>,
    pub records: Vec<RawRecord>,
    /// Offset in the source just after the last record of this chunk.
    pub end_offset: u64,
}

impl Chunk {
    pub fn record(&self, r: &RawRecord) -> &[u8] {
        &self.data[r.start..r.end]
    }
}

/// Reads lines from `reader` into chunks of at most `max_records` records.
pub struct Chunker<R> {
    reader: R,
    buf: Vec<u8>,
    /// Start of unconsumed data in `buf`.
    pos: usize,
    /// Source offset of `buf[0]`.
    base: u64,
    line: u64,
    eof: bool,
    seq: u64,
    max_records: usize,
    max_line: usize,
    read_size: usize,
}

impl<R: Read> Chunker<R> {
    pub fn new(reader: R, max_records: usize, max_line: usize) -> Self {
        Chunker {
            reader,
            buf: Vec::new(),
            pos: 0,
            base: 0,
            line: 0,
            eof: false,
            seq: 0,
            max_records: max_records.max(1),
            max_line: max_line.max(1),
            read_size: 1 << 20,
        }
    }

    /// Continues numbering after chunks produced elsewhere (a whole document read up front).
    pub fn starting_at(mut self, seq: u64, offset: u64) -> Self {
        self.seq = seq;
        self.base = offset;
        self
    }

    /// Bytes consumed so far (the offset just after the last record handed out).
    pub fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    fn fill(&mut self) -> io::Result<usize> {
        if self.pos > 0 && self.pos == self.buf.len() {
            self.base += self.pos as u64;
            self.buf.clear();
            self.pos = 0;
        } else if self.pos > (1 << 20) {
            self.base += self.pos as u64;
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        let old = self.buf.len();
        self.buf.resize(old + self.read_size, 0);
        let n = loop {
            match self.reader.read(&mut self.buf[old..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.buf.truncate(old);
                    return Err(e);
                }
            }
        };
        self.buf.truncate(old + n);
        if n == 0 {
            self.eof = true;
        }
        Ok(n)
    }

    /// The next chunk, or `None` at the end of the source.
    pub fn next_chunk(&mut self) -> io::Result<Option<Chunk>> {
        let mut chunk = Chunk {
            seq: self.seq,
            ..Default::default()
        };
        while chunk.records.len() < self.max_records {
            let unconsumed = &self.buf[self.pos..];
            match memchr::memchr(b'\n', unconsumed) {
                Some(nl) => {
                    self.line += 1;
                    let offset = self.offset();
                    let mut line = &unconsumed[..nl];
                    if line.last() == Some(&b'\r') {
                        line = &line[..line.len() - 1];
                    }
                    let oversized = (line.len() > self.max_line).then_some(line.len() as u64);
                    let line = &line[..line.len().min(self.max_line)];
                    if !line.iter().all(u8::is_ascii_whitespace) {
                        let start = chunk.data.len();
                        chunk.data.extend_from_slice(line);
                        chunk.records.push(RawRecord {
                            start,
                            end: chunk.data.len(),
                            line: self.line,
                            offset,
                            oversized,
                        });
                    }
                    self.pos += nl + 1;
                }
                None if self.eof => {
                    if !unconsumed.is_empty() {
                        // The last line has no newline: still a record.
                        self.line += 1;
                        let offset = self.offset();
                        let len = unconsumed.len();
                        if !unconsumed.iter().all(u8::is_ascii_whitespace) {
                            let keep = len.min(self.max_line);
                            let start = chunk.data.len();
                            chunk.data.extend_from_slice(&unconsumed[..keep]);
                            chunk.records.push(RawRecord {
                                start,
                                end: chunk.data.len(),
                                line: self.line,
                                offset,
                                oversized: (len > self.max_line).then_some(len as u64),
                            });
                        }
                        self.pos = self.buf.len();
                    }
                    break;
                }
                None if unconsumed.len() > self.max_line => self.skip_oversized_line(&mut chunk)?,
                None => {
                    self.fill()?;
                }
            }
        }
        if chunk.records.is_empty() && self.eof && self.pos >= self.buf.len() {
            return Ok(None);
        }
        chunk.end_offset = self.offset();
        self.seq += 1;
        Ok(Some(chunk))
    }

    /// Keeps the first `max_line` bytes of a line that has no newline within the limit, then
    /// reads and discards the rest of it.
    fn skip_oversized_line(&mut self, chunk: &mut Chunk) -> io::Result<()> {
        self.line += 1;
        let offset = self.offset();
        let start = chunk.data.len();
        chunk
            .data
            .extend_from_slice(&self.buf[self.pos..self.pos + self.max_line]);
        let mut len = 0u64;
        loop {
            let unconsumed = &self.buf[self.pos..];
            if let Some(nl) = memchr::memchr(b'\n', unconsumed) {
                len += nl as u64;
                self.pos += nl + 1;
                break;
            }
            len += unconsumed.len() as u64;
            self.pos = self.buf.len();
            if self.eof || self.fill()? == 0 {
                break;
            }
        }
        chunk.records.push(RawRecord {
            start,
            end: chunk.data.len(),
            line: self.line,
            offset,
            oversized: Some(len),
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(
        input: &[u8],
        max_records: usize,
        max_line: usize,
    ) -> Vec<(Vec<u8>, u64, u64, Option<u64>)> {
        let mut c = Chunker::new(input, max_records, max_line);
        c.read_size = 7; // force many small reads so lines straddle buffer refills
        let mut out = vec![];
        while let Some(chunk) = c.next_chunk().unwrap() {
            for r in &chunk.records {
                out.push((chunk.record(r).to_vec(), r.line, r.offset, r.oversized));
            }
        }
        out
    }

    #[test]
    fn records_carry_line_numbers_and_offsets_and_skip_blank_lines() {
        let got = all(b"ab\r\n\n  \ncd\nef", 2, 100);
        assert_eq!(
            got,
            vec![
                (b"ab".to_vec(), 1, 0, None),
                (b"cd".to_vec(), 4, 8, None),
                (b"ef".to_vec(), 5, 11, None)
            ]
        );
    }

    #[test]
    fn oversized_lines_are_cut_and_skipped_to_their_end() {
        let got = all(b"0123456789abcdef\nok\n0123456789", 10, 4);
        assert_eq!(
            got,
            vec![
                (b"0123".to_vec(), 1, 0, Some(16)),
                (b"ok".to_vec(), 2, 17, None),
                (b"0123".to_vec(), 3, 20, Some(10)),
            ]
        );
    }

    #[test]
    fn empty_input_has_no_chunks() {
        assert!(all(b"", 10, 10).is_empty());
        assert!(all(b"\n\n", 10, 10).is_empty());
    }
}
