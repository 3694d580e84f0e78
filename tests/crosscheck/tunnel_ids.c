/* tunnel_ids.c - prints the WireGuard indexes and OpenVPN session ids the tunnel decoders find in
 * a capture, one per line ("wg 0x..." / "ovpn <16 hex>"), for crosscheck_tunnel.sh to compare
 * with tshark. It is also a worked example of wiring the decoders to flows:
 *  - any UDP payload that passes wg_probe() is decoded with wg_decode();
 *  - a UDP/TCP flow is OpenVPN when a packet of it passes ovpn_probe() / ovpn_tcp_probe() as a
 *    hard reset, or when it uses port 1194 (what tshark assumes);
 *  - the session id seen in each direction is remembered; a control packet from the other
 *    direction is given to ovpn_infer_layout() until the layout is known, then every packet is
 *    decoded with it (peer session ids need the layout);
 *  - TCP payload goes through one ovpn_tcp_reasm per direction, in sequence order (holes call
 *    ovpn_tcp_gap()).
 * The file is read twice: the first pass learns flows, session ids and layouts, the second
 * prints, so packets before the layout was learned are decoded with it too (as tshark does with
 * a fixed preference). Also prints, per OpenVPN flow, "port udp|tcp N" for both ports (where
 * tshark needs "-d PROTO.port==N,openvpn") and "layout VARIANT HMAC_LEN" (what was inferred).
 * Usage: tunnel_ids [-v] FILE (-v: flows on stderr). */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE
#endif
#include <inttypes.h>
#include <pcap/pcap.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "vpnscope/decode.h"
#include "vpnscope/pkt.h"
#include "vpnscope/proto.h"
#include "vpnscope/rd.h"
#include "vpnscope/tunnel.h"

#define MAX_FLOWS 4096
#define OVPN_PORT 1194
#define TCP_SYN 0x02

struct flow {
    struct ip_addr a, b; /* a = source of the first packet seen (direction 0) */
    uint16_t pa, pb;
    uint8_t proto;
    bool ovpn;
    bool have_sid[2];
    uint64_t sid[2];
    bool lay_known;
    struct ovpn_layout lay;
    bool seq_init[2];
    uint32_t next_seq[2];
    struct ovpn_tcp_reasm tr[2];
    uint64_t n_ovpn, n_wg, n_anom;
};

static struct flow flows[MAX_FLOWS];
static unsigned n_flows;
static bool emit, verbose;

static struct flow *flow_get(const struct pkt *p, int *dir)
{
    for (unsigned i = 0; i < n_flows; i++) {
        struct flow *f = &flows[i];
        if (f->proto != p->l4proto)
            continue;
        if (ip_addr_eq(&f->a, &p->src) && ip_addr_eq(&f->b, &p->dst) && f->pa == p->sport &&
            f->pb == p->dport) {
            *dir = 0;
            return f;
        }
        if (ip_addr_eq(&f->a, &p->dst) && ip_addr_eq(&f->b, &p->src) && f->pa == p->dport &&
            f->pb == p->sport) {
            *dir = 1;
            return f;
        }
    }
    if (n_flows >= MAX_FLOWS)
        return NULL;
    struct flow *f = &flows[n_flows++];
    memset(f, 0, sizeof(*f));
    f->a = p->src;
    f->b = p->dst;
    f->pa = p->sport;
    f->pb = p->dport;
    f->proto = p->l4proto;
    *dir = 0;
    return f;
}

static void print_sid(uint64_t sid)
{
    char s[OVPN_SID_STR_LEN];
    if (emit)
        printf("ovpn %s\n", ovpn_sid_str(sid, s, sizeof(s)));
}

/* One OpenVPN packet of flow f, direction dir (tcp: the de-framed packet, else UDP). */
static void ovpn_packet(struct flow *f, int dir, const uint8_t *b, uint32_t captured, uint32_t len,
                        const struct ovpn_tcp_pkt *tcp)
{
    struct ovpn_msg m;
    enum anomaly a;
    const struct ovpn_layout *lay = f->lay_known ? &f->lay : NULL;
    bool ok;
    if (tcp) {
        ok = ovpn_decode_tcp(tcp, lay, &m, &a);
    } else {
        struct rd r = rd_init(b, captured);
        ok = ovpn_decode(&r, len, lay, &m, &a);
    }
    f->n_ovpn++;
    if (!ok)
        f->n_anom++;
    if (m.has_session_id) {
        f->sid[dir] = m.session_id;
        f->have_sid[dir] = true;
        print_sid(m.session_id);
    }
    if (m.has_peer_session)
        print_sid(m.peer_session_id);
    if (!f->lay_known && m.is_control && f->have_sid[!dir]) {
        struct ovpn_layout l;
        if (ovpn_infer_layout(b, captured, f->sid[!dir], ovpn_hmac_candidates,
                              OVPN_N_HMAC_CANDIDATES, &l, NULL)) {
            f->lay = l;
            f->lay_known = true;
        }
    }
}

struct tcp_ctx {
    struct flow *f;
    int dir;
};

static void on_tcp_pkt(void *ctx, const struct ovpn_tcp_pkt *pkt)
{
    struct tcp_ctx *c = ctx;
    ovpn_packet(c->f, c->dir, pkt->data, pkt->captured, pkt->len, pkt);
}

