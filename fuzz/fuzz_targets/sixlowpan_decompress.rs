//! 6LoWPAN decompression and compression round trip.
//!
//! Input: two control bytes (link-address shapes, contexts, compression options; RFC 8138
//! RPI-6LoRH compression and the RPL option type it stands for; the DODAG root's address an
//! IP-in-IP 6LoRH elides), then a 6LoWPAN payload.
//! Payloads that start with the page-1 switch `0xf1` (RFC 8025 §3) take the RPI-6LoRH
//! path (RFC 8138 §6.3), or the SRH-6LoRH path (RFC 8138 §5.1) when a Critical 6LoRH of
//! Type 0 to 4 follows; packets with an RPL Source Routing Header compress to SRH-6LoRH
//! when the RFC 8138 control bit is set, and IPv6-in-IPv6 packets to the IP-in-IP 6LoRH
//! (RFC 8138 §7), which decompression turns back into the outer header. Whatever
//! decompresses must compress and decompress back to the same packet; the input read as an
//! IPv6 packet must survive compress → decompress unchanged.
#![no_main]

use amimesh_core::{ExtAddr, LinkAddr, ShortAddr};
use amimesh_sixlowpan::{CompressOptions, Context, ContextTable, compress, decompress};
use libfuzzer_sys::fuzz_target;

fn link(sel: u8, salt: u8) -> LinkAddr {
    match sel & 3 {
        0 => LinkAddr::Absent,
        1 => LinkAddr::Short(ShortAddr(u16::from(salt))),
        2 => LinkAddr::Short(ShortAddr(0xffff)),
        _ => LinkAddr::Extended(ExtAddr([0, 0x12, 0x4b, 0, 0, 0, salt, 1])),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&ctl, rest)) = data.split_first() else {
        return;
    };
    let Some((&ctl2, frame)) = rest.split_first() else {
        return;
    };
    let src = link(ctl, 1);
    let dst = link(ctl >> 2, 2);
    let mut ctx = ContextTable::new();
    if ctl & 0x10 != 0 {
        let _ = ctx.set(0, Context::new("2001:db8::".parse().unwrap(), 64));
        let _ = ctx.set(7, Context::new("fd00:1:2:3::".parse().unwrap(), 48));
    }
    let opts = CompressOptions {
        elide_udp_checksum: ctl & 0x20 != 0,
        max_nhc: usize::from(ctl >> 6) * 3,
        rfc8138: ctl2 & 1 != 0,
    };
    if ctl2 & 2 != 0 {
        ctx.set_rpi_option_type(0x63);
    }
    if ctl2 & 4 != 0 {
        ctx.set_root(Some("2001:db8:a::212:4b00:0:1".parse().unwrap()));
    }

    let mut packet = vec![0u8; 4096];
    if let Ok(n) = decompress(frame, src, dst, &ctx, &mut packet) {
        let packet = &packet[..n];
        let mut c = vec![0u8; n + 64];
        let k = compress(packet, src, dst, &ctx, &opts, &mut c).expect("compress");
        let mut back = vec![0u8; n + 64];
        let m = decompress(&c[..k], src, dst, &ctx, &mut back).expect("decompress own output");
        assert_eq!(&back[..m], packet);
    }

    let mut c = vec![0u8; frame.len() + 64];
    let k = compress(frame, src, dst, &ctx, &opts, &mut c).expect("compress any bytes");
    let mut back = vec![0u8; frame.len() + 64];
    let m = decompress(&c[..k], src, dst, &ctx, &mut back).expect("decompress own output");
    assert_eq!(&back[..m], frame);
});
