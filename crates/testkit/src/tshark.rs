//! The tshark oracle (Wireshark 4.0): a command builder and readers for its output.
//!
//! ```no_run
//! # use amimesh_testkit::tshark::{Tshark, KeyHash};
//! # let pcap = std::path::PathBuf::new();
//! let rows = Tshark::read(&pcap)
//!     .key(&[0x11; 16], 1, KeyHash::None)
//!     .pref("udp.check_checksum", "TRUE")
//!     .fields(&["mle.cmd", "udp.checksum.status"]);
//! for row in &rows {
//!     assert_eq!(row.col("udp.checksum.status"), "1", "{row:?}");
//! }
//! ```

use crate::oracle;
use crate::temp::TempFile;
use serde_json::Value;
use std::ffi::OsString;
use std::fmt;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

/// How a row of the `ieee802154_keys` table turns its key into the one that decrypts
/// (TSHARK.md §1, "Decryption keys").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyHash {
    /// The key is used as it is; the row's index must equal the frame's Key Index.
    None,
    /// `HMAC-SHA256(key, "ZigBeeIP")[16..32]`, for MAC and MLE frames.
    ZigbeeIp,
    /// The Thread master-key scheme (the row's index is ignored).
    Thread,
}

impl KeyHash {
    fn as_str(self) -> &'static str {
        match self {
            KeyHash::None => "No hash",
            KeyHash::ZigbeeIp => "ZigBee IP hash",
            KeyHash::Thread => "Thread hash",
        }
    }
}

/// A row for the `ieee802154_keys` UAT: `"<key hex>","<index>","<hash>"`.
pub fn key_row(key: &[u8; 16], index: u8, hash: KeyHash) -> String {
    format!("\"{}\",\"{index}\",\"{}\"", hex::encode(key), hash.as_str())
}

/// A tshark run over one capture file. Options are added in the order given; [`fields`] and
/// [`json`] run it.
///
/// [`fields`]: Tshark::fields
/// [`json`]: Tshark::json
#[derive(Debug, Clone)]
pub struct Tshark {
    file: OsString,
    args: Vec<OsString>,
    /// The capture written by [`Tshark::read_bytes`], kept until tshark has run.
    _temp: Option<Arc<TempFile>>,
}

impl Tshark {
    /// Reads `file` (`-r`).
    pub fn read(file: impl AsRef<Path>) -> Self {
        Tshark {
            file: file.as_ref().as_os_str().to_owned(),
            args: Vec::new(),
            _temp: None,
        }
    }

    /// Reads a capture given as bytes (e.g. from [`pcap::to_bytes`](crate::pcap::to_bytes)),
    /// written to a temp file named after `name` that is removed with the last clone of this
    /// builder.
    pub fn read_bytes(name: &str, pcap: &[u8]) -> Self {
        let temp = Arc::new(TempFile::with_bytes(name, "pcap", pcap));
        Tshark {
            file: temp.path().as_os_str().to_owned(),
            args: Vec::new(),
            _temp: Some(temp),
        }
    }

    /// Any further argument.
    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// A preference: `-o <name>:<value>` (e.g. `udp.check_checksum`, `TRUE`).
    pub fn pref(self, name: &str, value: impl fmt::Display) -> Self {
        self.arg("-o").arg(format!("{name}:{value}"))
    }

    /// A row of a UAT table: `-o uat:<table>:<row>`.
    pub fn uat(self, table: &str, row: &str) -> Self {
        self.pref(&format!("uat:{table}"), row)
    }

    /// A row of the 802.15.4/MLE key table ([`key_row`]).
    pub fn key(self, key: &[u8; 16], index: u8, hash: KeyHash) -> Self {
        self.uat("ieee802154_keys", &key_row(key, index, hash))
    }

    /// A short address known to belong to an extended one in a PAN (the `802154_addresses`
    /// UAT), so frames with a short source can be decrypted (the nonce needs the extended one).
    pub fn short_addr(self, short: u16, pan: u16, ext: [u8; 8]) -> Self {
        self.uat(
            "802154_addresses",
            &format!("\"0x{short:04x}\",\"0x{pan:04x}\",{}", hex::encode(ext)),
        )
    }

