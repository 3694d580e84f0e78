/* decode_app.c - application demultiplexing of UDP/TCP payloads: IKE, NAT-T, L2TP, PPTP by port or
 * by the flow's hint, and WireGuard/OpenVPN recognised by structure (decode.h decode_app). */
#include "vpnscope/decode.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "decode_int.h"
#include "encap_int.h"
#include "vpnscope/config.h"
#include "vpnscope/pkt.h"
#include "vpnscope/proto.h"
#include "vpnscope/rd.h"
#include "vpnscope/tunnel.h"

/* ---- application demultiplexing ---------------------------------------------------------- */

/* UDP payload length on the wire (from the UDP header), else the captured payload length. */
static uint32_t udp_wire_len(const struct pkt *p)
{
    struct rd r = rd_init(p->l4, p->l4_len);
    rd_skip(&r, 4);
    uint16_t ulen = rd_be16(&r);
    return rd_ok(&r) && ulen >= UDP_HLEN ? (uint32_t)ulen - UDP_HLEN : p->payload_len;
}

/* Ports whose well-known protocol a tunnel probe must never take (DNS, mDNS, NTP, DHCP): a
 * 4-byte match there is a coincidence, not a tunnel. IKE, NAT-T and L2TP are decided by port
 * before any probe. */
static bool probe_excluded(uint16_t port)
{
    return port == 53 || port == 5353 || port == 123 || port == 67 || port == 68;
}

/* Records the decoder's verdict on p (see the result convention in tunnel.h). */
static void tunnel_verdict(struct pkt *p, bool ok, enum anomaly a)
{
    if (ok)
        return;
    if (tunnel_anom_is_truncation(a))
        pkt_truncated(p, a);
    else
        pkt_invalid(p, a);
}

static void decode_wg(struct pkt *p, struct rd *r, uint32_t wire)
{
    enum anomaly a = ANOM_NONE;
    p->vpn = VPN_WG;
    tunnel_verdict(p, wg_decode(r, wire, &p->wg, &a), a);
}

static void decode_ovpn(struct pkt *p, struct rd *r, uint32_t wire)
{
    enum anomaly a = ANOM_NONE;
    p->vpn = VPN_OVPN;
    p->dirty |= PKT_DIRTY_OVPN;
    tunnel_verdict(p, ovpn_decode(r, wire, NULL, &p->ovpn, &a), a);
}

/*
 * A UDP flow nothing has identified yet: WireGuard only from a handshake message (initiation,
 * response, cookie reply: fixed sizes and reserved zeros; transport data alone is too weak a
 * signature), OpenVPN only from a hard reset (ovpn_probe RESET). Once a flow is recognised the
 * flow layer passes HINT_WG / HINT_OVPN and every packet of it is decoded as such.
 */
static void probe_udp(struct pkt *p, struct rd *r)
{
    if (probe_excluded(p->sport) || probe_excluded(p->dport))
        return;
    uint32_t wire = udp_wire_len(p);
    if (wg_probe(p->payload, p->payload_len, wire) && p->payload_len >= 1) {
        uint8_t t = p->payload[0];
        if ((t == WG_INITIATION && wire == WG_INITIATION_LEN) ||
            (t == WG_RESPONSE && wire == WG_RESPONSE_LEN) ||
            (t == WG_COOKIE_REPLY && wire == WG_COOKIE_REPLY_LEN)) {
            decode_wg(p, r, wire);
            return;
        }
    }
    if (ovpn_probe(p->payload, p->payload_len, wire) == OVPN_PROBE_RESET)
        decode_ovpn(p, r, wire);
}

void decode_app(struct pkt *p, enum app_hint hint)
{
    if (p->status == PKT_INVALID || p->status == PKT_NON_IP || !p->has_ports)
        return;
    struct rd r = rd_init(p->payload, p->payload_len);
    bool either_port_natt = p->sport == PORT_NATT || p->dport == PORT_NATT;
    bool either_port_ike = p->sport == PORT_IKE || p->dport == PORT_IKE;
    if (p->l4proto == IPP_UDP) {
        if (either_port_natt || hint == HINT_NATT)
            natt_decode(&r, p);
        else if (either_port_ike || hint == HINT_IKE)
            ike_decode(&r, p);
        else if (p->sport == PORT_L2TP || p->dport == PORT_L2TP)
            l2tp_decode(&r, p);
        else if (hint == HINT_WG && p->payload_len > 0)
            decode_wg(p, &r, udp_wire_len(p));
        else if (hint == HINT_OVPN && p->payload_len > 0)
            decode_ovpn(p, &r, udp_wire_len(p));
        else if (hint == HINT_NONE && p->payload_len > 0 && p->status == PKT_DECODED)
            probe_udp(p, &r);
    } else if (p->l4proto == IPP_TCP) {
        if (p->payload_len > 0 && (p->sport == PORT_PPTP || p->dport == PORT_PPTP))
            pptp_decode(&r, p);
        else if (pptp_probe(p->payload, p->payload_len))
            pptp_decode(&r, p); /* PPTP control on another port, recognised by structure */
        else if (hint == HINT_OVPN)
            p->vpn = VPN_OVPN; /* the flow layer de-frames the stream (session_ovpn.c) */
        else if (hint == HINT_NONE && p->payload_len > 2 && p->status == PKT_DECODED &&
                 !probe_excluded(p->sport) && !probe_excluded(p->dport) &&
                 ovpn_tcp_probe(p->payload, p->payload_len) == OVPN_PROBE_RESET)
            p->vpn = VPN_OVPN;
    }
}
