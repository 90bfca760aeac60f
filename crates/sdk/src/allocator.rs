//! The contract's heap allocator (cargo feature `allocator`, on by default; wasm32 only).
//!
//! Rust's default wasm32 allocator starts its heap with `memory.grow` on the first allocation
//! of every call, even when the module's initial memory has free pages above the data. In a
//! pooled VM each grow costs the host page-protection changes (and TLB shootdowns) twice: when
//! the memory grows and when the slot is reset for the next call. This allocator first hands
//! out the bytes between the linker's `__heap_base` and the current end of memory, and grows
//! memory only when those are used up. `cambium-vm`'s toolchain links contracts with enough
//! initial memory that a typical call never grows.
//!
//! Layout of the heap, from `__heap_base` up:
//!
//! - **Small blocks** (size and alignment up to [`MAX_SMALL`]): power-of-two size classes from
//!   [`MIN_SMALL`] bytes, each with a LIFO free list threaded through the free blocks. A block
//!   of class `2^k` sits at an address that is a multiple of `2^k`, so it honours any alignment
//!   up to its size and can be split into two halves of the class below (used when a list is
//!   empty but a larger one is not, and to shrink in place).
//! - **Large blocks**: whole [`LARGE_UNIT`]s, aligned to at least a unit. Free large runs are
//!   kept in one list sorted by address, merged with their free neighbours, and served first
//!   fit; a large block grows in place into the top or a free run right after it, and shrinks
//!   in place. A free run that ends at the top of the heap is given back to the top.
//! - **The top**: bytes never handed out, from `top` to the end of memory. A request that no
//!   free list can serve is cut from it (a small one first from a unit of the lowest free large
//!   run, if there is one); when the top is too short, memory grows by whole pages.
//!
//! So the heap only grows when the blocks in use, rounded to their class or unit, do not fit in
//! what it has: a loop that allocates and frees runs in bounded memory.
//!
//! No block has a header: `GlobalAlloc` passes the layout to `dealloc` and `realloc`, and the
//! class or unit count follows from it. Everything is plain arithmetic over addresses (no
//! randomness, no clock), so every peer lays out a call's heap identically. A request that
//! cannot be met returns null, on which Rust's `handle_alloc_error` aborts the call with a trap,
//! the same on every peer.
//!
//! The logic is written over [`Memory`] so it runs in native unit tests on a buffer.

/// A WebAssembly page, the unit of `memory.grow`.
pub(crate) const PAGE: usize = 64 * 1024;
/// Log2 of [`MIN_SMALL`].
const MIN_SHIFT: u32 = 4;
/// Log2 of [`MAX_SMALL`].
const MAX_SMALL_SHIFT: u32 = 12;
/// The smallest block: room for a free-list link on a 64-bit host, and the alignment of every
/// block (enough for any Rust type on wasm32).
pub(crate) const MIN_SMALL: usize = 1 << MIN_SHIFT;
/// The largest small block; a request above it (in size or alignment) is a large block.
pub(crate) const MAX_SMALL: usize = 1 << MAX_SMALL_SHIFT;
/// Large blocks are whole units, at addresses that are multiples of a unit.
pub(crate) const LARGE_UNIT: usize = MAX_SMALL;
/// Number of small size classes (16 B … 4 KiB).
const CLASSES: usize = (MAX_SMALL_SHIFT - MIN_SHIFT + 1) as usize;
/// The empty-list marker. Address 0 is never part of the heap: on wasm32 the shadow stack
/// starts there, natively it is never a valid pointer.
const NIL: usize = 0;

/// Where the heap's memory comes from.
pub(crate) trait Memory {
    /// Adds `pages` pages of zeroed memory; returns the address where they start, or `None`
    /// if the memory cannot grow that much.
    fn grow(&mut self, pages: usize) -> Option<usize>;
}

/// The allocator's state over a memory `M`.
pub(crate) struct Heap<M> {
    memory: M,
    /// First byte never handed out (a multiple of [`MIN_SMALL`]).
    top: usize,
    /// End of the memory the heap may use.
    end: usize,
    /// Head of each small class's free list.
    small: [usize; CLASSES],
    /// Head of the free large runs, sorted by address; a run holds `[length, next]` at its start.
    large: usize,
}

