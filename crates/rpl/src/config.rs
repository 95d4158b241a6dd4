//! Node configuration.

use core::net::Ipv6Addr;

use amimesh_core::Duration;

use crate::consts::*;
use crate::wire::Mop;

/// The node's role in the DODAG (RFC 6550 §3.2, §8.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Role {
    /// DODAG root: grounded, rank ROOT_RANK, originates DIOs and collects DAOs.
    Root,
    /// Router: joins, selects parents, forwards and sends DIOs.
    Router,
    /// Leaf: joins and sends DAOs, never advertises DIOs (§8.5).
    Leaf,
}

/// The unit of the RPL option's SenderRank (RFC 6553 §3) and of the rank comparison of
/// data-path validation (RFC 6550 §11.2.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RpiRank {
    /// DAGRank(rank) = floor(Rank / MinHopRankIncrease), as RFC 6550 §11.2 defines
    /// SenderRank. Nodes whose ranks fall in one MinHopRankIncrease step compare equal, so
    /// a loop among them goes undetected.
    #[default]
    DagRank,
    /// The 16-bit Rank itself, as Contiki-NG and RIOT put it in SenderRank: every rank
    /// difference counts, and an equal Rank on the way Up or Down is an inconsistency too
    /// (on a tree Rank grows by at least MinHopRankIncrease from parent to child, RFC 6550
    /// §3.5.1), so a loop is caught whatever the rank spacing, also between two nodes that
    /// took each other as parent at one Rank. All nodes of the DODAG must agree on it.
    Rank,
}

