/* json.c - JSON Lines sink (doc/json-schema.md): one object per line, every object with "type",
 * records by ts, findings before the summary, the summary last. */
#include "vpnscope/report.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonw.h"
#include "vpnscope/evidence.h"
#include "vpnscope/clockstep.h"
#include "report_int.h"

/* ---- records ---- */

/* NAT-D results and the exchanges of an IKE SA (report records only). */
static void ike_exchanges(struct jw *w, const struct ike_sa *sa)
{
    if (sa->natd.present) {
        jw_obj(w, "natd");
        jw_tristate(w, "nat_initiator", sa->natd.nat_initiator);
        jw_tristate(w, "nat_responder", sa->natd.nat_responder);
        jw_tristate(w, "forced_encap", sa->natd.forced_encap);
        jw_obj_end(w);
    }
    /* exchanges in first-seen slot order; equal names (e.g. two "unknown") merged */
    const char *names[IKE_EXCH_SLOTS];
    uint64_t counts[IKE_EXCH_SLOTS];
    unsigned n = 0;
    unsigned nslots = sa->n_exch < IKE_EXCH_SLOTS ? sa->n_exch : IKE_EXCH_SLOTS;
    for (unsigned s = 0; s < nslots; s++) {
        const char *nm = session_exch_name(sa, s);
        unsigned k = 0;
        while (k < n && strcmp(names[k], nm) != 0)
            k++;
        if (k == n) {
            names[n] = nm;
            counts[n++] = 0;
        }
        counts[k] += sa->exch_count[s];
    }
    jw_obj(w, "exchanges");
    for (unsigned k = 0; k < n; k++)
        jw_u64(w, names[k], counts[k]);
    jw_obj_end(w);
}

void rep_json_ike_fields(struct jw *w, const struct ike_sa *sa, bool full)
{
    jw_u64(w, "version", sa->version);
    jw_endpoint(w, "initiator", &sa->initiator);
    jw_endpoint(w, "responder", &sa->responder);
    jw_ike_spi(w, "ispi", sa->ispi);
    jw_ike_spi(w, "rspi", sa->rspi);
    jw_bool(w, "nat_t", sa->nat_t);
    if (full)
        ike_exchanges(w, sa);
    jw_u64(w, "retransmissions", sa->retransmissions);
    jw_u64(w, "packets", sa->packets);
    jw_ts(w, "first_ts", sa->first_ts);
    jw_ts(w, "last_ts", sa->last_ts);
    if (!full)
        return;
    /* extensions */
    if (sa->natt_initiator.port)
        jw_endpoint(w, "natt_initiator", &sa->natt_initiator);
    if (sa->natt_responder.port)
        jw_endpoint(w, "natt_responder", &sa->natt_responder);
    jw_bool(w, "frag_supported", sa->frag_supported);
    jw_u64(w, "ip_fragmented_msgs", sa->ip_fragmented_msgs);
    jw_u64(w, "skf_frags", sa->skf_frags);
}

static void rec_ike(struct jw *w, const struct session_model *m, const struct ike_sa *sa)
{
    jw_str(w, "capture", side_name(m->side));
    rep_json_ike_fields(w, sa, true);
}

void rep_json_ipsec_fields(struct jw *w, const struct session_model *m, const struct ipsec_sa *sa,
                           bool full)
{
    bool ah = sa->k.proto == IPP_AH;
    jw_ip(w, "src", &sa->k.src);
    jw_ip(w, "dst", &sa->k.dst);
    jw_ipsec_spi(w, "spi", sa->k.spi);
    if (!ah)
        jw_str(w, "encap", sa->k.encap ? "udp" : "raw");
    if (sa->k.encap) {
        jw_u64(w, "sport", sa->k.sport);
        jw_u64(w, "dport", sa->k.dport);
    }
    jw_u64(w, "packets", sa->packets);
    jw_u64(w, "bytes", sa->bytes);
    jw_u64(w, "first_seq", sa->first_seq);
    jw_u64(w, "last_seq", sa->last_seq);
    jw_u64(w, "seq_gaps", sa->seq_gaps);
    jw_ts(w, "first_ts", sa->first_ts);
    jw_ts(w, "last_ts", sa->last_ts);
    const struct ike_sa *ike = session_ike_for_ipsec(m, sa);
    if (ike) {
        jw_obj(w, "ike_sa");
        jw_ike_spi(w, "ispi", ike->ispi);
        jw_ike_spi(w, "rspi", ike->rspi);
        jw_obj_end(w);
    } else {
        jw_null(w, "ike_sa");
    }
    if (!full)
        return;
    /* extensions */
    jw_u64(w, "replays", sa->replays);
    jw_u64(w, "restarts", sa->restarts);
    jw_bool(w, "paired", sa->paired);
    if (ah) {
        jw_u64(w, "icv_len", sa->ah_icv_len);
        jw_u64(w, "next_header", sa->ah_next_header);
    }
}

