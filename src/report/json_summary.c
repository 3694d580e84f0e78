/* json_summary.c - the summary record, the last line of the JSON report (doc/json-schema.md):
 * counters, anomalies, evictions, findings by severity, the NAT match, clock steps, capture gaps
 * and the shape of the capture (wrappers, tunnels, cut input, pieces, snaplen cuts). */
#include <signal.h>

#include "json_int.h"
#include "jsonw.h"
#include "report_int.h"
#include "vpnscope/clockstep.h"

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
    if (in->interrupted) /* only when: a run read to the end has no such field */
        jw_str(w, "interrupted", in->interrupted == SIGTERM ? "SIGTERM" : "SIGINT");
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

void rep_json_summary(struct jw *w, const struct report_input *in)
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