/// Configuration of an [`RplNode`](crate::RplNode).
///
/// DODAG parameters (`dio_*`, rank increases, OCP, lifetimes, MOP, prefix) are used by the root
/// and advertised in its DODAG Configuration and Prefix Information options; routers and leaves
/// take them from the DIOs they hear. Local parameters (capacities, timers, rate limits) apply to
/// every role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// What the RPL option's SenderRank carries and what it is compared with in data-path
    /// validation (RFC 6550 §11.2). Default [`RpiRank::DagRank`].
    pub rpi_rank: RpiRank,
    /// Root: set the T flag in the DODAG Configuration option (RFC 9035 §3) to tell every
    /// node to source packets with RFC 8138 compression. Default off.
    pub rfc8138: bool,
    /// Seed of the node's PRNG (Trickle, jitter).
    pub seed: u64,
    /// Role.
    pub role: Role,
    /// The node's link-local address (source of DIS/DIO, storing-mode DAOs; neighbour identity).
    pub link_local: Ipv6Addr,
    /// RPLInstanceID to run (global instances 0..=127).
    pub instance_id: u8,
    /// Root: the DODAGID, which is also the root's global address. Others: ignored.
    pub dodag_id: Ipv6Addr,
    /// Root: prefix advertised in the Prefix Information option (A and R set).
    pub prefix: Ipv6Addr,
    /// Root: prefix length (addresses are formed from the first 64 bits and the link-local IID).
    pub prefix_len: u8,
    /// Root: Mode of Operation (non-storing or storing).
    pub mop: Mop,
    /// Root: Objective Code Point (0 OF0, 1 MRHOF).
    pub ocp: u16,
    /// Root: DIOIntervalMin (Imin = 2^this ms).
    pub dio_interval_min: u8,
    /// Root: DIOIntervalDoublings.
    pub dio_interval_doublings: u8,
    /// Root: DIORedundancyConstant.
    pub dio_redundancy_constant: u8,
    /// Root: MinHopRankIncrease.
    pub min_hop_rank_increase: u16,
    /// Root: MaxRankIncrease (0 disables the limit).
    pub max_rank_increase: u16,
    /// Root: Default Lifetime in Lifetime Units.
    pub default_lifetime: u8,
    /// Root: Lifetime Unit in seconds.
    pub lifetime_unit: u16,
    /// Root: DODAG Preference (0..=7).
    pub dodag_preference: u8,
    /// Interval between DIS while unjoined (jittered ±50 %).
    pub dis_interval: Duration,
    /// DAO delay after a change (DEFAULT_DAO_DELAY; jittered 50–150 %).
    pub dao_delay: Duration,
    /// Time to wait for a DAO-ACK before retransmitting.
    pub dao_ack_timeout: Duration,
    /// DAO retransmissions before giving up until the next refresh.
    pub dao_max_retries: u8,
    /// Parent set size reported in the route view (PARENT_SET_SIZE).
    pub parent_set_size: usize,
    /// Neighbour table capacity.
    pub neighbour_capacity: usize,
    /// Downward route table capacity (root: non-storing table; storing: per-hop table).
    pub route_capacity: usize,
    /// Outgoing message queue capacity.
    pub tx_queue_capacity: usize,
    /// Event queue capacity.
    pub event_queue_capacity: usize,
    /// DIS answered/acted on: burst size.
    pub dis_burst: u16,
    /// DIS tokens refill period.
    pub dis_refill: Duration,
    /// DAOs accepted: burst size.
    pub dao_burst: u16,
    /// DAO tokens refill period.
    pub dao_refill: Duration,
    /// Number of INFINITE_RANK DIOs sent on local repair.
    pub poison_count: u8,
    /// Time a detached node waits before choosing a new parent (lets the poison spread).
    pub repair_holdoff: Duration,
    /// Delivery failures to a neighbour (with no DIO from it in between) before it is dropped.
    pub link_failures_to_drop: u8,
    /// Add the parent address to storing-mode Transit Information options so the root can
    /// build the route view (the field is optional, RFC 6550 §6.7.8).
    pub storing_parent_address: bool,
    /// Where the first DIS goes after [`RplNode::start`](crate::RplNode::start): `Some(a)`
    /// sends it unicast to the link-local address `a` of a neighbour already known (e.g. the
    /// node that answered the beacon scan), which answers with a unicast DIO and leaves its
    /// Trickle timer alone (RFC 6550 §8.3); `None` multicasts it to all-RPL-nodes, which
    /// resets the Trickle timer of every router in range. Later DIS (no answer within
    /// `dis_interval`) are multicast. At one hop on SUN FSK this saves the 3–4 extra
    /// multicast DIOs (about 110 octets each) that the reset causes.
    pub first_dis: Option<Ipv6Addr>,
    /// Carry the DODAGID (D flag) in the DAO and DAO-ACK this node sends. RFC 6550 §6.4.1 and
    /// §6.5.1 require it only for a local RPLInstanceID; for a global instance (0..=127) it
    /// may be left out, 16 octets less in each message. Always sent for local instances.
    pub dao_dodag_id: bool,
    /// Send no DIO until the first DAO-ACK: until its downward route exists the node acts as
    /// a leaf (RFC 6550 §8.5), then it becomes a router and resets its Trickle timer to Imin
    /// (an external event, RFC 6206 §4.2 step 6). Neighbours that have not joined cannot use
    /// its DIOs anyway (they are MAC-secured); at one hop this saves the 3 DIOs (about 110
    /// octets each) a router sends between joining and its DAO-ACK.
    pub dio_after_dao_ack: bool,
    /// Least time between two voluntary parent changes (a better parent by more than the
    /// objective function's switch threshold, RFC 6719 §3.4). Losing the preferred parent,
    /// or its link or rank becoming unacceptable, still changes it at once. Damps the
    /// oscillation where every switch adds control traffic that degrades the links the next
    /// choice is made on. Zero disables it. Default 180 s.
    pub parent_switch_holdoff: Duration,
    /// Storing mode: ask the parent to acknowledge the DAOs this node passes up for its
    /// sub-DODAG (K flag, RFC 6550 §6.4 and §9.3) and send them again, to the parent of the
    /// moment, after `dao_ack_timeout` until acknowledged or `dao_max_retries` is used up.
    /// Without it a forwarded DAO lost on one hop leaves the route missing above that hop
    /// until the target's next refresh. Default off: in a 500-meter field the extra DAO-ACKs
    /// and retransmissions near the root cost more airtime than the routes they repair (all
    /// 500 joined in 5,127 s simulated without, 309 after 7,200 s with); a small, lossy
    /// network gains from it.
    pub forward_dao_ack: bool,
    /// Forwarded DAOs awaiting their DAO-ACK; when full the oldest is given up (counted).
    /// Default 8.
    pub forward_dao_capacity: usize,
    /// Storing mode: targets learnt from children are gathered for this long (jittered
    /// 50–150 %, as `dao_delay`) and passed up together, several per DAO (RFC 6550 §9.5
    /// allows a node to delay and aggregate DAOs). Zero passes each DAO up at once.
    /// Default 1 s.
    pub forward_dao_delay: Duration,
    /// Storing mode: targets carried in one forwarded DAO at most (at least 1). Each costs
    /// 26 octets (RPL Target and Transit Information options), so on 127-octet frames a DAO
    /// of more than two is fragmented (RFC 4944 §5.3). Fitting every DAO in one frame still
    /// lost: 10,000 meters on O-QPSK 2450 MHz (seeds 1–4, 30 minutes) joined 925 / 1,123 /
    /// 820 / 1,185 with two per DAO against 1,099 / 1,130 / 1,146 / 1,524 with sixteen, the
    /// fragments of one DAO going out back to back where more DAOs each contend for the
    /// channel; 48 per DAO gave 1,135 / 1,116 / 1,167 / 1,338, no better. Default 16.
    pub forward_dao_targets: usize,
    /// The Path Sequence the node continues from: its first DAO carries the next value
    /// (RFC 6550 §6.7.8, §7.2). A new counter starts at 240 (`LOLLIPOP_INIT`). A node that
    /// runs RPL again (a meter that authenticates anew) passes the last value of its
    /// earlier run ([`RplNode::path_sequence`](crate::RplNode::path_sequence)): routes to it
    /// that other nodes still hold carry that run's values, and a value older than theirs
    /// is refused until those routes expire (§7.2 orders two values on the lollipop stick
    /// plainly). Default 240.
    pub path_sequence: u8,
}