static void rec_ipsec(struct jw *w, const struct session_model *m, const struct ipsec_sa *sa)
{
    jw_str(w, "capture", side_name(m->side));
    rep_json_ipsec_fields(w, m, sa, true);
}

void rep_json_pptp_call_fields(struct jw *w, const struct session_model *m,
                               const struct pptp_ctrl *c, const struct pptp_call *call, bool full)
{
    uint64_t to_server = 0, to_client = 0;
    session_pptp_call_gre(m, c, call, &to_server, &to_client);
    jw_endpoint(w, "client", &c->client);
    jw_endpoint(w, "server", &c->server);
    jw_u64(w, "call_id", call->call_id);
    if (call->has_peer)
        jw_u64(w, "peer_call_id", call->peer_call_id);
    else
        jw_null(w, "peer_call_id");
    jw_str(w, "state", pptp_call_state_name(call->state));
    jw_u64(w, "gre_to_server", to_server);
    jw_u64(w, "gre_to_client", to_client);
    jw_ts(w, "first_ts", call->first_ts);
    jw_ts(w, "last_ts", call->last_ts);
    if (!full)
        return;
    /* extensions */
    jw_str(w, "hostname", c->hostname);
    jw_str(w, "vendor", c->vendor);
}

static void rec_pptp_call(struct jw *w, const struct session_model *m, const struct pptp_ctrl *c,
                          unsigned k)
{
    jw_str(w, "capture", side_name(m->side));
    rep_json_pptp_call_fields(w, m, c, &c->calls[k], true);
}

static void rec_pptp_ctrl(struct jw *w, const struct session_model *m, const struct pptp_ctrl *c)
{
    jw_str(w, "capture", side_name(m->side));
    jw_endpoint(w, "client", &c->client);
    jw_endpoint(w, "server", &c->server);
    jw_str(w, "state", rep_pptp_sess_state_name(c->state));
    jw_u64(w, "messages", c->msgs);
    jw_ts(w, "first_ts", c->first_ts);
    jw_ts(w, "last_ts", c->last_ts);
    jw_str(w, "hostname", c->hostname);
    jw_str(w, "vendor", c->vendor);
}

static void rec_gre(struct jw *w, const struct session_model *m, const struct gre_flow *g)
{
    jw_str(w, "capture", side_name(m->side));
    jw_ip(w, "src", &g->k.src);
    jw_ip(w, "dst", &g->k.dst);
    jw_u64(w, "version", g->k.version);
    if (g->k.version == 1)
        jw_u64(w, "call_id", g->k.key);
    else if (g->k.has_key)
        jw_u64(w, "key", g->k.key);
    else
        jw_null(w, "key");
    jw_u64(w, "packets", g->packets);
    /* extensions */
    jw_u64(w, "bytes", g->bytes);
    jw_ts(w, "first_ts", g->first_ts);
    jw_ts(w, "last_ts", g->last_ts);
}

static void rec_l2tp(struct jw *w, const struct session_model *m, const struct l2tp_sess *s)
{
    jw_str(w, "capture", side_name(m->side));
    jw_ip(w, "src", &s->k.src);
    jw_ip(w, "dst", &s->k.dst);
    jw_u64(w, "sport", s->k.sport);
    jw_u64(w, "dport", s->k.dport);
    jw_u64(w, "tunnel_id", s->k.tunnel_id);
    jw_u64(w, "session_id", s->k.session_id);
    jw_u64(w, "packets", s->packets);
    /* extensions */
    jw_u64(w, "version", s->version);
    jw_u64(w, "control", s->control);
    jw_u64(w, "bytes", s->bytes);
    jw_ts(w, "first_ts", s->first_ts);
    jw_ts(w, "last_ts", s->last_ts);
}

static void rec_flow(struct jw *w, const struct session_model *m, const struct flow *f)
{
    jw_str(w, "capture", side_name(m->side));
    jw_u64(w, "proto", f->proto);
    jw_ip(w, "src", &f->src.ip);
    jw_ip(w, "dst", &f->dst.ip);
    jw_u64(w, "sport", f->src.port);
    jw_u64(w, "dport", f->dst.port);
    jw_str(w, "app", rep_flow_app(f));
    jw_u64(w, "packets", rep_add(f->pkts[0], f->pkts[1]));
    jw_u64(w, "bytes", rep_add(f->bytes[0], f->bytes[1]));
    /* extensions */
    jw_ts(w, "first_ts", f->first_ts);
    jw_ts(w, "last_ts", f->last_ts);
}

