"""Builds 802.15.4 + 6LoWPAN frames with scapy's own 6LoWPAN layers and prints, per frame, a
JSON line: the frame bytes, the link addresses, and the IPv6 packet scapy decodes from them.

Scapy 2.8.0 bugs worked around (see the project's TSHARK.md): IPHC 0x7f is dissected as the
RFC 4944 ESC dispatch, so the dispatcher is patched to hand 0x7f to LoWPAN_IPHC; the IPHC
traffic class is not rotated back from ECN|DSCP, so that method is patched as well.
"""
import json
import sys

from scapy.config import conf

conf.dot15d4_protocol = "sixlowpan"
from scapy.layers.dot15d4 import Dot15d4FCS, Dot15d4Data  # noqa: E402
import scapy.layers.sixlowpan as sl  # noqa: E402
from scapy.layers.sixlowpan import (  # noqa: E402
    LoWPAN_IPHC,
    LoWPAN_NHC,
    LoWPAN_NHC_UDP,
    LoWPANMesh,
    LoWPANUncompressedIPv6,
)
from scapy.layers.inet6 import IPv6, ICMPv6EchoRequest  # noqa: E402
from scapy.layers.inet import UDP  # noqa: E402
from scapy.packet import Raw  # noqa: E402

_orig = sl.SixLoWPAN.dispatch_hook.__func__


def _hook(cls, _pkt=b"", *args, **kargs):
    if _pkt and _pkt[0] == 0x7F:
        return LoWPAN_IPHC
    return _orig(cls, _pkt, *args, **kargs)


sl.SixLoWPAN.dispatch_hook = classmethod(_hook)


def _tc_flow(self):
    # RFC 6282 §3.1.1: the inline byte is ECN(2)|DSCP(6); the IPv6 traffic class is DSCP|ECN.
    if self.tf == 0:
        return (self.tc_dscp << 2) | self.tc_ecn, self.flowlabel
    if self.tf == 1:
        return self.tc_ecn, self.flowlabel
    if self.tf == 2:
        return (self.tc_dscp << 2) | self.tc_ecn, 0
    return 0, 0


sl.LoWPAN_IPHC._getTrafficClassAndFlowLabel = _tc_flow

PAN = 0xABCD


def mac(src, dst, seq):
    mode = lambda a: 2 if a <= 0xFFFF else 3  # noqa: E731
    return Dot15d4FCS(
        fcf_frametype=1,
        fcf_destaddrmode=mode(dst),
        fcf_srcaddrmode=mode(src),
        fcf_panidcompress=1,
        seqnum=seq,
    ) / Dot15d4Data(dest_panid=PAN, dest_addr=dst, src_addr=src)


def link(a):
    return ("s:%04x" % a) if a <= 0xFFFF else ("e:%016x" % a)


E1 = 0x00124B0000000001
E2 = 0x00124B0000000002

cases = []


def add(name, src, dst, lowpan):
    frame = bytes(mac(src, dst, len(cases) + 1) / lowpan)
    d = Dot15d4FCS(frame)
    if IPv6 not in d:
        sys.exit("scapy did not decode %s: %r" % (name, d))
    ip = d[IPv6]
    cases.append(
        {
            "name": name,
            "frame": frame.hex(),
            "src": link(src),
            "dst": link(dst),
            "ipv6": bytes(ip).hex(),
            "scapy": {"src": ip.src, "dst": ip.dst, "hlim": ip.hlim, "tc": ip.tc, "fl": ip.fl},
        }
    )


udp = lambda sp, dp, ck, c=0, p=0: LoWPAN_NHC(  # noqa: E731
    exts=[LoWPAN_NHC_UDP(C=c, P=p, udpSourcePort=sp, udpDestPort=dp, udpChecksum=ck)]
)

