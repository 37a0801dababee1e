//! The simulator's memory follows the organisation's size, not the number of days: a week of
//! a 3,000-staff, 100,000-patient hospital peaks at about the same heap as two days of it.
//! Measured with a counting allocator (its own test binary, so no other test allocates at the
//! same time), never by timing.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use ward_simulate::{SimConfig, simulate};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(live, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Peak heap bytes above what was live before the run.
fn peak_of(days: u32) -> usize {
    let dir = tempfile::tempdir().unwrap();
    // A low event rate keeps the files small; the organisation and census are full size.
    let config = SimConfig {
        days,
        staff: 3_000,
        patients: 100_000,
        rate: Some(0.5),
        ..SimConfig::default()
    };
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let summary = simulate(&config, dir.path()).unwrap();
    assert!(summary.events > days as u64 * 20_000, "{}", summary.events);
    PEAK.load(Ordering::Relaxed) - before
}

#[test]
fn peak_memory_of_a_week_is_that_of_two_days() {
    let two = peak_of(2);
    let seven = peak_of(7);
    eprintln!("peak heap: 2 days {two} bytes, 7 days {seven} bytes");
    assert!(
        seven < two + two / 4,
        "2 days: {two} bytes, 7 days: {seven} bytes"
    );
    assert!(seven < 200 << 20, "{seven} bytes");
}
