//! Live interop: wpa_supplicant's EAP-PSK peer (`eapol_test`, a RADIUS client) authenticates
//! against our [`EapPskServer`] behind a minimal RADIUS server on loopback (RFC 2865 framing,
//! RFC 3579 EAP-Message and Message-Authenticator, RFC 2548 MS-MPPE keys). With the MPPE keys
//! in Access-Accept, `eapol_test` checks that our MSK equals its own. A missing `eapol_test`
//! fails the test.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use amimesh_core::Key128;
use amimesh_pana::eap_psk::{EapPskServer, Lookup, ServerOutput, identity};
use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use std::net::UdpSocket;
use std::process::{Command, Stdio};
use std::time::Duration;

const SECRET: &[u8] = b"amimesh-radius";
const PSK: [u8; 16] = [
    0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
];

const ACCESS_REQUEST: u8 = 1;
const ACCESS_ACCEPT: u8 = 2;
const ACCESS_REJECT: u8 = 3;
const ACCESS_CHALLENGE: u8 = 11;
const ATTR_EAP_MESSAGE: u8 = 79;
const ATTR_MESSAGE_AUTHENTICATOR: u8 = 80;
const ATTR_VENDOR_SPECIFIC: u8 = 26;

fn attrs(pkt: &[u8]) -> Vec<(u8, &[u8])> {
    let len = u16::from_be_bytes([pkt[2], pkt[3]]) as usize;
    let mut out = Vec::new();
    let mut i = 20;
    while i + 2 <= len {
        let l = pkt[i + 1] as usize;
        assert!(l >= 2 && i + l <= len, "bad RADIUS attribute");
        out.push((pkt[i], &pkt[i + 2..i + l]));
        i += l;
    }
    out
}

/// RFC 2548 §2.4.2 encoding of an MS-MPPE key under the request authenticator.
fn mppe(vendor_type: u8, key: &[u8], req_auth: &[u8], salt: u16) -> Vec<u8> {
    let mut p = vec![key.len() as u8];
    p.extend_from_slice(key);
    while p.len() % 16 != 0 {
        p.push(0);
    }
    let salt = (salt | 0x8000).to_be_bytes();
    let mut c = Vec::new();
    let mut prev: Vec<u8> = [req_auth, &salt[..]].concat();
    for chunk in p.chunks(16) {
        let b = Md5::new()
            .chain_update(SECRET)
            .chain_update(&prev)
            .finalize();
        let ci: Vec<u8> = chunk.iter().zip(b.iter()).map(|(x, y)| x ^ y).collect();
        c.extend_from_slice(&ci);
        prev = ci;
    }
    let mut v = 311u32.to_be_bytes().to_vec();
    v.push(vendor_type);
    v.push((2 + 2 + c.len()) as u8);
    v.extend_from_slice(&salt);
    v.extend_from_slice(&c);
    v
}

fn reply(code: u8, req: &[u8], eap: &[u8], extra: &[(u8, Vec<u8>)]) -> Vec<u8> {
    let mut p = vec![code, req[1], 0, 0];
    p.extend_from_slice(&req[4..20]); // Request Authenticator for the MACs
    for chunk in eap.chunks(253) {
        p.push(ATTR_EAP_MESSAGE);
        p.push((chunk.len() + 2) as u8);
        p.extend_from_slice(chunk);
    }
    for (t, v) in extra {
        p.push(*t);
        p.push((v.len() + 2) as u8);
        p.extend_from_slice(v);
    }
    let ma_at = p.len() + 2;
    p.extend_from_slice(&[ATTR_MESSAGE_AUTHENTICATOR, 18]);
    p.extend_from_slice(&[0; 16]);
    let len = p.len() as u16;
    p[2..4].copy_from_slice(&len.to_be_bytes());
    let mut h = <Hmac<Md5> as Mac>::new_from_slice(SECRET).unwrap();
    h.update(&p);
    let ma = h.finalize().into_bytes();
    p[ma_at..ma_at + 16].copy_from_slice(&ma);
    let ra = Md5::new().chain_update(&p).chain_update(SECRET).finalize();
    p[4..20].copy_from_slice(&ra);
    p
}

fn check_request_mac(pkt: &[u8]) {
    let len = u16::from_be_bytes([pkt[2], pkt[3]]) as usize;
    let mut copy = pkt[..len].to_vec();
    let mut i = 20;
    let mut got = None;
    while i + 2 <= len {
        let l = copy[i + 1] as usize;
        if copy[i] == ATTR_MESSAGE_AUTHENTICATOR {
            got = Some(copy[i + 2..i + 18].to_vec());
            copy[i + 2..i + 18].fill(0);
        }
        i += l;
    }
    let mut h = <Hmac<Md5> as Mac>::new_from_slice(SECRET).unwrap();
    h.update(&copy);
    assert_eq!(
        got.unwrap(),
        h.finalize().into_bytes().to_vec(),
        "Message-Authenticator"
    );
}