/* Feeds a segment in sequence order: retransmitted bytes are skipped, a hole is a gap. */
static void tcp_segment(struct flow *f, int dir, const struct pkt *p)
{
    uint32_t seq = p->tcp_seq, n = p->payload_len;
    if (p->tcp_flags & TCP_SYN) { /* SYN takes one sequence number */
        f->seq_init[dir] = true;
        f->next_seq[dir] = seq + 1;
        seq++;
    }
    if (n == 0)
        return;
    if (!f->seq_init[dir]) {
        f->seq_init[dir] = true;
        f->next_seq[dir] = seq;
    }
    struct rd r = rd_init(p->payload, n);
    int32_t d = (int32_t)(seq - f->next_seq[dir]);
    if (d < 0) {
        uint32_t old = (uint32_t)-d;
        if (old >= n)
            return;
        rd_skip(&r, old);
        n -= old;
        seq += old;
    } else if (d > 0) {
        ovpn_tcp_gap(&f->tr[dir]);
    }
    struct tcp_ctx c = {f, dir};
    ovpn_tcp_feed(&f->tr[dir], rd_rest(&r), n, on_tcp_pkt, &c);
    f->next_seq[dir] = seq + n;
}

/* UDP payload length on the wire (from the UDP header), else the captured length. */
static uint32_t udp_wire_len(const struct pkt *p)
{
    struct rd r = rd_init(p->l4, p->l4_len);
    rd_skip(&r, 4);
    uint16_t ulen = rd_be16(&r);
    return rd_ok(&r) && ulen >= 8 ? (uint32_t)ulen - 8 : p->payload_len;
}

static void wg_packet(struct flow *f, const struct pkt *p, uint32_t wire)
{
    struct wg_msg m;
    enum anomaly a;
    struct rd r = rd_init(p->payload, p->payload_len);
    if (!wg_decode(&r, wire, &m, &a))
        f->n_anom++;
    f->n_wg++;
    char s[WG_INDEX_STR_LEN];
    if (emit && m.has_sender)
        printf("wg %s\n", wg_index_str(m.sender, s, sizeof(s)));
    if (emit && m.has_receiver)
        printf("wg %s\n", wg_index_str(m.receiver, s, sizeof(s)));
}

static void packet(const struct pkt *p)
{
    if (p->is_frag || !p->has_ports || (p->l4proto != IPP_UDP && p->l4proto != IPP_TCP))
        return;
    int dir;
    struct flow *f = flow_get(p, &dir);
    if (!f)
        return;
    bool port = p->sport == OVPN_PORT || p->dport == OVPN_PORT;
    if (p->l4proto == IPP_TCP) {
        if (!f->ovpn && p->payload_len > 0 &&
            (port || ovpn_tcp_probe(p->payload, p->payload_len) == OVPN_PROBE_RESET))
            f->ovpn = true;
        if (f->ovpn)
            tcp_segment(f, dir, p);
        return;
    }
    if (p->payload_len == 0)
        return;
    uint32_t wire = udp_wire_len(p);
    if (!f->ovpn && (port || ovpn_probe(p->payload, p->payload_len, wire) == OVPN_PROBE_RESET))
        f->ovpn = true;
    if (f->ovpn)
        ovpn_packet(f, dir, p->payload, p->payload_len, wire, NULL);
    else if (wg_probe(p->payload, p->payload_len, wire))
        wg_packet(f, p, wire);
}

static int run(const char *path)
{
    char eb[PCAP_ERRBUF_SIZE];
    pcap_t *pc = pcap_open_offline(path, eb);
    if (!pc) {
        fprintf(stderr, "tunnel_ids: %s: %s\n", path, eb);
        return -1;
    }
    int dlt = pcap_datalink(pc);
    struct pkt p;
    struct pcap_pkthdr *h;
    const u_char *d;
    uint64_t frame = 0;
    while (pcap_next_ex(pc, &h, &d) == 1) {
        memset(&p, 0, sizeof(p));
        p.dlt = dlt;
        p.caplen = h->caplen;
        p.wirelen = h->len;
        p.frame = ++frame;
        decode_packet(&p, d, h->caplen);
        packet(&p);
    }
    pcap_close(pc);
    return 0;
}

static void report_flows(void)
{
    for (unsigned k = 0; k < n_flows; k++) {
        const struct flow *f = &flows[k];
        const char *proto = ip_proto_name(f->proto);
        if (f->ovpn)
            printf("port %s %u\nport %s %u\nlayout %s %u\n", proto, f->pa, proto, f->pb,
                   ovpn_variant_name(f->lay.variant), f->lay.hmac_len);
        if (!verbose || (!f->ovpn && !f->n_wg))
            continue;
        char sa[48], sb[48];
        fprintf(stderr,
                "flow %s %s:%u <-> %s:%u: %s %" PRIu64 " packets, %" PRIu64
                " with anomalies, layout %s/%u\n",
                proto, ip_addr_str(&f->a, sa, sizeof(sa)), f->pa,
                ip_addr_str(&f->b, sb, sizeof(sb)), f->pb, f->ovpn ? "openvpn" : "wireguard",
                f->ovpn ? f->n_ovpn : f->n_wg, f->n_anom, ovpn_variant_name(f->lay.variant),
                f->lay.hmac_len);
    }
}

int main(int argc, char **argv)
{
    int i = 1;
    if (i < argc && strcmp(argv[i], "-v") == 0) {
        verbose = true;
        i++;
    }
    if (i + 1 != argc) {
        fprintf(stderr, "usage: tunnel_ids [-v] FILE\n");
        return 2;
    }
    if (run(argv[i]) != 0)
        return 1;
    /* second pass: framing restarts, what was learned stays */
    for (unsigned k = 0; k < n_flows; k++) {
        memset(flows[k].tr, 0, sizeof(flows[k].tr));
        memset(flows[k].seq_init, 0, sizeof(flows[k].seq_init));
        flows[k].n_ovpn = flows[k].n_wg = flows[k].n_anom = 0;
    }
    emit = true;
    if (run(argv[i]) != 0)
        return 1;
    report_flows();
    return 0;
}
