/* text_findings.c - the findings of the text report: summary, evidence, frames, sessions and
 * remedy of each, most severe first. */
#include "text_int.h"

#include <signal.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "vpnscope/evidence.h"
#include "vpnscope/proto.h"

/* The frames by capture; a capture point of several files names the file of each run of frames
 * (numbered as in that file), e.g. "inside ring1.pcap #4, #5; ring2.pcap #1". */
static void print_frames(FILE *out, const struct finding *f,
                         const struct capture_pieces *const *pieces)
{
    struct frame_ref fr[FINDING_MAX_FRAMES];
    unsigned n = rep_frames_sorted(f, fr);
    if (!n)
        return;
    fputs("    frames: ", out);
    const char *prev_file = NULL;
    for (unsigned i = 0; i < n; i++) {
        const struct capture_pieces *pc = rep_pieces_of(pieces, fr[i].capture);
        uint64_t local;
        const char *file = capture_pieces_frame(pc, fr[i].frame, &local);
        bool new_cap = i == 0 || fr[i].capture != fr[i - 1].capture;
        if (new_cap && file)
            fprintf(out, "%s%s %s #%llu", i ? "; " : "", side_name(fr[i].capture), file,
                    (unsigned long long)local);
        else if (new_cap)
            fprintf(out, "%s%s #%llu", i ? "; " : "", side_name(fr[i].capture),
                    (unsigned long long)local);
        else if (file != prev_file)
            fprintf(out, "; %s #%llu", file, (unsigned long long)local);
        else
            fprintf(out, ", #%llu", (unsigned long long)local);
        prev_file = file;
    }
    fputc('\n', out);
    if (f->frames_total > n)
        fprintf(out, "    (%llu more frames not listed)\n",
                (unsigned long long)(f->frames_total - n));
}

/* One line per capture (per file of a capture point of several files): the Wireshark display
 * filter selecting exactly the listed frames. */
static void print_filters(FILE *out, const struct finding *f,
                          const struct capture_pieces *const *pieces)
{
    static const uint8_t caps[] = {SIDE_SINGLE, SIDE_INSIDE, SIDE_OUTSIDE};
    char buf[EVIDENCE_FILTER_MAX];
    for (unsigned c = 0; c < sizeof(caps); c++) {
        const struct capture_pieces *pc = rep_pieces_of(pieces, caps[c]);
        for (int k = 0; pc && k < pc->n; k++)
            if (evidence_display_filter_file(f, caps[c], pc, k, buf, sizeof(buf)))
                fprintf(out, "  Wireshark filter (%s): %s\n", pc->files[k], buf);
        if (!pc && evidence_display_filter(f, caps[c], buf, sizeof(buf))) {
            if (caps[c] == SIDE_SINGLE)
                fprintf(out, "  Wireshark filter: %s\n", buf);
            else
                fprintf(out, "  Wireshark filter (%s): %s\n", side_name(caps[c]), buf);
        }
    }
}

enum { SESS_NC = 5 };

/* The cells of one session row: role, address, outside address, SPI / call id, note. */
static void session_cells(const struct finding_session *s, char c[SESS_NC][TX_CELL])
{
    char a[80];
    tx_cellf(c[0], "%s", fs_role_name(s->role));
    if (s->has_port)
        tx_cellf(c[1], "%s", tx_ipport(&s->ip, s->port, a, sizeof(a)));
    else
        tx_cellf(c[1], "%s", tx_ip(&s->ip, a, sizeof(a)));
    if (s->has_outside && s->has_out_port)
        tx_cellf(c[2], "outside %s", tx_ipport(&s->out_ip, s->out_port, a, sizeof(a)));
    else if (s->has_outside)
        tx_cellf(c[2], "outside %s", tx_ip(&s->out_ip, a, sizeof(a)));
    else
        c[2][0] = '\0';
    if (s->has_spi && s->has_call_id)
        tx_cellf(c[3], "spi 0x%08x call %u", (unsigned)s->spi, (unsigned)s->call_id);
    else if (s->has_spi)
        tx_cellf(c[3], "spi 0x%08x", (unsigned)s->spi);
    else if (s->has_call_id)
        tx_cellf(c[3], "call id %u", (unsigned)s->call_id);
    else
        c[3][0] = '\0';
    tx_escape(s->note, c[4], TX_CELL);
}

/* A table of every session: one pass for the column widths, one to print (a grouped finding
 * can hold thousands of sessions: no row is kept). */
static void print_sessions(FILE *out, const struct finding *f)
{
    char c[SESS_NC][TX_CELL];
    unsigned w[SESS_NC] = {0};
    uint32_t n = finding_n_sessions(f);
    if (!n)
        return;
    for (uint32_t i = 0; i < n; i++) {
        session_cells(finding_session_at(f, i), c);
        for (unsigned k = 0; k < SESS_NC; k++) {
            unsigned len = (unsigned)strlen(c[k]);
            if (len > w[k])
                w[k] = len;
        }
    }
    fputs("  Sessions:\n", out);
    for (uint32_t i = 0; i < n; i++) {
        session_cells(finding_session_at(f, i), c);
        /* trailing empty columns are not padded */
        unsigned last = SESS_NC;
        while (last > 1 && !c[last - 1][0])
            last--;
        fputs("    ", out);
        for (unsigned k = 0; k < last; k++) {
            if (k + 1 < last)
                fprintf(out, "%-*s  ", (int)w[k], c[k]);
            else
                fprintf(out, "%s\n", c[k]);
        }
    }
}

