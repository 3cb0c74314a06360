//! Buffers: a byte ring for the send and receive queues, and the out-of-order [`Assembler`].
//!
//! Both are bounded by construction: a [`RingBuffer`] never holds more than its capacity (the
//! socket's `sndbuf`/`rcvbuf`), and an [`Assembler`] tracks at most [`Assembler::MAX_RANGES`]
//! disjoint ranges. Nothing here allocates after a buffer's first use, so the per-segment path
//! is allocation-free.

/// A fixed-capacity byte ring.
///
/// The storage is allocated on first use, so a connection that never carries data (a SYN that
/// is never answered, a TIME-WAIT) costs no buffer memory.
///
/// Terms, smoltcp style: the *allocated* part holds `len` bytes starting at the head; the
/// *unallocated* part is the `capacity - len` bytes after it, where the receiver writes
/// out-of-order data before it becomes contiguous ([`write_unallocated`](Self::write_unallocated)).
#[derive(Debug, Clone, Default)]
pub(crate) struct RingBuffer {
    storage: Vec<u8>,
    capacity: usize,
    head: usize,
    len: usize,
}

impl RingBuffer {
    /// An empty ring of `capacity` bytes (not yet allocated).
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            storage: Vec::new(),
            capacity,
            head: 0,
            len: 0,
        }
    }

    /// The capacity in bytes.
    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    /// The number of allocated (queued) bytes.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// No queued bytes.
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The free space: `capacity - len`.
    pub(crate) fn window(&self) -> usize {
        self.capacity - self.len
    }

    fn allocate(&mut self) {
        if self.storage.len() != self.capacity {
            // Only reached while empty or on a capacity change (see `set_capacity`).
            self.storage.resize(self.capacity, 0);
        }
    }

    /// Copy `data` into the storage starting at absolute position `at` (mod capacity).
    fn copy_in(&mut self, at: usize, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        self.allocate();
        let at = at % self.capacity;
        let first = data.len().min(self.capacity - at);
        self.storage[at..at + first].copy_from_slice(&data[..first]);
        let rest = data.len() - first;
        self.storage[..rest].copy_from_slice(&data[first..]);
    }

    /// Copy from absolute position `at` (mod capacity) into `out`.
    fn copy_out(&self, at: usize, out: &mut [u8]) {
        if out.is_empty() {
            return;
        }
        let at = at % self.capacity;
        let first = out.len().min(self.capacity - at);
        out[..first].copy_from_slice(&self.storage[at..at + first]);
        let rest = out.len() - first;
        out[first..].copy_from_slice(&self.storage[..rest]);
    }

    /// Append as much of `data` as fits; returns the number of bytes taken.
    pub(crate) fn enqueue_slice(&mut self, data: &[u8]) -> usize {
        let n = data.len().min(self.window());
        self.copy_in(self.head + self.len, &data[..n]);
        self.len += n;
        n
    }

    /// Move up to `out.len()` bytes from the head into `out`; returns the number moved.
    pub(crate) fn dequeue_slice(&mut self, out: &mut [u8]) -> usize {
        let n = out.len().min(self.len);
        self.copy_out(self.head, &mut out[..n]);
        self.dequeue_allocated(n)
    }

    /// The queued bytes as (up to) two contiguous slices, in order.
    pub(crate) fn as_slices(&self) -> (&[u8], &[u8]) {
        if self.len == 0 {
            return (&[], &[]);
        }
        let first = self.len.min(self.capacity - self.head);
        let (a, b) = (
            &self.storage[self.head..self.head + first],
            &self.storage[..self.len - first],
        );
        (a, b)
    }

    /// Drop up to `n` bytes from the head; returns the number dropped.
    pub(crate) fn dequeue_allocated(&mut self, n: usize) -> usize {
        let n = n.min(self.len);
        if n > 0 {
            // The head keeps its place even when the queue empties: out-of-order bytes may sit
            // in the unallocated part, at positions relative to the tail.
            self.head = (self.head + n) % self.capacity;
            self.len -= n;
        }
        n
    }

    /// Append `len` queued bytes starting `offset` bytes after the head to `out`, without
    /// removing them; returns the number appended (fewer at the end of the queue).
    pub(crate) fn append_allocated(&self, offset: usize, len: usize, out: &mut Vec<u8>) -> usize {
        if offset >= self.len {
            return 0;
        }
        let n = len.min(self.len - offset);
        if n == 0 {
            return 0;
        }
        let at = (self.head + offset) % self.capacity;
        let first = n.min(self.capacity - at);
        out.extend_from_slice(&self.storage[at..at + first]);
        out.extend_from_slice(&self.storage[..n - first]);
        n
    }

    /// Write `data` into the unallocated part, `offset` bytes after the tail, clipped to the
    /// free space; returns the number of bytes written. They become queued bytes only through
    /// [`enqueue_unallocated`](Self::enqueue_unallocated).
    pub(crate) fn write_unallocated(&mut self, offset: usize, data: &[u8]) -> usize {
        let room = self.window().saturating_sub(offset);
        let n = data.len().min(room);
        self.copy_in(self.head + self.len + offset, &data[..n]);
        n
    }

    /// Turn up to `n` bytes of the unallocated part into queued bytes; returns the number.
    pub(crate) fn enqueue_unallocated(&mut self, n: usize) -> usize {
        let n = n.min(self.window());
        self.len += n;
        n
    }

    /// Change the capacity, keeping the queued bytes. Refused (returns false) if `capacity`
    /// is zero or smaller than what is queued.
    pub(crate) fn set_capacity(&mut self, capacity: usize) -> bool {
        if capacity == 0 || capacity < self.len {
            return false;
        }
        if self.storage.is_empty() {
            self.capacity = capacity;
            return true;
        }
        let mut storage = vec![0; capacity];
        self.copy_out(self.head, &mut storage[..self.len]);
        self.storage = storage;
        self.capacity = capacity;
        self.head = 0;
        true
    }

    /// Drop every queued byte (the storage is kept).
    pub(crate) fn clear(&mut self) {
        self.head = 0;
        self.len = 0;
    }
}