/* A NAT identity as the mapping's protocol shows it (doc/json-schema.md, nat_mapping). */

void rep_json_nat_mapping_fields(struct jw *w, const struct nat_mapping *mp, bool full)
{
    char pbuf[8];
    jw_str(w, "proto", rep_proto_name(mp->proto, pbuf, sizeof(pbuf)));
    jw_nat_id(w, "inside", mp->proto, &mp->inside);
    jw_nat_id(w, "outside", mp->proto, &mp->outside);
    jw_nat_id(w, "peer", mp->proto, &mp->peer);
    if (full && (mp->proto == IPP_ESP || mp->proto == IPP_AH)) {
        jw_obj(w, "spis");
        jw_arr(w, "to_peer");
        for (unsigned i = 0; i < mp->n_spis_to && i < NAT_MAX_SPIS; i++)
            jw_ipsec_spi(w, NULL, mp->spis_to[i]);
        jw_arr_end(w);
        jw_arr(w, "from_peer");
        for (unsigned i = 0; i < mp->n_spis_from && i < NAT_MAX_SPIS; i++)
            jw_ipsec_spi(w, NULL, mp->spis_from[i]);
        jw_arr_end(w);
        jw_obj_end(w);
    }
    jw_bool(w, "translated", mp->translated);
    jw_arr(w, "evidence");
    for (unsigned b = 0; b < 32; b++)
        if (mp->evidence & (1u << b))
            jw_str(w, NULL, nat_evidence_name(1u << b));
    jw_arr_end(w);
    jw_obj(w, "to_peer");
    jw_u64(w, "inside", mp->to_peer_inside);
    jw_u64(w, "outside", mp->to_peer_outside);
    jw_obj_end(w);
    jw_obj(w, "from_peer");
    jw_u64(w, "outside", mp->from_peer_outside);
    jw_u64(w, "inside", mp->from_peer_inside);
    jw_obj_end(w);
    jw_ts(w, "first_ts", mp->first_ts);
    jw_ts(w, "last_ts", mp->last_ts);
    if (!full)
        return;
    /* extensions */
    if (mp->max_gap_survived_us)
        jw_f6(w, "max_gap_survived_s", (double)mp->max_gap_survived_us / 1e6);
    if (mp->min_gap_lost_us)
        jw_f6(w, "min_gap_lost_s", (double)mp->min_gap_lost_us / 1e6);
}

static void rec_unmatched(struct jw *w, const struct nat_result *nr, const struct nat_unmatched *u,
                          const struct capture_pieces *const *pieces)
{
    char pbuf[8];
    jw_str(w, "side", side_name(u->side));
    jw_str(w, "direction", u->direction ? "from_peer" : "to_peer");
    jw_str(w, "proto", rep_proto_name(u->proto, pbuf, sizeof(pbuf)));
    jw_ip(w, "src", &u->src);
    jw_ip(w, "dst", &u->dst);
    if (u->has_ports) {
        jw_u64(w, "sport", u->sport);
        jw_u64(w, "dport", u->dport);
    }
    if (u->has_spi)
        jw_ipsec_spi(w, "spi", u->spi);
    if (u->has_call_id)
        jw_u64(w, "call_id", u->call_id);
    jw_u64(w, "packets", u->packets);
    jw_ts(w, "first_ts", u->first_ts);
    jw_ts(w, "last_ts", u->last_ts);
    jw_arr(w, "frames");
    for (unsigned i = 0; i < u->nframes && i < UNMATCHED_MAX_FRAMES && i < 20; i++) {
        jw_obj(w, NULL);
        jw_frame_keys(w, rep_pieces_of(pieces, u->side), u->side, u->frames[i]);
        jw_obj_end(w);
    }
    jw_arr_end(w);
    if (u->mapping >= 0 && (size_t)u->mapping < nr->n_map) {
        const struct nat_mapping *mp = &nr->map[u->mapping];
        jw_obj(w, "mapping");
        jw_nat_id(w, "inside", mp->proto, &mp->inside);
        jw_nat_id(w, "outside", mp->proto, &mp->outside);
        jw_obj_end(w);
    } else {
        jw_null(w, "mapping");
    }
}

