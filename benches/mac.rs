//! IEEE 802.15.4 frames: amimesh-mac side by side with the `ieee802154` crate (0.6) and smoltcp
//! (`wire::Ieee802154Frame`) on the same bytes.
//!
//! Groups:
//! - `parse/unsecured`: a 2003 data frame with short addresses and a 6LoWPAN payload
//!   (OpenThread test vector) and a 2006 extended/extended data frame;
//! - `parse_decrypt/level5`: a level-5 (ENC-MIC-32, key id mode 1) data frame, parsed and
//!   decrypted with a cached key (amimesh) or through the crate's key lookup (`ieee802154`);
//! - `emit_encrypt/level5`: the same frame built and secured;
//! - `emit/unsecured`: the unsecured 2006 frame built (smoltcp has no security).
//!
//! `ieee802154` 0.6 cannot decrypt frames secured as the standard says (FACTS §12: empty
//! a-data, byte-reversed nonce), so its decrypt path is measured on a frame it secured itself:
//! the same length and level, the same CCM* work, and it succeeds. On the standard frame it does
//! that work too and then fails the MIC check (also measured, `ieee802154_standard_frame`).
//!
//! Instruction counts (repeatable on a loaded machine): `AMIMESH_BENCH_IR=<path>:<n>` runs `n`
//! calls of one path and exits; run it under `valgrind --tool=callgrind` for two values of `n`
//! and divide the difference (see `ir_mode` for the paths).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use aes07::Aes128 as Aes07;
use aes07::cipher::consts::U16;
use aes07::cipher::generic_array::GenericArray;
use amimesh::core::{ExtAddr, Key128, LinkAddr, PanId, ShortAddr};
use amimesh::mac::security::ccm_star::CcmKey;
use amimesh::mac::security::frame::{KeyTable, secure_frame, unsecure_frame};
use amimesh::mac::security::{AuxSecurityHeaderRepr, KeyIdentifier, SecurityLevel};
use amimesh::mac::wire::{Frame, FrameRepr, FrameType, FrameVersion};
use byte::BytesExt;
use criterion::{BenchmarkId, Criterion, Throughput, black_box, criterion_group};
use ieee802154::mac::frame::security as i154sec;
use ieee802154::mac::{self as i154, FooterMode, FrameSerDesContext};

static OT_LL16_FCS: &[u8] = include_bytes!("../crates/mac/testdata/openthread_ll16_echo_fcs.bin");

const KEY: [u8; 16] = [
    0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xcb, 0xcc, 0xcd, 0xce, 0xcf,
];
const SRC: ExtAddr = ExtAddr([0x00, 0x12, 0x4b, 0x00, 0x00, 0x00, 0x00, 0x01]);
const DST: ExtAddr = ExtAddr([0x00, 0x12, 0x4b, 0x00, 0x00, 0x00, 0x00, 0x02]);
const PAYLOAD: [u8; 40] = [
    0x7b, 0x3b, 0x3a, 0x1a, 0x9b, 0x01, 0x92, 0x14, 0x00, 0xf0, 0x01, 0x00, 0x88, 0xf0, 0x00, 0x00,
    0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0x04, 0x0e, 0x00, 0x08, 0x0c, 0x0a, 0x07,
    0x00,
];

fn ext_repr(security: Option<AuxSecurityHeaderRepr>) -> FrameRepr<'static> {
    FrameRepr {
        frame_type: FrameType::Data,
        frame_version: FrameVersion::Ieee2006,
        security,
        frame_pending: false,
        ack_request: true,
        pan_id_compression: true,
        sequence_number: Some(7),
        dst_pan_id: Some(PanId(0xabcd)),
        dst_addr: LinkAddr::Extended(DST),
        src_pan_id: None,
        src_addr: LinkAddr::Extended(SRC),
        header_ies: &[],
        content: &PAYLOAD,
    }
}

fn level5() -> AuxSecurityHeaderRepr {
    AuxSecurityHeaderRepr {
        security_level: SecurityLevel::EncMic32,
        frame_counter: Some(0x0102_0304),
        key_id: KeyIdentifier::Index(1),
        asn_in_nonce: false,
    }
}