/// The small class for a request, or `None` for a large block.
fn class_of(size: usize, align: usize) -> Option<usize> {
    let need = size.max(align).max(MIN_SMALL);
    if need > MAX_SMALL {
        return None;
    }
    Some((need.next_power_of_two().trailing_zeros() - MIN_SHIFT) as usize)
}

/// The block size of small class `class`.
const fn class_size(class: usize) -> usize {
    MIN_SMALL << class
}

/// `size` rounded up to whole large units.
fn large_len(size: usize) -> Option<usize> {
    align_up(size.max(1), LARGE_UNIT)
}

/// `addr` rounded up to a multiple of `align` (a power of two).
fn align_up(addr: usize, align: usize) -> Option<usize> {
    Some(addr.checked_add(align - 1)? & !(align - 1))
}

/// Reads the word at `addr`.
///
/// # Safety
/// `addr` is a free block of the heap, aligned for `usize`.
unsafe fn load(addr: usize) -> usize {
    (addr as *const usize).read()
}

/// Writes the word at `addr`.
///
/// # Safety
/// As for [`load`].
unsafe fn store(addr: usize, value: usize) {
    (addr as *mut usize).write(value)
}

impl<M: Memory> Heap<M> {
    /// A heap over `[start, end)`, the part of `memory` it may use before growing it.
    pub(crate) fn new(memory: M, start: usize, end: usize) -> Heap<M> {
        // Every block address is a multiple of the smallest class.
        let top = align_up(start, MIN_SMALL).unwrap_or(end);
        Heap {
            memory,
            top,
            end,
            small: [NIL; CLASSES],
            large: NIL,
        }
    }

    /// The end of the memory the heap uses (grows as the heap grows).
    #[cfg(test)]
    pub(crate) fn end(&self) -> usize {
        self.end
    }

    /// Allocates `size` bytes aligned to `align` (a power of two); `None` if memory is exhausted.
    ///
    /// # Safety
    /// The heap's memory is valid and owned by this heap.
    pub(crate) unsafe fn alloc(&mut self, size: usize, align: usize) -> Option<usize> {
        match class_of(size, align) {
            Some(class) => self.alloc_small(class),
            None => self.alloc_large(large_len(size)?, align.max(LARGE_UNIT)),
        }
    }

    /// Frees a block that [`Heap::alloc`] or [`Heap::realloc`] returned for this size and
    /// alignment.
    ///
    /// # Safety
    /// `addr` is a live block of this heap, allocated with exactly this `size` and `align`.
    pub(crate) unsafe fn dealloc(&mut self, addr: usize, size: usize, align: usize) {
        match class_of(size, align) {
            Some(class) => self.push_small(class, addr),
            None => {
                if let Some(len) = large_len(size) {
                    self.free_large(addr, len);
                }
            }
        }
    }

    /// Resizes the block at `addr` from `old_size` to `new_size` bytes (alignment `align`
    /// unchanged), in place when it can; otherwise moves it. `None` leaves the block as it was.
    ///
    /// # Safety
    /// As for [`Heap::dealloc`]; on `Some`, the old address is no longer valid unless returned.
    pub(crate) unsafe fn realloc(
        &mut self,
        addr: usize,
        old_size: usize,
        align: usize,
        new_size: usize,
    ) -> Option<usize> {
        match (class_of(old_size, align), class_of(new_size, align)) {
            (Some(old), Some(new)) if new <= old => {
                // Shrink by halving: the upper half of a naturally aligned block is a
                // naturally aligned block of the class below.
                let mut class = old;
                while class > new {
                    class -= 1;
                    self.push_small(class, addr + class_size(class));
                }
                return Some(addr);
            }
            (None, None) => {
                let old_len = large_len(old_size)?;
                let new_len = large_len(new_size)?;
                if new_len <= old_len {
                    if new_len < old_len {
                        self.free_large(addr + new_len, old_len - new_len);
                    }
                    return Some(addr);
                }
                if self.extend_large(addr + old_len, new_len - old_len) {
                    return Some(addr);
                }
            }
            _ => {}
        }
        let moved = self.alloc(new_size, align)?;
        core::ptr::copy_nonoverlapping(addr as *const u8, moved as *mut u8, old_size.min(new_size));
        self.dealloc(addr, old_size, align);
        Some(moved)
    }