/// Out-of-order bookkeeping for the receive queue: which byte ranges beyond the contiguous
/// data have arrived.
///
/// Ranges are offsets relative to the first byte not yet received in order (RCV.NXT), kept
/// sorted, disjoint and non-adjacent. At most [`MAX_RANGES`](Self::MAX_RANGES) are tracked; a
/// segment that would need more is refused (the peer retransmits it), so memory is bounded
/// whatever arrives.
#[derive(Debug, Clone, Default)]
pub(crate) struct Assembler {
    ranges: [(u32, u32); Self::MAX_RANGES],
    count: usize,
}

/// The assembler is full: a segment would create one range too many.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TooManyRanges;

impl Assembler {
    /// The maximum number of disjoint out-of-order ranges.
    pub(crate) const MAX_RANGES: usize = 32;

    /// No out-of-order data.
    pub(crate) fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The tracked ranges `(start, end)` as offsets from RCV.NXT, in order.
    pub(crate) fn ranges(&self) -> &[(u32, u32)] {
        &self.ranges[..self.count]
    }

    /// Forget everything.
    pub(crate) fn clear(&mut self) {
        self.count = 0;
    }

    /// Record that bytes `[offset, offset + len)` arrived. Adjacent and overlapping ranges
    /// merge. Fails, changing nothing, only if the bytes need a new range and none is free.
    pub(crate) fn add(&mut self, offset: u32, len: u32) -> Result<(), TooManyRanges> {
        if len == 0 {
            return Ok(());
        }
        let (start, end) = (offset, offset.saturating_add(len));
        // First range that ends at or after `start` (it may touch or overlap).
        let first = self.ranges().partition_point(|&(_, e)| e < start);
        // One past the last range that starts at or before `end`.
        let last = self.ranges().partition_point(|&(s, _)| s <= end);
        if first == last {
            // No overlap: insert a new range at `first`.
            if self.count == Self::MAX_RANGES {
                return Err(TooManyRanges);
            }
            self.ranges.copy_within(first..self.count, first + 1);
            self.ranges[first] = (start, end);
            self.count += 1;
        } else {
            // Merge ranges first..last into one.
            let merged = (
                start.min(self.ranges[first].0),
                end.max(self.ranges[last - 1].1),
            );
            self.ranges[first] = merged;
            self.ranges.copy_within(last..self.count, first + 1);
            self.count -= last - first - 1;
        }
        Ok(())
    }

    /// If data at offset 0 is present, remove its range and return its length (the number of
    /// bytes now contiguous), shifting the other ranges down by it. Otherwise return 0.
    pub(crate) fn take_front(&mut self) -> u32 {
        match self.ranges().first() {
            Some(&(0, end)) => {
                self.ranges.copy_within(1..self.count, 0);
                self.count -= 1;
                self.shift(end);
                end
            }
            _ => 0,
        }
    }

    /// Shift every range down by `n` bytes (RCV.NXT advanced by `n`), dropping what falls
    /// below zero.
    pub(crate) fn shift(&mut self, n: u32) {
        if n == 0 {
            return;
        }
        let mut kept = 0;
        for i in 0..self.count {
            let (s, e) = self.ranges[i];
            if e > n {
                self.ranges[kept] = (s.saturating_sub(n), e - n);
                kept += 1;
            }
        }
        self.count = kept;
    }

