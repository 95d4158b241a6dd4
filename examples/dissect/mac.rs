//! The `mac` layer of `dissect` (IEEE 802.15.4).
//!
//! Adds `"mac": {frame_type, frame_type_name, version, seq, dst_pan, dst, src_pan, src,
//! ie_present, ies, command, command_name, beacon, security, payload, decrypted, fcs_ok}`.
//! Addresses and PAN ids are printed as Wireshark prints them. `payload` is the MAC payload as
//! the next layer sees it: the data payload of a data frame, the beacon payload of a beacon, the
//! content after the Command ID of a command — decrypted when a key verified the MIC.
//!
//! Keys: every `--key` (raw MAC key) and every `--network-key` (MAC key derived by the
//! ZigBee-IP scheme, HMAC-SHA256(K, "ZigBeeIP")[16..32]) whose index matches the frame's Key
//! Index is tried until one verifies the MIC. Short source addresses are mapped to extended
//! ones (for the nonce) from Association Responses seen earlier in the capture.

use crate::{FcsKind, LinkInfo, cli::Options, set_error};
use amimesh::core::{ExtAddr, Key128, LinkAddr, PanId, ShortAddr};
use amimesh::mac::Error;
use amimesh::mac::security::ccm_star::CcmKey;
use amimesh::mac::security::frame::{KeyLookup, KeyLookupContext, unsecure_frame};
use amimesh::mac::security::keys::derive_link_keys;
use amimesh::mac::security::{AuxSecurityHeaderRepr, KeyIdentifier};
use amimesh::mac::wire::{
    BeaconRepr, FcsType, Frame, FrameRepr, FrameType, FrameVersion, MacCommandRepr, PsduConfig,
};
use serde_json::{Map, Value, json};
use std::collections::HashMap;

/// Facts learnt from earlier frames.
#[derive(Default)]
pub struct State {
    /// Short address (with its PAN) → extended address, from Association Responses.
    devices: HashMap<(PanId, ShortAddr), ExtAddr>,
    /// Candidate MAC keys with the key index they serve, built once from the options.
    keys: Option<Vec<(Option<u8>, CcmKey)>>,
}

impl State {
    fn keys(&mut self, opts: &Options) -> &[(Option<u8>, CcmKey)] {
        self.keys.get_or_insert_with(|| {
            let raw = opts
                .keys
                .iter()
                .map(|k| (k.index, CcmKey::new(&Key128::new(k.key))));
            let derived = opts.network_keys.iter().map(|k| {
                let (_mle, mac) = derive_link_keys(&Key128::new(k.key));
                (k.index, CcmKey::new(&mac))
            });
            raw.chain(derived).collect()
        })
    }

    fn ext_of(&self, pan: Option<PanId>, addr: LinkAddr) -> Option<ExtAddr> {
        match addr {
            LinkAddr::Extended(e) => Some(e),
            LinkAddr::Short(s) => pan
                .and_then(|p| self.devices.get(&(p, s)).copied())
                .or_else(|| {
                    self.devices
                        .iter()
                        .find(|((_, short), _)| *short == s)
                        .map(|(_, e)| *e)
                }),
            LinkAddr::Absent => None,
        }
    }
}

/// One candidate key plus the learnt device table, as a [`KeyLookup`].
struct Candidate<'a> {
    key: &'a CcmKey,
    state: &'a State,
}

impl KeyLookup for Candidate<'_> {
    type KeyName = ();
    fn lookup(&self, _ctx: &KeyLookupContext) -> Option<((), &CcmKey)> {
        Some(((), self.key))
    }
    fn ext_addr(&self, pan_id: Option<PanId>, addr: LinkAddr) -> Option<ExtAddr> {
        self.state.ext_of(pan_id, addr)
    }
}

fn addr_json(a: LinkAddr) -> Value {
    match a {
        LinkAddr::Absent => Value::Null,
        other => json!(other.to_string()),
    }
}

fn security_json(s: &AuxSecurityHeaderRepr, mic_ok: Option<bool>) -> Value {
    let key_source = match s.key_id {
        KeyIdentifier::Source4 { .. } | KeyIdentifier::Source8 { .. } => {
            json!(hex::encode(s.key_id.source()))
        }
        _ => Value::Null,
    };
    json!({
        "level": s.security_level.bits(),
        "level_name": s.security_level.name(),
        "key_id_mode": s.key_id.mode().bits(),
        "key_index": s.key_id.index(),
        "key_source": key_source,
        "frame_counter": s.frame_counter,
        "mic_ok": mic_ok,
    })
}