    unsafe fn push_small(&mut self, class: usize, addr: usize) {
        store(addr, self.small[class]);
        self.small[class] = addr;
    }

    unsafe fn alloc_small(&mut self, class: usize) -> Option<usize> {
        if self.small[class] != NIL {
            let addr = self.small[class];
            self.small[class] = load(addr);
            return Some(addr);
        }
        // Split the smallest free larger block rather than cut fresh memory from the top.
        if let Some(bigger) = (class + 1..CLASSES).find(|&c| self.small[c] != NIL) {
            let addr = self.small[bigger];
            self.small[bigger] = load(addr);
            let mut c = bigger;
            while c > class {
                c -= 1;
                self.push_small(c, addr + class_size(c));
            }
            return Some(addr);
        }
        let size = class_size(class);
        if self.large != NIL {
            // Cut the block from the first unit of the lowest free large run (a unit is aligned
            // for every class) and free the rest of that unit as small blocks; the top is last.
            let run = self.large;
            let run_len = load(run);
            self.unlink(NIL, load(run + core::mem::size_of::<usize>()));
            if run_len > LARGE_UNIT {
                self.free_large(run + LARGE_UNIT, run_len - LARGE_UNIT);
            }
            self.release(run + size, run + LARGE_UNIT);
            return Some(run);
        }
        self.take_top(size, size)
    }

    unsafe fn alloc_large(&mut self, len: usize, align: usize) -> Option<usize> {
        // First fit in address order keeps the low heap dense and the top free.
        let mut prev = NIL;
        let mut run = self.large;
        while run != NIL {
            let run_len = load(run);
            let next = load(run + core::mem::size_of::<usize>());
            let start = align_up(run, align)?;
            if start.checked_add(len).map_or(false, |e| e <= run + run_len) {
                self.unlink(prev, next);
                // The pieces before and after are whole units; they go back as free runs.
                if start > run {
                    self.free_large(run, start - run);
                }
                if start + len < run + run_len {
                    self.free_large(start + len, run + run_len - start - len);
                }
                return Some(start);
            }
            prev = run;
            run = next;
        }
        self.take_top(len, align)
    }

    /// Removes the run after `prev` (the head if `prev` is [`NIL`]), whose successor is `next`.
    unsafe fn unlink(&mut self, prev: usize, next: usize) {
        if prev == NIL {
            self.large = next;
        } else {
            store(prev + core::mem::size_of::<usize>(), next);
        }
    }

    /// Returns the run `[addr, addr + len)` (whole units) to the free list, merged with free
    /// neighbours; a run that ends at the top lowers the top instead.
    unsafe fn free_large(&mut self, mut addr: usize, mut len: usize) {
        let word = core::mem::size_of::<usize>();
        // Find the neighbours: `prev` is the last run below `addr`, `before` the one ahead of it.
        let mut before = NIL;
        let mut prev = NIL;
        let mut next = self.large;
        while next != NIL && next < addr {
            before = prev;
            prev = next;
            next = load(next + word);
        }
        if next != NIL && addr + len == next {
            len += load(next);
            next = load(next + word);
        }
        if prev != NIL && prev + load(prev) == addr {
            addr = prev;
            len += load(prev);
            prev = before;
        }
        if addr + len == self.top {
            // Only the last run can end at the top, so nothing follows it.
            self.top = addr;
            self.unlink(prev, NIL);
            return;
        }
        store(addr, len);
        store(addr + word, next);
        if prev == NIL {
            self.large = addr;
        } else {
            store(prev + word, addr);
        }
    }

    /// Grows the large block ending at `end` by `extra` bytes (whole units) in place, from the
    /// top or from a free run right after it; `false` if neither has room.
    unsafe fn extend_large(&mut self, end: usize, extra: usize) -> bool {
        if end == self.top {
            return match self.take_top(extra, LARGE_UNIT) {
                Some(start) if start == end => true,
                Some(start) => {
                    // Memory grew somewhere else (another grower moved the end): not adjacent.
                    self.free_large(start, extra);
                    false
                }
                None => false,
            };
        }
        let word = core::mem::size_of::<usize>();
        let mut prev = NIL;
        let mut run = self.large;
        while run != NIL && run < end {
            prev = run;
            run = load(run + word);
        }
        if run != end || load(run) < extra {
            return false;
        }
        let run_len = load(run);
        let next = load(run + word);
        self.unlink(prev, next);
        if run_len > extra {
            self.free_large(run + extra, run_len - extra);
        }
        true
    }

