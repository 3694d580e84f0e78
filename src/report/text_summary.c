/* text_summary.c - the header of the text report, the clock estimation and the summary. */
#include "text_int.h"

#include "vpnscope/clockstep.h"

#include <signal.h>
#include <math.h>
#include <string.h>

/* A capture clock that stepped: where, by how much, and the offset applied to the times after. */
static void print_clock_steps(FILE *out, const struct report_input *in)
{
    char a[40], b[40];
    for (unsigned i = 0; i < in->n_models && i < 2; i++) {
        const struct clock_steps *cs = in->clock_steps[i];
        for (unsigned k = 0; cs && k < cs->n; k++) {
            const struct clock_step *st = &cs->step[k];
            uint64_t local;
            const char *file = capture_pieces_frame(in->pieces[i], st->frame, &local);
            fprintf(out,
                    "  Clock step: %s capture, %s%sframe %llu: %s after %s (%+.6f s); later times "
                    "%+.6f s (%s)\n",
                    side_name(in->models[i] ? in->models[i]->side : SIDE_SINGLE), file ? file : "",
                    file ? " " : "", (unsigned long long)local, ts_iso(st->after_us, a, sizeof(a)),
                    ts_iso(st->before_us, b, sizeof(b)), (double)st->step_us / 1e6,
                    (double)st->offset_us / 1e6,
                    st->refined   ? "measured against the other capture"
                    : st->forward ? "forward: the counters continue, one packet interval assumed"
                                  : "no gap assumed");
        }
        if (cs && cs->total > cs->n)
            fprintf(out, "  Clock steps: %llu more in this capture (not listed)\n",
                    (unsigned long long)(cs->total - cs->n));
        for (unsigned k = 0; cs && k < cs->gaps_total && k < CLOCKSTEP_MAX; k++)
            fprintf(out,
                    "  Capture gap: %s capture, frame %llu: nothing from %s to %s, and the "
                    "counters have holes: packets were not captured (not a clock step)\n",
                    side_name(in->models[i] ? in->models[i]->side : SIDE_SINGLE),
                    (unsigned long long)cs->gap_frame[k],
                    ts_iso(cs->gap_before_us[k], b, sizeof(b)),
                    ts_iso(cs->gap_after_us[k], a, sizeof(a)));
    }
}

static void print_names(FILE *out, const char *const *names)
{
    char b[512];
    if (!names || !names[0]) {
        fputs("-", out);
        return;
    }
    for (size_t i = 0; names[i]; i++)
        fprintf(out, "%s%s", i ? ", " : "", tx_escape(names[i], b, sizeof(b)));
}

static void print_span(FILE *out, const struct session_model *m)
{
    char a[40], b[40];
    const struct session_counts *c = &m->c;
    fprintf(out, "%llu %s", (unsigned long long)c->packets,
            tx_plural(c->packets, "packet", "packets"));
    if (c->packets && c->last_ts >= c->first_ts)
        fprintf(out, ", %s .. %s (%.6f s)", ts_iso(c->first_ts, a, sizeof(a)),
                ts_iso(c->last_ts, b, sizeof(b)), (double)(c->last_ts - c->first_ts) / 1e6);
    fputc('\n', out);
}

void tx_print_header(FILE *out, const struct report_input *in)
{
    fputs("vpnscope " VPNSCOPE_VERSION " report\n", out);
    if (in->n_models >= 2) {
        for (unsigned i = 0; i < 2; i++) {
            const struct session_model *m = in->models[i];
            if (!m)
                continue;
            fprintf(out, "%-8s capture: ", side_name(m->side));
            print_names(out, in->captures[i]);
            fputs(": ", out);
            print_span(out, m);
        }
    } else if (in->models[0]) {
        const struct session_model *m = in->models[0];
        fputs("Capture: ", out);
        print_names(out, in->captures[0]);
        uint8_t side = rep_single_side(m);
        if (side == SIDE_SINGLE)
            fputs(" (side of the NAT: not determined)\n", out);
        else
            fprintf(out, " (side of the NAT: %s, %s)\n", side_name(side),
                    in->side_given ? "given" : "inferred from the traffic");
        fputs("Traffic: ", out);
        print_span(out, m);
    }
    if (in->nat && in->nat->swapped)
        fputs("Note: the inside and outside captures were given the wrong way round; vpnscope "
              "swapped them.\n",
              out);
    if (in->nat && in->nat->message[0]) {
        fputs("Note: ", out);
        tx_wrap(out, in->nat->message, 6, 6);
    }
}

