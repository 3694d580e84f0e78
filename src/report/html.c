/* html.c - --html FILE: one self-contained HTML page (inline CSS and SVG; no script, font or
 * other resource is fetched): the findings first (cause, sessions, evidence frames with their
 * roles, Wireshark filters, remedy), then a timeline per tunnel peer drawn in SVG (the ESP/AH and
 * IKE SAs each way on each capture point, packets that died at the router from the unmatched
 * records, NAT idle-gap findings), then the NAT mappings, the clock offset and the PPTP and nDPI
 * names. Every string that came from the wire or the command line is HTML-escaped. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report_int.h"
#include "vpnscope/evidence.h"
#include "vpnscope/proto.h"

/* Writes s HTML-escaped; bytes below 0x20 and 0x7f become U+FFFD so nothing breaks out. */
static void esc(FILE *o, const char *s)
{
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        switch (c) {
        case '<':
            fputs("&lt;", o);
            break;
        case '>':
            fputs("&gt;", o);
            break;
        case '&':
            fputs("&amp;", o);
            break;
        case '"':
            fputs("&quot;", o);
            break;
        case '\'':
            fputs("&#39;", o);
            break;
        default:
            if (c < 0x20 || c == 0x7f)
                fputs("&#xfffd;", o);
            else
                fputc(c, o);
        }
    }
}

static const char *ipstr(const struct ip_addr *a, char *buf, unsigned size)
{
    return ip_addr_str(a, buf, size);
}

static void put_head(FILE *o, const struct report_input *in)
{
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
          "<title>vpnscope report</title>\n<style>\n"
          "body{font:14px/1.45 sans-serif;margin:1.5em;color:#222;max-width:1200px}\n"
          "h1{font-size:1.5em}h2{border-bottom:2px solid #ccc;margin-top:1.6em}\n"
          ".finding{border-left:6px solid #999;padding:.3em .9em;margin:1em 0;background:#fafafa}\n"
          ".sev-error{border-color:#c0392b}.sev-warning{border-color:#e67e22}"
          ".sev-info{border-color:#2980b9}\n"
          "code,.mono{font-family:monospace;background:#eee;padding:0 .25em}\n"
          "table{border-collapse:collapse;margin:.4em 0}td,th{border:1px solid #ccc;"
          "padding:2px 6px;text-align:left;vertical-align:top}\n"
          "svg{background:#fff;border:1px solid #ddd}.legend span{margin-right:1.2em}\n"
          "</style></head><body>\n<h1>vpnscope report</h1>\n<p>Captures: ",
          o);
    for (int i = 0; i < in->n_models && i < 2; i++) {
        if (in->n_models > 1)
            fprintf(o, "%s<b>%s</b> ", i ? "; " : "", i ? "outside" : "inside");
        for (size_t k = 0; in->captures[i] && in->captures[i][k]; k++) {
            fputs(k ? ", <span class=\"file\">" : "<span class=\"file\">", o);
            esc(o, in->captures[i][k]);
            fputs("</span>", o);
        }
    }
    fputs("</p>\n", o);
}

/* The frames table and the display filters; a capture point of several files names the file
 * of each frame (numbered as in that file) and has a filter per file. */
static void put_frames(FILE *o, const struct finding *f, const struct capture_pieces *const *pieces)
{
    fputs("<table class=\"frames\"><tr><th>capture</th><th>frame</th><th>what it shows"
          "</th></tr>\n",
          o);
    unsigned ix[FINDING_MAX_FRAMES];
    unsigned nf = rep_frames_sorted_ix(f, ix);
    for (unsigned i = 0; i < nf; i++) {
        const struct frame_ref *fr = &f->frames[ix[i]];
        uint64_t local;
        const char *file =
            capture_pieces_frame(rep_pieces_of(pieces, fr->capture), fr->frame, &local);
        fprintf(o, "<tr><td>%s", side_name(fr->capture));
        if (file) {
            fputc(' ', o);
            esc(o, file);
        }
        fprintf(o, "</td><td>%llu</td><td>", (unsigned long long)local);
        esc(o, finding_frame_role_name(f, ix[i]));
        fputs("</td></tr>\n", o);
    }
    fputs("</table>\n", o);
    if (f->frames_total > nf)
        fprintf(o, "<p>%llu more frames not listed.</p>\n",
                (unsigned long long)(f->frames_total - nf));
    static const uint8_t caps[] = {SIDE_SINGLE, SIDE_INSIDE, SIDE_OUTSIDE};
    char flt[EVIDENCE_FILTER_MAX];
    for (unsigned c = 0; c < sizeof(caps); c++) {
        const struct capture_pieces *pc = rep_pieces_of(pieces, caps[c]);
        for (int k = 0; pc && k < pc->n; k++)
            if (evidence_display_filter_file(f, caps[c], pc, k, flt, sizeof(flt))) {
                fputs("<p class=\"filter\">Wireshark filter (", o);
                esc(o, pc->files[k]);
                fputs("): <code>", o);
                esc(o, flt);
                fputs("</code></p>\n", o);
            }
        if (!pc && evidence_display_filter(f, caps[c], flt, sizeof(flt))) {
            fprintf(o, "<p class=\"filter\">Wireshark filter (%s): <code>", side_name(caps[c]));
            esc(o, flt);
            fputs("</code></p>\n", o);
        }
    }
}