static void rec_clock(struct jw *w, const struct nat_clock *c)
{
    jw_f6(w, "seconds", c->seconds);
    jw_f6(w, "drift_ppm", c->drift_ppm);
    jw_u64(w, "evidence_packets", c->evidence_packets);
    if (c->valid && c->ref_us)
        jw_ts(w, "ref_ts",
              c->ref_us); /* inside-clock time at which `seconds` holds (drift origin) */
}

/* display_filter: one filter per capture the finding has frames on. */
/* display_filter: one filter per capture the finding has frames on; a capture point of several
 * files has one per file instead, keyed by the file's name, in that file's frame numbers. */
static void jw_display_filter(struct jw *w, const struct finding *f,
                              const struct capture_pieces *const *pieces)
{
    static const uint8_t caps[] = {SIDE_SINGLE, SIDE_INSIDE, SIDE_OUTSIDE};
    char buf[EVIDENCE_FILTER_MAX];
    jw_obj(w, "display_filter");
    for (unsigned c = 0; c < sizeof(caps); c++) {
        const struct capture_pieces *pc = rep_pieces_of(pieces, caps[c]);
        for (int k = 0; pc && k < pc->n; k++)
            if (evidence_display_filter_file(f, caps[c], pc, k, buf, sizeof(buf)))
                jw_str(w, pc->files[k], buf);
        if (!pc && evidence_display_filter(f, caps[c], buf, sizeof(buf)))
            jw_str(w, side_name(caps[c]), buf);
    }
    jw_obj_end(w);
}

void rep_json_finding(struct jw *w, const struct finding *f,
                      const struct capture_pieces *const *pieces)
{
    char buf[40];
    jw_str(w, "kind", finding_kind_name(f->kind));
    jw_str(w, "severity", severity_name(f->sev));
    jw_str(w, "confidence", f->confirmed ? "confirmed" : "suspected");
    jw_ts(w, "ts", f->ts_us);
    jw_str(w, "summary", f->summary);
    jw_str(w, "remedy", f->remedy);
    jw_arr(w, "sessions");
    for (uint32_t i = 0, ns = finding_n_sessions(f); i < ns; i++) {
        const struct finding_session *s = finding_session_at(f, i);
        jw_obj(w, NULL);
        jw_str(w, "role", fs_role_name(s->role));
        jw_ip(w, "ip", &s->ip);
        if (s->has_port)
            jw_u64(w, "port", s->port);
        if (s->has_outside) {
            jw_obj(w, "outside");
            jw_ip(w, "ip", &s->out_ip);
            if (s->has_out_port)
                jw_u64(w, "port", s->out_port);
            jw_obj_end(w);
        }
        if (s->has_spi)
            jw_ipsec_spi(w, "spi", s->spi);
        if (s->has_call_id)
            jw_u64(w, "call_id", s->call_id);
        if (s->note[0])
            jw_str(w, "note", s->note);
        jw_obj_end(w);
    }
    jw_arr_end(w);
    jw_obj(w, "evidence");
    for (unsigned i = 0; i < f->n_ev && i < FINDING_MAX_EV; i++) {
        const struct finding_ev *e = &f->ev[i];
        if (strcmp(e->key, "frames") == 0)
            continue; /* reserved for the frame list */
        switch (e->type) {
        case EV_INT:
            jw_i64(w, e->key, e->i);
            break;
        case EV_STR:
            jw_str(w, e->key, e->s);
            break;
        case EV_TS:
            jw_str(w, e->key, ts_iso((uint64_t)e->i, buf, sizeof(buf)));
            break;
        case EV_SECONDS:
            jw_f6(w, e->key, e->d);
            break;
        case EV_BOOL:
            jw_bool(w, e->key, e->i != 0);
            break;
        default:
            jw_null(w, e->key);
            break;
        }
    }
    unsigned ix[FINDING_MAX_FRAMES];
    unsigned nf = rep_frames_sorted_ix(f, ix);
    jw_arr(w, "frames");
    for (unsigned i = 0; i < nf; i++) {
        const struct frame_ref *fr = &f->frames[ix[i]];
        jw_obj(w, NULL);
        jw_frame_keys(w, rep_pieces_of(pieces, fr->capture), fr->capture, fr->frame);
        if (f->frame_role[ix[i]])
            jw_str(w, "role", f->frame_role[ix[i]]);
        jw_obj_end(w);
    }
    jw_arr_end(w);
    jw_u64(w, "frames_total", f->frames_total > nf ? f->frames_total : nf);
    jw_obj_end(w);
    if (f->group_count) {
        jw_u64(w, "count", (uint64_t)f->group_count + 1);
    }
    jw_display_filter(w, f, pieces);
}