/// Runs one `eapol_test` authentication; returns (exit success, server outcome, stdout).
fn run(peer_psk_hex: &str) -> (bool, Option<bool>, String) {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let port = sock.local_addr().unwrap().port();
    let dir = std::env::temp_dir().join(format!("amimesh-eapol-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("eapol.conf");
    std::fs::write(
        &conf,
        format!(
            "network={{\n key_mgmt=IEEE8021X\n eap=PSK\n identity=\"meter@example\"\n password={peer_psk_hex}\n eapol_flags=0\n}}\n"
        ),
    )
    .unwrap();
    let child = Command::new("eapol_test")
        .arg(format!("-c{}", conf.display()))
        .arg("-a127.0.0.1")
        .arg(format!("-p{port}"))
        .arg(format!("-s{}", String::from_utf8_lossy(SECRET)))
        .arg("-t15")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("eapol_test is required for this test (tools/setup-oracles.sh installs it)");

    let mut server = EapPskServer::new(identity(b"paa.example").unwrap());
    let mut rng = ChaCha20Rng::seed_from_u64(9);
    let mut started = false;
    let mut outcome = None;
    let mut buf = [0u8; 4096];
    while outcome.is_none() {
        let (n, from) = match sock.recv_from(&mut buf) {
            Ok(v) => v,
            Err(_) => break,
        };
        let req = &buf[..n];
        assert_eq!(req[0], ACCESS_REQUEST);
        check_request_mac(req);
        let eap: Vec<u8> = attrs(req)
            .into_iter()
            .filter(|(t, _)| *t == ATTR_EAP_MESSAGE)
            .flat_map(|(_, v)| v.to_vec())
            .collect();
        if !started {
            // eapol_test answered its own Identity request: adopt its identifier.
            let mut scratch = [0u8; 16];
            server.start(eap[1], &mut scratch).unwrap();
            started = true;
        }
        let mut out = [0u8; 256];
        let mut lookup = |id: &[u8]| {
            assert_eq!(id, b"meter@example");
            Lookup::Allowed(Key128::new(PSK))
        };
        let resp = match server.handle(&eap, &mut lookup, &mut rng, &mut out) {
            ServerOutput::Request(n) => reply(ACCESS_CHALLENGE, req, &out[..n], &[]),
            ServerOutput::Success(n) => {
                let msk = server.session_keys().unwrap().msk.clone();
                outcome = Some(true);
                let auth = &req[4..20];
                reply(
                    ACCESS_ACCEPT,
                    req,
                    &out[..n],
                    &[
                        (ATTR_VENDOR_SPECIFIC, mppe(17, &msk.expose()[..32], auth, 1)),
                        (ATTR_VENDOR_SPECIFIC, mppe(16, &msk.expose()[32..], auth, 2)),
                    ],
                )
            }
            ServerOutput::Failure(n) => {
                outcome = Some(false);
                reply(ACCESS_REJECT, req, &out[..n], &[])
            }
            ServerOutput::Discard(e) => panic!("server discarded a response: {e:?}"),
        };
        sock.send_to(&resp, from).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    (out.status.success(), outcome, stdout)
}

#[test]
fn wpa_supplicant_peer_authenticates_against_our_server() {
    let (ok, outcome, stdout) = run("0123456789abcdef0123456789abcdef");
    assert_eq!(outcome, Some(true), "{stdout}");
    assert!(ok, "eapol_test failed:\n{stdout}");
    // eapol_test compared our MS-MPPE-Recv-Key (MSK[0..32]) with its own key.
    assert!(stdout.contains("MPPE keys OK"), "{stdout}");
    assert!(stdout.contains("SUCCESS"), "{stdout}");
}

#[test]
fn wpa_supplicant_peer_with_wrong_psk_is_rejected() {
    let (ok, outcome, stdout) = run("00000000000000000000000000000000");
    assert_eq!(outcome, Some(false), "{stdout}");
    assert!(!ok, "{stdout}");
}

/// Decrypts an RFC 2548 MS-MPPE key attribute value (vendor part included).
fn mppe_decrypt(v: &[u8], req_auth: &[u8]) -> Vec<u8> {
    assert_eq!(u32::from_be_bytes(v[..4].try_into().unwrap()), 311);
    let salt = &v[6..8];
    let c = &v[8..];
    let mut p = Vec::new();
    let mut prev: Vec<u8> = [req_auth, salt].concat();
    for chunk in c.chunks(16) {
        let b = Md5::new()
            .chain_update(SECRET)
            .chain_update(&prev)
            .finalize();
        p.extend(chunk.iter().zip(b.iter()).map(|(x, y)| x ^ y));
        prev = chunk.to_vec();
    }
    let len = p[0] as usize;
    p[1..1 + len].to_vec()
}

fn access_request(id: u8, auth: &[u8; 16], eap: &[u8], state: Option<&[u8]>) -> Vec<u8> {
    let mut p = vec![ACCESS_REQUEST, id, 0, 0];
    p.extend_from_slice(auth);
    p.extend_from_slice(&[1, 15]);
    p.extend_from_slice(b"meter@example");
    for chunk in eap.chunks(253) {
        p.push(ATTR_EAP_MESSAGE);
        p.push((chunk.len() + 2) as u8);
        p.extend_from_slice(chunk);
    }
    if let Some(s) = state {
        p.push(24);
        p.push((s.len() + 2) as u8);
        p.extend_from_slice(s);
    }
    let ma_at = p.len() + 2;
    p.extend_from_slice(&[ATTR_MESSAGE_AUTHENTICATOR, 18]);
    p.extend_from_slice(&[0; 16]);
    let len = p.len() as u16;
    p[2..4].copy_from_slice(&len.to_be_bytes());
    let mut h = <Hmac<Md5> as Mac>::new_from_slice(SECRET).unwrap();
    h.update(&p);
    let ma = h.finalize().into_bytes();
    p[ma_at..ma_at + 16].copy_from_slice(&ma);
    p
}

#[test]
fn our_peer_authenticates_against_hostapd_eap_server() {
    use amimesh_pana::eap_psk::{EapPskPeer, PeerOutput};
    let port = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = std::env::temp_dir().join(format!("amimesh-hostapd-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let users = dir.join("eap_users");
    std::fs::write(
        &users,
        "\"meter@example\" PSK 0123456789abcdef0123456789abcdef\n",
    )
    .unwrap();
    let clients = dir.join("clients");
    std::fs::write(
        &clients,
        format!("127.0.0.1/32 {}\n", String::from_utf8_lossy(SECRET)),
    )
    .unwrap();
    let conf = dir.join("hostapd.conf");
    std::fs::write(
        &conf,
        format!(
            "driver=none\ninterface=amimesh0\nlogger_stdout=-1\nlogger_stdout_level=0\n\
             eap_server=1\neap_user_file={}\nradius_server_clients={}\n\
             radius_server_auth_port={port}\nserver_id=paa.example\n",
            users.display(),
            clients.display()
        ),
    )
    .unwrap();
    // Debian installs hostapd in /usr/sbin, which is not on every user's PATH.
    let hostapd = if std::path::Path::new("/usr/sbin/hostapd").exists() {
        "/usr/sbin/hostapd"
    } else {
        "hostapd"
    };
    let mut child = Command::new(hostapd)
        .arg(&conf)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("hostapd is required for this test (tools/setup-oracles.sh installs it)");

    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut peer = EapPskPeer::new(identity(b"meter@example").unwrap(), &Key128::new(PSK));
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    let mut eap = [0u8; 256];
    let PeerOutput::Response(mut n) = peer.handle(&[1, 0, 0, 5, 1], &mut rng, &mut eap) else {
        panic!("no identity response");
    };
    let mut state: Option<Vec<u8>> = None;
    let mut id = 0u8;
    let mut result = None;
    let mut buf = [0u8; 4096];
    'outer: for _round in 0..10 {
        id = id.wrapping_add(1);
        let mut auth = [0u8; 16];
        rand_core::RngCore::fill_bytes(&mut rng, &mut auth);
        let req = access_request(id, &auth, &eap[..n], state.as_deref());
        // hostapd may still be starting: resend until it answers.
        let len = loop {
            sock.send_to(&req, ("127.0.0.1", port)).unwrap();
            match sock.recv_from(&mut buf) {
                Ok((len, _)) => break len,
                Err(_) => {
                    if let Ok(Some(st)) = child.try_wait() {
                        panic!("hostapd exited: {st}");
                    }
                }
            }
        };
        let resp = buf[..len].to_vec();
        assert_eq!(resp[1], id);
        // Response Authenticator = MD5(Code|Id|Length|RequestAuth|Attributes|Secret).
        let mut chk = resp.clone();
        chk[4..20].copy_from_slice(&auth);
        let ra = Md5::new()
            .chain_update(&chk)
            .chain_update(SECRET)
            .finalize();
        assert_eq!(&resp[4..20], &ra[..], "Response Authenticator");
        let a = attrs(&resp);
        let eap_in: Vec<u8> = a
            .iter()
            .filter(|(t, _)| *t == ATTR_EAP_MESSAGE)
            .flat_map(|(_, v)| v.to_vec())
            .collect();
        state = a.iter().find(|(t, _)| *t == 24).map(|(_, v)| v.to_vec());
        match peer.handle(&eap_in, &mut rng, &mut eap) {
            PeerOutput::Response(m) => n = m,
            PeerOutput::Success => {
                assert_eq!(resp[0], ACCESS_ACCEPT);
                let recv = a
                    .iter()
                    .find(|(t, v)| *t == ATTR_VENDOR_SPECIFIC && v[4] == 17)
                    .map(|(_, v)| mppe_decrypt(v, &auth))
                    .unwrap();
                result = Some(recv);
                break 'outer;
            }
            other => panic!("{other:?}"),
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    let recv = result.expect("no Access-Accept");
    // hostapd's MS-MPPE-Recv-Key is the first half of its MSK: it equals ours.
    assert_eq!(
        recv,
        peer.session_keys().unwrap().msk.expose()[..32].to_vec()
    );
}
