//! EAP-PSK (RFC 4764): key hierarchy, MACs, the EAX protected channel, and the peer and server
//! method state machines.
//!
//! Both roles are plain values driven by the PANA state machines: they take one EAP packet and
//! write the next one into a caller buffer. Randomness (RAND_P, RAND_S) comes from a
//! caller-supplied [`rand_core::CryptoRng`].
//!
//! Key hierarchy (RFC 4764 §3.1–3.2, the "modified counter mode" of AES-128):
//! `AK = AES(PSK, AES(PSK, 0) ⊕ c1)`, `KDK = AES(PSK, AES(PSK, 0) ⊕ c2)`;
//! `X = AES(KDK, RAND_P)`, `TEK = AES(KDK, X ⊕ c1)`, `MSK = AES(KDK, X ⊕ c2..c5)`,
//! `EMSK = AES(KDK, X ⊕ c6..c9)`, where `ci` is the 128-bit integer i.
//! `MAC_P = CMAC(AK, ID_P ‖ ID_S ‖ RAND_S ‖ RAND_P)`, `MAC_S = CMAC(AK, ID_S ‖ RAND_P)` (§5.2–5.3).
//! PCHANNEL (§3.3): AES-128-EAX with key TEK, nonce `0^96 ‖ N`, header = the first 22 bytes of
//! the EAP packet; the server uses N = 0 and the peer answers with N + 1.

use crate::error::{Error, Result};
use crate::wire::eap::{EapCode, EapRepr, EapType, Packet};
use crate::wire::eap_psk::{PskRepr, PskResult};
use aes::Aes128;
use aes::cipher::{BlockEncrypt, KeyInit};
use amimesh_core::{Key128, Secret};
use cmac::{Cmac, Mac};
use eax::aead::AeadInPlace;
use rand_core::{CryptoRng, RngCore};
use subtle::ConstantTimeEq;

/// Longest identity (ID_P, ID_S) accepted.
pub const MAX_IDENTITY_LEN: usize = 128;
/// Longest EAP packet this implementation emits or keeps.
pub const MAX_EAP_LEN: usize = 256;
/// Length of the EAX header: Code, Identifier, Length, Type, Flags, RAND_S.
const EAX_HEADER_LEN: usize = 22;

/// An identity (NAI) of at most [`MAX_IDENTITY_LEN`] bytes.
pub type Identity = heapless::Vec<u8, MAX_IDENTITY_LEN>;
/// An EAP packet buffer.
pub type EapBuf = heapless::Vec<u8, MAX_EAP_LEN>;

/// Builds an [`Identity`], or `None` if it is empty or too long.
pub fn identity(bytes: &[u8]) -> Option<Identity> {
    if bytes.is_empty() {
        return None;
    }
    Identity::from_slice(bytes).ok()
}

/// The session keys of one EAP-PSK run.
#[derive(Clone, PartialEq, Eq)]
pub struct PskSessionKeys {
    /// TEK.
    pub tek: Key128,
    /// MSK (64 bytes).
    pub msk: Secret<64>,
    /// EMSK (64 bytes).
    pub emsk: Secret<64>,
}

impl core::fmt::Debug for PskSessionKeys {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("PskSessionKeys(..)")
    }
}

fn aes_block(key: &Key128, block: &[u8; 16]) -> [u8; 16] {
    let c = Aes128::new(key.expose().into());
    let mut b = (*block).into();
    c.encrypt_block(&mut b);
    b.into()
}

/// AK and KDK from the PSK (RFC 4764 §3.1).
pub fn derive_ak_kdk(psk: &Key128) -> (Key128, Key128) {
    let z = aes_block(psk, &[0; 16]);
    let mut a = z;
    a[15] ^= 1;
    let mut k = z;
    k[15] ^= 2;
    (
        Key128::new(aes_block(psk, &a)),
        Key128::new(aes_block(psk, &k)),
    )
}