static void jw_name_list(struct jw *w, const char *key, const char *const *names)
{
    jw_arr(w, key);
    for (size_t i = 0; names && names[i]; i++)
        jw_str(w, NULL, names[i]);
    jw_arr_end(w);
}

static void jw_counts(struct jw *w, const struct rep_counts *c)
{
    jw_u64(w, "packets", c->packets);
    jw_u64(w, "decoded", c->decoded);
    jw_u64(w, "truncated", c->truncated);
    jw_u64(w, "invalid", c->invalid);
    jw_u64(w, "non_ip", c->non_ip);
    jw_u64(w, "filtered", c->filtered);
    if (c->duplicate)
        jw_u64(w, "duplicate", c->duplicate);
}

/* "clock_steps" (only when a capture clock stepped): where, and the offset applied after it. */
static void rec_clock_steps(struct jw *w, const struct report_input *in)
{
    uint64_t total = 0;
    for (unsigned i = 0; i < in->n_models && i < 2; i++)
        total += in->clock_steps[i] ? in->clock_steps[i]->total : 0;
    if (!total)
        return;
    jw_arr(w, "clock_steps");
    for (unsigned i = 0; i < in->n_models && i < 2; i++) {
        const struct clock_steps *cs = in->clock_steps[i];
        for (unsigned k = 0; cs && k < cs->n; k++) {
            const struct clock_step *st = &cs->step[k];
            jw_obj(w, NULL);
            uint8_t side = in->models[i] ? in->models[i]->side : SIDE_SINGLE;
            const struct capture_pieces *pc =
                in->pieces[i] && in->pieces[i]->n > 1 ? in->pieces[i] : NULL;
            jw_frame_keys(w, pc, side, st->frame);
            jw_ts(w, "before_ts", st->before_us);
            jw_ts(w, "after_ts", st->after_us);
            jw_f6(w, "step_s", (double)st->step_us / 1e6);
            jw_f6(w, "offset_s", (double)st->offset_us / 1e6);
            jw_str(w, "offset_from",
                   st->refined   ? "other_capture"
                   : st->forward ? "flow_interval_assumed"
                                 : "no_gap_assumed");
            jw_str(w, "direction", st->forward ? "forward" : "backward");
            if (st->forward && !st->refined)
                jw_f6(w, "assumed_s", (double)st->assumed_us / 1e6);
            jw_obj_end(w);
        }
    }
    jw_arr_end(w);
    jw_u64(w, "clock_steps_total", total);
}

/* "capture_gaps" (only when there were any): silences with holes in the wire's counters, packets
 * the capture missed (not a clock step; clockstep_fwd.c). */
static void rec_capture_gaps(struct jw *w, const struct report_input *in)
{
    uint64_t total = 0;
    for (unsigned i = 0; i < in->n_models && i < 2; i++)
        total += in->clock_steps[i] ? in->clock_steps[i]->gaps_total : 0;
    if (!total)
        return;
    jw_arr(w, "capture_gaps");
    for (unsigned i = 0; i < in->n_models && i < 2; i++) {
        const struct clock_steps *cs = in->clock_steps[i];
        for (unsigned k = 0; cs && k < cs->gaps_total && k < CLOCKSTEP_MAX; k++) {
            jw_obj(w, NULL);
            jw_str(w, "capture", side_name(in->models[i] ? in->models[i]->side : SIDE_SINGLE));
            jw_u64(w, "frame", cs->gap_frame[k]);
            jw_ts(w, "before_ts", cs->gap_before_us[k]);
            jw_ts(w, "after_ts", cs->gap_after_us[k]);
            jw_obj_end(w);
        }
    }
    jw_arr_end(w);
    jw_u64(w, "capture_gaps_total", total);
}

/* "wrappers", "tunnels" and "snap_cut": only present when the capture had any (doc/json-schema.md).
 */
static void jw_encap_kinds(struct jw *w, const char *key, const uint64_t *n, bool wrappers)
{
    bool open = false;
    for (unsigned k = 1; k < ENCAP__COUNT; k++) {
        if (!n[k] || encap_is_wrapper(k) != wrappers)
            continue;
        if (!open)
            jw_obj(w, key);
        open = true;
        jw_u64(w, encap_name(k), n[k]);
    }
    if (open)
        jw_obj_end(w);
}

