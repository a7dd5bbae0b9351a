//! A budget of bytes for the text fields of uploads, shared by every upload that uses it.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// The bytes of text fields that uploads may hold at once, all together.
///
/// Every upload parsed with the same budget (the services of one [`ParseUploadLayer`],
/// and their clones) reserves each field's bytes before holding them; a field that would go
/// beyond the budget fails the upload with [`UploadError::FormMemoryBusy`] at once, so many
/// concurrent uploads cannot grow memory past it. A reservation is given back when the
/// [`Form`] holding its fields is dropped.
///
/// [`ParseUploadLayer`]: crate::ParseUploadLayer
/// [`UploadError::FormMemoryBusy`]: crate::UploadError::FormMemoryBusy
/// [`Form`]: crate::Form
#[derive(Clone)]
pub struct FormMemory {
    held: Arc<AtomicUsize>,
    limit: usize,
}

impl FormMemory {
    /// A budget of `limit` bytes.
    pub fn new(limit: usize) -> Self {
        FormMemory {
            held: Arc::default(),
            limit,
        }
    }

    /// The budget's size in bytes.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// The bytes reserved now, by all uploads together.
    pub fn held(&self) -> usize {
        self.held.load(Ordering::Acquire)
    }

    /// An empty reservation against this budget.
    pub(crate) fn reservation(&self) -> Reservation {
        Reservation(Arc::new(Reserved {
            memory: self.clone(),
            bytes: AtomicUsize::new(0),
        }))
    }
}

impl Default for FormMemory {
    /// 64 MiB.
    fn default() -> Self {
        FormMemory::new(64 * 1024 * 1024)
    }
}

impl fmt::Debug for FormMemory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FormMemory")
            .field("held", &self.held())
            .field("limit", &self.limit)
            .finish()
    }
}

/// The bytes one upload's form holds, given back to the budget when the last clone of the
/// form is dropped.
#[derive(Clone, Debug)]
pub(crate) struct Reservation(Arc<Reserved>);

#[derive(Debug)]
struct Reserved {
    memory: FormMemory,
    bytes: AtomicUsize,
}

impl Reservation {
    /// Reserves `bytes` more; `false` (and nothing reserved) when the budget has no room.
    pub(crate) fn grow(&self, bytes: usize) -> bool {
        let held = &self.0.memory.held;
        let limit = self.0.memory.limit;
        let reserved = held.fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
            held.checked_add(bytes).filter(|&total| total <= limit)
        });
        if reserved.is_ok() {
            self.0.bytes.fetch_add(bytes, Ordering::AcqRel);
        }
        reserved.is_ok()
    }
}

impl Drop for Reserved {
    fn drop(&mut self) {
        let bytes = *self.bytes.get_mut();
        self.memory.held.fetch_sub(bytes, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_share_the_budget_and_give_it_back_when_dropped() {
        let memory = FormMemory::new(10);
        let first = memory.reservation();
        let second = memory.reservation();
        assert!(first.grow(6));
        assert!(!second.grow(5), "6 + 5 is beyond 10");
        assert!(second.grow(4));
        assert_eq!(memory.held(), 10);
        let kept = first.clone();
        drop(first);
        assert_eq!(memory.held(), 10, "a clone still holds the bytes");
        drop(kept);
        assert_eq!(memory.held(), 4);
        drop(second);
        assert_eq!(memory.held(), 0);
    }
}
