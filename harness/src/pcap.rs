//! Standard pcap files: every frame of a trial, both ways, with nanosecond timestamps.
//!
//! Written by the harness as it captures (LINKTYPE_ETHERNET, nanosecond magic `0xa1b23c4d`,
//! which Wireshark and tshark read), and read back with pcap-parser into owned frames at this
//! boundary: the verifier never sees pcap-parser's borrowed blocks.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use pcap_parser::pcap::{parse_pcap_frame, parse_pcap_frame_be, parse_pcap_header};

use crate::clock::Timestamp;
use crate::error::{HarnessError, Result};

/// LINKTYPE_ETHERNET.
pub const LINKTYPE_ETHERNET: i32 = 1;
const MAGIC_NANOS: u32 = 0xa1b2_3c4d;
const SNAPLEN: u32 = 262_144;

/// One frame read from a capture file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PcapFrame {
    /// Its timestamp.
    pub ts: Timestamp,
    /// The captured bytes (the whole frame: the harness never truncates).
    pub bytes: Vec<u8>,
    /// The frame's length on the wire, as recorded.
    pub orig_len: u32,
}

/// Appends frames to a pcap file.
#[derive(Debug)]
pub struct PcapWriter {
    out: BufWriter<File>,
    path: PathBuf,
}

impl PcapWriter {
    /// Creates (truncates) the file and writes the global header.
    pub fn create(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| HarnessError::sys(format!("create {}", dir.display()), e))?;
        }
        let file = File::create(path)
            .map_err(|e| HarnessError::sys(format!("create {}", path.display()), e))?;
        let mut w = Self {
            out: BufWriter::new(file),
            path: path.to_owned(),
        };
        let mut hdr = Vec::with_capacity(24);
        hdr.extend_from_slice(&MAGIC_NANOS.to_le_bytes());
        hdr.extend_from_slice(&2u16.to_le_bytes());
        hdr.extend_from_slice(&4u16.to_le_bytes());
        hdr.extend_from_slice(&0i32.to_le_bytes());
        hdr.extend_from_slice(&0u32.to_le_bytes());
        hdr.extend_from_slice(&SNAPLEN.to_le_bytes());
        hdr.extend_from_slice(&LINKTYPE_ETHERNET.to_le_bytes());
        w.write_all(&hdr)?;
        Ok(w)
    }

    /// Appends one frame.
    pub fn write(&mut self, ts: Timestamp, frame: &[u8]) -> Result<()> {
        let secs = u32::try_from(ts.secs()).map_err(|_| HarnessError::Pcap {
            path: self.path.display().to_string(),
            message: format!("timestamp {ts} does not fit the pcap format"),
        })?;
        let len = frame.len() as u32;
        let mut rec = Vec::with_capacity(16);
        rec.extend_from_slice(&secs.to_le_bytes());
        rec.extend_from_slice(&ts.subsec_nanos().to_le_bytes());
        rec.extend_from_slice(&len.to_le_bytes());
        rec.extend_from_slice(&len.to_le_bytes());
        self.write_all(&rec)?;
        self.write_all(frame)
    }

    /// Flushes buffered frames to the file.
    pub fn flush(&mut self) -> Result<()> {
        self.out
            .flush()
            .map_err(|e| HarnessError::sys(format!("write {}", self.path.display()), e))
    }

    /// The file being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn write_all(&mut self, bytes: &[u8]) -> Result<()> {
        self.out
            .write_all(bytes)
            .map_err(|e| HarnessError::sys(format!("write {}", self.path.display()), e))
    }
}

impl Drop for PcapWriter {
    fn drop(&mut self) {
        let _ = self.out.flush();
    }
}

/// Reads a whole pcap file (LINKTYPE_ETHERNET, micro- or nanosecond, either byte order).
///
/// A truncated or malformed file is an error naming the byte offset and what was wrong; no frame
/// is silently dropped.
pub fn read(path: &Path) -> Result<Vec<PcapFrame>> {
    let data = std::fs::read(path)
        .map_err(|e| HarnessError::sys(format!("read {}", path.display()), e))?;
    parse(&data).map_err(|message| HarnessError::Pcap {
        path: path.display().to_string(),
        message,
    })
}

