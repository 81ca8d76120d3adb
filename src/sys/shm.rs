//! A counter shared between a session and its transfer child: the child adds the bytes it
//! moves, the session reads it to answer STAT during a transfer. One anonymous shared page.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};

pub struct SharedCounter {
    ptr: *mut AtomicU64,
}

impl SharedCounter {
    pub fn new() -> io::Result<Self> {
        // SAFETY: an anonymous shared mapping with no address hint; checked for MAP_FAILED.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                4096,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ptr = p as *mut AtomicU64;
        // SAFETY: the page is fresh, writable, page-aligned and large enough for one u64.
        unsafe { ptr.write(AtomicU64::new(0)) };
        Ok(SharedCounter { ptr })
    }

    fn cell(&self) -> &AtomicU64 {
        // SAFETY: ptr points to the initialised AtomicU64 in our mapping, which lives as
        // long as self; atomics make concurrent access from the two processes sound.
        unsafe { &*self.ptr }
    }

    pub fn set(&self, v: u64) {
        self.cell().store(v, Ordering::Relaxed)
    }

    pub fn add(&self, v: u64) {
        self.cell().fetch_add(v, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.cell().load(Ordering::Relaxed)
    }
}

impl Drop for SharedCounter {
    fn drop(&mut self) {
        // SAFETY: unmapping the page we mapped in new(); no reference outlives self.
        unsafe {
            libc::munmap(self.ptr.cast(), 4096);
        }
    }
}

/// A block of u64 words shared between a process and the children it forks afterwards
/// (an anonymous shared mapping): a helper writes its results there, the parent reads them
/// once the helper has exited. Volatile accesses, since another process writes.
pub struct SharedWords {
    ptr: *mut u64,
    len: usize,
}

impl SharedWords {
    pub fn new(len: usize) -> io::Result<Self> {
        let bytes = (len.max(1) * 8).next_multiple_of(4096);
        // SAFETY: an anonymous shared mapping with no address hint; checked for MAP_FAILED.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                bytes,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(SharedWords {
            ptr: p as *mut u64,
            len,
        })
    }

    pub fn set(&self, i: usize, v: u64) {
        assert!(i < self.len);
        // SAFETY: i is in bounds of the mapping, which lives as long as self.
        unsafe { self.ptr.add(i).write_volatile(v) }
    }

    pub fn get(&self, i: usize) -> u64 {
        assert!(i < self.len);
        // SAFETY: as in set.
        unsafe { self.ptr.add(i).read_volatile() }
    }
}

impl Drop for SharedWords {
    fn drop(&mut self) {
        let bytes = (self.len.max(1) * 8).next_multiple_of(4096);
        // SAFETY: unmapping exactly the mapping made in new().
        unsafe {
            libc::munmap(self.ptr.cast(), bytes);
        }
    }
}
