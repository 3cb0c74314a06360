//! Wire codec (in progress).
