//! The relay example's run logic on small scenarios: every meter joins and reports, the
//! stolen relay is locked out, the mesh survives an uplink cut, and the CSV/SVG/JSON outputs
//! hold every meter.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    dead_code
)] // test code

#[path = "../examples/relay/run.rs"]
mod run;

use amimesh_sim::Scenario;
use run::{RunOptions, topology};

fn scenario(kind: &str, meters: usize, seed: u64) -> Scenario {
    let mut s = Scenario::new(seed, meters, topology(kind, meters));
    s.duration_s = 600.0;
    s
}

#[test]
fn eight_meters_join_and_report() {
    let r = run::run(&scenario("random", 8, 3), &RunOptions::default()).unwrap();
    assert_eq!(r.failure, None);
    assert_eq!(r.meters.len(), 8);
    for m in &r.meters {
        let (p1, p2, p3, p4) = (
            m.preselected.unwrap(),
            m.authenticated.unwrap(),
            m.linked.unwrap(),
            m.operational.unwrap(),
        );
        assert!(p1 <= p2 && p2 <= p3 && p3 <= p4, "meter {}: {m:?}", m.index);
        assert!(m.readings >= 1);
        assert_eq!(m.key_index, Some(1));
    }
    // The random layout reaches at least two hops.
    assert!(r.max_hops >= 2, "{} hops", r.max_hops);
    assert!(r.all_joined_s.is_some());
    assert!(r.join_bytes > 0 && r.bytes >= r.join_bytes);
    // The relay's route table covers the relay and every meter.
    assert_eq!(r.route_table.len(), 9);
    let text = r.route_table_text();
    assert_eq!(text.lines().count(), 10);
}

#[test]
fn revoked_relay_is_locked_out() {
    let opts = RunOptions {
        revoke_relay_at: Some(150.0),
        ..RunOptions::default()
    };
    let r = run::run(&scenario("line", 2, 5), &opts).unwrap();
    assert_eq!(r.failure, None);
    assert_eq!(r.relay_locked_out, Some(true));
    assert!(r.meters.iter().all(|m| m.key_index == Some(2)));
    assert!(
        r.relay_events
            .iter()
            .any(|(_, e)| e.contains("TerminatedByServer"))
    );
    // Without a session the relay shows no routes.
    assert!(r.route_table.is_empty());
}

#[test]
fn meters_report_again_after_the_uplink_comes_back() {
    let opts = RunOptions {
        uplink_down: Some((150.0, 200.0)),
        ..RunOptions::default()
    };
    let r = run::run(&scenario("line", 2, 9), &opts).unwrap();
    assert_eq!(r.failure, None);
    assert!(
        r.relay_events
            .iter()
            .any(|(_, e)| e.contains("uplink down"))
    );
    assert!(r.end_s >= 200.0);
}

#[test]
fn outputs_parse_and_hold_every_meter() {
    let mut s = Scenario::new(11, 6, topology("grid", 6));
    s.duration_s = 600.0;
    let dir = std::env::temp_dir().join(format!("relay-example-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pcap = dir.join("field.pcap");
    let opts = RunOptions {
        non_storing: true,
        pcap: Some(pcap.clone()),
        ..RunOptions::default()
    };
    let r = run::run(&s, &opts).unwrap();
    assert_eq!(r.failure, None);
    // CSV: a header and one row per meter, every meter operational with a reading.
    let csv = r.csv();
    let rows: Vec<Vec<&str>> = csv.lines().map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 7);
    let col = |name: &str| rows[0].iter().position(|h| *h == name).unwrap();
    let (mi, oi, ri) = (col("meter"), col("operational_s"), col("readings"));
    let mut seen: Vec<usize> = rows[1..].iter().map(|r| r[mi].parse().unwrap()).collect();
    seen.sort_unstable();
    assert_eq!(seen, (1..=6).collect::<Vec<_>>());
    for row in &rows[1..] {
        assert!(row[oi].parse::<f64>().unwrap() > 0.0);
        assert!(row[ri].parse::<usize>().unwrap() >= 1);
    }
    // SVG: well formed enough to hold a label for every meter and the relay.
    let svg = r.svg();
    assert!(svg.starts_with("<svg") || svg.starts_with("<?xml"));
    assert!(svg.trim_end().ends_with("</svg>"));
    for i in 1..=6 {
        assert!(svg.contains(&format!(">{i}<")), "meter {i} in svg");
    }
    assert!(svg.contains(">relay<"));
    // JSON: parses back with every meter.
    let j: serde_json::Value = serde_json::from_str(&r.json(0.0).to_string()).unwrap();
    assert_eq!(j["ok"], true);
    assert_eq!(j["mode"], "non-storing");
    assert_eq!(j["per_meter"].as_array().unwrap().len(), 6);
    assert_eq!(j["meters"], 6);
    // The pcap decodes and decrypts in tshark with the keys the example prints.
    let cmd = run::tshark_command(&pcap);
    amimesh_testkit::oracle::require("tshark");
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{cmd} -T fields -e ipv6.src -e udp.dstport"))
        .output()
        .expect("tshark must be installed (tools/setup-oracles.sh)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    // Decrypted frames show IPv6 sources of the mesh.
    assert!(
        text.lines().filter(|l| l.contains("2001:db8")).count() > 6,
        "{text}"
    );
    std::fs::remove_dir_all(&dir).ok();
}
