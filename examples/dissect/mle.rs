//! The `mle` layer of `dissect` (UDP 19788).
//!
//! Adds `mle`: `secured`, the auxiliary security header fields when secured (`security_level`,
//! `key_id_mode`, `key_index`, `key_source`, `frame_counter`), `decrypted`, `command` (number)
//! and `command_name`, and `tlvs` as `[{type, length}]`. A secured message is decrypted with the
//! first key whose MIC verifies:
//! - each `--mle-key HEX[:INDEX]` (a raw MLE key; without INDEX it is tried for any key index);
//! - each `--network-key HEX[:INDEX]`, from which the MLE key is derived by the ZigBee-IP scheme
//!   (HMAC-SHA256(K, "ZigBeeIP")[0..16)) and, for key id mode 2, also by the Thread scheme with
//!   the key sequence taken from the Key Source (HMAC-SHA256(K, seq ‖ "Thread")[0..16)).
//!
//! The nonce needs the sender's extended address: the MAC source when the frame (or an earlier
//! one) gave it, else the IID of the link-local IPv6 source.

use crate::{LinkInfo, cli::Options, set_error};
use amimesh::core::Key128;
use amimesh::mac::security::keys::{derive_link_keys, derive_thread_keys};
use amimesh::mac::security::{AuxSecurityHeaderRepr, KeyIdentifier};
use amimesh::mle::security::{MleKey, SoftCrypto, open_message, sender_ext_addr};
use amimesh::mle::wire::message::{BodyRepr, Message, MessageRepr};
use serde_json::{Map, Value, json};

/// Decodes (and, with a key, decrypts) an MLE message, adding `mle` to `obj`.
/// `src`/`dst` are the IPv6 addresses (MLE authenticates them).
pub fn dissect(
    opts: &Options,
    obj: &mut Map<String, Value>,
    link: LinkInfo,
    src: std::net::Ipv6Addr,
    dst: std::net::Ipv6Addr,
    payload: &[u8],
) {
    let mut mle = Map::new();
    let msg =
        match Message::new_checked(payload).and_then(|m| MessageRepr::parse(&m).map(|r| (m, r))) {
            Ok(v) => v,
            Err(e) => {
                obj.insert("mle".into(), Value::Object(mle));
                set_error(obj, format_args!("mle: {e}"));
                return;
            }
        };
    let (view, repr) = msg;
    match repr {
        MessageRepr::Unsecured(body) => {
            mle.insert("secured".into(), json!(false));
            mle.insert("decrypted".into(), json!(false));
            put_body(&mut mle, &body);
        }
        MessageRepr::Secured(s) => {
            mle.insert("secured".into(), json!(true));
            put_aux(&mut mle, &s.aux);
            let sender = link.src_ext.or_else(|| sender_ext_addr(src));
            let mut plain = vec![0u8; payload.len()];
            let mut opened = None;
            for key in sender
                .map(|_| candidates(opts, &s.aux.key_id))
                .unwrap_or_default()
            {
                let keys = [key];
                let Some(sender) = sender else { break };
                if let Ok((_, _, b)) =
                    open_message(&SoftCrypto, &keys, sender, src, dst, &view, &mut plain)
                {
                    opened = Some((b.command, b.tlvs.len()));
                    break;
                }
            }
            match opened {
                Some((_, tlv_len)) => {
                    mle.insert("decrypted".into(), json!(true));
                    // Re-parse from the plaintext buffer (the closure's borrow has ended).
                    match BodyRepr::parse(plain.get(..1 + tlv_len).unwrap_or(&[])) {
                        Ok(body) => put_body(&mut mle, &body),
                        Err(e) => set_error(obj, format_args!("mle: {e}")),
                    }
                }
                None => {
                    mle.insert("decrypted".into(), json!(false));
                    mle.insert("command".into(), Value::Null);
                    mle.insert("command_name".into(), Value::Null);
                    mle.insert("tlvs".into(), json!([]));
                }
            }
        }
    }
    obj.insert("mle".into(), Value::Object(mle));
}

fn put_aux(mle: &mut Map<String, Value>, aux: &AuxSecurityHeaderRepr) {
    mle.insert("security_level".into(), json!(aux.security_level.bits()));
    mle.insert("key_id_mode".into(), json!(aux.key_id.mode().bits()));
    mle.insert("key_index".into(), json!(aux.key_id.index()));
    let source = aux.key_id.source();
    mle.insert(
        "key_source".into(),
        if source.is_empty() {
            Value::Null
        } else {
            json!(hex::encode(source))
        },
    );
    mle.insert("frame_counter".into(), json!(aux.frame_counter));
}

fn put_body(mle: &mut Map<String, Value>, body: &BodyRepr<'_>) {
    mle.insert("command".into(), json!(u8::from(body.command)));
    mle.insert("command_name".into(), json!(body.command.name()));
    let tlvs: Vec<Value> = body
        .tlvs()
        .map_while(Result::ok)
        .map(|t| json!({ "type": u8::from(t.tlv_type()), "length": t.value_len() }))
        .collect();
    mle.insert("tlvs".into(), Value::Array(tlvs));
}

/// Every key that may open a message sent under `id`, as an [`MleKey`] that matches `id`.
fn candidates(opts: &Options, id: &KeyIdentifier) -> Vec<MleKey> {
    let Some(index) = id.index() else {
        return Vec::new();
    };
    // Mode 2 carries the key sequence in the Key Source (Thread); MleKey matches on it.
    let seq = match id {
        KeyIdentifier::Source4 { source, .. } => Some(u32::from_be_bytes(*source)),
        _ => None,
    };
    let fits = |i: Option<u8>| i.is_none_or(|i| i == index);
    let mk = |k: Key128| MleKey::new(k, index, seq.unwrap_or(0));
    let mut out = Vec::new();
    for k in opts.mle_keys.iter().filter(|k| fits(k.index)) {
        out.push(mk(Key128::new(k.key)));
    }
    for k in opts.network_keys.iter().filter(|k| fits(k.index)) {
        let nk = Key128::new(k.key);
        out.push(mk(derive_link_keys(&nk).0));
        if let Some(seq) = seq {
            out.push(mk(derive_thread_keys(&nk, seq).0));
        }
    }
    out
}
