#!/usr/bin/env bash
# Installs the external oracles the test suite runs against: Wireshark's tshark (dissects and
# decrypts every layer we emit), scapy (builds frames with another stack's code) and
# hostapd's eapol_test (a real EAP-PSK peer) and hostapd (a real EAP-PSK server). Idempotent;
# needs root on Debian.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
need_apt=()
command -v tshark >/dev/null 2>&1 || need_apt+=(tshark)
command -v eapol_test >/dev/null 2>&1 || need_apt+=(eapoltest)
command -v hostapd >/dev/null 2>&1 || [ -x /usr/sbin/hostapd ] || need_apt+=(hostapd)
if [ ${#need_apt[@]} -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
python3 -c 'import scapy' >/dev/null 2>&1 || python3 -m pip install -q --root-user-action=ignore 'scapy==2.8.0'
tshark --version | head -1
python3 -c 'import scapy; print("scapy", scapy.VERSION)'
