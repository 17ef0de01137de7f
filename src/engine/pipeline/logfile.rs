//! Reading a run log of any size without loading it: windows of lines around a byte offset,
//! and substring search in chunks. A 1 GB log opens as fast as a 1 KB one.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

/// Bytes read per step when walking backwards or searching.
const CHUNK: usize = 1 << 20;
/// Longest line kept for display; the rest of a longer line is cut.
const MAX_LINE: usize = 4096;

/// Some consecutive lines of a log.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Window {
    /// Byte offset where the first line starts.
    pub start: u64,
    /// Byte offset just after the last line.
    pub end: u64,
    /// The lines, without their newlines (long ones cut).
    pub lines: Vec<String>,
    /// Where each line starts in the file.
    pub offsets: Vec<u64>,
    /// The file's length when read.
    pub len: u64,
}

/// Where a window is anchored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Anchor {
    /// The last lines of the file.
    End,
    /// Starting at the line that contains this byte.
    At(u64),
    /// `n` lines above the line starting at this byte.
    Above(u64, usize),
}

fn read_at(f: &mut File, at: u64, len: usize) -> io::Result<Vec<u8>> {
    f.seek(SeekFrom::Start(at))?;
    let mut buf = Vec::with_capacity(len);
    f.take(len as u64).read_to_end(&mut buf)?;
    Ok(buf)
}

/// The start of the line `n` lines above the line containing `off` (n = 0: that line's start).
fn line_start_above(f: &mut File, off: u64, n: usize) -> io::Result<u64> {
    let mut pos = off;
    // Walking back from `off`, the first newline met ends the line above ours: line 0 starts
    // just after it, line n just after the (n+1)-th.
    let mut needed = n + 1;
    while pos > 0 {
        let from = pos.saturating_sub(CHUNK as u64);
        let buf = read_at(f, from, (pos - from) as usize)?;
        for i in memchr::memrchr_iter(b'\n', &buf) {
            needed -= 1;
            if needed == 0 {
                return Ok(from + i as u64 + 1);
            }
        }
        pos = from;
    }
    Ok(0)
}

/// Up to `rows` lines starting at byte `start` (a line start).
fn lines_from(f: &mut File, start: u64, rows: usize, len: u64) -> io::Result<Window> {
    let mut lines = Vec::new();
    let mut offsets = vec![start];
    let mut pos = start;
    let mut carry: Vec<u8> = Vec::new();
    while lines.len() < rows && pos < len {
        let buf = read_at(f, pos, CHUNK.min((len - pos) as usize))?;
        if buf.is_empty() {
            break;
        }
        let mut from = 0;
        for i in memchr::memchr_iter(b'\n', &buf) {
            carry.extend_from_slice(&buf[from..i]);
            lines.push(take_line(&mut carry));
            from = i + 1;
            offsets.push(pos + from as u64);
            if lines.len() == rows {
                offsets.truncate(lines.len());
                return Ok(Window {
                    start,
                    end: pos + from as u64,
                    lines,
                    offsets,
                    len,
                });
            }
        }
        // Keep at most one display line's worth of an unfinished line.
        let rest = &buf[from..];
        carry.extend_from_slice(&rest[..rest.len().min(MAX_LINE.saturating_sub(carry.len()))]);
        pos += buf.len() as u64;
    }
    if !carry.is_empty() && lines.len() < rows {
        lines.push(take_line(&mut carry));
    }
    offsets.truncate(lines.len());
    Ok(Window {
        start,
        end: pos.min(len),
        lines,
        offsets,
        len,
    })
}

fn take_line(carry: &mut Vec<u8>) -> String {
    let cut = carry.len().min(MAX_LINE);
    let text = String::from_utf8_lossy(&carry[..cut])
        .trim_end_matches('\r')
        .to_string();
    carry.clear();
    text
}

/// A window of `rows` lines at `anchor`.
pub fn window(path: &Path, anchor: Anchor, rows: usize) -> io::Result<Window> {
    let mut f = File::open(path)?;
    let len = f.metadata()?.len();
    // A final newline ends the last line; it does not start an empty one.
    let last = if len > 0 && read_at(&mut f, len - 1, 1)? == b"\n" {
        len - 1
    } else {
        len
    };
    let end_start = line_start_above(&mut f, last, rows.saturating_sub(1))?;
    let start = match anchor {
        Anchor::End => end_start,
        Anchor::At(off) => line_start_above(&mut f, off.min(len), 0)?,
        Anchor::Above(off, n) => line_start_above(&mut f, off.min(len), n)?,
    };
    // Like `less`, never show blank rows below the end while there is more above.
    lines_from(&mut f, start.min(end_start), rows, len)
}