static void print_counts(FILE *out, const struct rep_counts *c)
{
    fprintf(out,
            "%llu = %llu decoded + %llu truncated + %llu invalid + %llu non-IP + %llu filtered",
            (unsigned long long)c->packets, (unsigned long long)c->decoded,
            (unsigned long long)c->truncated, (unsigned long long)c->invalid,
            (unsigned long long)c->non_ip, (unsigned long long)c->filtered);
    if (c->duplicate)
        fprintf(out, " + %llu duplicate", (unsigned long long)c->duplicate);
    fputc('\n', out);
}

/* Several files of one capture point: overlaps, repeats and the NAT-sides hint. */
static void tx_print_pieces(FILE *out, const struct report_input *in)
{
    for (unsigned i = 0; i < 2; i++) {
        const struct capture_pieces *pc = in->pieces[i];
        if (!pc || pc->n <= 1)
            continue;
        unsigned nv = pc->n_overlap < PIECES_MAX_OVERLAPS ? pc->n_overlap : PIECES_MAX_OVERLAPS;
        for (unsigned k = 0; k < nv; k++) {
            const struct pieces_overlap *v = &pc->overlap[k];
            char t0[40], t1[40];
            fprintf(out, "  Input:     pieces %s and %s overlap in time (%s to %s)",
                    pc->files[v->a], pc->files[v->b], ts_iso(v->from_us, t0, sizeof(t0)),
                    ts_iso(v->to_us, t1, sizeof(t1)));
            if (v->repeated)
                fprintf(out, "; %llu %s the same bytes at the same time (analysed once)",
                        (unsigned long long)v->repeated,
                        tx_plural(v->repeated, "packet repeats", "packets repeat"));
            fputc('\n', out);
        }
        if (pc->n_overlap > nv)
            fprintf(out, "  Input:     %u more overlapping pairs of pieces not listed\n",
                    pc->n_overlap - nv);
        if (pc->nat_inside >= 0)
            fprintf(out,
                    "  Input:     %s and %s look like the inside and outside of a NAT (%llu "
                    "packets match with a translated source): use --inside %s --outside %s\n",
                    pc->files[pc->nat_inside], pc->files[pc->nat_outside],
                    (unsigned long long)pc->nat_pairs, pc->files[pc->nat_inside],
                    pc->files[pc->nat_outside]);
    }
}

void tx_print_clock(FILE *out, const struct report_input *in)
{
    if (!in->nat || !in->nat->clock.valid)
        return;
    const struct nat_clock *c = &in->nat->clock;
    fputs("\nClock offset\n  outside clock - inside clock = ", out);
    if (isfinite(c->seconds))
        fprintf(out, "%+.6f s", c->seconds);
    else
        fputs("-", out);
    if (isfinite(c->drift_ppm))
        fprintf(out, ", drift %.6f ppm", c->drift_ppm);
    char ts[40];
    fprintf(out, ", from %llu %s (offset at %s, inside clock)\n",
            (unsigned long long)c->evidence_packets,
            tx_plural(c->evidence_packets, "packet", "packets"), ts_iso(c->ref_us, ts, sizeof(ts)));
}

/* Kinds of wrappers (mirror sessions, MPLS) or tunnels removed, on one line; false when none. */
static bool print_encap_kinds(FILE *out, const char *label, const uint64_t *n, bool wrappers)
{
    unsigned shown = 0;
    for (unsigned k = 1; k < ENCAP__COUNT; k++) {
        if (!n[k] || encap_is_wrapper(k) != wrappers)
            continue;
        fprintf(out, "%s%s %llu", shown++ ? ", " : label, encap_name(k), (unsigned long long)n[k]);
    }
    return shown > 0;
}