impl Config {
    /// A root with the RFC defaults, except a 2^7 ms Imin with 12 doublings (≈ 9 min Imax),
    /// DefaultLifetime 30 × 60 s, MaxRankIncrease 8 × MinHopRankIncrease, MRHOF.
    pub fn root(seed: u64, link_local: Ipv6Addr, dodag_id: Ipv6Addr, mop: Mop) -> Self {
        let mut prefix = dodag_id.octets();
        if let Some(s) = prefix.get_mut(8..) {
            s.fill(0);
        }
        Config {
            rpi_rank: RpiRank::DagRank,
            rfc8138: false,
            seed,
            role: Role::Root,
            link_local,
            instance_id: RPL_DEFAULT_INSTANCE,
            dodag_id,
            prefix: Ipv6Addr::from(prefix),
            prefix_len: 64,
            mop,
            ocp: OCP_MRHOF,
            dio_interval_min: 7,
            dio_interval_doublings: 12,
            dio_redundancy_constant: DEFAULT_DIO_REDUNDANCY_CONSTANT,
            min_hop_rank_increase: DEFAULT_MIN_HOP_RANK_INCREASE,
            max_rank_increase: 8 * DEFAULT_MIN_HOP_RANK_INCREASE,
            default_lifetime: 30,
            lifetime_unit: 60,
            dodag_preference: 0,
            dis_interval: Duration::from_secs(5),
            dao_delay: Duration::from_millis(DEFAULT_DAO_DELAY_MS),
            dao_ack_timeout: Duration::from_secs(3),
            dao_max_retries: 4,
            parent_set_size: crate::of::PARENT_SET_SIZE,
            neighbour_capacity: 32,
            route_capacity: 1024,
            tx_queue_capacity: 64,
            event_queue_capacity: 32,
            dis_burst: 8,
            dis_refill: Duration::from_millis(500),
            dao_burst: 64,
            dao_refill: Duration::from_millis(10),
            poison_count: 3,
            repair_holdoff: Duration::from_secs(2),
            link_failures_to_drop: 2,
            storing_parent_address: true,
            first_dis: None,
            dao_dodag_id: true,
            dio_after_dao_ack: false,
            parent_switch_holdoff: Duration::from_secs(180),
            forward_dao_ack: false,
            forward_dao_capacity: 8,
            forward_dao_delay: Duration::from_secs(1),
            forward_dao_targets: 16,
            path_sequence: crate::lollipop::LOLLIPOP_INIT,
        }
    }

    /// A router (DODAG parameters come from the root's DIOs).
    pub fn router(seed: u64, link_local: Ipv6Addr) -> Self {
        Config {
            role: Role::Router,
            ..Self::root(seed, link_local, Ipv6Addr::UNSPECIFIED, Mop::NonStoring)
        }
    }

    /// A leaf.
    pub fn leaf(seed: u64, link_local: Ipv6Addr) -> Self {
        Config {
            role: Role::Leaf,
            ..Self::router(seed, link_local)
        }
    }
}