/// TEK, MSK and EMSK from KDK and RAND_P (RFC 4764 §3.2).
pub fn derive_session_keys(kdk: &Key128, rand_p: &[u8; 16]) -> PskSessionKeys {
    let x = aes_block(kdk, rand_p);
    let ctr = |i: u8| {
        let mut b = x;
        b[15] ^= i;
        aes_block(kdk, &b)
    };
    let mut msk = [0u8; 64];
    let mut emsk = [0u8; 64];
    for (i, chunk) in msk.chunks_exact_mut(16).enumerate() {
        chunk.copy_from_slice(&ctr(2 + i as u8));
    }
    for (i, chunk) in emsk.chunks_exact_mut(16).enumerate() {
        chunk.copy_from_slice(&ctr(6 + i as u8));
    }
    let keys = PskSessionKeys {
        tek: Key128::new(ctr(1)),
        msk: Secret::new(msk),
        emsk: Secret::new(emsk),
    };
    zeroize::Zeroize::zeroize(&mut msk);
    zeroize::Zeroize::zeroize(&mut emsk);
    keys
}

fn cmac(key: &Key128, parts: &[&[u8]]) -> [u8; 16] {
    let mut m = <Cmac<Aes128> as KeyInit>::new(key.expose().into());
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().into()
}

/// MAC_P = CMAC(AK, ID_P ‖ ID_S ‖ RAND_S ‖ RAND_P) (RFC 4764 §5.2).
pub fn mac_p(
    ak: &Key128,
    id_p: &[u8],
    id_s: &[u8],
    rand_s: &[u8; 16],
    rand_p: &[u8; 16],
) -> [u8; 16] {
    cmac(ak, &[id_p, id_s, rand_s, rand_p])
}

/// MAC_S = CMAC(AK, ID_S ‖ RAND_P) (RFC 4764 §5.3).
pub fn mac_s(ak: &Key128, id_s: &[u8], rand_p: &[u8; 16]) -> [u8; 16] {
    cmac(ak, &[id_s, rand_p])
}

fn eax_nonce(n: u32) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[12..].copy_from_slice(&n.to_be_bytes());
    b
}

/// Encrypts `data` in place in the protected channel and returns the tag (RFC 4764 §3.3).
pub fn pchannel_seal(tek: &Key128, nonce: u32, header: &[u8], data: &mut [u8]) -> Result<[u8; 16]> {
    let c = eax::Eax::<Aes128>::new(tek.expose().into());
    let tag = c
        .encrypt_in_place_detached((&eax_nonce(nonce)).into(), header, data)
        .map_err(|_| Error::BadMac)?;
    Ok(tag.into())
}

/// Checks the tag and decrypts `data` in place (RFC 4764 §3.3).
pub fn pchannel_open(
    tek: &Key128,
    nonce: u32,
    header: &[u8],
    data: &mut [u8],
    tag: &[u8; 16],
) -> Result<()> {
    let c = eax::Eax::<Aes128>::new(tek.expose().into());
    c.decrypt_in_place_detached((&eax_nonce(nonce)).into(), header, data, tag.into())
        .map_err(|_| Error::BadMac)
}

/// Splits a PCHANNEL into nonce, tag and ciphertext (length checked by `PskRepr::parse`).
fn split_pchannel(p: &[u8]) -> Result<(u32, [u8; 16], &[u8])> {
    let n = p
        .get(..4)
        .and_then(|b| b.try_into().ok())
        .map(u32::from_be_bytes)
        .ok_or(Error::Malformed("PCHANNEL"))?;
    let tag: [u8; 16] = p
        .get(4..20)
        .and_then(|b| b.try_into().ok())
        .ok_or(Error::Malformed("PCHANNEL"))?;
    Ok((n, tag, p.get(20..).unwrap_or(&[])))
}