/* "input_cut": the saved captures that were cut off or corrupt (only when any). */
static void jw_input_cut(struct jw *w, const struct report_input *in)
{
    bool any = in->cut[0].cut || in->cut[1].cut;
    if (!any)
        return;
    jw_arr(w, "input_cut");
    for (unsigned i = 0; i < 2; i++) {
        const struct report_cut *c = &in->cut[i];
        if (!c->cut)
            continue;
        jw_obj(w, NULL);
        jw_str(w, "capture", in->n_models >= 2 ? (i ? "outside" : "inside") : "single");
        jw_str(w, "file", c->path ? c->path : "");
        jw_u64(w, "offset", c->offset);
        jw_u64(w, "records_read", c->records);
        jw_str(w, "message", c->what ? c->what : "");
        jw_obj_end(w);
    }
    jw_arr_end(w);
}

/* "pieces_overlap" and "nat_sides_hint": several files of one capture point (only when any). */
static void jw_pieces(struct jw *w, const struct report_input *in)
{
    bool any = false;
    for (unsigned i = 0; i < 2; i++)
        any = any || (in->pieces[i] && in->pieces[i]->n_overlap);
    if (any) {
        jw_arr(w, "pieces_overlap");
        for (unsigned i = 0; i < 2; i++) {
            const struct capture_pieces *pc = in->pieces[i];
            unsigned nv = !pc                                   ? 0
                          : pc->n_overlap < PIECES_MAX_OVERLAPS ? pc->n_overlap
                                                                : PIECES_MAX_OVERLAPS;
            for (unsigned k = 0; k < nv; k++) {
                const struct pieces_overlap *v = &pc->overlap[k];
                jw_obj(w, NULL);
                jw_str(w, "capture", in->n_models >= 2 ? (i ? "outside" : "inside") : "single");
                jw_arr(w, "files");
                jw_str(w, NULL, pc->files[v->a]);
                jw_str(w, NULL, pc->files[v->b]);
                jw_arr_end(w);
                jw_ts(w, "from_ts", v->from_us);
                jw_ts(w, "to_ts", v->to_us);
                jw_u64(w, "repeated", v->repeated);
                jw_obj_end(w);
            }
        }
        jw_arr_end(w);
    }
    for (unsigned i = 0; i < 2; i++) {
        const struct capture_pieces *pc = in->pieces[i];
        if (!pc || pc->nat_inside < 0)
            continue;
        jw_obj(w, "nat_sides_hint");
        jw_str(w, "inside", pc->files[pc->nat_inside]);
        jw_str(w, "outside", pc->files[pc->nat_outside]);
        jw_u64(w, "matched_packets", pc->nat_pairs);
        jw_obj_end(w);
        break;
    }
}

static void rec_summary_capture(struct jw *w, const struct report_input *in)
{
    struct rep_capture_totals t;
    rep_capture_totals(in, &t);
    jw_encap_kinds(w, "wrappers", t.encap, true);
    jw_encap_kinds(w, "tunnels", t.encap, false);
    jw_input_cut(w, in);
    jw_pieces(w, in);
    if (!t.snap_cut)
        return;
    jw_obj(w, "snap_cut");
    jw_u64(w, "packets", t.snap_cut);
    jw_obj(w, "vpn_layer_cut");
    for (unsigned v = 1; v < VPN__COUNT; v++)
        if (t.snap_cut_vpn[v])
            jw_u64(w, rep_vpn_cut_name(v), t.snap_cut_vpn[v]);
    jw_obj_end(w);
    jw_obj_end(w);
}