    /// Cuts `size` bytes aligned to `align` from the top, growing memory if needed; the bytes
    /// skipped for alignment become free blocks.
    unsafe fn take_top(&mut self, size: usize, align: usize) -> Option<usize> {
        loop {
            let start = align_up(self.top, align)?;
            let end = start.checked_add(size)?;
            if end <= self.end {
                self.release(self.top, start);
                self.top = end;
                return Some(start);
            }
            let pages = align_up(end - self.end, PAGE)? / PAGE;
            let at = self.memory.grow(pages)?;
            if at != self.end {
                // Someone else grew the memory since our last look: what is left of our top is
                // cut off from the new pages, so free it and continue from the new pages.
                self.release(self.top, self.end);
                self.top = at;
            }
            // Unreachable under wasm32's 4 GiB and the VM's limits, but never wrap around.
            self.end = at.checked_add(pages * PAGE)?;
        }
    }

    /// Frees the never-used bytes `[start, end)`: whole aligned units as a large run, the rest
    /// as the largest naturally aligned small blocks that fit.
    unsafe fn release(&mut self, start: usize, end: usize) {
        let mut addr = start;
        while addr + MIN_SMALL <= end {
            if addr % LARGE_UNIT == 0 && end - addr >= LARGE_UNIT {
                let len = (end - addr) / LARGE_UNIT * LARGE_UNIT;
                self.free_large(addr, len);
                addr += len;
                continue;
            }
            let mut class = CLASSES - 1;
            while addr % class_size(class) != 0 || addr + class_size(class) > end {
                class -= 1;
            }
            self.push_small(class, addr);
            addr += class_size(class);
        }
    }
}

/// The global allocator of a contract module.
#[cfg(all(target_arch = "wasm32", feature = "allocator"))]
mod wasm {
    use core::alloc::{GlobalAlloc, Layout};
    use core::arch::wasm32;
    use core::cell::UnsafeCell;

    use super::{Heap, Memory, PAGE};

    #[cfg(target_feature = "atomics")]
    compile_error!(
        "cambium-sdk's allocator is single-threaded and this build enables wasm threads; \
         turn off the SDK's `allocator` feature and bring an allocator that supports threads"
    );

    extern "C" {
        /// Set by the linker: the first byte after the data segment and the stack.
        static __heap_base: u8;
    }

    /// Memory 0 of the module.
    struct LinearMemory;

    impl Memory for LinearMemory {
        fn grow(&mut self, pages: usize) -> Option<usize> {
            let before = wasm32::memory_grow(0, pages);
            if before == usize::MAX {
                None
            } else {
                Some(before * PAGE)
            }
        }
    }

    /// The heap, set up on the first allocation (the linker's symbols are not constants).
    struct ContractAllocator {
        heap: UnsafeCell<Option<Heap<LinearMemory>>>,
    }

    // SAFETY: wasm32 without the `atomics` feature (refused above) runs one thread, and the
    // allocator never calls itself, so at most one `&mut` to the heap exists at a time.
    unsafe impl Sync for ContractAllocator {}

    impl ContractAllocator {
        #[allow(clippy::mut_from_ref)]
        unsafe fn heap(&self) -> &mut Heap<LinearMemory> {
            (*self.heap.get()).get_or_insert_with(|| {
                let start = core::ptr::addr_of!(__heap_base) as usize;
                let end = wasm32::memory_size(0) * PAGE;
                Heap::new(LinearMemory, start, end)
            })
        }
    }