/// Opens a received PCHANNEL: returns the nonce and the result indication. `eap` is the whole
/// EAP packet (its first 22 bytes are the EAX header).
fn open_received(tek: &Key128, eap: &[u8], pchannel: &[u8]) -> Result<(u32, PskResult, bool)> {
    let (n, tag, ct) = split_pchannel(pchannel)?;
    let mut pt: heapless::Vec<u8, MAX_EAP_LEN> =
        heapless::Vec::from_slice(ct).map_err(|_| Error::Malformed("PCHANNEL too long"))?;
    let header = eap
        .get(..EAX_HEADER_LEN)
        .ok_or(Error::Malformed("EAP-PSK header"))?;
    pchannel_open(tek, n, header, &mut pt, &tag)?;
    let first = *pt.first().ok_or(Error::Malformed("empty PCHANNEL"))?;
    let r = PskResult::from_byte(first).ok_or(Error::Malformed("PCHANNEL R = 0"))?;
    let ext = first & 0x20 != 0;
    Ok((n, r, ext))
}

/// Writes an EAP-PSK message 3 or 4: fixed part, then PCHANNEL sealed over the first 22 bytes.
fn write_with_pchannel(
    out: &mut [u8],
    code: EapCode,
    identifier: u8,
    fixed: &PskRepr<'_>,
    nonce: u32,
    result: PskResult,
    tek: &Key128,
) -> Result<usize> {
    // PCHANNEL placeholder: nonce, zero tag, one plaintext byte.
    let mut pch = [0u8; 21];
    pch[..4].copy_from_slice(&nonce.to_be_bytes());
    pch[20] = result.to_byte();
    let repr = match *fixed {
        PskRepr::Third { rand_s, mac_s, .. } => PskRepr::Third {
            rand_s,
            mac_s,
            pchannel: &pch,
        },
        PskRepr::Fourth { rand_s, .. } => PskRepr::Fourth {
            rand_s,
            pchannel: &pch,
        },
        _ => return Err(Error::WrongState),
    };
    let n = write_psk(out, code, identifier, &repr)?;
    let pch_at = n - 21;
    let (head, rest) = out.split_at_mut(pch_at);
    let header = head.get(..EAX_HEADER_LEN).ok_or(Error::WrongState)?;
    let data = rest.get_mut(20..21).ok_or(Error::WrongState)?;
    let tag = pchannel_seal(tek, nonce, header, data)?;
    rest.get_mut(4..20)
        .ok_or(Error::WrongState)?
        .copy_from_slice(&tag);
    Ok(n)
}

fn write_psk(out: &mut [u8], code: EapCode, identifier: u8, m: &PskRepr<'_>) -> Result<usize> {
    let mut td = [0u8; MAX_EAP_LEN];
    let n = m.emit(&mut td)?;
    EapRepr::with_type(code, identifier, EapType::Psk, td.get(..n).unwrap_or(&[])).emit_into(out)
}

fn random16<R: RngCore + CryptoRng>(rng: &mut R) -> [u8; 16] {
    let mut b = [0u8; 16];
    rng.fill_bytes(&mut b);
    b
}

/// What the peer does with a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerOutput {
    /// Send the response of this length (written to the output buffer).
    Response(usize),
    /// EAP-Success after a successful method: [`EapPskPeer::session_keys`] holds the MSK.
    Success,
    /// Authentication failed (EAP-Failure, or EAP-Success without a successful method).
    Failure,
    /// Silently discarded.
    Discard(Error),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum PeerState {
    Idle,
    WaitThird {
        rand_s: [u8; 16],
        rand_p: [u8; 16],
        id_s: Identity,
    },
    WaitResult {
        success: bool,
    },
}

/// The EAP-PSK peer (RFC 4764), answering Identity and PSK requests.
#[derive(Clone)]
pub struct EapPskPeer {
    id_p: Identity,
    ak: Key128,
    kdk: Key128,
    state: PeerState,
    keys: Option<PskSessionKeys>,
    pending: Option<PskSessionKeys>,
    last: Option<(EapBuf, EapBuf)>,
}

impl core::fmt::Debug for EapPskPeer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("EapPskPeer")
            .field("id_p", &self.id_p)
            .field("state", &self.state)
            .field("has_keys", &self.keys.is_some())
            .finish_non_exhaustive()
    }
}