static void rec_summary(struct jw *w, const struct report_input *in)
{
    struct rep_totals t;
    rep_totals(in, &t);
    bool two = in->n_models >= 2;
    jw_u64(w, "schema", 1);
    if (two) {
        jw_obj(w, "captures");
        jw_name_list(w, "inside", in->captures[0]);
        jw_name_list(w, "outside", in->captures[1]);
        jw_obj_end(w);
    } else {
        const char *const *c = in->captures[0];
        if (c && c[0] && !c[1])
            jw_str(w, "capture", c[0]);
        else
            jw_name_list(w, "captures", c);
        const struct session_model *m = in->models[0];
        jw_str(w, "side", side_name(rep_single_side(m)));
        jw_bool(w, "side_inferred", !in->side_given);
    }
    jw_counts(w, &t.all);
    if (two) {
        jw_obj(w, "per_capture");
        for (unsigned i = 0; i < 2; i++) {
            const struct session_model *m = in->models[i];
            jw_obj(w, side_name(m ? m->side : (uint8_t)(i + 1)));
            jw_counts(w, &t.per[i]);
            jw_obj_end(w);
        }
        jw_obj_end(w);
    }
    unsigned ids[ANOM__COUNT];
    unsigned na = rep_anomalies_sorted(&t, ids);
    jw_obj(w, "anomalies");
    for (unsigned i = 0; i < na; i++)
        jw_u64(w, anomaly_name(ids[i]), t.anomalies[ids[i]]);
    jw_obj_end(w);
    jw_obj(w, "evicted");
    for (unsigned e = 0; e < REP_N_EVICT; e++)
        if (e < REP_N_EVICT_ALWAYS || t.evicted[e])
            jw_u64(w, rep_evict_names[e], t.evicted[e]);
    jw_obj_end(w);
    if (in->live)
        jw_u64(w, "kernel_drops", in->kernel_drops);
    jw_obj(w, "findings");
    jw_u64(w, "error", t.findings[SEV_ERROR]);
    jw_u64(w, "warning", t.findings[SEV_WARNING]);
    jw_u64(w, "info", t.findings[SEV_INFO]);
    jw_obj_end(w);
    if (in->findings_hidden)
        jw_u64(w, "findings_hidden", in->findings_hidden); /* below --min-severity */
    /* extensions */
    if (in->nat) {
        jw_obj(w, "nat");
        jw_u64(w, "matched_packets", in->nat->matched_packets);
        jw_u64(w, "inside_only", in->nat->inside_only);
        jw_u64(w, "outside_only", in->nat->outside_only);
        jw_u64(w, "uncovered", in->nat->uncovered);
        jw_u64(w, "pending_evicted", in->nat->pending_evicted);
        jw_u64(w, "dropped_records", in->nat->dropped_records);
        jw_bool(w, "swapped", in->nat->swapped);
        jw_arr(w, "nat_addrs");
        for (unsigned i = 0; i < in->nat->n_nat_addrs && i < 8; i++)
            jw_ip(w, NULL, &in->nat->nat_addrs[i]);
        jw_arr_end(w);
        if (in->nat->message[0])
            jw_str(w, "message", in->nat->message);
        jw_obj_end(w);
    }
    rec_clock_steps(w, in);
    rec_capture_gaps(w, in);
    rec_summary_capture(w, in);
}

static void print_rec(FILE *out, const struct report_input *in, const struct rep_rec *r)
{
    struct jw w;
    const struct session_model *m = in->models[r->model];
    jw_begin_record(&w, out, rep_type_name(r->type));
    if (in->file)
        jw_str(&w, "file", in->file);
    switch (r->type) {
    case REC_IKE_SA:
        rec_ike(&w, m, r->p);
        break;
    case REC_ESP_SA:
    case REC_AH_SA:
        rec_ipsec(&w, m, r->p);
        break;
    case REC_PPTP_CALL:
        rec_pptp_call(&w, m, r->p, r->sub);
        break;
    case REC_PPTP_CTRL:
        rec_pptp_ctrl(&w, m, r->p);
        break;
    case REC_GRE:
        rec_gre(&w, m, r->p);
        break;
    case REC_L2TP:
        rec_l2tp(&w, m, r->p);
        break;
    case REC_FLOW:
        rec_flow(&w, m, r->p);
        break;
    case REC_NAT_MAPPING:
        rep_json_nat_mapping_fields(&w, r->p, true);
        break;
    case REC_UNMATCHED:
        rec_unmatched(&w, in->nat, r->p, in->pieces);
        break;
    case REC_CLOCK_OFFSET:
        rec_clock(&w, r->p);
        break;
    case REC_FINDING:
        rep_json_finding(&w, r->p, in->pieces);
        break;
    case REC_WG_SESSION:
        rep_json_wg(&w, m, r->p);
        break;
    case REC_OVPN_SESSION:
        rep_json_ovpn(&w, m, r->p);
        break;
    default:
        break;
    }
    jw_end_record(&w);
}

void report_json_summary(FILE *out, const struct report_input *in)
{
    struct jw w;
    jw_begin_record(&w, out, "summary");
    if (in->file)
        jw_str(&w, "file", in->file);
    rec_summary(&w, in);
    jw_end_record(&w);
}

/* Records formatted in parallel: each round, JSON_CHUNK records per thread go to a memory
 * stream of their own, then the streams are written in record order (the output is the one
 * thread's, byte for byte: a record's text depends only on the record). */
#define JSON_CHUNK 512u
#define JSON_MAX_THREADS 16u