    unsafe impl GlobalAlloc for ContractAllocator {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            self.heap()
                .alloc(layout.size(), layout.align())
                .map_or(core::ptr::null_mut(), |a| a as *mut u8)
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            self.heap()
                .dealloc(ptr as usize, layout.size(), layout.align())
        }

        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            self.heap()
                .realloc(ptr as usize, layout.size(), layout.align(), new_size)
                .map_or(core::ptr::null_mut(), |a| a as *mut u8)
        }
    }

    #[global_allocator]
    static ALLOCATOR: ContractAllocator = ContractAllocator {
        heap: UnsafeCell::new(None),
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// A buffer of `capacity` bytes (page-aligned) of which the first `size` are "memory".
    struct Buffer {
        base: *mut u8,
        capacity: usize,
        size: usize,
        grows: usize,
        /// Pages some other code grows before our next grow (to test a moved end).
        foreign_pages: usize,
    }

    impl Buffer {
        fn new(pages: usize, capacity_pages: usize) -> Buffer {
            let layout = std::alloc::Layout::from_size_align(capacity_pages * PAGE, PAGE).unwrap();
            // SAFETY: the layout has a non-zero size.
            let base = unsafe { std::alloc::alloc_zeroed(layout) };
            assert!(!base.is_null());
            Buffer {
                base,
                capacity: capacity_pages * PAGE,
                size: pages * PAGE,
                grows: 0,
                foreign_pages: 0,
            }
        }
    }

    impl Drop for Buffer {
        fn drop(&mut self) {
            let layout = std::alloc::Layout::from_size_align(self.capacity, PAGE).unwrap();
            // SAFETY: allocated in `new` with this layout.
            unsafe { std::alloc::dealloc(self.base, layout) }
        }
    }

    impl Memory for Buffer {
        fn grow(&mut self, pages: usize) -> Option<usize> {
            let at = self.size + std::mem::take(&mut self.foreign_pages) * PAGE;
            let end = pages.checked_mul(PAGE)?.checked_add(at)?;
            if end > self.capacity {
                return None;
            }
            self.grows += 1;
            self.size = end;
            Some(self.base as usize + at)
        }
    }

    /// A heap over a buffer, with a shadow of the live blocks that checks every answer.
    struct Checked {
        heap: Heap<Buffer>,
        start: usize,
        /// Live blocks: start → (size, align, fill byte).
        live: BTreeMap<usize, (usize, usize, u8)>,
        next_fill: u8,
    }

    impl Checked {
        /// A heap that starts `offset` bytes into a memory of `pages` pages that can grow to
        /// `capacity_pages`.
        fn new(offset: usize, pages: usize, capacity_pages: usize) -> Checked {
            let memory = Buffer::new(pages, capacity_pages);
            let base = memory.base as usize;
            Checked {
                heap: Heap::new(memory, base + offset, base + pages * PAGE),
                start: base + offset,
                live: BTreeMap::new(),
                next_fill: 1,
            }
        }

        fn memory(&self) -> &Buffer {
            &self.heap.memory
        }

        /// Heap bytes in use from the start of the heap to its end.
        fn footprint(&self) -> usize {
            self.heap.end() - self.start
        }

        fn check_block(&self, addr: usize, size: usize, align: usize) {
            assert_eq!(addr % align, 0, "{addr:#x} is not aligned to {align}");
            assert!(addr >= self.start, "{addr:#x} is below the heap");
            assert!(
                addr + size <= self.heap.end(),
                "{addr:#x}+{size} is past the heap"
            );
            if let Some((&before, &(len, _, _))) = self.live.range(..=addr).next_back() {
                assert!(
                    before + len <= addr,
                    "{addr:#x} overlaps the block at {before:#x}"
                );
            }
            if let Some((&after, _)) = self.live.range(addr..).next() {
                assert!(addr + size <= after, "{addr:#x}+{size} overlaps {after:#x}");
            }
        }

        fn fill(&mut self, addr: usize, size: usize, align: usize) {
            let fill = self.next_fill;
            self.next_fill = self.next_fill.wrapping_add(1).max(1);
            // SAFETY: the block was just checked to lie inside the buffer.
            unsafe { std::ptr::write_bytes(addr as *mut u8, fill, size) };
            self.live.insert(addr, (size, align, fill));
        }

        fn verify(&self, addr: usize) {
            let (size, _, fill) = self.live[&addr];
            // SAFETY: a live block inside the buffer.
            let bytes = unsafe { std::slice::from_raw_parts(addr as *const u8, size) };
            assert!(
                bytes.iter().all(|&b| b == fill),
                "the block at {addr:#x} was overwritten"
            );
        }

        fn alloc(&mut self, size: usize, align: usize) -> Option<usize> {
            // SAFETY: the heap owns its buffer.
            let addr = unsafe { self.heap.alloc(size, align) }?;
            self.check_block(addr, size, align);
            self.fill(addr, size, align);
            Some(addr)
        }

        fn free(&mut self, addr: usize) {
            self.verify(addr);
            let (size, align, _) = self.live.remove(&addr).unwrap();
            // SAFETY: a live block with its own layout.
            unsafe { self.heap.dealloc(addr, size, align) };
        }

        fn realloc(&mut self, addr: usize, new_size: usize) -> Option<usize> {
            self.verify(addr);
            let (size, align, fill) = self.live[&addr];
            // SAFETY: a live block with its own layout.
            let moved = unsafe { self.heap.realloc(addr, size, align, new_size) }?;
            self.live.remove(&addr);
            self.check_block(moved, new_size, align);
            // SAFETY: the block was just checked to lie inside the buffer.
            let kept =
                unsafe { std::slice::from_raw_parts(moved as *const u8, size.min(new_size)) };
            assert!(kept.iter().all(|&b| b == fill), "realloc lost the contents");
            self.fill(moved, new_size, align);
            Some(moved)
        }

        fn free_all(&mut self) {
            let live: Vec<usize> = self.live.keys().copied().collect();
            for addr in live {
                self.free(addr);
            }
        }
    }

    /// A deterministic pseudo-random sequence (a 64-bit LCG) for the stress tests.
    struct Lcg(u64);

    impl Lcg {
        fn below(&mut self, n: usize) -> usize {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((self.0 >> 33) % n as u64) as usize
        }
    }

    #[test]
    fn serves_the_pages_already_there_before_growing() {
        // 5 pages, the heap starting at 1.5 pages in: 3.5 pages free before any grow.
        let mut h = Checked::new(PAGE + PAGE / 2, 5, 64);
        let first = h.alloc(100, 8).unwrap();
        assert_eq!(first, h.start, "the first block starts at the heap base");
        let mut total = 0;
        while total + 1000 <= 3 * PAGE {
            h.alloc(1000, 4).unwrap();
            total += 1024;
        }
        assert_eq!(
            h.memory().grows,
            0,
            "nothing grew while the initial pages lasted"
        );
        while h.memory().grows == 0 {
            h.alloc(1000, 4).unwrap();
        }
        assert_eq!(h.memory().size, 6 * PAGE, "memory grows one page at a time");
        h.free_all();
    }

    #[test]
    fn every_block_honours_its_alignment() {
        let mut h = Checked::new(48, 1, 1024);
        let mut addrs = Vec::new();
        for shift in 0..=16 {
            let align = 1usize << shift;
            for size in [1, 3, align / 2 + 1, align, align + 5, 3 * align, 5000] {
                addrs.push(h.alloc(size, align).unwrap());
            }
        }
        // Freed blocks come back with their alignment honoured too.
        for addr in addrs.drain(..).step_by(2) {
            h.free(addr);
        }
        for shift in (0..=16).rev() {
            h.alloc(700, 1 << shift).unwrap();
        }
        h.free_all();
    }

    #[test]
    fn freed_blocks_are_reused() {
        let mut h = Checked::new(0, 4, 4);
        for size in [1, 16, 17, 100, 4096, 4097, 20_000, 70_000] {
            let a = h.alloc(size, 1).unwrap();
            let end = h.heap.end();
            h.free(a);
            assert_eq!(h.alloc(size, 1), Some(a), "size {size}");
            assert_eq!(h.heap.end(), end, "size {size}");
            h.free(a);
        }
        h.free_all();

        // A freed large block at the top goes back to the top and serves small requests.
        let mut h = Checked::new(0, 4, 4);
        let big = h.alloc(100_000, 8).unwrap();
        h.free(big);
        assert_eq!(h.alloc(24, 8), Some(big));
        h.free_all();

        // A bigger free small block is split for a smaller request.
        let mut h = Checked::new(0, 4, 4);
        let a = h.alloc(1024, 8).unwrap();
        let _guard = h.alloc(1024, 8).unwrap();
        h.free(a);
        assert_eq!(h.alloc(100, 8), Some(a));
        assert_eq!(h.alloc(100, 8), Some(a + 128));
        h.free_all();

        // A free large run below live blocks serves small requests before the top does.
        let mut h = Checked::new(0, 4, 4);
        let big = h.alloc(3 * LARGE_UNIT, 8).unwrap();
        let _guard = h.alloc(64, 8).unwrap();
        h.free(big);
        assert_eq!(h.alloc(200, 8), Some(big));
        assert_eq!(h.alloc(2 * LARGE_UNIT, 8), Some(big + LARGE_UNIT));
        h.free_all();
    }

    #[test]
    fn free_large_runs_merge_and_are_served_first_fit() {
        let mut h = Checked::new(0, 16, 16);
        let blocks: Vec<usize> = (0..6)
            .map(|_| h.alloc(3 * LARGE_UNIT, 8).unwrap())
            .collect();
        let _guard = h.alloc(100, 8).unwrap();
        // Free two neighbours in the middle, out of order: they merge into one run.
        h.free(blocks[3]);
        h.free(blocks[2]);
        h.free(blocks[4]);
        assert_eq!(h.alloc(9 * LARGE_UNIT, 8), Some(blocks[2]));
        h.free(blocks[2]);
        // A smaller request takes the front of the first run that fits.
        h.free(blocks[0]);
        assert_eq!(h.alloc(2 * LARGE_UNIT, 8), Some(blocks[0]));
        assert_eq!(h.alloc(LARGE_UNIT + 1, 8), Some(blocks[2]));
        h.free_all();
    }

    #[test]
    fn realloc_keeps_contents_and_works_in_place_where_it_can() {
        let mut h = Checked::new(0, 16, 64);
        // Within a small class, and shrinking a small block: same address.
        let a = h.alloc(20, 4).unwrap();
        assert_eq!(h.realloc(a, 30), Some(a));
        let b = h.alloc(1000, 8).unwrap();
        assert_eq!(h.realloc(b, 100), Some(b));
        // The halves given up by the shrink are free small blocks.
        assert_eq!(h.alloc(128, 8), Some(b + 128));
        // Growing past the class moves the block.
        let moved = h.realloc(a, 200).unwrap();
        assert_ne!(moved, a);
        // A large block at the top grows in place, across a memory grow.
        let big = h.alloc(10_000, 8).unwrap();
        assert_eq!(h.realloc(big, 40 * PAGE), Some(big));
        assert!(h.memory().grows > 0);
        // A large block grows into the free run after it.
        let c = h.alloc(2 * LARGE_UNIT, 8).unwrap();
        let d = h.alloc(5 * LARGE_UNIT, 8).unwrap();
        let _guard = h.alloc(LARGE_UNIT, 8).unwrap();
        h.free(d);
        assert_eq!(h.realloc(c, 4 * LARGE_UNIT), Some(c));
        assert_eq!(h.alloc(3 * LARGE_UNIT, 8), Some(c + 4 * LARGE_UNIT));
        // Shrinking a large block frees its tail.
        assert_eq!(h.realloc(big, 20_000), Some(big));
        let tail = h.alloc(LARGE_UNIT * 3, 8).unwrap();
        assert_eq!(tail, big + 5 * LARGE_UNIT);
        // Large to small moves into a small class (freeing uses the small layout then).
        let small = h.realloc(c, 64).unwrap();
        h.free(small);
        h.free_all();
    }

    #[test]
    fn an_allocation_that_cannot_be_met_returns_none_and_the_heap_still_works() {
        let mut h = Checked::new(100, 2, 4);
        assert_eq!(h.alloc(5 * PAGE, 8), None);
        assert_eq!(h.alloc(usize::MAX - 10, 8), None);
        assert_eq!(h.alloc(100, 1 << 40), None);
        let a = h.alloc(PAGE, 8).unwrap();
        assert_eq!(h.realloc(a, 4 * PAGE), None, "no room to grow");
        h.verify(a);
        assert_eq!(h.realloc(a, usize::MAX), None);
        let b = h.alloc(100, 8).unwrap();
        // Fill what is left, then one more fails.
        while h.alloc(LARGE_UNIT, 8).is_some() {}
        while h.alloc(16, 8).is_some() {}
        assert_eq!(h.alloc(16, 8), None);
        h.free(b);
        assert_eq!(
            h.alloc(16, 8),
            Some(b),
            "a freed block serves again after exhaustion"
        );
        h.free_all();
    }

    #[test]
    fn a_memory_grown_by_someone_else_is_skipped_not_overwritten() {
        let mut h = Checked::new(0, 1, 16);
        h.heap.memory.foreign_pages = 1;
        let a = h.alloc(PAGE + 1, 8).unwrap();
        // The foreign page sits between the end of the first page and the new pages.
        assert_eq!(a, h.start + 2 * PAGE);
        // The abandoned rest of the first page still serves requests.
        assert_eq!(h.alloc(100, 8), Some(h.start));
        h.free_all();
    }

    #[test]
    fn alloc_and_free_loops_run_in_bounded_memory() {
        // A migration-like loop: each round allocates a few buffers of varied sizes, grows one,
        // and frees them all.
        let mut h = Checked::new(4096, 4, 256);
        let mut rng = Lcg(7);
        let mut after_warmup = 0;
        for round in 0..3_000 {
            let mut round_blocks = Vec::new();
            for _ in 0..8 {
                let max = if rng.below(8) == 0 { 40_000 } else { 600 };
                let size = 1 + rng.below(max);
                round_blocks.push(h.alloc(size, 1 << rng.below(4)).unwrap());
            }
            let grown = h.realloc(round_blocks[0], 1 + rng.below(30_000)).unwrap();
            round_blocks[0] = grown;
            for addr in round_blocks {
                h.free(addr);
            }
            if round == 300 {
                after_warmup = h.footprint();
            }
        }
        assert!(
            h.footprint() <= after_warmup,
            "the heap kept growing: {} bytes after warm-up, {} at the end",
            after_warmup,
            h.footprint()
        );
        assert!(h.footprint() <= 8 * PAGE, "footprint {}", h.footprint());
    }

    #[test]
    fn random_operations_never_overlap_or_lose_data() {
        let mut h = Checked::new(1234 & !15, 2, 512);
        let mut rng = Lcg(42);
        let mut live: Vec<usize> = Vec::new();
        let mut peak_live = 0usize;
        for _ in 0..20_000 {
            match rng.below(10) {
                0..=4 => {
                    let size = match rng.below(10) {
                        0 => 1 + rng.below(100_000),
                        1..=3 => 1 + rng.below(5_000),
                        _ => 1 + rng.below(200),
                    };
                    live.push(h.alloc(size, 1 << rng.below(7)).unwrap());
                }
                5..=7 if !live.is_empty() => {
                    let i = rng.below(live.len());
                    h.free(live.swap_remove(i));
                }
                8 | 9 if !live.is_empty() => {
                    let i = rng.below(live.len());
                    live[i] = h.realloc(live[i], 1 + rng.below(20_000)).unwrap();
                }
                _ => {}
            }
            let bytes: usize = h.live.values().map(|&(s, _, _)| s).sum();
            peak_live = peak_live.max(bytes);
        }
        for &addr in &live {
            h.verify(addr);
        }
        h.free_all();
        // Power-of-two classes and unit rounding at most double a block; fragmentation adds
        // some more, but nothing like an allocator that never reuses.
        assert!(
            h.footprint() < 4 * peak_live + 4 * PAGE,
            "footprint {} for a peak of {} live bytes",
            h.footprint(),
            peak_live
        );
    }

    #[test]
    fn size_classes_and_units() {
        assert_eq!(class_of(1, 1), Some(0));
        assert_eq!(class_of(16, 1), Some(0));
        assert_eq!(class_of(17, 1), Some(1));
        assert_eq!(class_of(8, 64), Some(2));
        assert_eq!(class_of(MAX_SMALL, 1), Some(CLASSES - 1));
        assert_eq!(class_of(MAX_SMALL + 1, 1), None);
        assert_eq!(class_of(1, MAX_SMALL * 2), None);
        assert_eq!(large_len(LARGE_UNIT + 1), Some(2 * LARGE_UNIT));
        assert_eq!(large_len(usize::MAX), None);
    }
}