/// Smart case: a query without capitals matches any case.
fn folds(query: &str) -> bool {
    !query.chars().any(char::is_uppercase)
}

/// Finds `query` after byte `from` (or before it, `backwards`); returns the match's offset.
pub fn find(path: &Path, query: &str, from: u64, backwards: bool) -> io::Result<Option<u64>> {
    if query.is_empty() {
        return Ok(None);
    }
    let fold = folds(query);
    let needle: Vec<u8> = if fold {
        query.to_ascii_lowercase().into_bytes()
    } else {
        query.as_bytes().to_vec()
    };
    let mut f = File::open(path)?;
    let len = f.metadata()?.len();
    let overlap = needle.len() as u64 - 1;
    let prepare = |mut buf: Vec<u8>| {
        if fold {
            buf.make_ascii_lowercase();
        }
        buf
    };
    if backwards {
        let finder = memchr::memmem::FinderRev::new(&needle);
        let mut end = from.min(len);
        while end > 0 {
            let start = end.saturating_sub(CHUNK as u64);
            let buf = prepare(read_at(
                &mut f,
                start,
                ((end - start) + overlap).min(len - start) as usize,
            )?);
            let limit = (end - start) as usize;
            if let Some(i) = finder
                .rfind(&buf[..(limit + overlap as usize).min(buf.len())])
                .filter(|i| *i < limit)
            {
                return Ok(Some(start + i as u64));
            }
            end = start;
        }
        return Ok(None);
    }
    let finder = memchr::memmem::Finder::new(&needle);
    let mut pos = from.min(len);
    while pos < len {
        let buf = prepare(read_at(&mut f, pos, CHUNK + overlap as usize)?);
        if let Some(i) = finder.find(&buf) {
            return Ok(Some(pos + i as u64));
        }
        pos += CHUNK as u64;
    }
    Ok(None)
}

/// Which match the one at `at` is, and how many there are: (1-based rank, total), in one
/// pass over the file (smart case, like `find`).
pub fn rank(path: &Path, query: &str, at: u64) -> io::Result<(usize, usize)> {
    if query.is_empty() {
        return Ok((0, 0));
    }
    let fold = folds(query);
    let needle: Vec<u8> = if fold {
        query.to_ascii_lowercase().into_bytes()
    } else {
        query.as_bytes().to_vec()
    };
    let finder = memchr::memmem::Finder::new(&needle);
    let mut f = File::open(path)?;
    let len = f.metadata()?.len();
    let overlap = needle.len() - 1;
    let (mut nth, mut total, mut pos) = (0, 0, 0u64);
    while pos < len {
        let mut buf = read_at(&mut f, pos, CHUNK + overlap)?;
        if fold {
            buf.make_ascii_lowercase();
        }
        // Only matches that start in this chunk count here; the overlap is the next's.
        for i in finder.find_iter(&buf).take_while(|i| *i < CHUNK) {
            total += 1;
            if pos + i as u64 <= at {
                nth = total;
            }
        }
        pos += CHUNK as u64;
    }
    Ok((nth, total))
}

/// Markers of the first failure worth looking at.
const ERROR_MARKERS: &[&str] = &["panicked", "FAILED", "error:", "Error:", "ERROR", "FAIL ["];

/// The offset of the first line that looks like an error, in one pass over the file.
pub fn first_error(path: &Path) -> io::Result<Option<u64>> {
    let markers = aho_corasick::AhoCorasick::new(ERROR_MARKERS).map_err(io::Error::other)?;
    let overlap = ERROR_MARKERS.iter().map(|m| m.len()).max().unwrap_or(1) - 1;
    let mut f = File::open(path)?;
    let len = f.metadata()?.len();
    let mut pos = 0u64;
    while pos < len {
        let buf = read_at(&mut f, pos, CHUNK + overlap)?;
        // The leftmost match in the chunk is the earliest in the file so far.
        if let Some(m) = markers.find(&buf[..]) {
            return Ok(Some(pos + m.start() as u64));
        }
        pos += CHUNK as u64;
    }
    Ok(None)
}

#[cfg(test)]
mod tests;
