//! The connection states of RFC 9293 section 3.3.2, shared by the stack, the harness's targets
//! and the case language.

use core::fmt;
use core::str::FromStr;

/// A connection state, as named in RFC 9293 section 3.3.2 (Figure 6).
///
/// `Closed` doubles as "no such connection": a TCB that does not exist is in CLOSED.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum State {
    /// No connection.
    Closed,
    /// Waiting for a connection request from any remote TCP peer and port.
    Listen,
    /// Waiting for a matching connection request after having sent one.
    SynSent,
    /// Waiting for a confirming ACK after having both received and sent a SYN.
    SynReceived,
    /// An open connection; data can flow both ways.
    Established,
    /// Our FIN is sent and not yet acknowledged; the peer has not sent its FIN.
    FinWait1,
    /// Our FIN is acknowledged; waiting for the peer's FIN.
    FinWait2,
    /// The peer's FIN arrived; waiting for the local user to close.
    CloseWait,
    /// Both FINs sent (simultaneous close); waiting for the ACK of ours.
    Closing,
    /// Our FIN follows the peer's; waiting for its ACK.
    LastAck,
    /// Waiting 2 MSL so the peer surely received the ACK of its FIN.
    TimeWait,
}

impl State {
    /// Every state, in the order of RFC 9293 section 3.3.2.
    pub const ALL: [Self; 11] = [
        Self::Closed,
        Self::Listen,
        Self::SynSent,
        Self::SynReceived,
        Self::Established,
        Self::FinWait1,
        Self::FinWait2,
        Self::CloseWait,
        Self::Closing,
        Self::LastAck,
        Self::TimeWait,
    ];

    /// The RFC's spelling: `SYN-RECEIVED`, `FIN-WAIT-1`, `TIME-WAIT`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Closed => "CLOSED",
            Self::Listen => "LISTEN",
            Self::SynSent => "SYN-SENT",
            Self::SynReceived => "SYN-RECEIVED",
            Self::Established => "ESTABLISHED",
            Self::FinWait1 => "FIN-WAIT-1",
            Self::FinWait2 => "FIN-WAIT-2",
            Self::CloseWait => "CLOSE-WAIT",
            Self::Closing => "CLOSING",
            Self::LastAck => "LAST-ACK",
            Self::TimeWait => "TIME-WAIT",
        }
    }

    /// True for the synchronized states of RFC 9293 section 3.5 (ESTABLISHED and after).
    pub const fn is_synchronized(self) -> bool {
        !matches!(
            self,
            Self::Closed | Self::Listen | Self::SynSent | Self::SynReceived
        )
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The error of [`State::from_str`]: the text is not an RFC 9293 state name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownState(pub String);

impl fmt::Display for UnknownState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown TCP state `{}`, expected one of ", self.0)?;
        for (i, s) in State::ALL.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(s.name())?;
        }
        Ok(())
    }
}

impl std::error::Error for UnknownState {}

impl FromStr for State {
    type Err = UnknownState;

    /// Parses the RFC spelling (`FIN-WAIT-1`); underscores are accepted for hyphens.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let normal = s.replace('_', "-");
        Self::ALL
            .into_iter()
            .find(|st| st.name() == normal)
            .ok_or_else(|| UnknownState(s.to_owned()))
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in State::ALL {
            assert_eq!(s.name().parse::<State>(), Ok(s));
        }
        assert_eq!("TIME_WAIT".parse::<State>(), Ok(State::TimeWait));
        assert!("ESTABLISH".parse::<State>().is_err());
    }
}
