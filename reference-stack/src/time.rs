//! The stack's own monotonic clock types: [`Instant`] and [`Duration`], in microseconds.
//!
//! The stack never reads a clock. Every entry point takes `now: Instant`; the driver decides
//! what time is (the wall clock for the AF_PACKET driver, a virtual clock in tests), which makes
//! every run deterministic and lets timer tests run in virtual time.
//!
//! Arithmetic saturates instead of wrapping or panicking: `Instant - Instant` is zero when the
//! right side is later, `Instant + Duration` stops at [`Instant::MAX`].

use core::{fmt, ops};

/// A point in time: microseconds since an arbitrary origin ([`Instant::ZERO`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant {
    micros: u64,
}

impl Instant {
    /// The origin.
    pub const ZERO: Self = Self { micros: 0 };
    /// The latest representable instant ("never").
    pub const MAX: Self = Self { micros: u64::MAX };

    /// An instant `micros` microseconds after the origin.
    pub const fn from_micros(micros: u64) -> Self {
        Self { micros }
    }

    /// An instant `millis` milliseconds after the origin (saturating).
    pub const fn from_millis(millis: u64) -> Self {
        Self::from_micros(millis.saturating_mul(1000))
    }

    /// An instant `secs` seconds after the origin (saturating).
    pub const fn from_secs(secs: u64) -> Self {
        Self::from_micros(secs.saturating_mul(1_000_000))
    }

    /// Microseconds since the origin.
    pub const fn total_micros(self) -> u64 {
        self.micros
    }

    /// Whole milliseconds since the origin.
    pub const fn total_millis(self) -> u64 {
        self.micros / 1000
    }

    /// The time elapsed since `earlier` (zero if `earlier` is later).
    pub const fn saturating_duration_since(self, earlier: Self) -> Duration {
        Duration::from_micros(self.micros.saturating_sub(earlier.micros))
    }
}

impl ops::Add<Duration> for Instant {
    type Output = Self;

    fn add(self, rhs: Duration) -> Self {
        Self::from_micros(self.micros.saturating_add(rhs.micros))
    }
}

impl ops::AddAssign<Duration> for Instant {
    fn add_assign(&mut self, rhs: Duration) {
        *self = *self + rhs;
    }
}

impl ops::Sub<Duration> for Instant {
    type Output = Self;

    fn sub(self, rhs: Duration) -> Self {
        Self::from_micros(self.micros.saturating_sub(rhs.micros))
    }
}

impl ops::Sub for Instant {
    type Output = Duration;

    /// The time from `rhs` to `self`, zero if `rhs` is later.
    fn sub(self, rhs: Self) -> Duration {
        self.saturating_duration_since(rhs)
    }
}

impl fmt::Display for Instant {
    /// Seconds with microsecond precision: `12.000345s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{:06}s",
            self.micros / 1_000_000,
            self.micros % 1_000_000
        )
    }
}

/// A span of time in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Duration {
    micros: u64,
}

impl Duration {
    /// No time.
    pub const ZERO: Self = Self { micros: 0 };
    /// The longest representable duration.
    pub const MAX: Self = Self { micros: u64::MAX };

    /// A duration of `micros` microseconds.
    pub const fn from_micros(micros: u64) -> Self {
        Self { micros }
    }

    /// A duration of `millis` milliseconds (saturating).
    pub const fn from_millis(millis: u64) -> Self {
        Self::from_micros(millis.saturating_mul(1000))
    }

    /// A duration of `secs` seconds (saturating).
    pub const fn from_secs(secs: u64) -> Self {
        Self::from_micros(secs.saturating_mul(1_000_000))
    }

    /// The duration in microseconds.
    pub const fn total_micros(self) -> u64 {
        self.micros
    }

    /// The duration in whole milliseconds.
    pub const fn total_millis(self) -> u64 {
        self.micros / 1000
    }

    /// The duration in whole seconds.
    pub const fn total_secs(self) -> u64 {
        self.micros / 1_000_000
    }

    /// True for a zero duration.
    pub const fn is_zero(self) -> bool {
        self.micros == 0
    }

    /// `self * factor`, saturating.
    pub const fn saturating_mul(self, factor: u64) -> Self {
        Self::from_micros(self.micros.saturating_mul(factor))
    }
}