static void put_finding(FILE *o, const struct finding *f, size_t n,
                        const struct capture_pieces *const *pieces)
{
    char ts[40], a[64], b[64];
    fprintf(o, "<section class=\"finding sev-%s\" id=\"finding-%zu\">\n<h3>#%zu %s: %s (%s) at %s",
            severity_name(f->sev), n, n, severity_name(f->sev), finding_kind_name(f->kind),
            f->confirmed ? "confirmed" : "suspected", ts_iso(f->ts_us, ts, sizeof(ts)));
    if (f->group_count)
        fprintf(o, " &times;%u", (unsigned)f->group_count + 1);
    fputs("</h3>\n<p class=\"cause\">", o);
    esc(o, f->summary);
    fputs("</p>\n<table class=\"sessions\"><tr><th>role</th><th>address</th><th>outside</th>"
          "<th>SPI / call</th><th>note</th></tr>\n",
          o);
    for (uint32_t i = 0, ns = finding_n_sessions(f); i < ns; i++) {
        const struct finding_session *s = finding_session_at(f, i);
        fprintf(o, "<tr><td>%s</td><td>%s", fs_role_name(s->role), ipstr(&s->ip, a, sizeof(a)));
        if (s->has_port)
            fprintf(o, ":%u", s->port);
        fputs("</td><td>", o);
        if (s->has_outside)
            fprintf(o, "%s", ipstr(&s->out_ip, b, sizeof(b)));
        if (s->has_out_port)
            fprintf(o, ":%u", s->out_port);
        fputs("</td><td>", o);
        if (s->has_spi)
            fprintf(o, "0x%08x ", (unsigned)s->spi);
        if (s->has_call_id)
            fprintf(o, "call %u", (unsigned)s->call_id);
        fputs("</td><td>", o);
        esc(o, s->note);
        fputs("</td></tr>\n", o);
    }
    fputs("</table>\n<ul class=\"evidence\">\n", o);
    for (unsigned i = 0; i < f->n_ev && i < FINDING_MAX_EV; i++) {
        const struct finding_ev *e = &f->ev[i];
        fputs("<li>", o);
        esc(o, e->key);
        fputs(": ", o);
        switch (e->type) {
        case EV_INT:
            fprintf(o, "%lld", (long long)e->i);
            break;
        case EV_STR:
            esc(o, e->s);
            break;
        case EV_TS:
            fputs(ts_iso((uint64_t)e->i, ts, sizeof(ts)), o);
            break;
        case EV_SECONDS:
            if (isfinite(e->d))
                fprintf(o, "%.6f s", e->d);
            break;
        case EV_BOOL:
            fputs(e->i ? "yes" : "no", o);
            break;
        default:
            break;
        }
        fputs("</li>\n", o);
    }
    fputs("</ul>\n", o);
    put_frames(o, f, pieces);
    fputs("<p class=\"remedy\"><b>Remedy:</b> ", o);
    esc(o, f->remedy);
    fputs("</p>\n</section>\n", o);
}

/* ---- timelines ---- */

#define TL_MAX_PEERS 32
#define TL_MAX_ROWS 24
#define TL_W 1100
#define TL_LEFT 330
#define TL_ROW 22

struct tl_row {
    char label[128];
    uint64_t from, to;
    uint64_t packets;
    uint8_t kind; /* 0 SA inside/single, 1 SA outside, 2 IKE, 3 died at the router */
};

struct tl_peer {
    struct ip_addr peer;
    unsigned n;
    uint64_t dropped_rows; /* rows beyond TL_MAX_ROWS */
    struct tl_row rows[TL_MAX_ROWS];
};

