/* test_report.c - report sinks: ts_iso, json_string escaping, exact JSON lines, record order,
 * finding helpers and the text report's shape. */
#include "vpnscope/report.h"

#include <stdlib.h>
#include <string.h>

#include "t.h"
#include "vpnscope/finding.h"
#include "vpnscope/nat.h"
#include "vpnscope/session.h"
#include "vpnscope/table.h"

#define T0 1700000000000000ull /* 2023-11-14T22:13:20.000000Z */

static struct ip_addr v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
    struct ip_addr x;
    memset(&x, 0, sizeof(x));
    x.v = 4;
    x.a[0] = a;
    x.a[1] = b;
    x.a[2] = c;
    x.a[3] = d;
    return x;
}

/* Renders with fn into a malloc'ed string. */
static char *render(void (*fn)(FILE *, const struct report_input *), const struct report_input *in)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    fn(f, in);
    fclose(f);
    return buf;
}

static char *json_of(const char *s)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    json_string(f, s);
    fclose(f);
    return buf;
}

/* The n-th line (0-based) of text, copied into out; "" when absent. */
static const char *line(const char *text, unsigned n, char *out, size_t size)
{
    const char *p = text;
    for (unsigned i = 0; i < n && p; i++) {
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    out[0] = '\0';
    if (!p || !*p)
        return out;
    size_t len = strcspn(p, "\n");
    if (len >= size)
        len = size - 1;
    memcpy(out, p, len);
    out[len] = '\0';
    return out;
}

static unsigned count_lines(const char *text)
{
    unsigned n = 0;
    for (const char *p = text; *p; p++)
        n += *p == '\n';
    return n;
}

static void test_ts_iso(void)
{
    char b[40];
    CHECK_STR(ts_iso(0, b, sizeof(b)), "1970-01-01T00:00:00.000000Z");
    CHECK_STR(ts_iso(T0 + 123456, b, sizeof(b)), "2023-11-14T22:13:20.123456Z");
    CHECK_STR(ts_iso(951782400000000ull, b, sizeof(b)), "2000-02-29T00:00:00.000000Z");
    CHECK_STR(ts_iso(1709251199999999ull, b, sizeof(b)), "2024-02-29T23:59:59.999999Z");
    CHECK_STR(ts_iso(4102444800000000ull, b, sizeof(b)), "2100-01-01T00:00:00.000000Z");
}

static void test_json_string(void)
{
    char *s;
    /* quote, backslash, newline, tab, 0x01, DEL */
    s = json_of("a\"b\\c\n\t\x01\x7f");
    CHECK_STR(s, "\"a\\\"b\\\\c\\n\\t\\u0001\\u007f\"");
    free(s);
    /* invalid UTF-8: lone 0xff, truncated sequence, overlong '/', surrogate */
    s = json_of("x\xff"
                "y\xc3"
                "z\xc0\xaf\xed\xa0\x80");
    CHECK_STR(s, "\"x\\u00ffy\\u00c3z\\u00c0\\u00af\\u00ed\\u00a0\\u0080\"");
    free(s);
    /* valid UTF-8 passes through: e-acute, euro sign, U+1F600 */
    s = json_of("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
    CHECK_STR(s, "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"");
    free(s);
    /* a 4-byte lead at the end of the string must not read past the NUL */
    s = json_of("\xf0\x9f");
    CHECK_STR(s, "\"\\u00f0\\u009f\"");
    free(s);
    s = json_of(NULL);
    CHECK_STR(s, "\"\"");
    free(s);
    /* plain strings around the length written at once (126), and an escape after them */
    for (size_t n = 120; n <= 132; n++) {
        char in[160], want[170];
        memset(in, 'a' + (int)(n % 26), n);
        in[n] = '\0';
        want[0] = '"';
        memcpy(want + 1, in, n);
        memcpy(want + 1 + n, "\"", 2);
        s = json_of(in);
        CHECK_STR(s, want);
        free(s);
        in[n - 1] = '"';
        want[n] = '\\';
        memcpy(want + n + 1, "\"\"", 3);
        s = json_of(in);
        CHECK_STR(s, want);
        free(s);
    }
}

static void test_finding_helpers(void)
{
    struct finding_list fl = {0};
    struct finding *f = finding_add(&fl, FINDING_STALE_NAT, 5);
    CHECK(f != NULL);
    CHECK_EQ(f->sev, SEV_WARNING);
    finding_ev_int(f, "gap", 1);
    finding_ev_int(f, "gap", 2); /* replaces */
    CHECK_EQ(f->n_ev, 1);
    CHECK_EQ(f->ev[0].i, 2);
    finding_frame(f, SIDE_INSIDE, 3);
    finding_frame(f, SIDE_INSIDE, 3); /* duplicate ignored */
    CHECK_EQ(f->n_frames, 1);
    f = finding_add(&fl, FINDING_AH_NAT, 9);
    CHECK_EQ(f->sev, SEV_ERROR);
    f = finding_add(&fl, FINDING_NAT_TRAVERSAL, 1);
    CHECK_EQ(f->sev, SEV_INFO);
    f = finding_add(&fl, FINDING_ESP_COLLISION, 2);
    CHECK_EQ(finding_list_max_severity(&fl), SEV_ERROR);
    finding_list_sort_severity(&fl);
    CHECK_EQ(fl.v[0].kind, FINDING_ESP_COLLISION); /* error, ts 2 */
    CHECK_EQ(fl.v[1].kind, FINDING_AH_NAT);        /* error, ts 9 */
    CHECK_EQ(fl.v[2].kind, FINDING_STALE_NAT);
    CHECK_EQ(fl.v[3].kind, FINDING_NAT_TRAVERSAL);
    finding_list_sort_ts(&fl);
    CHECK_EQ(fl.v[0].ts_us, 1);
    CHECK_EQ(fl.v[3].ts_us, 9);
    CHECK_STR(finding_kind_name(FINDING_PPTP_CALL_COLLISION), "pptp_call_collision");
    CHECK_STR(finding_kind_name(200), "unknown");
    CHECK_STR(severity_name(SEV_WARNING), "warning");
    CHECK_STR(fs_role_name(ROLE_NAT), "nat");
    CHECK_STR(nat_evidence_name(NAT_EV_PPTP_CONTROL), "pptp_control");
    CHECK_STR(nat_evidence_name(NAT_EV_FRAGMENT), "fragment");
    finding_list_free(&fl);
    CHECK_EQ(finding_list_max_severity(&fl), SEV_INFO);
}

/* A model with an AH SA (earliest), an IKEv2 SA, its ESP-in-UDP SA, an OpenVPN-port flow, an IKE
 * flow (not listed: it has its own record) and a finding. */
static void fill_model(struct session_model *m, struct finding_list *fl)
{
    struct ip_addr cli = v4(10, 0, 0, 2), srv = v4(203, 0, 113, 1);

    struct ike_sa_key ik;
    memset(&ik, 0, sizeof(ik));
    ik.ispi = 0xc111000000000001ull;
    ik.version = 2;
    struct ike_sa *sa = table_put(m->ike, &ik, NULL);
    sa->ispi = ik.ispi;
    sa->rspi = 0xc222000000000002ull;
    sa->version = 2;
    sa->initiator.ip = cli;
    sa->initiator.port = 500;
    sa->responder.ip = srv;
    sa->responder.port = 500;
    sa->natt_initiator.ip = cli;
    sa->natt_initiator.port = 4500;
    sa->natt_responder.ip = srv;
    sa->natt_responder.port = 4500;
    sa->nat_t = true;
    sa->natd.present = true;
    sa->natd.nat_initiator = 1;
    sa->natd.nat_responder = 0;
    sa->natd.forced_encap = -1;
    sa->n_exch = 2;
    sa->exch_type[0] = 34;
    sa->exch_count[0] = 2;
    sa->exch_type[1] = 35;
    sa->exch_count[1] = 2;
    sa->retransmissions = 1;
    sa->packets = 4;
    sa->first_ts = T0;
    sa->last_ts = T0 + 1000000;

    struct ipsec_sa_key ek;
    memset(&ek, 0, sizeof(ek));
    ek.src = cli;
    ek.dst = srv;
    ek.spi = 0xa001;
    ek.sport = 4500;
    ek.dport = 4500;
    ek.proto = 50;
    ek.encap = 1;
    struct ipsec_sa *esp = table_put(m->ipsec, &ek, NULL);
    esp->k = ek;
    esp->packets = 10;
    esp->bytes = 1500;
    esp->first_seq = 1;
    esp->last_seq = 11;
    esp->seq_gaps = 1;
    esp->first_ts = T0 + 1500000;
    esp->last_ts = T0 + 3000000;

    struct ipsec_sa_key ak;
    memset(&ak, 0, sizeof(ak));
    ak.src = v4(192, 0, 2, 7);
    ak.dst = srv;
    ak.spi = 0xbeef;
    ak.proto = 51;
    struct ipsec_sa *ah = table_put(m->ipsec, &ak, NULL);
    ah->k = ak;
    ah->packets = 1;
    ah->bytes = 100;
    ah->first_seq = ah->last_seq = 1;
    ah->first_ts = ah->last_ts = T0 - 1000000;
    ah->ah_icv_len = 12;
    ah->ah_next_header = 4;

    struct flow_key fk;
    memset(&fk, 0, sizeof(fk));
    fk.a = cli;
    fk.b = srv;
    fk.pa = 40000;
    fk.pb = 1194;
    fk.proto = 17;
    struct flow *f = table_put(m->flows, &fk, NULL);
    f->rev = false; /* cli (the key's a end) sent first */
    f->proto = 17;
    f->pkts[0] = 3;
    f->pkts[1] = 2;
    f->bytes[0] = 300;
    f->bytes[1] = 200;
    f->first_ts = T0 + 2500000;
    f->last_ts = T0 + 2600000;

    fk.pa = 500;
    fk.pb = 500;
    f = table_put(m->flows, &fk, NULL);
    f->proto = 17;
    f->vpn = VPN_IKE;
    f->first_ts = T0;

    m->c.packets = 10;
    m->c.decoded = 8;
    m->c.truncated = 1;
    m->c.non_ip = 1;
    m->c.anomalies[ANOM_LINK_TRUNC] = 1;
    m->c.anomalies[ANOM_IP_TRUNC] = 2;
    m->c.first_ts = T0 - 1000000;
    m->c.last_ts = T0 + 3000000;

    struct finding *fd = finding_add(fl, FINDING_ESP_COLLISION, T0 + 2000000);
    fd->confirmed = true;
    snprintf(fd->summary, FINDING_SUMMARY_SIZE, "Two clients \"share\" one NAT address.");
    snprintf(fd->remedy, FINDING_REMEDY_SIZE, "Enable NAT-T.");
    struct finding_session *s = finding_session_add(fd, ROLE_CLIENT, &cli);
    s->has_port = true;
    s->port = 500;
    s->has_outside = true;
    s->out_ip = v4(198, 51, 100, 1);
    s->has_spi = true;
    s->spi = 0xa001;
    snprintf(s->note, sizeof(s->note), "receives the return ESP");
    finding_ev_int(fd, "clients", 2);
    finding_ev_str(fd, "host", "r\xfft");
    finding_ev_seconds(fd, "gap", 1.5);
    finding_ev_bool(fd, "two_captures", false);
    finding_frame(fd, SIDE_SINGLE, 15);
    finding_frame(fd, SIDE_SINGLE, 12);
}

static void test_json_single(void)
{
    struct session_model m;
    struct finding_list fl = {0};
    CHECK_EQ(session_model_init(&m, SIDE_SINGLE), 0);
    fill_model(&m, &fl);
    static const char *const caps[] = {"a.pcap", NULL};
    struct report_input in;
    memset(&in, 0, sizeof(in));
    in.models[0] = &m;
    in.n_models = 1;
    in.captures[0] = caps;
    in.findings = &fl;

    char *out = render(report_json, &in);
    CHECK(out != NULL);
    char l[2048];
    CHECK_EQ(count_lines(out), 6);
    CHECK_STR(
        line(out, 0, l, sizeof(l)),
        "{\"type\":\"ah_sa\",\"capture\":\"single\",\"src\":\"192.0.2.7\",\"dst\":\"203.0.113.1\","
        "\"spi\":\"0x0000beef\",\"packets\":1,\"bytes\":100,\"first_seq\":1,\"last_seq\":1,"
        "\"seq_gaps\":0,\"first_ts\":\"2023-11-14T22:13:19.000000Z\","
        "\"last_ts\":\"2023-11-14T22:13:19.000000Z\",\"ike_sa\":null,\"replays\":0,"
        "\"restarts\":0,\"paired\":false,\"icv_len\":12,\"next_header\":4}");
    CHECK_STR(line(out, 1, l, sizeof(l)),
              "{\"type\":\"ike_sa\",\"capture\":\"single\",\"version\":2,"
              "\"initiator\":{\"ip\":\"10.0.0.2\",\"port\":500},"
              "\"responder\":{\"ip\":\"203.0.113.1\",\"port\":500},"
              "\"ispi\":\"c111000000000001\",\"rspi\":\"c222000000000002\",\"nat_t\":true,"
              "\"natd\":{\"nat_initiator\":true,\"nat_responder\":false,\"forced_encap\":null},"
              "\"exchanges\":{\"IKE_SA_INIT\":2,\"IKE_AUTH\":2},\"retransmissions\":1,"
              "\"packets\":4,\"first_ts\":\"2023-11-14T22:13:20.000000Z\","
              "\"last_ts\":\"2023-11-14T22:13:21.000000Z\","
              "\"natt_initiator\":{\"ip\":\"10.0.0.2\",\"port\":4500},"
              "\"natt_responder\":{\"ip\":\"203.0.113.1\",\"port\":4500},"
              "\"frag_supported\":false,\"ip_fragmented_msgs\":0,\"skf_frags\":0}");
    CHECK_STR(line(out, 2, l, sizeof(l)),
              "{\"type\":\"esp_sa\",\"capture\":\"single\",\"src\":\"10.0.0.2\","
              "\"dst\":\"203.0.113.1\",\"spi\":\"0x0000a001\",\"encap\":\"udp\",\"sport\":4500,"
              "\"dport\":4500,\"packets\":10,\"bytes\":1500,\"first_seq\":1,\"last_seq\":11,"
              "\"seq_gaps\":1,\"first_ts\":\"2023-11-14T22:13:21.500000Z\","
              "\"last_ts\":\"2023-11-14T22:13:23.000000Z\","
              "\"ike_sa\":{\"ispi\":\"c111000000000001\",\"rspi\":\"c222000000000002\"},"
              "\"replays\":0,\"restarts\":0,\"paired\":false}");
    CHECK_STR(line(out, 3, l, sizeof(l)),
              "{\"type\":\"finding\",\"kind\":\"esp_collision\",\"severity\":\"error\","
              "\"confidence\":\"confirmed\",\"ts\":\"2023-11-14T22:13:22.000000Z\","
              "\"summary\":\"Two clients \\\"share\\\" one NAT address.\","
              "\"remedy\":\"Enable NAT-T.\",\"sessions\":[{\"role\":\"client\",\"ip\":\"10.0.0.2\","
              "\"port\":500,\"outside\":{\"ip\":\"198.51.100.1\"},\"spi\":\"0x0000a001\","
              "\"note\":\"receives the return ESP\"}],\"evidence\":{\"clients\":2,"
              "\"host\":\"r\\u00fft\",\"gap\":1.500000,\"two_captures\":false,"
              "\"frames\":[{\"capture\":\"single\",\"frame\":12},"
              "{\"capture\":\"single\",\"frame\":15}],\"frames_total\":2},"
              "\"display_filter\":{\"single\":\"frame.number in {12, 15}\"}}");
    CHECK_STR(line(out, 4, l, sizeof(l)),
              "{\"type\":\"flow\",\"capture\":\"single\",\"proto\":17,\"src\":\"10.0.0.2\","
              "\"dst\":\"203.0.113.1\",\"sport\":40000,\"dport\":1194,\"app\":\"Unknown\","
              "\"packets\":5,\"bytes\":500,\"first_ts\":\"2023-11-14T22:13:22.500000Z\","
              "\"last_ts\":\"2023-11-14T22:13:22.600000Z\"}");
    CHECK_STR(line(out, 5, l, sizeof(l)),
              "{\"type\":\"summary\",\"schema\":1,\"capture\":\"a.pcap\",\"side\":\"single\","
              "\"side_inferred\":true,\"packets\":10,\"decoded\":8,\"truncated\":1,\"invalid\":0,"
              "\"non_ip\":1,\"filtered\":0,\"anomalies\":{\"ip_truncated\":2,"
              "\"link_truncated\":1},\"evicted\":{\"flows\":0,\"ike_sa\":0,\"ipsec_sa\":0,"
              "\"pptp\":0,\"gre\":0,\"l2tp\":0,\"fragments\":0},"
              "\"findings\":{\"error\":1,\"warning\":0,\"info\":0}}");
    free(out);

    /* deterministic: a second rendering is byte-identical */
    char *a = render(report_json, &in), *b = render(report_json, &in);
    CHECK_STR(a, b);
    free(a);
    free(b);

    /* text: findings first, escaped hostile bytes, sections */
    out = render(report_text, &in);
    CHECK(out != NULL);
    CHECK(strstr(out, "[ERROR] esp_collision (confirmed) at 2023-11-14T22:13:22.000000Z\n") !=
          NULL);
    CHECK(strstr(out, "host: r\\xfft\n") != NULL);
    CHECK(strstr(out, "frames: single #12, #15\n") != NULL);
    CHECK(strstr(out, "Remedy: Enable NAT-T.\n") != NULL);
    CHECK(strstr(out, "\nIKE SAs (1)\n") != NULL);
    CHECK(strstr(out, "\nESP/AH SAs (2)\n") != NULL);
    CHECK(strstr(out, "\nOther VPN flows (1)\n") != NULL);
    CHECK(strstr(out, "Anomalies: ip_truncated 2, link_truncated 1\n") != NULL);
    CHECK(strstr(out, "[ERROR]") < strstr(out, "IKE SAs"));
    for (const char *p = out; *p; p++)
        CHECK((unsigned char)*p < 0x80 && ((unsigned char)*p >= 0x20 || *p == '\n'));
    free(out);

    /* no findings */
    struct finding_list empty = {0};
    in.findings = &empty;
    out = render(report_text, &in);
    CHECK(strstr(out, "No problems found.") != NULL);
    free(out);

    finding_list_free(&fl);
    session_model_free(&m);
}

static void test_json_two(void)
{
    struct session_model mi, mo;
    CHECK_EQ(session_model_init(&mi, SIDE_INSIDE), 0);
    CHECK_EQ(session_model_init(&mo, SIDE_OUTSIDE), 0);
    mi.c.packets = mi.c.decoded = 3;
    mo.c.packets = 4;
    mo.c.decoded = 2;
    mo.c.filtered = 2;

    struct nat_result nr;
    memset(&nr, 0, sizeof(nr));
    struct nat_mapping mp;
    memset(&mp, 0, sizeof(mp));
    mp.proto = 50;
    mp.inside.ip = v4(10, 0, 0, 2);
    mp.outside.ip = v4(198, 51, 100, 1);
    mp.peer.ip = v4(203, 0, 113, 1);
    mp.translated = true;
    mp.evidence = NAT_EV_SPI | NAT_EV_TIMING;
    mp.to_peer_inside = 3;
    mp.to_peer_outside = 3;
    mp.from_peer_outside = 2;
    mp.from_peer_inside = 1;
    mp.n_spis_to = 1;
    mp.spis_to[0] = 0xa001;
    mp.n_spis_from = 1;
    mp.spis_from[0] = 0xb001;
    mp.first_ts = T0;
    mp.last_ts = T0 + 1;
    nr.map = &mp;
    nr.n_map = 1;
    struct nat_unmatched u;
    memset(&u, 0, sizeof(u));
    u.side = SIDE_OUTSIDE;
    u.direction = 1;
    u.proto = 50;
    u.src = mp.peer.ip;
    u.dst = mp.outside.ip;
    u.has_spi = true;
    u.spi = 0xb001;
    u.packets = 1;
    u.first_ts = u.last_ts = T0 - 5;
    u.nframes = 1;
    u.frames[0] = 7;
    u.mapping = 0;
    nr.unm = &u;
    nr.n_unm = 1;
    nr.clock.valid = true;
    nr.clock.seconds = -0.25;
    nr.clock.drift_ppm = 3.5;
    nr.clock.evidence_packets = 9;

    static const char *const ci[] = {"in.pcap", NULL}, *const co[] = {"out.pcap", NULL};
    struct finding_list fl = {0};
    struct report_input in;
    memset(&in, 0, sizeof(in));
    in.models[0] = &mi;
    in.models[1] = &mo;
    in.n_models = 2;
    in.captures[0] = ci;
    in.captures[1] = co;
    in.nat = &nr;
    in.findings = &fl;

    char *out = render(report_json, &in);
    char l[2048];
    CHECK_EQ(count_lines(out), 4);
    CHECK_STR(
        line(out, 0, l, sizeof(l)),
        "{\"type\":\"unmatched\",\"side\":\"outside\",\"direction\":\"from_peer\","
        "\"proto\":\"esp\",\"src\":\"203.0.113.1\",\"dst\":\"198.51.100.1\","
        "\"spi\":\"0x0000b001\",\"packets\":1,\"first_ts\":\"2023-11-14T22:13:19.999995Z\","
        "\"last_ts\":\"2023-11-14T22:13:19.999995Z\","
        "\"frames\":[{\"capture\":\"outside\",\"frame\":7}],"
        "\"mapping\":{\"inside\":{\"ip\":\"10.0.0.2\"},\"outside\":{\"ip\":\"198.51.100.1\"}}}");
    CHECK_STR(line(out, 1, l, sizeof(l)),
              "{\"type\":\"nat_mapping\",\"proto\":\"esp\",\"inside\":{\"ip\":\"10.0.0.2\"},"
              "\"outside\":{\"ip\":\"198.51.100.1\"},\"peer\":{\"ip\":\"203.0.113.1\"},"
              "\"spis\":{\"to_peer\":[\"0x0000a001\"],\"from_peer\":[\"0x0000b001\"]},"
              "\"translated\":true,\"evidence\":[\"spi\",\"timing\"],"
              "\"to_peer\":{\"inside\":3,\"outside\":3},\"from_peer\":{\"outside\":2,\"inside\":1},"
              "\"first_ts\":\"2023-11-14T22:13:20.000000Z\","
              "\"last_ts\":\"2023-11-14T22:13:20.000001Z\"}");
    CHECK_STR(line(out, 2, l, sizeof(l)),
              "{\"type\":\"clock_offset\",\"seconds\":-0.250000,\"drift_ppm\":3.500000,"
              "\"evidence_packets\":9}");
    CHECK(strncmp(line(out, 3, l, sizeof(l)),
                  "{\"type\":\"summary\",\"schema\":1,\"captures\":{\"inside\":[\"in.pcap\"],"
                  "\"outside\":[\"out.pcap\"]},\"packets\":7,\"decoded\":5,\"truncated\":0,"
                  "\"invalid\":0,\"non_ip\":0,\"filtered\":2,\"per_capture\":{\"inside\":"
                  "{\"packets\":3,\"decoded\":3,\"truncated\":0,\"invalid\":0,\"non_ip\":0,"
                  "\"filtered\":0},\"outside\":{\"packets\":4,\"decoded\":2,\"truncated\":0,"
                  "\"invalid\":0,\"non_ip\":0,\"filtered\":2}},\"anomalies\":{},",
                  260) == 0);
    free(out);

    out = render(report_text, &in);
    CHECK(strstr(out, "\nNAT mappings (1)\n") != NULL);
    CHECK(strstr(out, "outside clock - inside clock = -0.250000 s") != NULL);
    free(out);

    session_model_free(&mi);
    session_model_free(&mo);
}

int main(void)
{
    test_ts_iso();
    test_json_string();
    test_finding_helpers();
    test_json_single();
    test_json_two();
    return t_done();
}