impl EapPskPeer {
    /// A peer with identity `id_p` and its PSK.
    pub fn new(id_p: Identity, psk: &Key128) -> Self {
        let (ak, kdk) = derive_ak_kdk(psk);
        EapPskPeer {
            id_p,
            ak,
            kdk,
            state: PeerState::Idle,
            keys: None,
            pending: None,
            last: None,
        }
    }

    /// Forgets any run in progress (EAP restart).
    pub fn restart(&mut self) {
        self.state = PeerState::Idle;
        self.pending = None;
        self.last = None;
    }

    /// Keys of the last successful run.
    pub fn session_keys(&self) -> Option<&PskSessionKeys> {
        self.keys.as_ref()
    }

    /// Keys of a run that reached DONE_SUCCESS and now waits for EAP-Success. PANA uses them to
    /// check the AUTH of the PAR that carries EAP-Success before handing it over.
    pub fn pending_keys(&self) -> Option<&PskSessionKeys> {
        self.pending.as_ref()
    }

    /// Handles one EAP packet from the server, writing a response into `out`.
    pub fn handle<R: RngCore + CryptoRng>(
        &mut self,
        eap: &[u8],
        rng: &mut R,
        out: &mut [u8],
    ) -> PeerOutput {
        match self.handle_inner(eap, rng, out) {
            Ok(o) => o,
            Err(e) => PeerOutput::Discard(e),
        }
    }

    fn handle_inner<R: RngCore + CryptoRng>(
        &mut self,
        eap: &[u8],
        rng: &mut R,
        out: &mut [u8],
    ) -> Result<PeerOutput> {
        let p = Packet::new_checked(eap)?;
        let r = EapRepr::parse(&p)?;
        let eap = eap.get(..usize::from(p.length())).unwrap_or(eap);
        match r.code {
            EapCode::Success => {
                return Ok(match (&self.state, self.pending.take()) {
                    (PeerState::WaitResult { success: true }, Some(k)) => {
                        self.keys = Some(k);
                        self.state = PeerState::Idle;
                        PeerOutput::Success
                    }
                    _ => {
                        self.state = PeerState::Idle;
                        PeerOutput::Failure
                    }
                });
            }
            EapCode::Failure => {
                self.state = PeerState::Idle;
                self.pending = None;
                return Ok(PeerOutput::Failure);
            }
            EapCode::Request => {}
            _ => return Err(Error::Malformed("not a request")),
        }
        // RFC 3748 §4.1: a repeated request (same identifier, same bytes) gets the same
        // response.
        if let Some((req, resp)) = &self.last {
            if req.as_slice() == eap && !matches!(self.state, PeerState::Idle) {
                let n = resp.len();
                out.get_mut(..n)
                    .ok_or(Error::BufferTooSmall { required: n })?
                    .copy_from_slice(resp);
                return Ok(PeerOutput::Response(n));
            }
        }
        let n = match (r.eap_type, &self.state) {
            (Some(EapType::Identity), _) => {
                self.restart();
                EapRepr::with_type(
                    EapCode::Response,
                    r.identifier,
                    EapType::Identity,
                    &self.id_p,
                )
                .emit_into(out)?
            }
            (Some(EapType::Psk), PeerState::Idle) => {
                let PskRepr::First { rand_s, id_s } = PskRepr::parse(r.type_data)? else {
                    return Err(Error::Malformed("EAP-PSK message out of order"));
                };
                let id_s = identity(id_s).ok_or(Error::Malformed("ID_S"))?;
                let rand_p = random16(rng);
                let mac = mac_p(&self.ak, &self.id_p, &id_s, &rand_s, &rand_p);
                let m2 = PskRepr::Second {
                    rand_s,
                    rand_p,
                    mac_p: mac,
                    id_p: &self.id_p,
                };
                let n = write_psk(out, EapCode::Response, r.identifier, &m2)?;
                self.state = PeerState::WaitThird {
                    rand_s,
                    rand_p,
                    id_s,
                };
                n
            }
            (
                Some(EapType::Psk),
                PeerState::WaitThird {
                    rand_s,
                    rand_p,
                    id_s,
                },
            ) => {
                let PskRepr::Third {
                    rand_s: rs,
                    mac_s: ms,
                    pchannel,
                } = PskRepr::parse(r.type_data)?
                else {
                    return Err(Error::Malformed("EAP-PSK message out of order"));
                };
                if rs != *rand_s {
                    return Err(Error::Malformed("RAND_S changed"));
                }
                let want = mac_s(&self.ak, id_s, rand_p);
                if !bool::from(want.ct_eq(&ms)) && !cfg!(fuzzing) {
                    return Err(Error::BadMac);
                }
                let keys = derive_session_keys(&self.kdk, rand_p);
                let (nonce, result, ext) = match open_received(&keys.tek, eap, pchannel) {
                    Ok(v) => v,
                    Err(e) if cfg!(fuzzing) => (0, PskResult::DoneSuccess, e == Error::BadMac),
                    Err(e) => return Err(e),
                };
                // RFC 4764 §5.4: anything but a plain DONE_SUCCESS ends in DONE_FAILURE.
                let ok = result == PskResult::DoneSuccess && !ext;
                let reply = if ok {
                    PskResult::DoneSuccess
                } else {
                    PskResult::DoneFailure
                };
                let rand_s = *rand_s;
                let n = write_with_pchannel(
                    out,
                    EapCode::Response,
                    r.identifier,
                    &PskRepr::Fourth {
                        rand_s,
                        pchannel: &[],
                    },
                    nonce.wrapping_add(1),
                    reply,
                    &keys.tek,
                )?;
                self.pending = ok.then_some(keys);
                self.state = PeerState::WaitResult { success: ok };
                n
            }
            (Some(EapType::Notification), _) => {
                EapRepr::with_type(EapCode::Response, r.identifier, EapType::Notification, &[])
                    .emit_into(out)?
            }
            (Some(_), PeerState::Idle) => {
                // Legacy Nak proposing EAP-PSK (RFC 3748 §5.3.1).
                EapRepr::with_type(EapCode::Response, r.identifier, EapType::Nak, &[47])
                    .emit_into(out)?
            }
            _ => return Err(Error::Malformed("unexpected EAP request")),
        };
        self.last = match (
            EapBuf::from_slice(eap),
            out.get(..n).map(EapBuf::from_slice),
        ) {
            (Ok(req), Some(Ok(resp))) => Some((req, resp)),
            _ => None,
        };
        Ok(PeerOutput::Response(n))
    }
}