/// Parses pcap bytes; the error says what is wrong and at which offset.
pub fn parse(data: &[u8]) -> std::result::Result<Vec<PcapFrame>, String> {
    if data.len() < 24 {
        return Err(format!(
            "truncated global header: {} of 24 bytes",
            data.len()
        ));
    }
    let (mut rest, header) = parse_pcap_header(data).map_err(|_| {
        "not a pcap file (unknown magic number); pcapng is not supported".to_owned()
    })?;
    if header.is_modified_format() {
        return Err("the \"modified\" pcap format is not supported".into());
    }
    if header.network.0 != LINKTYPE_ETHERNET {
        return Err(format!(
            "link type {} is not LINKTYPE_ETHERNET (1)",
            header.network.0
        ));
    }
    let nanos = header.is_nanosecond_precision();
    let big = header.is_bigendian();
    let mut frames = Vec::new();
    while !rest.is_empty() {
        let offset = data.len() - rest.len();
        let parsed = if big {
            parse_pcap_frame_be(rest)
        } else {
            parse_pcap_frame(rest)
        };
        let (next, block) = parsed.map_err(|_| {
            if rest.len() < 16 {
                format!(
                    "truncated record header at byte {offset}: {} of 16 bytes",
                    rest.len()
                )
            } else {
                format!(
                    "truncated record at byte {offset} (frame {}): the file ends inside it",
                    frames.len() + 1
                )
            }
        })?;
        let sub = if nanos {
            block.ts_usec
        } else {
            block.ts_usec.saturating_mul(1000)
        };
        if sub >= 1_000_000_000 {
            return Err(format!(
                "record at byte {offset} (frame {}) has an impossible sub-second timestamp {}",
                frames.len() + 1,
                block.ts_usec
            ));
        }
        frames.push(PcapFrame {
            ts: Timestamp::from_parts(u64::from(block.ts_sec), sub),
            bytes: block.data.to_vec(),
            orig_len: block.origlen,
        });
        rest = next;
    }
    Ok(frames)
}

#[cfg(test)]
mod test {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("tcpc-pcap-{}-{name}", std::process::id()))
    }

    #[test]
    fn write_then_read() {
        let path = tmp("rt.pcap");
        let mut w = PcapWriter::create(&path).unwrap();
        w.write(
            Timestamp::from_parts(1_700_000_000, 123_456_789),
            &[1, 2, 3],
        )
        .unwrap();
        w.write(Timestamp::from_parts(1_700_000_001, 5), &[9; 60])
            .unwrap();
        drop(w);
        let frames = read(&path).unwrap();
        assert_eq!(frames.len(), 2);
        assert_eq!(
            frames[0].ts,
            Timestamp::from_parts(1_700_000_000, 123_456_789)
        );
        assert_eq!(frames[0].bytes, [1, 2, 3]);
        assert_eq!(frames[1].bytes.len(), 60);
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn truncated_files_are_errors() {
        let path = tmp("tr.pcap");
        let mut w = PcapWriter::create(&path).unwrap();
        w.write(Timestamp::from_parts(1, 0), &[7; 40]).unwrap();
        drop(w);
        let full = std::fs::read(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        // Every strict prefix that is not a record boundary is an error, never a panic.
        for cut in 0..full.len() {
            if cut == 24 {
                assert_eq!(parse(&full[..cut]).unwrap(), vec![]);
                continue;
            }
            let err = parse(&full[..cut]).unwrap_err();
            assert!(err.contains("truncated"), "cut at {cut}: {err}");
        }
        assert_eq!(parse(&full).unwrap().len(), 1);
        assert!(
            parse(b"not a pcap file at all, no")
                .unwrap_err()
                .contains("magic")
        );
    }
}