    /// Decode traffic matching `selector` as `protocol`: `-d <selector>,<protocol>`
    /// (e.g. `udp.port==716`, `pana`).
    pub fn decode_as(self, selector: &str, protocol: &str) -> Self {
        self.arg("-d").arg(format!("{selector},{protocol}"))
    }

    /// Turns a dissector off (`--disable-protocol`), e.g. a heuristic that would claim payloads.
    pub fn disable(self, protocol: &str) -> Self {
        self.arg("--disable-protocol").arg(protocol)
    }

    /// Two passes (`-2`), so fields that refer forward (e.g. `6lowpan.reassembled.in`) are set.
    pub fn two_pass(self) -> Self {
        self.arg("-2")
    }

    /// No name resolution (`-n`).
    pub fn no_resolve(self) -> Self {
        self.arg("-n")
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new("tshark");
        cmd.arg("-r").arg(&self.file).args(&self.args);
        cmd
    }

    /// Runs `-T fields` with every occurrence of each field joined by `,`; one [`Row`] per
    /// frame.
    ///
    /// # Panics
    ///
    /// When tshark is missing or fails.
    pub fn fields(&self, fields: &[&str]) -> Vec<Row> {
        let mut cmd = self.command();
        cmd.args(["-T", "fields", "-E", "separator=/t"]);
        cmd.args(["-E", "occurrence=a", "-E", "aggregator=,"]);
        for f in fields {
            cmd.arg("-e").arg(f);
        }
        let out = oracle::run(&mut cmd);
        let names: Arc<[String]> = fields.iter().map(|f| (*f).to_owned()).collect();
        String::from_utf8(out.stdout)
            .expect("tshark prints UTF-8")
            .lines()
            .map(|l| Row {
                names: Arc::clone(&names),
                values: l.split('\t').map(str::to_owned).collect(),
            })
            .collect()
    }

    /// Runs `-T json --no-duplicate-keys` (repeated fields become arrays); one value per frame.
    ///
    /// # Panics
    ///
    /// When tshark is missing or fails, or prints something that is not a JSON array.
    pub fn json(&self) -> Vec<Value> {
        let mut cmd = self.command();
        cmd.args(["-T", "json", "--no-duplicate-keys"]);
        let out = oracle::run(&mut cmd);
        serde_json::from_slice(&out.stdout).expect("tshark -T json prints a JSON array")
    }
}

/// One frame of `tshark -T fields` output. It dereferences to the values in field order (so
/// `row[2]` works); [`Row::col`] finds a value by field name.
#[derive(Clone, PartialEq, Eq)]
pub struct Row {
    names: Arc<[String]>,
    values: Vec<String>,
}

impl Row {
    /// The value of field `name` (empty when the frame has none).
    ///
    /// # Panics
    ///
    /// When `name` is not one of the fields asked for.
    pub fn col(&self, name: &str) -> &str {
        let i = self
            .names
            .iter()
            .position(|n| n == name)
            .unwrap_or_else(|| panic!("field {name} was not asked for: {:?}", self.names));
        self.values.get(i).map_or("", String::as_str)
    }

    /// The value of field `name` with the `:` separators removed, so a byte string that tshark
    /// prints as `aa:bb:cc` reads `aabbcc`.
    pub fn hex(&self, name: &str) -> String {
        self.col(name).replace(':', "")
    }

    /// The values of field `name`, split at the aggregator `,` (none when empty).
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.col(name)
            .split(',')
            .filter(|v| !v.is_empty())
            .collect()
    }
}

impl std::ops::Deref for Row {
    type Target = [String];
    fn deref(&self) -> &[String] {
        &self.values
    }
}

impl fmt::Debug for Row {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.values.fmt(f)
    }
}

/// A number as tshark prints it: decimal, or hexadecimal with `0x`.
///
/// # Panics
///
/// When `s` is neither.
pub fn num(s: &str) -> u64 {
    let parsed = match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16),
        None => s.parse(),
    };
    parsed.unwrap_or_else(|_| panic!("not a number: {s:?}"))
}