/// The server's verdict on an identity (from the PAA's credential store).
#[derive(Clone, PartialEq, Eq)]
pub enum Lookup {
    /// Known and allowed to authenticate, with its PSK.
    Allowed(Key128),
    /// Unknown or refused: the server answers EAP-Failure.
    Refused,
}

impl core::fmt::Debug for Lookup {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Lookup::Allowed(_) => f.write_str("Allowed(..)"),
            Lookup::Refused => f.write_str("Refused"),
        }
    }
}

/// What the server does with a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerOutput {
    /// Send the next request (this many bytes in the output buffer).
    Request(usize),
    /// Send EAP-Success (written); [`EapPskServer::session_keys`] holds the MSK.
    Success(usize),
    /// Send EAP-Failure (written).
    Failure(usize),
    /// Silently discarded.
    Discard(Error),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum ServerState {
    Idle,
    WaitIdentity,
    WaitSecond { rand_s: [u8; 16] },
    WaitFourth { rand_s: [u8; 16] },
    Done,
}

/// The EAP-PSK server (RFC 4764) with the Identity exchange in front.
#[derive(Clone)]
pub struct EapPskServer {
    id_s: Identity,
    state: ServerState,
    identifier: u8,
    id_p: Identity,
    ak: Option<Key128>,
    kdk: Option<Key128>,
    pending: Option<PskSessionKeys>,
    keys: Option<PskSessionKeys>,
}

impl core::fmt::Debug for EapPskServer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("EapPskServer")
            .field("id_s", &self.id_s)
            .field("state", &self.state)
            .field("identifier", &self.identifier)
            .field("id_p", &self.id_p)
            .finish_non_exhaustive()
    }
}

