//! Command line of `dissect`.

use anyhow::{Context, Result, anyhow};
use clap::Parser;

/// Decode an IEEE 802.15.4 / 6LoWPAN / IPv6 capture into JSON Lines.
#[derive(Parser, Debug)]
#[command(name = "dissect")]
struct Args {
    /// The capture (pcap; link type 195, 230, 283 or 229).
    file: String,
    /// A raw 802.15.4 link key, optionally with the key index it serves (default: any index).
    #[arg(long = "key", value_name = "HEX[:INDEX]")]
    keys: Vec<String>,
    /// A network key; MAC and MLE keys are derived by the ZigBee-IP scheme.
    #[arg(long = "network-key", value_name = "HEX[:INDEX]")]
    network_keys: Vec<String>,
    /// A raw MLE key, optionally with its key index.
    #[arg(long = "mle-key", value_name = "HEX[:INDEX]")]
    mle_keys: Vec<String>,
    /// A 6LoWPAN context: N=PREFIX/64, e.g. 0=2001:db8::/64.
    #[arg(long = "context", value_name = "N=PREFIX/LEN")]
    contexts: Vec<String>,
    /// The DODAG root's address (its DODAGID), which an IP-in-IP 6LoRH elides or
    /// compresses its encapsulator address against (RFC 8138 §7).
    #[arg(long = "rpl-root", value_name = "IPV6")]
    rpl_root: Option<std::net::Ipv6Addr>,
}

/// A 128-bit key and the key index it applies to (`None`: any index).
#[derive(Debug, Clone)]
pub struct KeyArg {
    pub key: [u8; 16],
    pub index: Option<u8>,
}

/// A 6LoWPAN context.
#[derive(Debug, Clone)]
pub struct ContextArg {
    pub id: u8,
    pub prefix: std::net::Ipv6Addr,
    pub len: u8,
}

/// Parsed options.
#[derive(Debug, Clone)]
pub struct Options {
    pub file: String,
    pub keys: Vec<KeyArg>,
    pub network_keys: Vec<KeyArg>,
    pub mle_keys: Vec<KeyArg>,
    pub contexts: Vec<ContextArg>,
    pub rpl_root: Option<std::net::Ipv6Addr>,
}

impl Options {
    pub fn parse_args() -> Result<Self> {
        let a = Args::parse();
        Ok(Options {
            file: a.file,
            keys: a.keys.iter().map(|s| parse_key(s)).collect::<Result<_>>()?,
            network_keys: a
                .network_keys
                .iter()
                .map(|s| parse_key(s))
                .collect::<Result<_>>()?,
            mle_keys: a
                .mle_keys
                .iter()
                .map(|s| parse_key(s))
                .collect::<Result<_>>()?,
            contexts: a
                .contexts
                .iter()
                .map(|s| parse_context(s))
                .collect::<Result<_>>()?,
            rpl_root: a.rpl_root,
        })
    }
}

fn parse_key(s: &str) -> Result<KeyArg> {
    let (hex_part, index) = match s.split_once(':') {
        Some((k, i)) => (
            k,
            Some(
                i.parse::<u8>()
                    .with_context(|| format!("key index in {s}"))?,
            ),
        ),
        None => (s, None),
    };
    let bytes = hex::decode(hex_part).with_context(|| format!("key hex in {s}"))?;
    let key: [u8; 16] = bytes
        .try_into()
        .map_err(|_| anyhow!("key {s} is not 16 bytes"))?;
    Ok(KeyArg { key, index })
}

fn parse_context(s: &str) -> Result<ContextArg> {
    let (id, rest) = s
        .split_once('=')
        .ok_or_else(|| anyhow!("context {s}: expected N=PREFIX/LEN"))?;
    let id: u8 = id.parse().with_context(|| format!("context id in {s}"))?;
    if id > 15 {
        return Err(anyhow!("context id {id} > 15"));
    }
    let (prefix, len) = rest.split_once('/').unwrap_or((rest, "64"));
    Ok(ContextArg {
        id,
        prefix: prefix
            .parse()
            .with_context(|| format!("context prefix in {s}"))?,
        len: len
            .parse()
            .with_context(|| format!("context length in {s}"))?,
    })
}