struct fmt_job {
    const struct report_input *in;
    const struct rep_rec *v;
    size_t n;
    char *buf;
    size_t len;
    bool ok;
};

static void *fmt_chunk(void *arg)
{
    struct fmt_job *j = arg;
    FILE *f = open_memstream(&j->buf, &j->len);
    j->ok = f != NULL;
    if (!f)
        return NULL;
    for (size_t i = 0; i < j->n; i++)
        print_rec(f, j->in, &j->v[i]);
    if (fclose(f) != 0)
        j->ok = false;
    return NULL;
}

static void print_recs(FILE *out, const struct report_input *in, const struct rep_list *l)
{
    unsigned nt = in->threads < JSON_MAX_THREADS ? in->threads : JSON_MAX_THREADS;
    if (nt < 2 || l->n < 2 * JSON_CHUNK) {
        for (size_t i = 0; i < l->n; i++)
            print_rec(out, in, &l->v[i]);
        return;
    }
    struct fmt_job job[JSON_MAX_THREADS];
    pthread_t th[JSON_MAX_THREADS];
    bool started[JSON_MAX_THREADS];
    for (size_t at = 0; at < l->n;) {
        unsigned k = 0;
        for (; k < nt && at < l->n; k++) {
            size_t n = l->n - at < JSON_CHUNK ? l->n - at : JSON_CHUNK;
            job[k] = (struct fmt_job){in, &l->v[at], n, NULL, 0, false};
            /* the first chunk on this thread, the others on their own */
            started[k] = k > 0 && pthread_create(&th[k], NULL, fmt_chunk, &job[k]) == 0;
            at += n;
        }
        fmt_chunk(&job[0]);
        for (unsigned t = 0; t < k; t++) {
            if (started[t])
                pthread_join(th[t], NULL);
            else if (t > 0)
                fmt_chunk(&job[t]);
            if (job[t].ok) {
                fwrite(job[t].buf, 1, job[t].len, out);
            } else { /* no memory for the stream: written directly */
                for (size_t i = 0; i < job[t].n; i++)
                    print_rec(out, in, &job[t].v[i]);
            }
            free(job[t].buf);
        }
    }
}

void report_json(FILE *out, const struct report_input *in)
{
    struct rep_list l;
    rep_build(&l, in); /* on OOM the partial list is still printed */
    print_recs(out, in, &l);
    rep_list_free(&l);
    struct jw w;
    jw_begin_record(&w, out, "summary");
    if (in->file)
        jw_str(&w, "file", in->file);
    rec_summary(&w, in);
    jw_end_record(&w);
}

size_t report_tunnels(const struct report_input *in)
{
    struct rep_list l;
    rep_build(&l, in);
    size_t n = 0;
    for (size_t i = 0; i < l.n; i++)
        n += l.v[i].type <= REC_L2TP ? 1 : 0; /* the session record types come first */
    rep_list_free(&l);
    return n;
}

/* {kind: count} of the kinds that were found, in enum order. */
static void jw_kinds(struct jw *w, const uint32_t *k32, const uint64_t *k64)
{
    jw_obj(w, "findings");
    for (unsigned k = 0; k < FINDING__COUNT; k++) {
        uint64_t v = k32 ? k32[k] : k64[k];
        if (v)
            jw_u64(w, finding_kind_name(k), v);
    }
    jw_obj_end(w);
}

void report_capture_summary_json(FILE *out, const struct batch_capture *c)
{
    struct jw w;
    jw_begin_record(&w, out, "capture_summary");
    jw_str(&w, "file", c->file);
    jw_u64(&w, "packets", c->packets);
    jw_u64(&w, "tunnels", c->tunnels);
    jw_kinds(&w, c->kinds, NULL);
    jw_u64(&w, "exit_status", (uint64_t)c->exit_status);
    jw_str(&w, "error", c->error && c->error[0] ? c->error : NULL);
    jw_str(&w, "warning", c->warning && c->warning[0] ? c->warning : NULL);
    jw_end_record(&w);
}

void report_rollup_json(FILE *out, const struct batch_rollup *r)
{
    struct jw w;
    jw_begin_record(&w, out, "rollup");
    jw_u64(&w, "captures", r->captures);
    jw_u64(&w, "failed", r->failed);
    jw_u64(&w, "skipped", r->skipped);
    jw_u64(&w, "packets", r->packets);
    jw_u64(&w, "tunnels", r->tunnels);
    jw_kinds(&w, NULL, r->kinds);
    jw_u64(&w, "exit_status", (uint64_t)r->exit_status);
    jw_end_record(&w);
}