impl EapPskServer {
    /// A server with identity `id_s`.
    pub fn new(id_s: Identity) -> Self {
        EapPskServer {
            id_s,
            state: ServerState::Idle,
            identifier: 0,
            id_p: Identity::new(),
            ak: None,
            kdk: None,
            pending: None,
            keys: None,
        }
    }

    /// The peer identity (after the Identity response).
    pub fn peer_identity(&self) -> &[u8] {
        &self.id_p
    }

    /// Keys of the last successful run.
    pub fn session_keys(&self) -> Option<&PskSessionKeys> {
        self.keys.as_ref()
    }

    /// (Re)starts: writes EAP-Request/Identity with `identifier`.
    pub fn start(&mut self, identifier: u8, out: &mut [u8]) -> Result<usize> {
        self.state = ServerState::WaitIdentity;
        self.identifier = identifier;
        self.ak = None;
        self.kdk = None;
        self.pending = None;
        EapRepr::with_type(EapCode::Request, identifier, EapType::Identity, &[]).emit_into(out)
    }

    /// (Re)starts without the Identity exchange: writes EAP-PSK message 1 (RAND_S, ID_S) with
    /// `identifier`. The peer names itself in message 2 (ID_P, RFC 4764 §3.2 and §5.2), where
    /// the server looks up the PSK. RFC 3748 §5.1 makes Identity only "generally" the first
    /// request and asks methods to carry their own identity mechanism, which EAP-PSK does.
    /// This saves one request/response pair (5 + 5 + |ID_P| octets of EAP, plus the messages
    /// that carry them).
    pub fn start_psk<R: RngCore + CryptoRng>(
        &mut self,
        identifier: u8,
        rng: &mut R,
        out: &mut [u8],
    ) -> Result<usize> {
        self.identifier = identifier;
        self.ak = None;
        self.kdk = None;
        self.pending = None;
        self.id_p = Identity::new();
        let rand_s = random16(rng);
        let n = write_psk(
            out,
            EapCode::Request,
            identifier,
            &PskRepr::First {
                rand_s,
                id_s: &self.id_s,
            },
        )?;
        self.state = ServerState::WaitSecond { rand_s };
        Ok(n)
    }

    /// Handles one EAP response. `lookup` maps an identity to its PSK (called once, after the
    /// Identity response, or after message 2 when the run began with
    /// [`EapPskServer::start_psk`]).
    pub fn handle<R: RngCore + CryptoRng>(
        &mut self,
        eap: &[u8],
        lookup: &mut dyn FnMut(&[u8]) -> Lookup,
        rng: &mut R,
        out: &mut [u8],
    ) -> ServerOutput {
        match self.handle_inner(eap, lookup, rng, out) {
            Ok(o) => o,
            Err(e) => ServerOutput::Discard(e),
        }
    }

    fn fail(&mut self, identifier: u8, out: &mut [u8]) -> Result<ServerOutput> {
        self.state = ServerState::Done;
        self.pending = None;
        Ok(ServerOutput::Failure(
            EapRepr::result(false, identifier).emit_into(out)?,
        ))
    }