struct timelines {
    unsigned n;
    uint64_t first, last;
    struct tl_peer p[TL_MAX_PEERS];
};

/* The tunnel peer of a pair: the address that is neither private nor the router's outside
 * address (the first one when both or neither are). */
static bool is_local(const struct ip_addr *a, const struct nat_result *nr)
{
    if (ip_addr_is_private(a))
        return true;
    for (unsigned i = 0; nr && i < nr->n_nat_addrs && i < 8; i++)
        if (ip_addr_eq(a, &nr->nat_addrs[i]))
            return true;
    return false;
}

static const struct ip_addr *peer_of(const struct ip_addr *src, const struct ip_addr *dst,
                                     const struct nat_result *nr)
{
    return is_local(src, nr) && !is_local(dst, nr) ? dst : src;
}

static struct tl_row *tl_add(struct timelines *t, const struct ip_addr *peer, uint64_t from,
                             uint64_t to)
{
    unsigned i = 0;
    while (i < t->n && !ip_addr_eq(&t->p[i].peer, peer))
        i++;
    if (i == t->n) {
        if (t->n >= TL_MAX_PEERS)
            return NULL;
        memset(&t->p[i], 0, sizeof(t->p[i]));
        t->p[i].peer = *peer;
        t->n++;
    }
    struct tl_peer *p = &t->p[i];
    if (p->n >= TL_MAX_ROWS) {
        p->dropped_rows++;
        return NULL;
    }
    struct tl_row *r = &p->rows[p->n++];
    memset(r, 0, sizeof(*r));
    r->from = from;
    r->to = to < from ? from : to;
    if (!t->first || from < t->first)
        t->first = from;
    if (r->to > t->last)
        t->last = r->to;
    return r;
}

static void tl_collect(struct timelines *t, const struct rep_list *l, const struct report_input *in)
{
    char a[64], b[64];
    for (size_t i = 0; i < l->n; i++) {
        struct rep_rec rbuf;
        const struct rep_rec *rr = rep_get(l, i, &rbuf);
        const char *side = in->n_models > 1 ? (rr->model ? "outside" : "inside") : "";
        if (rr->type == REC_ESP_SA || rr->type == REC_AH_SA) {
            const struct ipsec_sa *s = rr->p;
            const struct ip_addr *pe = peer_of(&s->k.src, &s->k.dst, in->nat);
            struct tl_row *r = tl_add(t, pe, s->first_ts, s->last_ts);
            if (!r)
                continue;
            r->kind = rr->model ? 1 : 0;
            r->packets = s->packets;
            snprintf(r->label, sizeof(r->label), "%s %s %s &#8594; %s spi 0x%08x", side,
                     rr->type == REC_ESP_SA ? "ESP" : "AH", ipstr(&s->k.src, a, sizeof(a)),
                     ipstr(&s->k.dst, b, sizeof(b)), (unsigned)s->k.spi);
        } else if (rr->type == REC_IKE_SA) {
            const struct ike_sa *s = rr->p;
            const struct ip_addr *pe = peer_of(&s->initiator.ip, &s->responder.ip, in->nat);
            struct tl_row *r = tl_add(t, pe, s->first_ts, s->last_ts);
            if (!r)
                continue;
            r->kind = 2;
            r->packets = s->packets;
            snprintf(r->label, sizeof(r->label), "%s IKE %s &#8596; %s (handshake/rekey)", side,
                     ipstr(&s->initiator.ip, a, sizeof(a)), ipstr(&s->responder.ip, b, sizeof(b)));
        } else if (rr->type == REC_UNMATCHED) {
            const struct nat_unmatched *u = rr->p;
            const struct ip_addr *pe = peer_of(&u->src, &u->dst, in->nat);
            struct tl_row *r = tl_add(t, pe, u->first_ts, u->last_ts);
            if (!r)
                continue;
            r->kind = 3;
            r->packets = u->packets;
            snprintf(r->label, sizeof(r->label),
                     "died at the router (%s, seen %s only) %s &#8594; %s", ip_proto_name(u->proto),
                     side_name(u->side), ipstr(&u->src, a, sizeof(a)),
                     ipstr(&u->dst, b, sizeof(b)));
        }
    }
}

static double tl_x(const struct timelines *t, uint64_t ts)
{
    double span = t->last > t->first ? (double)(t->last - t->first) : 1.0;
    return TL_LEFT + (double)(ts - t->first) / span * (TL_W - TL_LEFT - 10);
}

