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

/// Reads lines from `reader` into chunks of at most `max_records` records, and no more
/// records once a chunk holds `max_bytes` (see [`Chunker::max_bytes`]).
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
    /// A chunk takes no further record once it holds this many bytes.
    max_bytes: usize,
    max_line: usize,
    read_size: usize,
    /// For records that span lines: which lines start a record.
    starts_record: Option<fn(&[u8]) -> bool>,
    /// For binary files of fixed-size blocks: the header's size (until it has been read) and
    /// the blocks' size.
    blocks: Option<(usize, usize)>,
}

/// What the buffer holds next.
enum Next {
    /// A complete line: `buf[start..end]` without its terminator; the next line starts at `next`.
    Line {
        start: usize,
        end: usize,
        next: usize,
    },
    /// A line longer than the limit whose end is not in the buffer.
    Oversized,
    Eof,
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
            max_bytes: usize::MAX,
            max_line: max_line.max(1),
            read_size: 1 << 20,
            starts_record: None,
            blocks: None,
        }
    }

    /// Closes a chunk once it holds `bytes` of records, before `max_records` when records are
    /// large, so a chunk (and the batch made of it) stays about the same size whatever the
    /// records' size. A chunk always takes at least one record.
    pub fn max_bytes(mut self, bytes: usize) -> Self {
        self.max_bytes = bytes.max(1);
        self
    }

    /// Whether `chunk` takes no further record.
    fn full(&self, chunk: &Chunk) -> bool {
        chunk.records.len() >= self.max_records
            || (!chunk.records.is_empty() && chunk.data.len() >= self.max_bytes)
    }

    /// Frames a binary file of a `header`-byte header followed by `block`-byte blocks
    /// (`Framing::Blocks`): the header is the first record, each block one record (a short
    /// last block too). Records are numbered from 1 in `line`.
    pub fn blocks(mut self, header: usize, block: usize) -> Self {
        self.blocks = Some((header.max(1), block.max(1)));
        self
    }

    /// The next fixed-size record of a block-framed source.
    fn next_block_chunk(&mut self) -> io::Result<Option<Chunk>> {
        let mut chunk = Chunk {
            seq: self.seq,
            ..Default::default()
        };
        while !self.full(&chunk) {
            let Some((header, block)) = self.blocks else {
                break;
            };
            let size = if self.line == 0 { header } else { block };
            while self.buf.len() - self.pos < size && !self.eof {
                self.fill()?;
            }
            let available = (self.buf.len() - self.pos).min(size);
            if available == 0 {
                break;
            }
            let at = chunk.data.len();
            chunk
                .data
                .extend_from_slice(&self.buf[self.pos..self.pos + available]);
            self.line += 1;
            chunk.records.push(RawRecord {
                start: at,
                end: chunk.data.len(),
                line: self.line,
                offset: self.offset(),
                oversized: None,
            });
            self.pos += available;
        }
        if chunk.records.is_empty() {
            return Ok(None);
        }
        chunk.end_offset = self.offset();
        self.seq += 1;
        Ok(Some(chunk))
    }

    /// Frames records that span lines (`Framing::Grouped`): a record starts at a line for
    /// which `starts_record` is true and takes the following lines, joined with `\n`. A chunk
    /// ends only before a starting line or at the end, so no record is split across chunks.
    pub fn grouped(mut self, starts_record: fn(&[u8]) -> bool) -> Self {
        self.starts_record = Some(starts_record);
        self
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

    fn next_line(&mut self) -> io::Result<Next> {
        loop {
            let unconsumed = &self.buf[self.pos..];
            if let Some(nl) = memchr::memchr(b'\n', unconsumed) {
                let mut end = self.pos + nl;
                if end > self.pos && self.buf[end - 1] == b'\r' {
                    end -= 1;
                }
                return Ok(Next::Line {
                    start: self.pos,
                    end,
                    next: self.pos + nl + 1,
                });
            }
            if unconsumed.len() > self.max_line {
                return Ok(Next::Oversized);
            }
            if self.eof {
                return Ok(if unconsumed.is_empty() {
                    Next::Eof
                } else {
                    // The last line has no newline: still a record.
                    Next::Line {
                        start: self.pos,
                        end: self.buf.len(),
                        next: self.buf.len(),
                    }
                });
            }
            self.fill()?;
        }
    }

    /// The next chunk, or `None` at the end of the source.
    pub fn next_chunk(&mut self) -> io::Result<Option<Chunk>> {
        if self.blocks.is_some() {
            return self.next_block_chunk();
        }
        let mut chunk = Chunk {
            seq: self.seq,
            ..Default::default()
        };
        // Whether the chunk's last record may still take continuation lines.
        let mut open = false;
        // Blank lines met inside the open record: kept if a continuation line follows (an
        // e-mail's header and body are separated by one), dropped if the record ends there.
        let mut blanks: u64 = 0;
        loop {
            match self.next_line()? {
                Next::Eof => break,
                Next::Oversized if open => {
                    // A continuation line over the limit: the open record is cut.
                    let len = self.skip_oversized_line()?;
                    if let Some(record) = chunk.records.last_mut() {
                        let so_far = record
                            .oversized
                            .unwrap_or((record.end - record.start) as u64);
                        record.oversized = Some(so_far + std::mem::take(&mut blanks) + 1 + len);
                    }
                }
                Next::Oversized => {
                    if self.full(&chunk) {
                        break;
                    }
                    blanks = 0;
                    // Keep the first `max_line` bytes, then read past the rest of the line.
                    let offset = self.offset();
                    let at = chunk.data.len();
                    chunk
                        .data
                        .extend_from_slice(&self.buf[self.pos..self.pos + self.max_line]);
                    let line = self.line + 1;
                    let len = self.skip_oversized_line()?;
                    chunk.records.push(RawRecord {
                        start: at,
                        end: chunk.data.len(),
                        line,
                        offset,
                        oversized: Some(len),
                    });
                    open = false;
                }
                Next::Line { start, end, next } => {
                    let line = &self.buf[start..end];
                    if line.iter().all(u8::is_ascii_whitespace) {
                        blanks += u64::from(open);
                        self.line += 1;
                        self.pos = next;
                        continue;
                    }
                    let starts = match self.starts_record {
                        Some(starts_record) => !open || starts_record(line),
                        None => true,
                    };
                    let kept_blanks = std::mem::take(&mut blanks);
                    if starts {
                        if self.full(&chunk) {
                            break; // this line starts the next chunk
                        }
                        let keep = line.len().min(self.max_line);
                        let at = chunk.data.len();
                        chunk.data.extend_from_slice(&line[..keep]);
                        chunk.records.push(RawRecord {
                            start: at,
                            end: chunk.data.len(),
                            line: self.line + 1,
                            offset: self.base + start as u64,
                            oversized: (line.len() > self.max_line).then_some(line.len() as u64),
                        });
                        open = self.starts_record.is_some();
                    } else if let Some(record) = chunk.records.last_mut() {
                        // A continuation line; the open record is the last bytes of the chunk.
                        let total = record
                            .oversized
                            .unwrap_or((record.end - record.start) as u64)
                            + kept_blanks
                            + 1
                            + line.len() as u64;
                        if record.oversized.is_none() && total <= self.max_line as u64 {
                            for _ in 0..kept_blanks {
                                chunk.data.push(b'\n');
                            }
                            chunk.data.push(b'\n');
                            chunk.data.extend_from_slice(line);
                            record.end = chunk.data.len();
                        } else {
                            record.oversized = Some(total);
                        }
                    }
                    self.line += 1;
                    self.pos = next;
                }
            }
        }
        if chunk.records.is_empty() {
            return Ok(None);
        }
        chunk.end_offset = self.offset();
        self.seq += 1;
        Ok(Some(chunk))
    }

    /// Reads past a line that has no newline within the limit, returning its length.
    fn skip_oversized_line(&mut self) -> io::Result<u64> {
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
        self.line += 1;
        Ok(len)
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
    fn a_chunk_closes_once_it_holds_max_bytes_and_takes_at_least_one_record() {
        let input: Vec<u8> = (0..10)
            .flat_map(|i| format!("record-{i:02}\n").into_bytes())
            .collect();
        let mut c = Chunker::new(&input[..], 100, 100).max_bytes(25);
        let mut sizes = vec![];
        let mut lines = vec![];
        while let Some(chunk) = c.next_chunk().unwrap() {
            sizes.push(chunk.records.len());
            lines.extend(chunk.records.iter().map(|r| r.line));
        }
        // Each record is 9 bytes kept: the third brings a chunk to 27 bytes, past 25.
        assert_eq!(sizes, vec![3, 3, 3, 1]);
        assert_eq!(lines, (1..=10).collect::<Vec<u64>>());
        // A record larger than the cap still makes a chunk of one.
        let mut c = Chunker::new(&input[..], 100, 100).max_bytes(4);
        let mut chunks = 0;
        while let Some(chunk) = c.next_chunk().unwrap() {
            assert_eq!(chunk.records.len(), 1);
            chunks += 1;
        }
        assert_eq!(chunks, 10);
    }

    fn grouped(
        input: &[u8],
        max_records: usize,
        max_line: usize,
    ) -> Vec<(Vec<u8>, u64, u64, Option<u64>)> {
        let mut c = Chunker::new(input, max_records, max_line).grouped(|l| l.starts_with(b"MSH|"));
        c.read_size = 5;
        let mut out = vec![];
        while let Some(chunk) = c.next_chunk().unwrap() {
            assert!(chunk.records.len() <= max_records);
            for r in &chunk.records {
                out.push((chunk.record(r).to_vec(), r.line, r.offset, r.oversized));
            }
        }
        out
    }

    #[test]
    fn grouped_records_span_lines_and_never_straddle_chunks() {
        let input = b"junk\nMSH|1\r\nPID|a\n\nPV1|b\n\n \nMSH|2\nMSH|3\nPID|c";
        // A blank line inside a record is kept (an e-mail's body follows one); blank lines
        // before the next record are not part of either.
        let want = vec![
            (b"junk".to_vec(), 1, 0, None),
            (b"MSH|1\nPID|a\n\nPV1|b".to_vec(), 2, 5, None),
            (b"MSH|2".to_vec(), 8, 28, None),
            (b"MSH|3\nPID|c".to_vec(), 9, 34, None),
        ];
        assert_eq!(grouped(input, 1, 100), want);
        assert_eq!(grouped(input, 3, 100), want);
    }

    /// Regression: blank lines inside grouped records were dropped, so an e-mail lost the
    /// empty line that ends its header and every message was stored without a body.
    #[test]
    fn an_email_keeps_the_blank_line_between_its_header_and_body() {
        let mut c = Chunker::new(
            &b"From a@b Mon Jan  1 00:00:00 2024\nSubject: x\n\nbody\n\nFrom a@b Mon Jan  1 00:00:01 2024\nSubject: y\n\n"[..],
            10,
            100,
        )
        .grouped(|l| l.starts_with(b"From "));
        let chunk = c.next_chunk().unwrap().unwrap();
        let records: Vec<&[u8]> = chunk.records.iter().map(|r| chunk.record(r)).collect();
        assert_eq!(
            records,
            [
                &b"From a@b Mon Jan  1 00:00:00 2024\nSubject: x\n\nbody"[..],
                b"From a@b Mon Jan  1 00:00:01 2024\nSubject: y"
            ]
        );
    }

    #[test]
    fn grouped_records_over_the_limit_are_cut_with_their_true_length() {
        let got = grouped(b"MSH|1\nPID|0123456789\nMSH|2\n", 10, 12);
        assert_eq!(
            got,
            vec![
                (b"MSH|1".to_vec(), 1, 0, Some(20)),
                (b"MSH|2".to_vec(), 3, 21, None)
            ]
        );
    }

    #[test]
    fn block_framing_cuts_a_header_then_fixed_blocks_with_offsets() {
        let input: Vec<u8> = (0u8..23).collect();
        let mut c = Chunker::new(&input[..], 2, 1).blocks(3, 8);
        c.read_size = 5;
        let mut got = vec![];
        while let Some(chunk) = c.next_chunk().unwrap() {
            assert!(chunk.records.len() <= 2);
            for r in &chunk.records {
                got.push((chunk.record(r).to_vec(), r.line, r.offset));
            }
        }
        assert_eq!(
            got,
            vec![
                (input[0..3].to_vec(), 1, 0),
                (input[3..11].to_vec(), 2, 3),
                (input[11..19].to_vec(), 3, 11),
                (input[19..23].to_vec(), 4, 19),
            ]
        );
    }

    #[test]
    fn empty_input_has_no_chunks() {
        assert!(all(b"", 10, 10).is_empty());
        assert!(all(b"\n\n", 10, 10).is_empty());
    }
}
