//! Configuration of an [`MleNode`](crate::MleNode).

use crate::trickle::TrickleConfig;
use amimesh_core::{Duration, ExtAddr, ShortAddr};
use amimesh_mac::security::{KeyIdMode, SecurityLevel};

/// Everything an [`MleNode`](crate::MleNode) needs to know up front. Every table and queue has
/// its capacity here.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Config {
    /// This node's extended address (the MLE nonce source; the IID of its link-local address).
    pub ext_addr: ExtAddr,
    /// This node's short address, sent in Source Address TLVs when set (else the extended one).
    pub short_addr: Option<ShortAddr>,
    /// Seed of the node's non-cryptographic PRNG (Trickle, response jitter).
    pub seed: u64,
    /// Capacity of the neighbour table (at most the node's `N`, 16 by default).
    pub max_neighbours: usize,
    /// Capacity of the table of Link Requests this node has sent and awaits an answer to (at
    /// most [`MAX_LINK_REQUESTS`](crate::node::MAX_LINK_REQUESTS)).
    pub max_link_requests: usize,
    /// Capacity of the table of challenges sent in Link Accept and Request messages (at most
    /// [`MAX_ACCEPT_CHALLENGES`](crate::node::MAX_ACCEPT_CHALLENGES)).
    pub max_accept_challenges: usize,
    /// Capacity of the transmit queue (at most [`MAX_TX_QUEUE`](crate::node::MAX_TX_QUEUE)).
    pub tx_queue: usize,
    /// Capacity of the event queue (at most [`MAX_EVENT_QUEUE`](crate::node::MAX_EVENT_QUEUE)).
    pub event_queue: usize,
    /// Security level of sent messages (Thread: ENC-MIC-32).
    pub security_level: SecurityLevel,
    /// Key identifier mode of sent messages: [`KeyIdMode::Index`] (ZigBee-IP style, key index
    /// only) or [`KeyIdMode::Source4Index`] (Thread style, key source = key sequence).
    pub key_id_mode: KeyIdMode,
    /// Time to wait for a Link Accept before retransmitting a Link Request.
    pub link_request_timeout: Duration,
    /// Retransmissions of a Link Request before [`Event::LinkFailed`](crate::Event::LinkFailed).
    pub link_request_retries: u8,
    /// How long a challenge sent in a Link Accept and Request stays valid.
    pub accept_timeout: Duration,
    /// When a challenge sent in a Link Accept and Request expires unanswered, send our own Link
    /// Request to that node (recovers a lost final Link Accept).
    pub reciprocate: bool,
    /// Answers to multicast requests are delayed by a random time below this bound, so that
    /// several neighbours do not answer at once.
    pub multicast_response_jitter: Duration,
    /// A neighbour not heard from for this long is removed; zero keeps neighbours forever.
    pub neighbour_timeout: Duration,
    /// Timeout TLV value (seconds) sent in Link Requests; zero omits it.
    pub timeout_tlv: u32,
    /// Version TLV value.
    pub version: u16,
    /// Send Advertisements on this Trickle timer once a key is installed; `None` disables them.
    pub advertisement: Option<TrickleConfig>,
    /// Start a Link Request when an authentic Advertisement arrives from a node that is not a
    /// neighbour.
    pub link_on_advertisement: bool,
}

impl Config {
    /// Defaults for a node with extended address `ext_addr`: 16 neighbours, ENC-MIC-32, key id
    /// mode 1, Link Request timeout 1 s with 3 retransmissions, accept challenges valid 3 s,
    /// multicast jitter below 500 ms, advertisements off.
    pub fn new(ext_addr: ExtAddr) -> Self {
        Config {
            ext_addr,
            short_addr: None,
            seed: ext_addr.to_u64(),
            max_neighbours: 16,
            max_link_requests: 4,
            max_accept_challenges: 8,
            tx_queue: 16,
            event_queue: 32,
            security_level: SecurityLevel::EncMic32,
            key_id_mode: KeyIdMode::Index,
            link_request_timeout: Duration::from_secs(1),
            link_request_retries: 3,
            accept_timeout: Duration::from_secs(3),
            reciprocate: true,
            multicast_response_jitter: Duration::from_millis(500),
            neighbour_timeout: Duration::ZERO,
            timeout_tlv: 0,
            version: 1,
            advertisement: None,
            link_on_advertisement: false,
        }
    }
}