/// Every value of `key` anywhere under `v` in `-T json` output (values repeated under one key
/// are flattened, nested objects are searched too), in key order within each object (how
/// `serde_json` keeps them).
pub fn all(v: &Value, key: &str) -> Vec<String> {
    fn walk(v: &Value, key: &str, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    if k == key {
                        match x {
                            Value::String(s) => out.push(s.clone()),
                            Value::Array(a) => {
                                out.extend(a.iter().filter_map(|e| e.as_str().map(str::to_owned)))
                            }
                            _ => {}
                        }
                    }
                    walk(x, key, out);
                }
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, key, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(v, key, &mut out);
    out
}

/// The first value of `key` under `v` ([`all`]).
pub fn first(v: &Value, key: &str) -> Option<String> {
    all(v, key).into_iter().next()
}

/// The layers of one packet of `-T json` output (`_source.layers`; `null` when absent).
pub fn layers(packet: &Value) -> &Value {
    packet
        .get("_source")
        .and_then(|s| s.get("layers"))
        .unwrap_or(&Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ip, pcap};

    #[test]
    fn numbers() {
        assert_eq!(num("0x1f"), 31);
        assert_eq!(num("17"), 17);
    }

    #[test]
    #[should_panic(expected = "not a number")]
    fn not_a_number() {
        num("x");
    }

    #[test]
    fn key_rows() {
        assert_eq!(
            key_row(&[0xab; 16], 2, KeyHash::ZigbeeIp),
            "\"abababababababababababababababab\",\"2\",\"ZigBee IP hash\""
        );
    }

    #[test]
    fn json_walk_flattens_repeats() {
        let v: Value = serde_json::from_str(
            r#"{"a": {"k": "1", "b": [{"k": ["2", "3"]}], "k_tree": {"k": "4"}}}"#,
        )
        .unwrap_or_default();
        // Keys in order: "b", "k", "k_tree".
        assert_eq!(all(&v, "k"), ["2", "3", "1", "4"]);
        assert_eq!(first(&v, "k").as_deref(), Some("2"));
        assert_eq!(first(&v, "z"), None);
    }

    /// The oracle itself: tshark reads a capture written here and checks the UDP checksum
    /// computed by [`ip::udp6`].
    #[test]
    fn tshark_reads_our_pcap_and_checksums() {
        let src = "2001:db8::1"
            .parse()
            .unwrap_or(std::net::Ipv6Addr::LOCALHOST);
        let dst = "ff02::1".parse().unwrap_or(std::net::Ipv6Addr::LOCALHOST);
        let p1 = ip::udp6(src, dst, 64, 1000, 2000, b"abc");
        let p2 = ip::ipv6(
            ip::Ipv6::new(src, dst, ip::ICMPV6, 255),
            &ip::icmpv6(src, dst, 128, 0, &[0, 1, 0, 2, 9]),
        );
        let f = pcap::write("testkit-self", pcap::LINKTYPE_IPV6, &[p1, p2]);
        let rows = Tshark::read(&f)
            .pref("udp.check_checksum", "TRUE")
            .fields(&[
                "udp.srcport",
                "udp.checksum.status",
                "icmpv6.checksum.status",
                "ipv6.hlim",
            ]);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].col("udp.srcport"), "1000");
        assert_eq!(rows[0].col("udp.checksum.status"), "1");
        assert_eq!(rows[1].col("icmpv6.checksum.status"), "1");
        assert_eq!(rows[1].all("ipv6.hlim"), ["255"]);
        let bytes = std::fs::read(f.path()).unwrap_or_default();
        let t = Tshark::read_bytes("testkit-bytes", &bytes);
        let rows = t.fields(&["udp.payload"]);
        assert_eq!(rows[0].hex("udp.payload"), hex::encode(b"abc"));
        drop(t);
        let json = Tshark::read(&f).json();
        assert_eq!(json.len(), 2);
        assert_eq!(
            first(layers(&json[0]), "udp.dstport").as_deref(),
            Some("2000")
        );
    }
}