fn emit(r: &FrameRepr<'_>) -> Vec<u8> {
    let mut buf = vec![0u8; r.buffer_len()];
    r.emit_into(&mut buf).unwrap();
    buf
}

// --- the ieee802154 crate's key and device lookups ---------------------------------------

struct StaticKey;
impl i154sec::KeyDescriptorLookup<U16> for StaticKey {
    fn lookup_key_descriptor(
        &self,
        _mode: i154sec::AddressingMode,
        _key_id: Option<i154sec::KeyIdentifier>,
        device: Option<i154::Address>,
    ) -> Option<(u64, GenericArray<u8, U16>)> {
        match device {
            Some(i154::Address::Extended(_, e)) => {
                Some((e.0, GenericArray::clone_from_slice(&KEY)))
            }
            _ => None,
        }
    }
}

struct OneDevice(i154sec::DeviceDescriptor);
impl i154sec::DeviceDescriptorLookup for OneDevice {
    fn lookup_device(
        &mut self,
        _mode: i154sec::AddressingMode,
        _addr: i154::Address,
    ) -> Option<&mut i154sec::DeviceDescriptor> {
        Some(&mut self.0)
    }
}

fn i154_frame(secured: bool) -> i154::Frame<'static> {
    i154::Frame {
        header: i154::Header {
            ie_present: false,
            seq_no_suppress: false,
            frame_type: i154::FrameType::Data,
            frame_pending: false,
            ack_request: true,
            pan_id_compress: true,
            version: i154::FrameVersion::Ieee802154_2006,
            seq: 7,
            destination: Some(i154::Address::Extended(
                i154::PanId(0xabcd),
                i154::ExtendedAddress(DST.to_u64()),
            )),
            source: Some(i154::Address::Extended(
                i154::PanId(0xabcd),
                i154::ExtendedAddress(SRC.to_u64()),
            )),
            auxiliary_security_header: secured.then(|| {
                i154sec::AuxiliarySecurityHeader::new(
                    i154sec::SecurityControl::new(i154sec::SecurityLevel::ENCMIC32),
                    Some(i154sec::KeyIdentifier {
                        key_source: None,
                        key_index: 1,
                    }),
                )
            }),
        },
        content: i154::FrameContent::Data,
        payload: &PAYLOAD,
        footer: [0, 0],
    }
}

fn i154_secure(frame: i154::Frame<'_>, out: &mut [u8]) -> usize {
    let mut ctx: i154sec::SecurityContext<Aes07, StaticKey> =
        i154sec::SecurityContext::new(SRC.to_u64(), 0x0102_0304, StaticKey);
    let mut len = 0;
    out.write_with(
        &mut len,
        frame,
        &mut FrameSerDesContext::new(FooterMode::None, Some(&mut ctx)),
    )
    .unwrap();
    len
}

fn i154_unsecure(buf: &mut [u8]) -> Result<usize, i154sec::SecurityError> {
    let mut ctx: i154sec::SecurityContext<Aes07, StaticKey> =
        i154sec::SecurityContext::new(SRC.to_u64(), 0, StaticKey);
    let mut dev = OneDevice(i154sec::DeviceDescriptor {
        frame_counter: 0,
        exempt: false,
    });
    i154::Frame::try_read_and_unsecure(
        buf,
        &mut FrameSerDesContext::new(FooterMode::None, Some(&mut ctx)),
        &mut dev,
    )
    .map(|(f, _)| f.payload.len())
}