add(
    "short, NHC UDP 4-bit ports, hop limit 64",
    0x0001,
    0x0002,
    LoWPAN_IPHC(tf=3, nh=1, hlim=2, sam=3, dam=3)
    / udp(0xF0B1, 0xF0B2, 0x1234, p=3)
    / Raw(b"hello"),
)
add(
    "0x7f: UDP hop limit 255 (dispatcher patched)",
    0x0001,
    0x0002,
    LoWPAN_IPHC(tf=3, nh=1, hlim=3, sam=3, dam=3)
    / udp(0x4D4C, 0x4D4C, 0xBEEF, p=0)
    / Raw(b"\x00\x10mle"),
)
add(
    "extended, inline next header and hop limit, ICMPv6",
    E1,
    E2,
    LoWPAN_IPHC(tf=3, nh=0, nhField=58, hlim=0, hopLimit=33, sam=3, dam=3)
    / ICMPv6EchoRequest(id=1, seq=2, data=b"ping"),
)
add(
    "64-bit source, 16-bit destination, 8-bit source port",
    0x0001,
    0x0002,
    LoWPAN_IPHC(tf=3, nh=1, hlim=1, sam=1, dam=2, src="fe80::1:2:3:4", dst="fe80::ff:fe00:77")
    / udp(0xF012, 5683, 0x0102, p=2)
    / Raw(b"coap"),
)
add(
    "full addresses, 8-bit destination port",
    0x0001,
    0x0002,
    LoWPAN_IPHC(tf=3, nh=1, hlim=2, sam=0, dam=0, src="2001:db8::1", dst="2001:db8::2")
    / udp(1234, 0xF0AA, 0x7777, p=1)
    / Raw(b"full"),
)
add(
    "multicast ff02::1 (8 bits)",
    E1,
    0xFFFF,
    LoWPAN_IPHC(tf=3, nh=0, nhField=58, hlim=3, sam=3, m=1, dam=3, dst="ff02::1")
    / ICMPv6EchoRequest(id=7, seq=7, data=b"all"),
)
add(
    "multicast ff05::1:3 (32 bits)",
    0x0001,
    0xFFFF,
    LoWPAN_IPHC(tf=3, nh=1, hlim=2, sam=3, m=1, dam=2, dst="ff05::1:3")
    / udp(547, 547, 0x4321)
    / Raw(b"dhcp"),
)
add(
    "multicast ff0e::12:3456:789a (48 bits)",
    0x0001,
    0xFFFF,
    LoWPAN_IPHC(tf=3, nh=1, hlim=2, sam=3, m=1, dam=1, dst="ff0e::12:3456:789a")
    / udp(1000, 1001, 0x1111)
    / Raw(b"m48"),
)
add(
    "uncompressed IPv6 dispatch",
    0x0001,
    0x0002,
    LoWPANUncompressedIPv6()
    / IPv6(src="fe80::1", dst="fe80::2", hlim=9)
    / UDP(sport=7, dport=9)
    / Raw(b"raw"),
)
add(
    "TF=00 traffic class and flow label (rotation patched)",
    0x0001,
    0x0002,
    LoWPAN_IPHC(tf=0, tc_ecn=1, tc_dscp=0x2E, flowlabel=0xABCDE, nh=1, hlim=2, sam=3, dam=3)
    / udp(0xF0B1, 0xF0B2, 0x1234, p=3)
    / Raw(b"tf0"),
)
add(
    "TF=01 ECN and flow label",
    0x0001,
    0x0002,
    LoWPAN_IPHC(tf=1, tc_ecn=2, flowlabel=0x12345, nh=1, hlim=2, sam=3, dam=3)
    / udp(0xF0B1, 0xF0B2, 0x1234, p=3)
    / Raw(b"tf1"),
)
add(
    "TF=10 traffic class only",
    0x0001,
    0x0002,
    LoWPAN_IPHC(tf=2, tc_ecn=3, tc_dscp=0x0A, nh=1, hlim=2, sam=3, dam=3)
    / udp(0xF0B1, 0xF0B2, 0x1234, p=3)
    / Raw(b"tf2"),
)
add(
    "UDP checksum elided (scapy computes it)",
    0x0001,
    0x0002,
    LoWPAN_IPHC(tf=3, nh=1, hlim=2, sam=3, dam=3)
    / udp(0xF0B1, 0xF0B2, 0, c=1, p=3)
    / Raw(b"elided"),
)
# Scapy derives the elided addresses from the MAC header even behind a mesh header, where
# RFC 4944 §5.2 and Wireshark use the originator and final addresses (checked in
# interop_tshark.rs); here the test passes the MAC addresses, as scapy does, and checks the
# mesh header fields separately.
add(
    "mesh header then IPHC",
    0x0005,
    0x0006,
    LoWPANMesh(v=1, f=1, hopsLeft=3, src=0x0001, dst=0x0002)
    / LoWPAN_IPHC(tf=3, nh=1, hlim=2, sam=3, dam=3)
    / udp(0xF0B1, 0xF0B2, 0x2222, p=3)
    / Raw(b"mesh"),
)
for c in cases:
    print(json.dumps(c))
