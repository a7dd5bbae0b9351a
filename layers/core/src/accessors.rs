//! The accessors every middleware service has, as tower-http's do.

/// Inside `impl<S> Service<S> { .. }` of a middleware whose wrapped service is its `inner`
/// field: `get_ref`, `get_mut` and `into_inner`, written once for every layer crate so that
/// they read and behave alike.
///
/// ```
/// pub struct Wrapper<S> {
///     inner: S,
/// }
///
/// impl<S> Wrapper<S> {
///     pyoci_core::inner_service_accessors!();
/// }
///
/// let mut wrapper = Wrapper { inner: 1 };
/// *wrapper.get_mut() += 1;
/// assert_eq!(*wrapper.get_ref(), 2);
/// assert_eq!(wrapper.into_inner(), 2);
/// ```
#[macro_export]
macro_rules! inner_service_accessors {
    () => {
        /// The wrapped service.
        pub fn get_ref(&self) -> &S {
            &self.inner
        }

        /// The wrapped service, mutably.
        pub fn get_mut(&mut self) -> &mut S {
            &mut self.inner
        }

        /// Takes the middleware apart, giving back the wrapped service.
        pub fn into_inner(self) -> S {
            self.inner
        }
    };
}
