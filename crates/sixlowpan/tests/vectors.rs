//! The files in `testdata/` decode to what their sources say (see `testdata/README.md`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use amimesh_core::{ExtAddr, LinkAddr, ShortAddr};
use amimesh_sixlowpan::wire::iphc::{IphcPacket, IphcRepr};
use amimesh_sixlowpan::wire::lowpan::{FragHeader, FragRepr};
use amimesh_sixlowpan::wire::nhc::{ExtHeaderId, ExtNhcPacket, ExtNhcRepr};
use amimesh_sixlowpan::wire::{IpProtocol, icmpv6, ipv6};
use amimesh_sixlowpan::{CompressOptions, Context, ContextTable, compress, decompress};
use amimesh_testkit::wpan::crc16;
use std::net::Ipv6Addr;

fn load(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/testdata/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

#[test]
fn openthread_ll16_frame() {
    let frame = load("openthread_ll16_echo.frame.bin");
    let (body, fcs) = frame.split_at(frame.len() - 2);
    assert_eq!(crc16(body).to_le_bytes(), [fcs[0], fcs[1]]);
    // FCF 0x8861 (data, AR, PAN ID compression, short/short), seq, PAN, dst, src.
    assert_eq!(&body[..2], &[0x61, 0x88]);
    let dst = LinkAddr::Short(ShortAddr::from_le_bytes([body[5], body[6]]));
    let src = LinkAddr::Short(ShortAddr::from_le_bytes([body[7], body[8]]));
    assert_eq!(dst, LinkAddr::Short(ShortAddr(0x1000)));
    let lowpan = &body[9..];
    let want = load("openthread_ll16_echo.ipv6.bin");
    let ctx = ContextTable::new();
    let mut out = [0u8; 128];
    let n = decompress(lowpan, src, dst, &ctx, &mut out).unwrap();
    assert_eq!(&out[..n], &want[..]);
    let p = ipv6::Packet::new_checked(&want[..]).unwrap();
    let icmp = icmpv6::Packet::new_checked(p.payload()).unwrap();
    assert!(icmp.verify_checksum(&p.src_addr(), &p.dst_addr()));
    let m = compress(&want, src, dst, &ctx, &CompressOptions::default(), &mut out).unwrap();
    assert_eq!(&out[..m], lowpan);
}

#[test]
fn openthread_ll64_payload() {
    let lowpan = load("openthread_ll64_echo.lowpan.bin");
    let src = LinkAddr::Extended(ExtAddr([0x14, 0x6e, 0x0a, 0, 0, 0, 0, 1]));
    let dst = LinkAddr::Extended(ExtAddr([0x14, 0x6e, 0x0a, 0, 0, 0, 0, 3]));
    let mut out = [0u8; 128];
    let n = decompress(&lowpan, src, dst, &ContextTable::new(), &mut out).unwrap();
    let p = ipv6::Packet::new_checked(&out[..n]).unwrap();
    assert_eq!(
        p.src_addr(),
        "fe80::166e:a00:0:1".parse::<Ipv6Addr>().unwrap()
    );
    assert_eq!(
        p.dst_addr(),
        "fe80::166e:a00:0:3".parse::<Ipv6Addr>().unwrap()
    );
    let icmp = icmpv6::Packet::new_checked(p.payload()).unwrap();
    assert_eq!(icmp.checksum(), 0x30be);
    assert!(icmp.verify_checksum(&p.src_addr(), &p.dst_addr()));
}

#[test]
fn smoltcp_fragment_headers() {
    let f1 = load("smoltcp_frag1.bin");
    let r = FragRepr::parse(&FragHeader::new_checked(&f1[..]).unwrap()).unwrap();
    assert_eq!(
        r,
        FragRepr::First {
            size: 0xff,
            tag: 0xabcd
        }
    );
    let fnn = load("smoltcp_fragn.bin");
    let r = FragRepr::parse(&FragHeader::new_checked(&fnn[..]).unwrap()).unwrap();
    assert_eq!(
        r,
        FragRepr::Subsequent {
            size: 0xff,
            tag: 0xabcd,
            offset: 0xcc
        }
    );
}

#[test]
fn smoltcp_iphc() {
    let b = load("smoltcp_iphc_ll.bin");
    let p = IphcPacket::new_checked(&b[..]).unwrap();
    assert_eq!((p.tf(), p.hlim(), p.sam(), p.dam()), (3, 2, 3, 3));
    assert_eq!(p.next_header(), Some(IpProtocol::Icmpv6));
    let b = load("smoltcp_iphc_ctx.bin");
    let p = IphcPacket::new_checked(&b[..]).unwrap();
    assert!(p.nh() && p.cid() && p.sac() && p.dac());
    let ctx = ContextTable::new()
        .with(0, Context::new("fd00::".parse().unwrap(), 64))
        .unwrap();
    let r = IphcRepr::parse(
        &p,
        Some(ShortAddr(1).to_iid()),
        Some(ShortAddr(2).to_iid()),
        &ctx,
    )
    .unwrap();
    assert_eq!(r.src_addr, "fd00::ff:fe00:1".parse::<Ipv6Addr>().unwrap());
    assert_eq!(r.dst_addr, "fd00::ff:fe00:2".parse::<Ipv6Addr>().unwrap());
}

#[test]
fn smoltcp_nhc() {
    let b = load("smoltcp_nhc_rpl_hbh.bin");
    let r = ExtNhcRepr::parse(&ExtNhcPacket::new_checked(&b[..]).unwrap()).unwrap();
    assert_eq!(r.header_id, ExtHeaderId::HopByHop);
    assert_eq!(r.next_header, Some(IpProtocol::Icmpv6));
    assert_eq!(r.data, &[0x63, 0x04, 0x00, 0x1e, 0x03, 0x00]);
    let b = load("smoltcp_nhc_srh.bin");
    let r = ExtNhcRepr::parse(&ExtNhcPacket::new_checked(&b[..]).unwrap()).unwrap();
    assert_eq!(r.header_id, ExtHeaderId::Routing);
    assert_eq!(r.next_header, None);
    assert_eq!(&r.data[..4], &[0x03, 0x03, 0x99, 0x30]);
    assert_eq!(r.data.len(), 30);
}
