//! MLE command types (the first byte of the plaintext body).
//!
//! 0–6 come from draft-ietf-6lo-mesh-link-establishment-00 §4; 7–20 from the Thread
//! specification; 99 is OpenThread's time-synchronisation option (FACTS §9.4, Wireshark
//! `packet-mle.c`). Unknown values are kept as [`Command::Unknown`] so a parse→emit round trip
//! is lossless.

amimesh_core::enum_with_unknown! {
    /// An MLE command type.
    pub enum Command(u8) {
        /// Link Request: ask a neighbour to establish (or refresh) a link.
        LinkRequest = 0,
        /// Link Accept: answer a Link Request.
        LinkAccept = 1,
        /// Link Accept and Request: answer a Link Request and challenge back.
        LinkAcceptAndRequest = 2,
        /// Link Reject: refuse a Link Request.
        LinkReject = 3,
        /// Advertisement: periodic multicast announcement.
        Advertisement = 4,
        /// Update: new parameters of the sender.
        Update = 5,
        /// Update Request: ask a neighbour for an Update.
        UpdateRequest = 6,
        /// Data Request (Thread).
        DataRequest = 7,
        /// Data Response (Thread).
        DataResponse = 8,
        /// Parent Request (Thread).
        ParentRequest = 9,
        /// Parent Response (Thread).
        ParentResponse = 10,
        /// Child ID Request (Thread).
        ChildIdRequest = 11,
        /// Child ID Response (Thread).
        ChildIdResponse = 12,
        /// Child Update Request (Thread).
        ChildUpdateRequest = 13,
        /// Child Update Response (Thread).
        ChildUpdateResponse = 14,
        /// Announce (Thread).
        Announce = 15,
        /// Discovery Request (Thread, sent unsecured).
        DiscoveryRequest = 16,
        /// Discovery Response (Thread, sent unsecured).
        DiscoveryResponse = 17,
        /// Link Metrics Management Request (Thread 1.2).
        LinkMetricsManagementRequest = 18,
        /// Link Metrics Management Response (Thread 1.2).
        LinkMetricsManagementResponse = 19,
        /// Link Probe (Thread 1.2).
        LinkProbe = 20,
        /// Time Sync (OpenThread option).
        TimeSync = 99,
    }
}

impl Command {
    /// The command's name as Wireshark prints it (`"Link Request"`); `"Unknown"` otherwise.
    pub const fn name(self) -> &'static str {
        match self {
            Command::LinkRequest => "Link Request",
            Command::LinkAccept => "Link Accept",
            Command::LinkAcceptAndRequest => "Link Accept and Request",
            Command::LinkReject => "Link Reject",
            Command::Advertisement => "Advertisement",
            Command::Update => "Update",
            Command::UpdateRequest => "Update Request",
            Command::DataRequest => "Data Request",
            Command::DataResponse => "Data Response",
            Command::ParentRequest => "Parent Request",
            Command::ParentResponse => "Parent Response",
            Command::ChildIdRequest => "Child ID Request",
            Command::ChildIdResponse => "Child ID Response",
            Command::ChildUpdateRequest => "Child Update Request",
            Command::ChildUpdateResponse => "Child Update Response",
            Command::Announce => "Announce",
            Command::DiscoveryRequest => "Discovery Request",
            Command::DiscoveryResponse => "Discovery Response",
            Command::LinkMetricsManagementRequest => "Link Metrics Management Request",
            Command::LinkMetricsManagementResponse => "Link Metrics Management Response",
            Command::LinkProbe => "Link Probe",
            Command::TimeSync => "Time Sync",
            Command::Unknown(_) => "Unknown",
        }
    }
}

impl core::fmt::Display for Command {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{} ({})", self.name(), u8::from(*self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_value_maps_and_round_trips() {
        for v in 0u8..=255 {
            let c = Command::from(v);
            assert_eq!(u8::from(c), v);
            let known = v <= 20 || v == 99;
            assert_eq!(!matches!(c, Command::Unknown(_)), known, "{v}");
            assert_eq!(c.name() != "Unknown", known);
        }
        assert_eq!(Command::from(2), Command::LinkAcceptAndRequest);
        assert_eq!(Command::from(99).name(), "Time Sync");
    }
}