fn ies_json(r: &FrameRepr<'_>, content_is_plain: bool) -> Value {
    let mut out = Vec::new();
    for ie in r.header_ies() {
        match ie {
            Ok(ie) => out.push(json!({
                "kind": "header",
                "id": u8::from(ie.element_id),
                "content": hex::encode(ie.content),
            })),
            Err(e) => out.push(json!({"kind": "header", "error": e.to_string()})),
        }
    }
    if content_is_plain {
        for ie in r.payload_ies() {
            match ie {
                Ok(ie) => out.push(json!({
                    "kind": "payload",
                    "group": u8::from(ie.group_id),
                    "content": hex::encode(ie.content),
                })),
                Err(e) => out.push(json!({"kind": "payload", "error": e.to_string()})),
            }
        }
    }
    Value::Array(out)
}

/// Decodes the MAC frame, adds `mac` to `obj`, and returns the link facts and the (decrypted)
/// MAC payload for the next layer, or `None` when nothing more can be decoded.
pub fn dissect(
    opts: &Options,
    state: &mut State,
    obj: &mut Map<String, Value>,
    psdu: &[u8],
    fcs: FcsKind,
) -> Option<(LinkInfo, Vec<u8>)> {
    let mut mac = Map::new();
    // FCS first (802.15.4-2020 §7.2.10).
    let cfg = |fcs| PsduConfig {
        fcs,
        max_psdu_len: amimesh::mac::wire::fcs::MAX_SUN_PSDU_LEN,
    };
    let (frame, fcs_ok) = match fcs {
        FcsKind::None => (psdu, None),
        FcsKind::Crc16 | FcsKind::Crc32 => {
            let c = cfg(if fcs == FcsKind::Crc16 {
                FcsType::Crc16
            } else {
                FcsType::Crc32
            });
            match c.check(psdu) {
                Ok(f) => (f, Some(true)),
                Err(Error::BadFcs) => (
                    psdu.get(..psdu.len().saturating_sub(c.fcs.len()))
                        .unwrap_or(&[]),
                    Some(false),
                ),
                Err(e) => {
                    mac.insert("fcs_ok".into(), Value::Null);
                    obj.insert("mac".into(), Value::Object(mac));
                    set_error(obj, format!("mac: {e}"));
                    return None;
                }
            }
        }
    };
    mac.insert("fcs_ok".into(), json!(fcs_ok));
    let parsed = Frame::new_checked(frame).and_then(|f| FrameRepr::parse(&f));
    let repr = match parsed {
        Ok(r) => r,
        Err(e) => {
            obj.insert("mac".into(), Value::Object(mac));
            set_error(obj, format!("mac: {e}"));
            return None;
        }
    };

    mac.insert("frame_type".into(), json!(u8::from(repr.frame_type)));
    mac.insert("frame_type_name".into(), json!(repr.frame_type.name()));
    mac.insert("version".into(), json!(u8::from(repr.frame_version)));
    mac.insert("seq".into(), json!(repr.sequence_number));
    mac.insert(
        "dst_pan".into(),
        json!(repr.dst_pan_id.map(|p| p.to_string())),
    );
    mac.insert("dst".into(), addr_json(repr.dst_addr));
    mac.insert(
        "src_pan".into(),
        json!(repr.src_pan_id.map(|p| p.to_string())),
    );
    mac.insert("src".into(), addr_json(repr.src_addr));
    mac.insert("ie_present".into(), json!(!repr.header_ies.is_empty()));

    // Decrypt when secured and a key verifies the MIC.
    let mut plain_frame: Option<Vec<u8>> = None;
    let mut mic_ok = None;
    if let Some(sec) = repr.security {
        let wanted = sec.key_id.index();
        let candidates: Vec<CcmKey> = state
            .keys(opts)
            .iter()
            .filter(|(idx, _)| idx.is_none() || *idx == wanted)
            .map(|(_, k)| k.clone())
            .collect();
        let mut last_err = None;
        for key in &candidates {
            let mut buf = frame.to_vec();
            let lookup = Candidate { key, state };
            match unsecure_frame(&mut buf, &lookup) {
                Ok(u) => {
                    buf.truncate(u.len);
                    // Present the plaintext as an unsecured frame of the same header.
                    plain_frame = Some(buf);
                    mic_ok = Some(true);
                    break;
                }
                Err(e) => {
                    if e == Error::BadMic {
                        mic_ok = Some(false);
                    }
                    last_err = Some(e);
                }
            }
        }
        if plain_frame.is_none() {
            if let Some(e) = last_err.filter(|e| *e != Error::BadMic) {
                mac.insert("decrypt_error".into(), json!(e.to_string()));
            }
        }
        mac.insert("security".into(), security_json(&sec, mic_ok));
    } else {
        mac.insert("security".into(), Value::Null);
    }
    let decrypted = plain_frame.is_some();
    mac.insert("decrypted".into(), json!(decrypted));

    // The plaintext view of the content (the original for unsecured frames).
    let header_len = Frame::new_unchecked(frame).header_len();
    let content_plain: Option<&[u8]> = match (&plain_frame, repr.security) {
        (Some(p), _) => p.get(header_len..),
        (None, None) => Some(repr.content),
        (None, Some(_)) => None,
    };
    let plain_repr = content_plain.map(|content| FrameRepr {
        content,
        security: None,
        ..repr
    });
    mac.insert(
        "ies".into(),
        ies_json(plain_repr.as_ref().unwrap_or(&repr), plain_repr.is_some()),
    );

    let mut next_payload: Option<Vec<u8>> = None;
    let mut command = Value::Null;
    let mut command_name = Value::Null;
    // Without a verifying key the (encrypted) content is shown as it is.
    let mut payload_hex = hex::encode(content_plain.unwrap_or(repr.content));
    if let Some(pr) = &plain_repr {
        match pr.split_content() {
            Ok((_, payload)) => match pr.frame_type {
                FrameType::Data => {
                    payload_hex = hex::encode(payload);
                    next_payload = Some(payload.to_vec());
                }
                FrameType::MacCommand => match MacCommandRepr::parse(payload) {
                    Ok(c) => {
                        command = json!(u8::from(c.command_id()));
                        command_name = json!(c.command_id().name());
                        payload_hex = hex::encode(payload.get(1..).unwrap_or(&[]));
                        if let (
                            MacCommandRepr::AssociationResponse {
                                short_addr,
                                status: 0,
                            },
                            LinkAddr::Extended(ext),
                        ) = (c, pr.dst_addr)
                        {
                            if let Some(pan) = pr.dst_pan_id.or(pr.src_pan_id) {
                                state.devices.insert((pan, short_addr), ext);
                            }
                        }
                    }
                    Err(e) => set_error(obj, format!("mac command: {e}")),
                },
                FrameType::Beacon if pr.frame_version != FrameVersion::Ieee2015 => {
                    match BeaconRepr::parse(payload) {
                        Ok(b) => {
                            let sf = b.superframe_spec;
                            mac.insert(
                                "beacon".into(),
                                json!({
                                    "beacon_order": sf.beacon_order(),
                                    "superframe_order": sf.superframe_order(),
                                    "final_cap_slot": sf.final_cap_slot(),
                                    "pan_coordinator": sf.pan_coordinator(),
                                    "association_permit": sf.association_permit(),
                                    "gts_permit": b.gts_permit,
                                    "gts": b.gts.len(),
                                    "pending_short": b.pending_short.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
                                    "pending_ext": b.pending_ext.iter().map(|e| e.to_string()).collect::<Vec<_>>(),
                                }),
                            );
                            payload_hex = hex::encode(b.payload);
                        }
                        Err(e) => set_error(obj, format!("mac beacon: {e}")),
                    }
                }
                _ => payload_hex = hex::encode(payload),
            },
            Err(e) => set_error(obj, format!("mac payload IEs: {e}")),
        }
    }
    mac.insert("command".into(), command);
    mac.insert("command_name".into(), command_name);
    mac.insert("payload".into(), json!(payload_hex));

    let src_pan = repr.src_pan_id.or(repr.dst_pan_id);
    let link = LinkInfo {
        src: repr.src_addr,
        dst: repr.dst_addr,
        src_ext: state.ext_of(src_pan, repr.src_addr),
    };
    obj.insert("mac".into(), Value::Object(mac));
    if fcs_ok == Some(false) {
        set_error(obj, "mac: bad FCS");
        return None;
    }
    next_payload.map(|p| (link, p))
}