static void print_evidence(FILE *out, const struct finding *f,
                           const struct capture_pieces *const *pieces)
{
    unsigned n = f->n_ev < FINDING_MAX_EV ? f->n_ev : FINDING_MAX_EV;
    if (!n && !f->n_frames)
        return;
    fputs("  Evidence:\n", out);
    for (unsigned i = 0; i < n; i++) {
        const struct finding_ev *e = &f->ev[i];
        char key[80], v[256];
        tx_escape(e->key, key, sizeof(key));
        switch (e->type) {
        case EV_INT:
            snprintf(v, sizeof(v), "%lld", (long long)e->i);
            break;
        case EV_STR:
            tx_escape(e->s, v, sizeof(v));
            break;
        case EV_TS:
            ts_iso((uint64_t)e->i, v, sizeof(v));
            break;
        case EV_SECONDS:
            if (isfinite(e->d))
                snprintf(v, sizeof(v), "%.6f s", e->d);
            else
                snprintf(v, sizeof(v), "-");
            break;
        case EV_BOOL:
            snprintf(v, sizeof(v), "%s", e->i ? "yes" : "no");
            break;
        default:
            snprintf(v, sizeof(v), "-");
            break;
        }
        fprintf(out, "    %s: %s\n", key, v);
    }
    print_frames(out, f, pieces);
}

static void print_finding(FILE *out, const struct finding *f,
                          const struct capture_pieces *const *pieces)
{
    static const char *const tag[] = {"[INFO]", "[WARNING]", "[ERROR]"};
    char ts[40];
    fprintf(out, "\n%s %s (%s) at %s\n", f->sev <= SEV_ERROR ? tag[f->sev] : "[?]",
            finding_kind_name(f->kind), f->confirmed ? "confirmed" : "suspected",
            ts_iso(f->ts_us, ts, sizeof(ts)));
    if (f->summary[0]) {
        fputs("  ", out);
        tx_wrap(out, f->summary, 2, 2);
    }
    print_sessions(out, f);
    print_evidence(out, f, pieces);
    print_filters(out, f, pieces);
    if (f->remedy[0]) {
        fputs("  Remedy: ", out);
        tx_wrap(out, f->remedy, 10, 10);
    }
}

/* The index: one line per finding, in report order: number, severity, kind, confidence, time and
 * the summary's start cut to the line. */
static void print_index(FILE *out, const struct finding_list *fl, const size_t *ix)
{
    static const char *const tag[] = {"INFO", "WARNING", "ERROR"};
    for (size_t i = 0; i < fl->n; i++) {
        const struct finding *f = &fl->v[ix ? ix[i] : i];
        char ts[40], head[160], sum[160];
        ts_iso(f->ts_us, ts, sizeof(ts));
        int hl = snprintf(head, sizeof(head), "  #%-3zu %-7s %s (%s) %.8s", i + 1,
                          f->sev <= SEV_ERROR ? tag[f->sev] : "?", finding_kind_name(f->kind),
                          f->confirmed ? "confirmed" : "suspected", ts[0] ? ts + 11 : "");
        if (f->group_count)
            hl += snprintf(head + hl, sizeof(head) - (size_t)hl, " x%llu",
                           (unsigned long long)f->group_count + 1);
        size_t room = hl > 0 && hl < 96 ? (size_t)(100 - hl) : 4;
        tx_escape(f->summary, sum, sizeof(sum));
        if (strlen(sum) > room) {
            sum[room - 3] = '\0';
            strcat(sum, "...");
        }
        fprintf(out, "%s  %s\n", head, sum);
    }
}

void tx_print_findings(FILE *out, const struct report_input *in, const struct rep_totals *t)
{
    const struct finding_list *fl = in->findings;
    if (in->findings_hidden && (!fl || fl->n == 0)) {
        fprintf(out,
                "\nNo findings of severity %s or above (%llu below it hidden by --min-severity).\n",
                severity_name(in->min_severity), (unsigned long long)in->findings_hidden);
        return;
    }
    if (!fl || fl->n == 0) {
        if (in->split_unproven)
            fputs("\nNo verdict: the --router split matched no packet between the sides (see the "
                  "Note above).\n",
                  out);
        else if (in->interrupted)
            fprintf(out,
                    "\nNo problems found in the part of the capture read before %s stopped the "
                    "run (Input, in the Summary below).\n",
                    in->interrupted == SIGTERM ? "SIGTERM" : "SIGINT");
        else if (in->cut[0].cut || in->cut[1].cut)
            fputs("\nNo problems found in the part of the capture that could be read; the file is "
                  "cut off or corrupt (Input, in the Summary below).\n",
                  out);
        else
            fputs("\nNo problems found.\n", out);
        return;
    }
    fprintf(out, "\nFINDINGS: %llu %s, %llu %s, %llu info\n",
            (unsigned long long)t->findings[SEV_ERROR],
            tx_plural(t->findings[SEV_ERROR], "error", "errors"),
            (unsigned long long)t->findings[SEV_WARNING],
            tx_plural(t->findings[SEV_WARNING], "warning", "warnings"),
            (unsigned long long)t->findings[SEV_INFO]);
    if (in->findings_hidden)
        fprintf(out, "  (%llu below %s hidden by --min-severity)\n",
                (unsigned long long)in->findings_hidden, severity_name(in->min_severity));
    size_t *ix = rep_findings_by_severity(fl);
    print_index(out, fl, ix);
    for (size_t i = 0; i < fl->n; i++)
        print_finding(out, &fl->v[ix ? ix[i] : i], in->pieces);
    free(ix);
}
