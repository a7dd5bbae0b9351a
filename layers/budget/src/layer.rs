use tower::Layer;

use crate::{Budget, Budgets};

/// Applies [`Budget`]: every request waits for a permit of its class's budget.
///
/// See the [crate docs](crate).
#[derive(Clone, Debug)]
pub struct BudgetLayer {
    budgets: Budgets,
}

impl BudgetLayer {
    /// A layer sharing `budgets` (clones share the same permits).
    pub fn new(budgets: Budgets) -> Self {
        BudgetLayer { budgets }
    }
}

impl<S> Layer<S> for BudgetLayer {
    type Service = Budget<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Budget::new(inner, self.budgets.clone())
    }
}