/* What wrapped the packets and what the snaplen cut (printed only when there is any). */
static void tx_print_capture_shape(FILE *out, const struct report_input *in)
{
    struct rep_capture_totals t;
    rep_capture_totals(in, &t);
    if (print_encap_kinds(out, "  Wrappers:  ", t.encap, true))
        fputs(" (removed: flows, NAT mappings and findings are those of the packets inside)\n",
              out);
    if (print_encap_kinds(out, "  Tunnels:   ", t.encap, false))
        fputs(" (the packets inside are analysed as the flows)\n", out);
    tx_print_pieces(out, in);
    for (unsigned i = 0; i < 2; i++) {
        const struct report_cut *c = &in->cut[i];
        if (c->cut)
            fprintf(out,
                    "  Input:     %s stopped being readable at byte %llu after %llu %s: this "
                    "report covers only what came before (%s)\n",
                    c->path ? c->path : "the capture", (unsigned long long)c->offset,
                    (unsigned long long)c->records, tx_plural(c->records, "record", "records"),
                    c->what ? c->what : "");
    }
    if (in->interrupted)
        fprintf(out,
                "  Input:     %s stopped the reading before the end of the input: this report "
                "covers only the packets read\n",
                in->interrupted == SIGTERM ? "SIGTERM" : "SIGINT");
    if (!t.snap_cut)
        return;
    fprintf(out, "  Snaplen:   %llu %s cut by the capture's snaplen",
            (unsigned long long)t.snap_cut, tx_plural(t.snap_cut, "packet", "packets"));
    if (t.snap_cut_vpn[VPN_IKE])
        fprintf(out,
                "; IKE payloads cut in %llu (NAT-D, notify and vendor ID evidence missing there)",
                (unsigned long long)t.snap_cut_vpn[VPN_IKE]);
    for (unsigned v = 1; v < VPN__COUNT; v++)
        if (v != VPN_IKE && t.snap_cut_vpn[v])
            fprintf(out, "; %s layer cut in %llu", rep_vpn_cut_name(v),
                    (unsigned long long)t.snap_cut_vpn[v]);
    fputc('\n', out);
}

void tx_print_summary(FILE *out, const struct report_input *in, const struct rep_totals *t)
{
    fputs("\nSummary\n", out);
    fputs("  Packets:   ", out);
    print_counts(out, &t->all);
    if (in->n_models >= 2) {
        for (unsigned i = 0; i < 2; i++) {
            const struct session_model *m = in->models[i];
            fprintf(out, "  %-9s  ", side_name(m ? m->side : (uint8_t)(i + 1)));
            print_counts(out, &t->per[i]);
        }
    }
    unsigned ids[ANOM__COUNT];
    unsigned na = rep_anomalies_sorted(t, ids);
    fputs("  Anomalies: ", out);
    if (!na)
        fputs("none", out);
    for (unsigned i = 0; i < na; i++)
        fprintf(out, "%s%s %llu", i ? ", " : "", anomaly_name(ids[i]),
                (unsigned long long)t->anomalies[ids[i]]);
    fputc('\n', out);
    fputs("  Evicted:   ", out);
    unsigned ne = 0;
    for (unsigned e = 0; e < REP_N_EVICT; e++)
        if (t->evicted[e])
            fprintf(out, "%s%s %llu", ne++ ? ", " : "", rep_evict_names[e],
                    (unsigned long long)t->evicted[e]);
    fputs(ne ? " (tables were full: some sessions are missing from this report)\n" : "none\n", out);
    if (in->live)
        fprintf(out, "  Kernel drops: %llu\n", (unsigned long long)in->kernel_drops);
    print_clock_steps(out, in);
    fprintf(out, "  Findings:  %llu %s, %llu %s, %llu info\n",
            (unsigned long long)t->findings[SEV_ERROR],
            tx_plural(t->findings[SEV_ERROR], "error", "errors"),
            (unsigned long long)t->findings[SEV_WARNING],
            tx_plural(t->findings[SEV_WARNING], "warning", "warnings"),
            (unsigned long long)t->findings[SEV_INFO]);
    tx_print_capture_shape(out, in);
}