/// Times `a` and `b` alternately (31 rounds of `iters` calls each) and returns the median
/// nanoseconds per call of each. On a shared machine whose load changes from second to second,
/// alternating gives a fairer ratio than criterion's one-function-after-another groups.
fn interleaved(iters: u32, a: &mut dyn FnMut(), b: &mut dyn FnMut()) -> (f64, f64) {
    let mut ta = Vec::new();
    let mut tb = Vec::new();
    for _ in 0..31 {
        let start = std::time::Instant::now();
        for _ in 0..iters {
            a();
        }
        ta.push(start.elapsed().as_nanos() as f64 / f64::from(iters));
        let start = std::time::Instant::now();
        for _ in 0..iters {
            b();
        }
        tb.push(start.elapsed().as_nanos() as f64 / f64::from(iters));
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    (median(&mut ta), median(&mut tb))
}

fn report(what: &str, theirs_name: &str, (ours, theirs): (f64, f64)) {
    eprintln!(
        "interleaved {what}: amimesh {ours:.0} ns, {theirs_name} {theirs:.0} ns, ratio {:.2}x",
        theirs / ours
    );
}

fn bench(c: &mut Criterion) {
    // ---- parse, unsecured ----
    let ot = &OT_LL16_FCS[..OT_LL16_FCS.len() - 2];
    let ext = emit(&ext_repr(None));
    let mut g = c.benchmark_group("parse/unsecured");
    for (name, bytes) in [("ll16_2003", ot), ("ext_2006", &ext[..])] {
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        g.bench_with_input(BenchmarkId::new("amimesh", name), bytes, |b, bytes| {
            b.iter(|| {
                let f = Frame::new_checked(black_box(bytes)).unwrap();
                let r = FrameRepr::parse(&f).unwrap();
                black_box(r.payload().len())
            })
        });
        g.bench_with_input(BenchmarkId::new("smoltcp", name), bytes, |b, bytes| {
            b.iter(|| {
                let f = smoltcp::wire::Ieee802154Frame::new_checked(black_box(bytes)).unwrap();
                let r = smoltcp::wire::Ieee802154Repr::parse(&f).unwrap();
                black_box((r, f.payload().map(<[u8]>::len)))
            })
        });
        g.bench_with_input(BenchmarkId::new("ieee802154", name), bytes, |b, bytes| {
            b.iter(|| {
                let f: i154::Frame = black_box(bytes)
                    .read_with(&mut 0, FooterMode::None)
                    .unwrap();
                black_box(f.payload.len())
            })
        });
    }
    g.finish();

    // ---- parse + decrypt, level 5 ----
    let key = CcmKey::new(&Key128::new(KEY));
    let mut keys: KeyTable<1, 0> = KeyTable::new();
    keys.add_key(Some(1), key.clone()).unwrap();
    let mut secured = emit(&ext_repr(Some(level5())));
    secure_frame(&mut secured, &key, SRC).unwrap();
    let mut theirs = vec![0u8; 127];
    let n = i154_secure(i154_frame(true), &mut theirs);
    theirs.truncate(n);
    assert_eq!(theirs.len(), secured.len(), "same frame length for both");
    // Sanity: each decrypts its own frame; ieee802154 rejects the standard one.
    assert_eq!(i154_unsecure(&mut theirs.clone()).unwrap(), PAYLOAD.len());
    assert!(i154_unsecure(&mut secured.clone()).is_err());
    let mut mine = secured.clone();
    let u = unsecure_frame(&mut mine, &keys).unwrap();
    assert_eq!(&mine[u.header_len..u.len], &PAYLOAD);

    {
        let ot = &OT_LL16_FCS[..OT_LL16_FCS.len() - 2];
        for (what, bytes) in [("parse ll16_2003", ot), ("parse ext_2006", &ext[..])] {
            let r = interleaved(
                20_000,
                &mut || {
                    let f = Frame::new_checked(black_box(bytes)).unwrap();
                    black_box(FrameRepr::parse(&f).unwrap().payload().len());
                },
                &mut || {
                    let f = smoltcp::wire::Ieee802154Frame::new_checked(black_box(bytes)).unwrap();
                    let r = smoltcp::wire::Ieee802154Repr::parse(&f).unwrap();
                    black_box((r, f.payload().map(<[u8]>::len)));
                },
            );
            report(what, "smoltcp", r);
        }
        let mut s1 = secured.clone();
        let mut s2 = theirs.clone();
        let mut s3 = secured.clone();
        let mine = interleaved(
            2_000,
            &mut || {
                s1.copy_from_slice(&secured);
                black_box(unsecure_frame(black_box(&mut s1), &keys).unwrap());
            },
            &mut || {
                s2.copy_from_slice(&theirs);
                black_box(i154_unsecure(black_box(&mut s2)).unwrap());
            },
        );
        report("parse+decrypt level 5", "ieee802154 (own frame)", mine);
        let r = interleaved(
            2_000,
            &mut || {
                s1.copy_from_slice(&secured);
                black_box(unsecure_frame(black_box(&mut s1), &keys).unwrap());
            },
            &mut || {
                s3.copy_from_slice(&secured);
                black_box(i154_unsecure(black_box(&mut s3)).is_err());
            },
        );
        report(
            "parse+decrypt level 5",
            "ieee802154 (standard frame, MIC fails)",
            r,
        );
        let mut o1 = vec![0u8; 127];
        let mut o2 = vec![0u8; 127];
        let r = interleaved(
            2_000,
            &mut || {
                let r = ext_repr(Some(level5()));
                let n = r.emit_into(black_box(&mut o1)).unwrap();
                secure_frame(&mut o1[..n], &key, SRC).unwrap();
            },
            &mut || {
                black_box(i154_secure(i154_frame(true), black_box(&mut o2)));
            },
        );
        report("emit+encrypt level 5", "ieee802154", r);
    }

    let mut g = c.benchmark_group("parse_decrypt/level5");
    g.throughput(Throughput::Bytes(secured.len() as u64));
    let mut scratch = secured.clone();
    g.bench_function("amimesh", |b| {
        b.iter(|| {
            scratch.copy_from_slice(&secured);
            // The payload range and the originator come back with the result.
            black_box(unsecure_frame(black_box(&mut scratch), &keys).unwrap())
        })
    });
    if std::env::var_os("AMIMESH_BENCH_PARTS").is_some() {
        let l = amimesh::mac::security::frame::secured_layout(&secured).unwrap();
        g.bench_function("amimesh_layout_only", |b| {
            b.iter(|| {
                black_box(
                    amimesh::mac::security::frame::secured_layout(black_box(&secured)).unwrap(),
                )
            })
        });
        let nonce =
            amimesh::mac::security::ccm_star::nonce(SRC, 0x0102_0304, SecurityLevel::EncMic32);
        g.bench_function("amimesh_ccm_only", |b| {
            b.iter(|| {
                scratch.copy_from_slice(&secured);
                let (head, mic) = scratch.split_at_mut(l.content_end);
                let (aad, m) = head.split_at_mut(l.open_end);
                black_box(
                    key.open(&nonce, SecurityLevel::EncMic32, aad, m, mic)
                        .is_ok(),
                )
            })
        });
    }
    let mut scratch2 = theirs.clone();
    g.bench_function("ieee802154_own_frame", |b| {
        b.iter(|| {
            scratch2.copy_from_slice(&theirs);
            black_box(i154_unsecure(black_box(&mut scratch2)).unwrap())
        })
    });
    let mut scratch3 = secured.clone();
    g.bench_function("ieee802154_standard_frame", |b| {
        b.iter(|| {
            scratch3.copy_from_slice(&secured);
            black_box(i154_unsecure(black_box(&mut scratch3)).is_err())
        })
    });
    g.finish();

    // ---- emit + encrypt, level 5 ----
    let mut g = c.benchmark_group("emit_encrypt/level5");
    g.throughput(Throughput::Bytes(secured.len() as u64));
    let mut out = vec![0u8; 127];
    g.bench_function("amimesh", |b| {
        b.iter(|| {
            let r = ext_repr(Some(level5()));
            let n = r.emit_into(black_box(&mut out)).unwrap();
            secure_frame(&mut out[..n], &key, SRC).unwrap();
            black_box(n)
        })
    });
    g.bench_function("ieee802154", |b| {
        b.iter(|| black_box(i154_secure(i154_frame(true), black_box(&mut out))))
    });
    g.finish();

    // ---- emit, unsecured ----
    let mut g = c.benchmark_group("emit/unsecured");
    g.throughput(Throughput::Bytes(ext.len() as u64));
    g.bench_function("amimesh", |b| {
        b.iter(|| black_box(ext_repr(None).emit_into(black_box(&mut out)).unwrap()))
    });
    let smol = smoltcp::wire::Ieee802154Repr::parse(
        &smoltcp::wire::Ieee802154Frame::new_checked(&ext[..]).unwrap(),
    )
    .unwrap();
    g.bench_function("smoltcp", |b| {
        b.iter(|| {
            let r = black_box(smol);
            let mut f = smoltcp::wire::Ieee802154Frame::new_unchecked(&mut out[..]);
            r.emit(&mut f);
            let hl = r.buffer_len();
            out[hl..hl + PAYLOAD.len()].copy_from_slice(&PAYLOAD);
            black_box(hl + PAYLOAD.len())
        })
    });
    g.bench_function("ieee802154", |b| {
        b.iter(|| {
            let mut len = 0;
            black_box(&mut out[..])
                .write_with(
                    &mut len,
                    i154_frame(false),
                    &mut FrameSerDesContext::no_security(FooterMode::None),
                )
                .unwrap();
            black_box(len)
        })
    });
    g.finish();
    let _ = ShortAddr(0);
}

/// Instruction-count mode: `AMIMESH_BENCH_IR=<path>:<n>` runs `n` calls of one path and exits,
/// for `valgrind --tool=callgrind` (repeatable where wall time on a shared machine is not).
/// Paths: `parse`, `parse_smoltcp`, `decrypt`, `decrypt_i154`, `encrypt`, `encrypt_i154`,
/// `open_raw_key` (CCM* open with a raw key, so the key expansion is counted), `none` (setup
/// only, to subtract).
fn ir_mode(spec: &str) {
    let (path, n) = spec.split_once(':').unwrap_or((spec, "10000"));
    let n: u32 = n.parse().unwrap();
    let ext = emit(&ext_repr(None));
    let key = CcmKey::new(&Key128::new(KEY));
    let mut keys: KeyTable<1, 0> = KeyTable::new();
    keys.add_key(Some(1), key.clone()).unwrap();
    let mut secured = emit(&ext_repr(Some(level5())));
    secure_frame(&mut secured, &key, SRC).unwrap();
    let mut theirs = vec![0u8; 127];
    let len = i154_secure(i154_frame(true), &mut theirs);
    theirs.truncate(len);
    let mut s = secured.clone();
    let mut t = theirs.clone();
    let mut out = vec![0u8; 127];
    for _ in 0..n {
        match path {
            "parse" => {
                let f = Frame::new_checked(black_box(&ext[..])).unwrap();
                black_box(FrameRepr::parse(&f).unwrap().payload().len());
            }
            "parse_smoltcp" => {
                let f = smoltcp::wire::Ieee802154Frame::new_checked(black_box(&ext[..])).unwrap();
                let r = smoltcp::wire::Ieee802154Repr::parse(&f).unwrap();
                black_box((r, f.payload().map(<[u8]>::len)));
            }
            "decrypt" => {
                s.copy_from_slice(&secured);
                black_box(unsecure_frame(black_box(&mut s), &keys).unwrap());
            }
            "decrypt_i154" => {
                t.copy_from_slice(&theirs);
                black_box(i154_unsecure(black_box(&mut t)).unwrap());
            }
            "encrypt" => {
                let r = ext_repr(Some(level5()));
                let n = r.emit_into(black_box(&mut out)).unwrap();
                secure_frame(&mut out[..n], &key, SRC).unwrap();
                black_box(n);
            }
            "encrypt_i154" => {
                black_box(i154_secure(i154_frame(true), black_box(&mut out)));
            }
            "open_raw_key" => {
                s.copy_from_slice(&secured);
                let l = amimesh::mac::security::frame::secured_layout(&s).unwrap();
                let nonce = amimesh::mac::security::ccm_star::nonce(
                    SRC,
                    0x0102_0304,
                    SecurityLevel::EncMic32,
                );
                let (head, mic) = s.split_at_mut(l.content_end);
                let (aad, m) = head.split_at_mut(l.open_end);
                let k = Key128::new(KEY);
                amimesh::mac::security::ccm_star::open(
                    black_box(&k),
                    &nonce,
                    SecurityLevel::EncMic32,
                    aad,
                    m,
                    mic,
                )
                .unwrap();
            }
            "none" => {}
            other => panic!("unknown path {other}"),
        }
    }
}

fn main() {
    if let Ok(spec) = std::env::var("AMIMESH_BENCH_IR") {
        ir_mode(&spec);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}

criterion_group!(benches, bench);