    /// The range containing offset `at`, if any.
    pub(crate) fn range_containing(&self, at: u32) -> Option<(u32, u32)> {
        self.ranges()
            .iter()
            .copied()
            .find(|&(s, e)| s <= at && at < e)
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn ring_wraps_around() {
        let mut ring = RingBuffer::new(8);
        assert_eq!(ring.enqueue_slice(b"abcdef"), 6);
        let mut out = [0; 4];
        assert_eq!(ring.dequeue_slice(&mut out), 4);
        assert_eq!(&out, b"abcd");
        // Wraps: head at 4, two queued, six free.
        assert_eq!(ring.enqueue_slice(b"ghijklmn"), 6);
        assert_eq!(ring.len(), 8);
        assert_eq!(ring.window(), 0);
        let mut all = Vec::new();
        assert_eq!(ring.append_allocated(0, 8, &mut all), 8);
        assert_eq!(&all, b"efghijkl");
        all.clear();
        assert_eq!(ring.append_allocated(6, 8, &mut all), 2);
        assert_eq!(&all, b"kl");
        assert_eq!(ring.append_allocated(8, 8, &mut all), 0);
        assert_eq!(ring.append_allocated(1, 2, &mut all), 2);
        assert_eq!(&all, b"klfg");
        let (a, b) = ring.as_slices();
        assert_eq!((a, b), (&b"efgh"[..], &b"ijkl"[..]));
        assert_eq!(ring.dequeue_allocated(100), 8);
        assert!(ring.is_empty());
        assert_eq!(ring.as_slices(), (&[][..], &[][..]));
    }

    #[test]
    fn ring_unallocated_writes() {
        let mut ring = RingBuffer::new(10);
        ring.enqueue_slice(b"xx");
        ring.dequeue_allocated(2);
        // Out-of-order bytes at offset 3, then the gap.
        assert_eq!(ring.write_unallocated(3, b"defgh"), 5);
        assert_eq!(ring.write_unallocated(0, b"abc"), 3);
        assert_eq!(ring.enqueue_unallocated(8), 8);
        let mut out = [0; 8];
        ring.dequeue_slice(&mut out);
        assert_eq!(&out, b"abcdefgh");
        // Writes past the free space are clipped.
        assert_eq!(ring.write_unallocated(8, b"zzzz"), 2);
        assert_eq!(ring.write_unallocated(20, b"zzzz"), 0);
    }

    #[test]
    fn ring_capacity_changes_keep_data() {
        let mut ring = RingBuffer::new(4);
        ring.enqueue_slice(b"abc");
        let mut out = [0; 2];
        ring.dequeue_slice(&mut out);
        ring.enqueue_slice(b"de");
        assert!(!ring.set_capacity(2));
        assert!(ring.set_capacity(16));
        assert_eq!(ring.enqueue_slice(b"fgh"), 3);
        let mut all = [0; 6];
        assert_eq!(ring.dequeue_slice(&mut all), 6);
        assert_eq!(&all, b"cdefgh");
        assert!(!ring.set_capacity(0));
    }

    #[test]
    fn assembler_merges_and_takes_front() {
        let mut asm = Assembler::default();
        asm.add(10, 5).unwrap();
        asm.add(20, 5).unwrap();
        assert_eq!(asm.ranges(), &[(10, 15), (20, 25)]);
        // Adjacent on both sides: one range.
        asm.add(15, 5).unwrap();
        assert_eq!(asm.ranges(), &[(10, 25)]);
        assert_eq!(asm.take_front(), 0);
        asm.add(0, 12).unwrap();
        assert_eq!(asm.take_front(), 25);
        assert!(asm.is_empty());
        asm.add(5, 1).unwrap();
        asm.add(0, 0).unwrap();
        assert_eq!(asm.ranges(), &[(5, 6)]);
        asm.shift(5);
        assert_eq!(asm.ranges(), &[(0, 1)]);
        asm.shift(3);
        assert!(asm.is_empty());
    }

    #[test]
    fn assembler_is_bounded() {
        let mut asm = Assembler::default();
        for i in 0..Assembler::MAX_RANGES as u32 {
            asm.add(i * 10 + 1, 1).unwrap();
        }
        assert_eq!(asm.add(1000, 1), Err(TooManyRanges));
        // Data that merges into an existing range is still accepted.
        asm.add(2, 3).unwrap();
        // Covering everything collapses to one range.
        asm.add(0, 2000).unwrap();
        assert_eq!(asm.ranges(), &[(0, 2000)]);
        assert_eq!(asm.range_containing(1999), Some((0, 2000)));
        assert_eq!(asm.range_containing(2000), None);
    }
}