static void put_timeline(FILE *o, const struct timelines *t, const struct tl_peer *p,
                         const struct finding_list *fl)
{
    static const char *const color[] = {"#2e86c1", "#8e44ad", "#27ae60", "#c0392b"};
    char a[64], ts[40];
    unsigned h = 30 + p->n * TL_ROW + 20;
    fprintf(o, "<h3>Tunnel peer %s</h3>\n", ipstr(&p->peer, a, sizeof(a)));
    fprintf(o,
            "<svg class=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
            "height=\"%u\" viewBox=\"0 0 %d %u\" role=\"img\">\n",
            TL_W, h, TL_W, h);
    fprintf(o, "<text x=\"%d\" y=\"16\" font-size=\"11\">%s</text>\n", TL_LEFT,
            ts_iso(t->first, ts, sizeof(ts)));
    fprintf(o, "<text x=\"%d\" y=\"16\" font-size=\"11\" text-anchor=\"end\">%s</text>\n",
            TL_W - 10, ts_iso(t->last, ts, sizeof(ts)));
    for (unsigned i = 0; i < p->n; i++) {
        const struct tl_row *r = &p->rows[i];
        double y = 30 + i * TL_ROW;
        double x0 = tl_x(t, r->from), x1 = tl_x(t, r->to);
        if (x1 - x0 < 3)
            x1 = x0 + 3;
        fprintf(o, "<text x=\"4\" y=\"%.0f\" font-size=\"11\">%s (%llu pkts)</text>\n", y + 13,
                r->label, (unsigned long long)r->packets);
        fprintf(o,
                "<rect class=\"row-%u\" x=\"%.1f\" y=\"%.0f\" width=\"%.1f\" height=\"14\" "
                "fill=\"%s\"><title>%llu packets</title></rect>\n",
                r->kind, x0, y + 2, x1 - x0, color[r->kind & 3], (unsigned long long)r->packets);
    }
    /* findings that name this peer: a marker at their time (idle gaps, stale NAT, ...) */
    for (size_t i = 0; fl && i < fl->n; i++) {
        const struct finding *f = &fl->v[i];
        bool mine = false;
        for (uint32_t k = 0, ns = finding_n_sessions(f); k < ns && !mine; k++)
            mine = ip_addr_eq(&finding_session_at(f, k)->ip, &p->peer);
        if (!mine || f->ts_us < t->first || f->ts_us > t->last)
            continue;
        double x = tl_x(t, f->ts_us);
        fprintf(o,
                "<line class=\"finding-mark\" x1=\"%.1f\" y1=\"22\" x2=\"%.1f\" y2=\"%u\" "
                "stroke=\"#e67e22\" stroke-dasharray=\"4 2\"/><text x=\"%.1f\" y=\"%u\" "
                "font-size=\"10\" fill=\"#e67e22\">%s</text>\n",
                x, x, h - 14, x + 2, h - 4, finding_kind_name(f->kind));
    }
    fputs("</svg>\n", o);
    if (p->dropped_rows)
        fprintf(o, "<p>%llu more rows not drawn.</p>\n", (unsigned long long)p->dropped_rows);
}

static void put_nat(FILE *o, const struct report_input *in)
{
    const struct nat_result *nr = in->nat;
    if (!nr)
        return;
    char a[64], b[64], c[64];
    fputs("<h2>NAT mappings</h2>\n<table class=\"nat\"><tr><th>proto</th><th>inside</th>"
          "<th>outside</th><th>peer</th><th>packets to / from peer</th></tr>\n",
          o);
    for (size_t i = 0; i < nr->n_map; i++) {
        const struct nat_mapping *m = &nr->map[i];
        fprintf(o, "<tr><td>%s</td><td>%s", ip_proto_name(m->proto),
                ipstr(&m->inside.ip, a, sizeof(a)));
        if (m->inside.has_port)
            fprintf(o, ":%u", m->inside.port);
        fprintf(o, "</td><td>%s", ipstr(&m->outside.ip, b, sizeof(b)));
        if (m->outside.has_port)
            fprintf(o, ":%u", m->outside.port);
        fprintf(o, "</td><td>%s</td><td>%llu / %llu</td></tr>\n", ipstr(&m->peer.ip, c, sizeof(c)),
                (unsigned long long)m->to_peer_inside, (unsigned long long)m->from_peer_outside);
    }
    fputs("</table>\n<h2>Clock offset</h2>\n", o);
    if (nr->clock.valid)
        fprintf(o,
                "<p class=\"clock\">The outside capture's clock is %.6f s ahead of the inside "
                "one (drift %.3f ppm, measured from %llu packets seen on both sides).</p>\n",
                nr->clock.seconds, nr->clock.drift_ppm,
                (unsigned long long)nr->clock.evidence_packets);
    else
        fputs("<p class=\"clock\">No clock offset: the captures share no packet.</p>\n", o);
}