    fn handle_inner<R: RngCore + CryptoRng>(
        &mut self,
        eap: &[u8],
        lookup: &mut dyn FnMut(&[u8]) -> Lookup,
        rng: &mut R,
        out: &mut [u8],
    ) -> Result<ServerOutput> {
        let p = Packet::new_checked(eap)?;
        let r = EapRepr::parse(&p)?;
        let eap = eap.get(..usize::from(p.length())).unwrap_or(eap);
        if r.code != EapCode::Response {
            return Err(Error::Malformed("not a response"));
        }
        if r.identifier != self.identifier {
            return Err(Error::Malformed("EAP identifier mismatch"));
        }
        let next_id = self.identifier.wrapping_add(1);
        match (&self.state, r.eap_type) {
            (ServerState::WaitIdentity, Some(EapType::Identity)) => {
                let Some(id) = identity(r.type_data) else {
                    return self.fail(r.identifier, out);
                };
                let Lookup::Allowed(psk) = lookup(&id) else {
                    self.id_p = id;
                    return self.fail(r.identifier, out);
                };
                let (ak, kdk) = derive_ak_kdk(&psk);
                let rand_s = random16(rng);
                let n = write_psk(
                    out,
                    EapCode::Request,
                    next_id,
                    &PskRepr::First {
                        rand_s,
                        id_s: &self.id_s,
                    },
                )?;
                self.id_p = id;
                self.ak = Some(ak);
                self.kdk = Some(kdk);
                self.identifier = next_id;
                self.state = ServerState::WaitSecond { rand_s };
                Ok(ServerOutput::Request(n))
            }
            (ServerState::WaitSecond { rand_s }, Some(EapType::Psk)) => {
                let rand_s = *rand_s;
                let PskRepr::Second {
                    rand_s: rs,
                    rand_p,
                    mac_p: mp,
                    id_p,
                } = PskRepr::parse(r.type_data)?
                else {
                    return Err(Error::Malformed("EAP-PSK message out of order"));
                };
                if rs != rand_s {
                    return Err(Error::Malformed("RAND_S changed"));
                }
                let (ak, kdk) = match (self.ak.clone(), self.kdk.clone()) {
                    (Some(ak), Some(kdk)) => {
                        // ID_P must be the identity the PSK was looked up for.
                        if id_p != &self.id_p[..] {
                            return self.fail(r.identifier, out);
                        }
                        (ak, kdk)
                    }
                    // No Identity exchange (`start_psk`): ID_P selects the PSK.
                    _ => {
                        let Some(id) = identity(id_p) else {
                            return self.fail(r.identifier, out);
                        };
                        let Lookup::Allowed(psk) = lookup(&id) else {
                            self.id_p = id;
                            return self.fail(r.identifier, out);
                        };
                        self.id_p = id;
                        derive_ak_kdk(&psk)
                    }
                };
                let want = mac_p(&ak, id_p, &self.id_s, &rand_s, &rand_p);
                if !bool::from(want.ct_eq(&mp)) && !cfg!(fuzzing) {
                    return self.fail(r.identifier, out);
                }
                let ms = mac_s(&ak, &self.id_s, &rand_p);
                let keys = derive_session_keys(&kdk, &rand_p);
                let n = write_with_pchannel(
                    out,
                    EapCode::Request,
                    next_id,
                    &PskRepr::Third {
                        rand_s,
                        mac_s: ms,
                        pchannel: &[],
                    },
                    0,
                    PskResult::DoneSuccess,
                    &keys.tek,
                )?;
                self.pending = Some(keys);
                self.identifier = next_id;
                self.state = ServerState::WaitFourth { rand_s };
                Ok(ServerOutput::Request(n))
            }
            (ServerState::WaitFourth { rand_s }, Some(EapType::Psk)) => {
                let PskRepr::Fourth {
                    rand_s: rs,
                    pchannel,
                } = PskRepr::parse(r.type_data)?
                else {
                    return Err(Error::Malformed("EAP-PSK message out of order"));
                };
                if rs != *rand_s {
                    return Err(Error::Malformed("RAND_S changed"));
                }
                let Some(keys) = self.pending.take() else {
                    return Err(Error::WrongState);
                };
                let opened = match open_received(&keys.tek, eap, pchannel) {
                    Err(_) if cfg!(fuzzing) => Ok((1, PskResult::DoneSuccess, false)),
                    o => o,
                };
                match opened {
                    Ok((1, PskResult::DoneSuccess, false)) => {
                        self.keys = Some(keys);
                        self.state = ServerState::Done;
                        Ok(ServerOutput::Success(
                            EapRepr::result(true, r.identifier).emit_into(out)?,
                        ))
                    }
                    Ok(_) => self.fail(r.identifier, out),
                    Err(e) => {
                        self.pending = Some(keys);
                        Err(e)
                    }
                }
            }
            (ServerState::WaitIdentity | ServerState::WaitSecond { .. }, Some(EapType::Nak)) => {
                self.fail(r.identifier, out)
            }
            _ => Err(Error::Malformed("unexpected EAP response")),
        }
    }
}