impl ops::Add for Duration {
    type Output = Self;

    fn add(self, rhs: Self) -> Self {
        Self::from_micros(self.micros.saturating_add(rhs.micros))
    }
}

impl ops::AddAssign for Duration {
    fn add_assign(&mut self, rhs: Self) {
        *self = *self + rhs;
    }
}

impl ops::Sub for Duration {
    type Output = Self;

    /// Saturates at zero.
    fn sub(self, rhs: Self) -> Self {
        Self::from_micros(self.micros.saturating_sub(rhs.micros))
    }
}

impl ops::SubAssign for Duration {
    fn sub_assign(&mut self, rhs: Self) {
        *self = *self - rhs;
    }
}

impl ops::Mul<u32> for Duration {
    type Output = Self;

    /// Saturates at [`Duration::MAX`].
    fn mul(self, rhs: u32) -> Self {
        self.saturating_mul(u64::from(rhs))
    }
}

impl ops::Div<u32> for Duration {
    type Output = Self;

    /// Division by zero gives [`Duration::MAX`] rather than panicking.
    fn div(self, rhs: u32) -> Self {
        match self.micros.checked_div(u64::from(rhs)) {
            Some(micros) => Self::from_micros(micros),
            None => Self::MAX,
        }
    }
}

impl From<core::time::Duration> for Duration {
    /// Saturates at [`Duration::MAX`].
    fn from(value: core::time::Duration) -> Self {
        Self::from_micros(u64::try_from(value.as_micros()).unwrap_or(u64::MAX))
    }
}

impl From<Duration> for core::time::Duration {
    fn from(value: Duration) -> Self {
        Self::from_micros(value.micros)
    }
}

impl fmt::Display for Duration {
    /// Milliseconds below a second (`40ms`, `1.5ms`), seconds above (`1.250s`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.micros >= 1_000_000 {
            write!(
                f,
                "{}.{:03}s",
                self.micros / 1_000_000,
                (self.micros % 1_000_000) / 1000
            )
        } else if self.micros.is_multiple_of(1000) {
            write!(f, "{}ms", self.micros / 1000)
        } else {
            write!(f, "{}.{:03}ms", self.micros / 1000, self.micros % 1000)
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn instant_arithmetic_saturates() {
        let t = Instant::from_millis(1500);
        assert_eq!(t.total_micros(), 1_500_000);
        assert_eq!(t.total_millis(), 1500);
        assert_eq!(t + Duration::from_millis(500), Instant::from_secs(2));
        assert_eq!(t - Instant::from_secs(1), Duration::from_millis(500));
        assert_eq!(Instant::from_secs(1) - t, Duration::ZERO);
        assert_eq!(Instant::ZERO - Duration::from_secs(1), Instant::ZERO);
        assert_eq!(Instant::MAX + Duration::from_secs(1), Instant::MAX);
        assert!(Instant::ZERO < t);
        let mut u = t;
        u += Duration::from_micros(1);
        assert_eq!(u.total_micros(), 1_500_001);
    }

    #[test]
    fn duration_arithmetic_saturates() {
        let d = Duration::from_secs(3);
        assert_eq!(d.total_millis(), 3000);
        assert_eq!(d.total_secs(), 3);
        assert_eq!(d * 2, Duration::from_secs(6));
        assert_eq!(d / 3, Duration::from_secs(1));
        assert_eq!(d / 0, Duration::MAX);
        assert_eq!(Duration::from_secs(1) - d, Duration::ZERO);
        assert_eq!(Duration::MAX + d, Duration::MAX);
        assert_eq!(Duration::MAX * 2, Duration::MAX);
        assert!(Duration::ZERO.is_zero());
        let std: core::time::Duration = Duration::from_millis(7).into();
        assert_eq!(Duration::from(std), Duration::from_millis(7));
    }

    #[test]
    fn display() {
        assert_eq!(Instant::from_micros(12_000_345).to_string(), "12.000345s");
        assert_eq!(Duration::from_millis(40).to_string(), "40ms");
        assert_eq!(Duration::from_micros(1500).to_string(), "1.500ms");
        assert_eq!(Duration::from_millis(1250).to_string(), "1.250s");
    }
}