/* PPTP host and vendor names, nDPI labels: strings from the wire. */
static void put_names(FILE *o, const struct report_input *in, const struct rep_list *l)
{
    bool any = false;
    char a[64], b[64];
    for (size_t i = 0; i < l->n; i++) {
        struct rep_rec rbuf;
        const struct rep_rec *r = rep_get(l, i, &rbuf);
        if (r->type != REC_PPTP_CTRL && r->type != REC_PPTP_CALL && r->type != REC_FLOW)
            continue;
        if (r->type == REC_PPTP_CALL && r->sub != 0)
            continue; /* one row per control connection */
        if (!any)
            fputs("<h2>Names seen on the wire</h2>\n<table class=\"names\"><tr><th>what</th>"
                  "<th>between</th><th>name</th></tr>\n",
                  o);
        any = true;
        if (r->type == REC_FLOW) {
            const struct flow *f = r->p;
            const struct session_model *m = in->models[r->model];
            struct endpoint s = flow_end(m, f, 0), d = flow_end(m, f, 1);
            fprintf(o, "<tr><td>nDPI label</td><td>%s &#8594; %s</td><td class=\"ndpi\">",
                    ipstr(&s.ip, a, sizeof(a)), ipstr(&d.ip, b, sizeof(b)));
            esc(o, rep_flow_app(f));
        } else {
            const struct pptp_ctrl *c = r->p;
            fprintf(o, "<tr><td>PPTP host / vendor</td><td>%s &#8594; %s</td><td class=\"pptp\">",
                    ipstr(&c->client.ip, a, sizeof(a)), ipstr(&c->server.ip, b, sizeof(b)));
            esc(o, c->hostname);
            fputs(" / ", o);
            esc(o, c->vendor);
        }
        fputs("</td></tr>\n", o);
    }
    if (any)
        fputs("</table>\n", o);
}

int report_html(FILE *o, const struct report_input *in)
{
    struct rep_list l;
    memset(&l, 0, sizeof(l));
    rep_build(&l, in);
    put_head(o, in);
    const struct finding_list *fl = in->findings;
    fprintf(o, "<h2>Findings (%zu)</h2>\n", fl ? fl->n : (size_t)0);
    if (in->findings_hidden)
        fprintf(o, "<p>%llu findings below %s hidden by --min-severity.</p>\n",
                (unsigned long long)in->findings_hidden, severity_name(in->min_severity));
    size_t *ix = fl ? rep_findings_by_severity(fl) : NULL;
    for (size_t i = 0; fl && i < fl->n; i++)
        put_finding(o, &fl->v[ix ? ix[i] : i], i + 1, in->pieces);
    free(ix);
    if ((!fl || !fl->n) && (in->cut[0].cut || in->cut[1].cut || in->interrupted))
        fputs("<p>No problems found in the part of the capture that was read: the input was not "
              "read to the end (see the summary).</p>\n",
              o);
    else if ((!fl || !fl->n) && in->split_unproven)
        fputs("<p>No verdict: the --router split matched no packet between the sides.</p>\n", o);
    else if (!fl || !fl->n)
        fputs("<p>No problems found.</p>\n", o);
    struct timelines *t = calloc(1, sizeof(*t));
    if (t) {
        tl_collect(t, &l, in);
        fputs("<h2>Tunnel timelines</h2>\n<p class=\"legend\"><span style=\"color:#2e86c1\">"
              "&#9632; SA (inside / single capture)</span><span style=\"color:#8e44ad\">&#9632; "
              "SA (outside)</span><span style=\"color:#27ae60\">&#9632; IKE handshake / "
              "rekey</span><span style=\"color:#c0392b\">&#9632; packets that died at the "
              "router</span><span style=\"color:#e67e22\">- - finding</span></p>\n",
              o);
        for (unsigned i = 0; i < t->n; i++)
            put_timeline(o, t, &t->p[i], fl);
        if (!t->n)
            fputs("<p>No IPsec tunnel in the capture.</p>\n", o);
        free(t);
    }
    put_nat(o, in);
    put_names(o, in, &l);
    fputs("</body></html>\n", o);
    rep_list_free(&l);
    return ferror(o) ? -1 : 0;
}
